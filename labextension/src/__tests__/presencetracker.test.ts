import { Signal } from '@lumino/signaling';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Awareness } from 'y-protocols/awareness';
import * as Y from 'yjs';

import { PresenceTracker, editAuthors } from '../presencetracker';
import { CollabSettings } from '../settings';

/** One open room as the provider exposes it; `connection` is the origin of remote updates. */
function room(path: string) {
  const ydoc = new Y.Doc();
  const awareness = new Awareness(ydoc);
  const connection = {
    state: { everSynced: false },
    sessionChanged: new Signal<any, any>({})
  };
  return {
    id: `room-${path}`,
    path,
    sharedModel: { ydoc, awareness, isDisposed: false },
    connection
  };
}

describe('PresenceTracker activity', () => {
  const frames: Array<() => void> = [];
  beforeAll(() => {
    (globalThis as any).requestAnimationFrame = (fn: () => void) => frames.push(fn);
  });
  afterAll(() => {
    delete (globalThis as any).requestAnimationFrame;
  });

  it('who changed a document, from the updates after the first sync (not the history in it)', () => {
    const r = room('a.txt');
    const provider: any = {
      rooms: [r],
      identity: { username: 'me' },
      roomAdded: new Signal<any, any>({}),
      roomRemoved: new Signal<any, any>({}),
      identityChanged: new Signal<any, any>({})
    };
    const tracker = new PresenceTracker(provider, new CollabSettings());
    // the room's history arrives with the first sync: nobody is editing
    const bob = new Y.Doc();
    bob.getText('source').insert(0, 'old text by bob');
    Y.applyUpdate(r.sharedModel.ydoc, Y.encodeStateAsUpdate(bob), r.connection);
    expect(tracker.lastEdit('a.txt', bob.clientID)).toBeUndefined();
    r.connection.state.everSynced = true;
    // bob types: his client id
    const before = Y.encodeStateVector(bob);
    bob.getText('source').insert(0, 'new ');
    Y.applyUpdate(r.sharedModel.ydoc, Y.encodeStateAsUpdate(bob, before), r.connection);
    expect(tracker.lastEdit('a.txt', bob.clientID)).toBeGreaterThan(0);
    // bookkeeping written under a key (kernel metadata, the dirty flag) is nobody editing
    const carol = new Y.Doc();
    Y.applyUpdate(carol, Y.encodeStateAsUpdate(r.sharedModel.ydoc));
    const sv = Y.encodeStateVector(carol);
    carol.getMap('state').set('dirty', true);
    Y.applyUpdate(r.sharedModel.ydoc, Y.encodeStateAsUpdate(carol, sv), r.connection);
    expect(tracker.lastEdit('a.txt', carol.clientID)).toBeUndefined();
    // ours too: our own bookkeeping is not editing
    r.sharedModel.ydoc.getMap('state').set('dirty', true);
    const meta = new Y.Map();
    r.sharedModel.ydoc.getMap('meta').set('metadata', meta);
    expect(tracker.lastEdit('a.txt', r.sharedModel.ydoc.clientID)).toBeUndefined();
    // we type: ours
    r.sharedModel.ydoc.getText('source').insert(0, '>');
    expect(tracker.lastEdit('a.txt', r.sharedModel.ydoc.clientID)).toBeGreaterThan(0);
    expect(tracker.lastEdit('b.txt', bob.clientID)).toBeUndefined();
    // in the list: bob with his state is editing a.txt
    r.sharedModel.awareness.setLocalStateField('user', { username: 'me' });
    const people = tracker.collaborators('Anonymous', true);
    expect(people.map(p => [p.key, p.isSelf, p.editing])).toEqual([['self:me', true, ['a.txt']]]);
  });
});

describe('editAuthors', () => {
  it('typing, new cells and outputs count; map values (metadata, counters, overwritten too) and deletions do not', () => {
    const doc = new Y.Doc();
    const cells = doc.getArray<Y.Map<any>>('cells');
    const meta = doc.getMap('meta');
    const seen: number[][] = [];
    doc.on('afterTransaction', (tr: Y.Transaction) => seen.push(editAuthors(tr as any)));
    const cell = new Y.Map();
    cell.set('source', new Y.Text('x = 1'));
    cells.push([cell]);
    (cell.get('source') as Y.Text).insert(5, '0');
    const metadata = new Y.Map();
    meta.set('metadata', metadata);
    metadata.set('language_info', { name: 'python', version: '3.11' });
    metadata.set('language_info', { name: 'python', version: '3.12' }); // an overwrite
    cell.set('execution_count', 3);
    doc.getMap('state').set('dirty', true);
    doc.getMap('state').set('dirty', false);
    (cell.get('source') as Y.Text).delete(0, 2);
    const me = doc.clientID;
    expect(seen).toEqual([[me], [me], [], [], [], [], [], [], []]);
  });
});
