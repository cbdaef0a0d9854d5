// @vitest-environment jsdom
/**
 * Remote cursors in many editors of one document (a notebook: an editor per
 * cell): an awareness change reaches only the editors the person's cursor
 * is, or was, in (issue 8: the page already in a 1,000-cell notebook's room
 * ran every awareness change of a second opener in every cell editor).
 * Real CodeMirror views, real Yjs texts, a real y-protocols Awareness fed
 * by another client's.
 */
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Awareness,
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates
} from 'y-protocols/awareness';
import * as Y from 'yjs';

import { CursorHub, encodeCursors, positionTextKey, remoteCursors, textKey } from '../cursors';

const views: EditorView[] = [];
afterEach(() => {
  views.splice(0).forEach(v => v.destroy());
});

/** A notebook-like document of `count` cell texts, and a second client's copy. */
function setup(count: number) {
  const doc = new Y.Doc();
  const cells = doc.getArray<Y.Map<any>>('cells');
  doc.transact(() => {
    for (let i = 0; i < count; i++) {
      const cell = new Y.Map<any>();
      cell.set('source', new Y.Text(`x = ${i}\nprint(x)`));
      cells.push([cell]);
    }
  });
  const texts = cells.map(c => c.get('source') as Y.Text);
  const other = new Y.Doc();
  Y.applyUpdate(other, Y.encodeStateAsUpdate(doc));
  const otherTexts = other.getArray<Y.Map<any>>('cells').map(c => c.get('source') as Y.Text);
  const awareness = new Awareness(doc);
  const remote = new Awareness(other);
  remote.setLocalState({ user: { username: 'bob', name: 'Bob', color: '#00aa00' } });
  const sync = () =>
    applyAwarenessUpdate(awareness, encodeAwarenessUpdate(remote, [remote.clientID]), 'remote');
  /** Bob's caret at `index` of cell `cell`. */
  const moveTo = (cell: number, index: number) => {
    remote.setLocalStateField('cursors', encodeCursors(otherTexts[cell], [{ anchor: index, head: index, empty: true }], 0));
    sync();
  };
  return { doc, texts, awareness, remote, sync, moveTo };
}

/** Count getStates() calls: each editor that hears a change reads the states. */
function countReads(awareness: Awareness): { reads: number } {
  const counter = { reads: 0 };
  const orig = awareness.getStates.bind(awareness);
  awareness.getStates = () => {
    counter.reads++;
    return orig();
  };
  return counter;
}

async function microtasks(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

const carets = (v: EditorView) => v.dom.querySelectorAll('.jp-collab-RemoteCaret').length;

describe('CursorHub: one awareness listener for all the editors of a document', () => {
  it('keys a position by the text it is in, as the text itself is keyed', () => {
    const { doc, texts } = setup(3);
    const rel = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(texts[1], 2));
    expect(positionTextKey(doc, rel)).toBe(textKey(texts[1]));
    expect(positionTextKey(doc, rel)).not.toBe(textKey(texts[0]));
    // the end of a text: a position naming the type, not an item
    const end = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(texts[2], texts[2].length));
    expect(positionTextKey(doc, end)).toBe(textKey(texts[2]));
    // an item this copy does not have: unknown (may be anywhere)
    expect(positionTextKey(doc, { item: { client: 4242, clock: 0 } })).toBeUndefined();
    expect(positionTextKey(doc, null)).toBeNull();
  });

  it('tells only the editors a cursor is in, or left; anyone when it cannot tell', () => {
    const { texts, awareness, remote, sync, moveTo } = setup(50);
    const hub = CursorHub.of(awareness);
    const heard: number[] = [];
    const stops = texts.map((t, i) => hub.subscribe(t, () => heard.push(i)));
    expect(hub.size).toBe(50);
    moveTo(7, 2);
    expect(heard).toEqual([7]);
    heard.length = 0;
    moveTo(30, 1);
    expect(heard.sort((a, b) => a - b)).toEqual([7, 30]);
    heard.length = 0;
    remote.setLocalStateField('cursors', [{ anchor: { item: { client: 99, clock: 3 } }, head: { item: { client: 99, clock: 3 } } }]);
    sync();
    expect(heard.length).toBe(50);
    heard.length = 0;
    moveTo(4, 0);
    expect(heard.length).toBe(50); // the last place was unknown: everyone may have drawn it
    heard.length = 0;
    removeAwarenessStates(awareness, [remote.clientID], 'timeout');
    expect(heard).toEqual([4]);
    stops.forEach(s => s());
    expect(hub.size).toBe(0);
    expect(CursorHub.of(awareness)).not.toBe(hub); // dropped with its last editor
  });
});

describe('remoteCursors in 60 editors of one document (real CodeMirror)', () => {
  it('a cursor moving between two cells reads the states a few times, not once per editor, and shows in the right editor only', async () => {
    const count = 60;
    const { texts, awareness, moveTo } = setup(count);
    for (const ytext of texts) {
      const view = new EditorView({
        state: EditorState.create({ doc: ytext.toString(), extensions: [remoteCursors({ ytext, awareness })] }),
        parent: document.body
      });
      views.push(view);
    }
    const counter = countReads(awareness);
    moveTo(5, 3);
    await microtasks();
    // the hub reads once; editor 5 reads to compare, and to draw
    expect(counter.reads).toBeLessThan(10);
    expect(views.map(carets)).toEqual(views.map((_, i) => (i === 5 ? 1 : 0)));
    counter.reads = 0;
    moveTo(40, 1);
    await microtasks();
    expect(counter.reads).toBeLessThan(15);
    expect(views.map(carets)).toEqual(views.map((_, i) => (i === 40 ? 1 : 0)));
    // typing elsewhere by Bob in the same cell keeps the caret; a destroyed editor stops listening
    views[40].destroy();
    expect(CursorHub.of(awareness).size).toBe(count - 1);
  }, 60000);
});
