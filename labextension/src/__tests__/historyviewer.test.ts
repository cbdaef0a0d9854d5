import { describe, expect, it, vi } from 'vitest';

import {
  HistoryError,
  IAttribution,
  IDiff,
  IHistoryApi,
  IRestoreResult,
  IVersion,
  IVersionContent,
  IVersionPage
} from '../history/api';
import { cellMimeType, diffDocument, diffHunks, notebookLanguage } from '../history/codedoc';
import { parseUnifiedDiff } from '../history/diffmodel';
import { IHistoryDocument } from '../history/model';
import { VersionViewModel } from '../history/viewmodel';
import { parseNotice } from '../protocol';

function version(id: number, extra: Partial<IVersion> = {}): IVersion {
  return {
    id, seq: id * 10, time: '2026-11-25T14:02:00+00:00', name: null, kind: 'auto',
    createdBy: null, authors: ['bob'], changeBytes: 1, size: 1, restoredFrom: null, ...extra
  };
}

/** A fake server for one version tab: content and diffs, each answer held on request. */
class FakeApi implements IHistoryApi {
  calls: string[] = [];
  hold = false;
  held: Array<() => void> = [];
  failNext: HistoryError | null = null;
  current = 'b';

  private async _answer<T>(call: string, fn: () => T): Promise<T> {
    this.calls.push(call);
    if (this.hold) {
      await new Promise<void>(r => this.held.push(r));
    }
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    return fn();
  }
  listVersions(): Promise<IVersionPage> {
    throw new Error('not used by a version tab');
  }
  getVersion(room: string, id: number): Promise<IVersionContent> {
    return this._answer(`get ${id}`, () => ({
      version: version(id, { name: `v${id}` }), type: 'file', format: 'text', content: `content ${id}`,
      users: { bob: { username: 'bob', display_name: 'Bob' } }
    }));
  }
  diff(room: string, from: number): Promise<IDiff> {
    return this._answer(`diff ${from}`, () => ({
      type: 'text' as const, from, to: 'current', diff: `@@ -1 +1 @@\n-a\n+${this.current}\n`, added: 1,
      removed: 1, authors: ['carol'], users: { carol: { username: 'carol', display_name: 'Carol' } }
    }));
  }
  nameVersion(): Promise<IVersion> {
    throw new Error('not used by a version tab');
  }
  restore(): Promise<IRestoreResult> {
    throw new Error('restores go through the panel');
  }
  attribution(): Promise<IAttribution> {
    throw new Error('not used by a version tab');
  }
}

const DOC: IHistoryDocument = { room: 'text:file:1', path: 'src/app.py', type: 'file', canWrite: true };

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve();
  }
}

describe('VersionViewModel (a version in the main area)', () => {
  it('shows a version as its content or its changes, and keeps who the replies name', async () => {
    const api = new FakeApi();
    const model = new VersionViewModel(api, DOC);
    const changed = vi.fn();
    model.changed.connect(changed);
    await model.show(version(3));
    expect(model.mode).toBe('content');
    expect(model.content?.content).toBe('content 3');
    expect(model.version?.name).toBe('v3'); // completed from the reply
    expect(model.users.get('bob')?.display_name).toBe('Bob');
    await model.setMode('changes');
    expect(api.calls).toEqual(['get 3', 'diff 3']);
    expect(model.diff).toMatchObject({ type: 'text', authors: ['carol'] });
    expect(model.content).toBeNull();
    expect(model.users.get('carol')?.display_name).toBe('Carol');
    // the same again loads nothing
    await model.show(version(3), 'changes');
    expect(api.calls).toHaveLength(2);
    expect(changed).toHaveBeenCalled();
  });

  it('keeps only the last of two versions asked for quickly', async () => {
    const api = new FakeApi();
    const model = new VersionViewModel(api, DOC);
    api.hold = true;
    const a = model.show(version(1));
    const b = model.show(version(2));
    await flush();
    api.hold = false;
    api.held.reverse().forEach(r => r()); // the older answer arrives last
    await Promise.all([a, b]);
    expect(model.version?.id).toBe(2);
    expect(model.content?.content).toBe('content 2');
    expect(model.loading).toBe(false);
  });

  it('reports a version that cannot be rebuilt (409)', async () => {
    const api = new FakeApi();
    const model = new VersionViewModel(api, DOC);
    api.failNext = new HistoryError('compacted', 409);
    await model.show(version(1));
    expect(model.problem).toMatchObject({ action: 'preview', status: 409 });
    expect(model.content).toBeNull();
    await model.reload();
    expect(model.problem).toBeNull();
  });

  it('reloads its changes when the current content moved on (a version made, a restore)', async () => {
    const api = new FakeApi();
    const model = new VersionViewModel(api, DOC);
    await model.show(version(1), 'changes');
    api.current = 'c';
    model.handleNotice(parseNotice(JSON.stringify({ type: 'restored', version: 2, by: null })));
    await flush();
    expect(api.calls).toEqual(['diff 1', 'diff 1']);
    expect((model.diff as any).diff).toContain('+c');
    model.handleNotice(parseNotice(JSON.stringify({ type: 'saved', path: 'src/app.py' })));
    await model.setMode('content');
    model.handleNotice(parseNotice(JSON.stringify({ type: 'version', version: {} })));
    await flush();
    expect(api.calls).toEqual(['diff 1', 'diff 1', 'get 1']); // the content of a version never changes
  });

  it('stays with its document: path and role follow, another document is ignored', async () => {
    const model = new VersionViewModel(new FakeApi(), DOC);
    model.setDocument({ ...DOC, path: 'src/main.py', canWrite: false });
    expect(model.document.path).toBe('src/main.py');
    expect(model.canWrite).toBe(false);
    model.setDocument({ ...DOC, room: 'text:file:2', path: 'other.py' });
    expect(model.document.path).toBe('src/main.py');
  });
});

describe('what the version tab shows as code', () => {
  const lines = parseUnifiedDiff(
    '--- a\n+++ b\n@@ -1,3 +1,3 @@\n import os\n-x = 1\n+x = 2\n y = 3\n@@ -10,2 +10,3 @@\n a = 1\n+b = 2\n c = 3\n\\ No newline at end of file\n'
  );

  it('cuts a diff into hunks, each a document with line kinds and numbers', () => {
    const hunks = diffHunks(lines);
    expect(hunks).toHaveLength(2);
    expect(hunks[0]).toEqual({
      oldStart: 1,
      newStart: 1,
      doc: {
        text: 'import os\nx = 1\nx = 2\ny = 3',
        kinds: ['context', 'del', 'add', 'context'],
        oldNumbers: [1, 2, null, 3],
        newNumbers: [1, null, 2, 3]
      }
    });
    expect(hunks[1].oldStart).toBe(10);
    expect(hunks[1].doc.kinds).toEqual(['context', 'add', 'context']); // (the note is left out)
    expect(diffHunks([])).toEqual([]);
    expect(diffDocument([]).text).toBe('');
  });

  it('a notebook cell diff has no file headers', () => {
    const cell = parseUnifiedDiff('--- before\n+++ after\n@@ -1 +1,2 @@\n-print(1)\n+print(2)\n+print(3)\n');
    expect(diffHunks(cell).map(h => h.doc.text)).toEqual(['print(1)\nprint(2)\nprint(3)']);
  });

  it('picks a notebook language as JupyterLab does, and a language per cell type', () => {
    expect(notebookLanguage({ language_info: { name: 'python', version: '3.11' }, kernelspec: { language: 'R' } })).toEqual({
      name: 'python', version: '3.11'
    });
    expect(notebookLanguage({ language_info: { name: '' }, kernelspec: { language: 'julia' } })).toEqual({ name: 'julia' });
    expect(notebookLanguage({})).toBeNull();
    expect(notebookLanguage(undefined)).toBeNull();
    expect(cellMimeType('code', 'text/x-python')).toBe('text/x-python');
    expect(cellMimeType('markdown', 'text/x-python')).toBe('text/x-ipythongfm');
    expect(cellMimeType('raw', 'text/x-python')).toBe('text/plain');
  });
});
