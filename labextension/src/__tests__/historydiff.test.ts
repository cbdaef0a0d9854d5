import { describe, expect, it } from 'vitest';

import { ICellDiff } from '../history/api';
import {
  attributionRows,
  countChanges,
  isEmptyDiff,
  mentionedUsers,
  notebookDiffRows,
  parseUnifiedDiff,
  previewCells,
  summarizeNotebookDiff,
  userBadge
} from '../history/diffmodel';
import { userColor } from '../presencemodel';

const TEXT_DIFF = [
  '--- version 12',
  '+++ current',
  '@@ -1,4 +1,4 @@',
  ' line one',
  '-line two',
  '+line 2',
  ' line three',
  ' line four',
  '@@ -10,2 +10,3 @@',
  ' ten',
  '+ten and a half',
  ' eleven',
  '\\ No newline at end of file',
  ''
].join('\n');

function cell(partial: Partial<ICellDiff>): ICellDiff {
  return {
    id: 'c',
    cellType: 'code',
    status: 'unchanged',
    moved: false,
    oldIndex: 0,
    newIndex: 0,
    sourceChanged: false,
    outputsChanged: false,
    metadataChanged: false,
    sourceDiff: null,
    ...partial
  };
}

describe('parseUnifiedDiff', () => {
  it('gives each line its kind and old/new line numbers; drops file headers', () => {
    const lines = parseUnifiedDiff(TEXT_DIFF);
    expect(lines.map(l => l.kind)).toEqual([
      'hunk', 'context', 'del', 'add', 'context', 'context',
      'hunk', 'context', 'add', 'context', 'note'
    ]);
    expect(lines[1]).toEqual({ kind: 'context', text: 'line one', oldLine: 1, newLine: 1 });
    expect(lines[2]).toEqual({ kind: 'del', text: 'line two', oldLine: 2, newLine: null });
    expect(lines[3]).toEqual({ kind: 'add', text: 'line 2', oldLine: null, newLine: 2 });
    expect(lines[4]).toMatchObject({ oldLine: 3, newLine: 3 });
    expect(lines[8]).toEqual({ kind: 'add', text: 'ten and a half', oldLine: null, newLine: 11 });
    expect(lines[9]).toMatchObject({ text: 'eleven', oldLine: 11, newLine: 12 });
    expect(countChanges(lines)).toEqual({ added: 2, removed: 1 });
  });

  it('handles no diff, CRLF and hunks without counts', () => {
    expect(parseUnifiedDiff('')).toEqual([]);
    expect(parseUnifiedDiff(null)).toEqual([]);
    const lines = parseUnifiedDiff('@@ -1 +1 @@\r\n-a\r\n+b\r\n');
    expect(lines.map(l => [l.kind, l.text])).toEqual([
      ['hunk', '@@ -1 +1 @@'],
      ['del', 'a'],
      ['add', 'b']
    ]);
    expect(lines[2].newLine).toBe(1);
  });

  it('keeps lines that look like headers inside a hunk', () => {
    const lines = parseUnifiedDiff('@@ -1,2 +1,2 @@\n--- x\n+++ y\n');
    expect(lines.map(l => [l.kind, l.text])).toEqual([
      ['hunk', '@@ -1,2 +1,2 @@'],
      ['del', '-- x'],
      ['add', '++ y']
    ]);
  });
});

describe('notebook diff rows', () => {
  const cells: ICellDiff[] = [
    cell({ id: 'a', status: 'unchanged', oldIndex: 0, newIndex: 0 }),
    cell({ id: 'b', status: 'modified', oldIndex: 1, newIndex: 1, sourceChanged: true, outputsChanged: true, sourceDiff: '@@ -1 +1 @@\n-x = 1\n+x = 2\n' }),
    cell({ id: 'r', status: 'removed', oldIndex: 2, newIndex: null, sourceDiff: '@@ -1 +0,0 @@\n-gone\n' }),
    cell({ id: 'n', status: 'added', cellType: 'markdown', oldIndex: null, newIndex: 2, sourceDiff: '@@ -0,0 +1 @@\n+# new\n' }),
    cell({ id: 'm', status: 'unchanged', moved: true, oldIndex: 4, newIndex: 3 })
  ];

  it('lists changed and moved cells with badges and source diffs; hides unchanged ones', () => {
    const rows = notebookDiffRows(cells);
    expect(rows.map(r => r.status)).toEqual(['modified', 'removed', 'added', 'unchanged']);
    expect(rows[0].badges).toEqual(['modified', 'outputs']);
    expect(rows[0].lines.filter(l => l.kind === 'add').map(l => l.text)).toEqual(['x = 2']);
    expect(rows[0].position).toBe(2);
    expect(rows[1].badges).toEqual(['removed']);
    expect(rows[1].position).toBe(3); // where it was
    expect(rows[2]).toMatchObject({ cellType: 'markdown', badges: ['added'], position: 3 });
    expect(rows[3]).toMatchObject({ moved: true, badges: ['moved'], oldIndex: 4, newIndex: 3 });
  });

  it('shows unchanged cells on request', () => {
    expect(notebookDiffRows(cells, true)).toHaveLength(5);
  });

  it('summarizes', () => {
    expect(summarizeNotebookDiff(cells)).toEqual({
      added: 1, removed: 1, modified: 1, moved: 1, unchanged: 2
    });
  });

  it('knows an empty diff of every type', () => {
    expect(isEmptyDiff({ type: 'text', from: 1, to: 'current', diff: '', added: 0, removed: 0, authors: [] })).toBe(true);
    expect(isEmptyDiff({ type: 'text', from: 1, to: 'current', diff: TEXT_DIFF, added: 2, removed: 1, authors: [] })).toBe(false);
    expect(isEmptyDiff({ type: 'notebook', from: 1, to: 'current', authors: [], metadataChanged: false, cells: [cells[0]] })).toBe(true);
    expect(isEmptyDiff({ type: 'notebook', from: 1, to: 'current', authors: [], metadataChanged: false, cells })).toBe(false);
    expect(isEmptyDiff({ type: 'notebook', from: 1, to: 'current', authors: [], metadataChanged: true, cells: [] })).toBe(false);
    expect(isEmptyDiff({ type: 'blob', from: 1, to: 'current', changed: false, oldSize: 1, newSize: 1, authors: [] })).toBe(true);
  });
});

describe('previews', () => {
  it('lists the cells of an nbformat notebook with joined sources', () => {
    const cells = previewCells({
      cells: [
        { cell_type: 'code', id: 'c1', source: ['x = 1\n', 'print(x)'], outputs: [{}] },
        { cell_type: 'markdown', source: '# Title' }
      ]
    });
    expect(cells).toEqual([
      { index: 0, cellType: 'code', source: 'x = 1\nprint(x)', id: 'c1', outputs: 1 },
      { index: 1, cellType: 'markdown', source: '# Title', id: null, outputs: 0 }
    ]);
    expect(previewCells(null)).toEqual([]);
  });
});

describe('attribution rows', () => {
  it('groups consecutive lines of the same author, with excerpts', () => {
    const rows = attributionRows(
      {
        type: 'text',
        lines: [
          { line: 1, user: 'alice', origin: 'client', time: 't', authors: ['alice'], changed: false },
          { line: 2, user: 'alice', origin: 'client', time: 't', authors: ['alice'], changed: false },
          { line: 3, user: 'bob', origin: 'client', time: 't', authors: ['alice', 'bob'], changed: false },
          { line: 4, user: null, origin: 'load', time: null, authors: [], changed: false }
        ]
      },
      { text: 'first\nsecond\nthird\nfourth' }
    );
    expect(rows.map(r => [r.from, r.to, r.user, r.excerpt])).toEqual([
      [1, 2, 'alice', 'first'],
      [3, 3, 'bob', 'third'],
      [4, 4, null, 'fourth']
    ]);
    expect(rows[1].authors).toEqual(['alice', 'bob']);
  });

  it('has a row per notebook cell with its first line', () => {
    const rows = attributionRows(
      {
        type: 'notebook',
        cells: [
          { id: 'c1', index: 0, createdBy: 'alice', user: 'bob', origin: 'client', time: 't', authors: ['alice', 'bob'], changed: true },
          { id: 'c2', index: 1, createdBy: null, user: null, origin: 'snapshot', time: null, authors: [], changed: false },
          { id: 'c3', index: 2, createdBy: 'bob', user: 'bob', origin: 'client', time: 't', authors: ['bob'], changed: true, restoredBy: 'carol' }
        ]
      },
      { cells: new Map([['c1', { source: '\nx = 1\nprint(x)', cellType: 'code' }]]) }
    );
    expect(rows).toEqual([
      { from: 1, to: 1, user: 'bob', origin: 'client', authors: ['alice', 'bob'], changed: true, restoredBy: null, excerpt: 'x = 1', cellType: 'code' },
      { from: 2, to: 2, user: null, origin: 'snapshot', authors: [], changed: false, restoredBy: null, excerpt: '', cellType: undefined },
      // a restored cell stays its author's; who restored it is said apart
      { from: 3, to: 3, user: 'bob', origin: 'client', authors: ['bob'], changed: true, restoredBy: 'carol', excerpt: '', cellType: undefined }
    ]);
  });
});

describe('users', () => {
  it('uses the awareness identity when known, the username otherwise', () => {
    const known = new Map([['alice', { username: 'alice', display_name: 'Alice Liddell', initials: 'AL', color: '#f00' }]]);
    expect(userBadge('alice', known, 'nobody')).toEqual({
      username: 'alice', label: 'Alice Liddell', initials: 'AL', color: userColor(known.get('alice'), 'alice')
    });
    const bob = userBadge('bob.smith', known, 'nobody');
    expect(bob.label).toBe('bob.smith');
    expect(bob.initials).toBe('BS');
    expect(bob.color).toMatch(/^var\(--jp-collaborator-color\d/);
    expect(userBadge('bob.smith', known, '').color).toBe(bob.color); // stable
    expect(userBadge(null, known, 'the file as opened').label).toBe('the file as opened');
  });

  it('collects every mentioned user', () => {
    expect(
      mentionedUsers({
        versions: [{ id: 1, seq: 1, time: '', name: null, kind: 'named', createdBy: 'carol', authors: ['bob'], changeBytes: 0, size: 0 }],
        authors: ['alice']
      })
    ).toEqual(['alice', 'bob', 'carol']);
  });
});
