import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';

import {
  cursorSignature,
  encodeCursors,
  mayPointInto,
  transactionAuthors,
  typingAuthors
} from '../cursors';

/** A notebook-like document: cells in an array, each with its own source text. */
function notebook(count: number): { doc: Y.Doc; sources: Y.Text[] } {
  const doc = new Y.Doc();
  const cells = doc.getArray<Y.Map<any>>('cells');
  const sources: Y.Text[] = [];
  doc.transact(() => {
    for (let i = 0; i < count; i++) {
      const cell = new Y.Map<any>();
      const source = new Y.Text(`print(${i})`);
      cell.set('source', source);
      cells.push([cell]);
    }
  });
  cells.forEach(cell => sources.push(cell.get('source')));
  return { doc, sources };
}

function cursorAt(ytext: Y.Text, index: number) {
  return encodeCursors(ytext, [{ anchor: index, head: index, empty: true }], 0);
}

const alice = { username: 'alice', name: 'Alice', color: '#ff0000' };

describe('which awareness changes redraw an editor (issue 8: second opener)', () => {
  it('tells a position in this text from one in another cell or a root text', () => {
    const { doc, sources } = notebook(3);
    const [a, b] = sources;
    const inA = cursorAt(a, 2)[0].head;
    expect(mayPointInto(a, inA)).toBe(true);
    expect(mayPointInto(b, inA)).toBe(false);
    const root = doc.getText('source');
    root.insert(0, 'text file');
    const inRoot = cursorAt(root, 3)[0].head;
    expect(mayPointInto(root, inRoot)).toBe(true);
    expect(mayPointInto(a, inRoot)).toBe(false);
    expect(mayPointInto(a, null)).toBe(false);
  });

  it('gives a signature only in the editor the cursor is in, and a new one when it moves', () => {
    const { sources } = notebook(3);
    const [a, b] = sources;
    const state = { user: alice, cursors: cursorAt(a, 1) };
    const inA = cursorSignature(a, state, 7);
    expect(inA).not.toBeNull();
    expect(cursorSignature(b, state, 7)).toBeNull();
    // another field of the state changed: nothing to redraw
    expect(cursorSignature(a, { ...state, cell: 'x', current: 'nb.ipynb' }, 7)).toBe(inA);
    // the cursor moved within the cell, or the person's colour changed: redraw
    expect(cursorSignature(a, { user: alice, cursors: cursorAt(a, 3) }, 7)).not.toBe(inA);
    expect(
      cursorSignature(a, { user: { ...alice, color: '#00ff00' }, cursors: cursorAt(a, 1) }, 7)
    ).not.toBe(inA);
    // moved to another cell: gone from this one, shown in that one
    const moved = { user: alice, cursors: cursorAt(b, 0) };
    expect(cursorSignature(a, moved, 7)).toBeNull();
    expect(cursorSignature(b, moved, 7)).not.toBeNull();
    // no cursors, or the person left
    expect(cursorSignature(a, { user: alice }, 7)).toBeNull();
    expect(cursorSignature(a, undefined, 7)).toBeNull();
  });

  it('gives no signature for a position this copy cannot resolve yet', () => {
    const { sources } = notebook(1);
    const [a] = sources;
    const other = new Y.Doc();
    const text = other.getText('source');
    text.insert(0, 'elsewhere');
    const state = { user: alice, cursors: cursorAt(text, 2) };
    expect(cursorSignature(a, state, 7)).toBeNull();
  });
});

describe('which text changes redraw an editor (issue 8: time to editable)', () => {
  /** The authors of the transactions that change `ytext` in `doc`, as the plugin sees them. */
  function authorsOfChanges(doc: Y.Doc, ytext: Y.Text, act: () => void): number[][] {
    const seen: number[][] = [];
    const observer = (event: Y.YTextEvent) => seen.push(transactionAuthors(event.transaction));
    ytext.observe(observer);
    act();
    ytext.unobserve(observer);
    return seen;
  }

  it('does not count the authors of a first sync as cursors that moved', () => {
    // The server's copy: loaded from the file by its own client, then typed in by alice.
    const server = new Y.Doc();
    server.getText('source').insert(0, '# a large file\n'.repeat(100));
    const aliceDoc = new Y.Doc();
    Y.applyUpdate(aliceDoc, Y.encodeStateAsUpdate(server));
    aliceDoc.getText('source').insert(14, 'typed');
    Y.applyUpdate(server, Y.encodeStateAsUpdate(aliceDoc));
    // A second opener receives all of it in its first sync, before anyone's
    // awareness: no cursor is drawn in its editor yet.
    const opener = new Y.Doc();
    const ytext = opener.getText('source');
    const [authors] = authorsOfChanges(opener, ytext, () =>
      Y.applyUpdate(opener, Y.encodeStateAsUpdate(server))
    );
    expect(authors.sort()).toEqual([server.clientID, aliceDoc.clientID].sort());
    expect(typingAuthors(authors, new Map(), opener.clientID)).toEqual([]);
    // the same when only the people who left a cursor are drawn: the server's
    // loading client never has one
    expect(
      typingAuthors(authors, new Map([[aliceDoc.clientID, 'sig']]), opener.clientID)
    ).toEqual([aliceDoc.clientID]);
  });

  it('counts someone typing whose cursor shows here, and never ourselves', () => {
    const opener = new Y.Doc();
    const ytext = opener.getText('source');
    const bob = new Y.Doc();
    Y.applyUpdate(bob, Y.encodeStateAsUpdate(opener));
    bob.getText('source').insert(0, 'x = 1');
    const [remote] = authorsOfChanges(opener, ytext, () =>
      Y.applyUpdate(opener, Y.encodeStateAsUpdate(bob))
    );
    const drawn = new Map([[bob.clientID, 'sig']]);
    expect(typingAuthors(remote, drawn, opener.clientID)).toEqual([bob.clientID]);
    const [local] = authorsOfChanges(opener, ytext, () => ytext.insert(0, '# '));
    expect(typingAuthors(local, new Map([[opener.clientID, 'sig']]), opener.clientID)).toEqual(
      []
    );
  });
});
