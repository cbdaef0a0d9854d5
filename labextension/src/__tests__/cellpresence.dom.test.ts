// @vitest-environment jsdom
/**
 * Which cell each person is in, drawn on a real JupyterLab notebook widget
 * (jsdom) from the awareness of its real YNotebook: the other people's
 * initials on their cell (by `cell` or by where their cursor is), nobody for
 * oneself, markers that move and go, our own active cell published.
 */
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { afterEach, describe, expect, it } from 'vitest';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import * as Y from 'yjs';

import { CellPresence } from '../cellpresence';
import { IRoom } from '../contentprovider';
import { ICellMark } from '../presencemodel';
import { disposables, disposeAll, frames, realNotebook } from './realnotebook';

const trans = nullTranslator.load('jupyter-collab') as TranslationBundle;

afterEach(disposeAll);

/** Someone else's page: its own awareness, whose updates reach ours as over the wire. */
class Remote {
  constructor(readonly into: Awareness, user: Record<string, any>) {
    this.awareness = new Awareness(new Y.Doc());
    this.awareness.setLocalState({ user });
    this.send();
  }
  readonly awareness: Awareness;
  set(field: string, value: unknown): void {
    this.awareness.setLocalStateField(field, value);
    this.send();
  }
  leave(): void {
    removeAwarenessStates(this.into, [this.awareness.clientID], 'remote');
  }
  private send(): void {
    applyAwarenessUpdate(this.into, encodeAwarenessUpdate(this.awareness, [this.awareness.clientID]), 'remote');
  }
}

function setup() {
  const { notebook, shared } = realNotebook([
    { id: 'c1', source: 'import os' },
    { id: 'c2', source: 'total = 41 + 1' },
    { id: 'c3', source: 'print(total)' }
  ]);
  shared.awareness.setLocalState({ user: { username: 'alice', display_name: 'Alice Archer' } });
  const selected: ICellMark[] = [];
  const presence = new CellPresence({
    notebook,
    room: { sharedModel: shared } as unknown as IRoom,
    trans,
    onSelect: p => selected.push(p)
  });
  disposables.push(notebook, presence);
  const markers = (i: number) =>
    Array.from(notebook.widgets[i].node.querySelectorAll<HTMLButtonElement>(':scope > .jp-collab-CellMarkers button'));
  return { notebook, shared, presence, selected, markers };
}

describe('CellPresence (DOM, real notebook widget)', () => {
  it('shows the others on their cell, with their initials, colour and name; never oneself', async () => {
    const { notebook, shared, markers } = setup();
    expect(notebook.widgets.map(c => c.model.id)).toEqual(['c1', 'c2', 'c3']);
    const bob = new Remote(shared.awareness, { username: 'bob', display_name: 'Bob Baker', color: '#123456' });
    bob.set('cell', 'c2');
    // alice (this page) is in c1 through her own awareness: no marker for herself
    shared.awareness.setLocalStateField('cell', 'c1');
    await frames();
    expect(markers(0)).toEqual([]);
    expect(markers(1).map(b => b.textContent)).toEqual(['BB']);
    expect(markers(1)[0].title).toBe('Bob Baker is in this cell. Show their cursor.');
    const box = notebook.widgets[1].node.querySelector(':scope > .jp-collab-CellMarkers')!;
    expect(box.getAttribute('aria-label')).toBe('Bob Baker is in this cell');
    expect(notebook.widgets[1].hasClass('jp-collab-mod-remoteActive')).toBe(true);
    // (a theme's collaborator colour, with the person's own as the fallback)
    expect(notebook.widgets[1].node.style.getPropertyValue('--jp-collab-cell-color')).toMatch(/#123456\)$/);
    expect(markers(2)).toEqual([]);
  });

  it("finds a person's cell from their cursor when they publish no cell", async () => {
    const { shared, markers } = setup();
    const ysource = shared.cells[2].ysource;
    const head = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(ysource, 3));
    const carol = new Remote(shared.awareness, { username: 'carol', display_name: 'Carol Cole' });
    carol.set('cursors', [{ head, anchor: head, primary: true }]);
    await frames();
    expect(markers(2).map(b => b.textContent)).toEqual(['CC']);
    expect(markers(1)).toEqual([]);
  });

  it('two people in one cell: both, by name; a click on one selects that person', async () => {
    const { notebook, shared, markers, selected } = setup();
    new Remote(shared.awareness, { username: 'dan', display_name: 'Dan Dale' }).set('cell', 'c3');
    new Remote(shared.awareness, { username: 'bob', display_name: 'Bob Baker' }).set('cell', 'c3');
    await frames();
    expect(markers(2).map(b => b.textContent)).toEqual(['BB', 'DD']);
    const box = notebook.widgets[2].node.querySelector(':scope > .jp-collab-CellMarkers')!;
    expect(box.getAttribute('aria-label')).toBe('Bob Baker, Dan Dale are in this cell');
    markers(2)[1].click();
    expect(selected.map(p => p.displayName)).toEqual(['Dan Dale']);
  });

  it('a marker follows its person to another cell and goes when they leave', async () => {
    const { notebook, shared, markers } = setup();
    const bob = new Remote(shared.awareness, { username: 'bob', display_name: 'Bob Baker' });
    bob.set('cell', 'c1');
    await frames();
    expect(markers(0).length).toBe(1);
    bob.set('cell', 'c3');
    await frames();
    expect(markers(0)).toEqual([]);
    expect(notebook.widgets[0].hasClass('jp-collab-mod-remoteActive')).toBe(false);
    expect(notebook.widgets[0].node.querySelector('.jp-collab-CellMarkers')).toBeNull();
    expect(markers(2).length).toBe(1);
    bob.leave();
    await frames();
    expect(notebook.node.querySelectorAll('.jp-collab-CellMarkers').length).toBe(0);
  });

  it('publishes our active cell in our awareness', async () => {
    const { notebook, shared } = setup();
    notebook.activeCellIndex = 2;
    expect((shared.awareness.getLocalState() as any).cell).toBe('c3');
    notebook.activeCellIndex = 0;
    expect((shared.awareness.getLocalState() as any).cell).toBe('c1');
  });

  it('dispose takes every marker off', async () => {
    const { notebook, shared, presence } = setup();
    new Remote(shared.awareness, { username: 'bob', display_name: 'Bob Baker' }).set('cell', 'c2');
    await frames();
    expect(notebook.node.querySelectorAll('.jp-collab-CellMarkers').length).toBe(1);
    presence.dispose();
    expect(notebook.node.querySelectorAll('.jp-collab-CellMarkers').length).toBe(0);
    expect(notebook.widgets[1].hasClass('jp-collab-mod-remoteActive')).toBe(false);
  });
});
