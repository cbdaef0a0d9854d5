import { Signal } from '@lumino/signaling';
import { describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';

import { cellOfPosition } from '../cellposition';
import { FollowController, IFollowHost } from '../follow';
import { ICollaborator, cellMarks, followSignature, userColor } from '../presencemodel';

function person(key: string, current: string | null, clientIds = [1]): ICollaborator {
  return {
    key,
    user: { username: key },
    displayName: key,
    initials: key.slice(0, 1).toUpperCase(),
    color: 'red',
    isSelf: false,
    documents: current ? [current] : [],
    current,
    editing: [],
    clientIds
  };
}

function host() {
  const changed = new Signal<any, void>({});
  let people: ICollaborator[] = [person('alice', 'a.ipynb')];
  let states: any[] = [{ current: 'a.ipynb', cell: 'c1' }];
  let current: string | null = 'a.ipynb';
  const h = {
    changed,
    collaborators: () => people,
    statesOf: () => states,
    currentPath: () => current,
    open: vi.fn(async (path: string) => {
      current = path;
    }),
    reveal: vi.fn(),
    set(p: ICollaborator[], s: any[]) {
      people = p;
      states = s;
      changed.emit();
    }
  };
  return h as IFollowHost & typeof h;
}

describe('FollowController', () => {
  it('reveals the person at once and whenever they move', () => {
    const h = host();
    const f = new FollowController(h);
    const events: any[] = [];
    f.changed.connect((_, e) => events.push(e));
    f.toggle('alice');
    expect(f.following).toBe('alice');
    expect(h.reveal).toHaveBeenCalledTimes(1);
    // same place: nothing to do
    h.changed.emit();
    expect(h.reveal).toHaveBeenCalledTimes(1);
    h.set([person('alice', 'a.ipynb')], [{ current: 'a.ipynb', cell: 'c2' }]);
    expect(h.reveal).toHaveBeenCalledTimes(2);
    expect(h.open).not.toHaveBeenCalled();
    f.toggle('alice');
    expect(f.following).toBe(null);
    h.set([person('alice', 'a.ipynb')], [{ current: 'a.ipynb', cell: 'c3' }]);
    expect(h.reveal).toHaveBeenCalledTimes(2);
    expect(events).toEqual([{ key: 'alice' }, { key: null, reason: 'user' }]);
  });

  it('opens the document they go to, then reveals them', async () => {
    const h = host();
    const f = new FollowController(h);
    f.start('alice');
    h.set([person('alice', 'b.txt')], [{ current: 'b.txt', cursors: [] }]);
    expect(h.open).toHaveBeenCalledWith('b.txt');
    await Promise.resolve();
    await Promise.resolve();
    expect(h.reveal).toHaveBeenCalledTimes(2);
    expect(h.currentPath()).toBe('b.txt');
  });

  it('stops when they leave', () => {
    const h = host();
    const f = new FollowController(h);
    const events: any[] = [];
    f.changed.connect((_, e) => events.push(e));
    f.start('alice');
    h.set([], []);
    expect(f.following).toBe(null);
    expect(events[1]).toEqual({ key: null, reason: 'left' });
  });

  it('switches from one person to another', () => {
    const h = host();
    const f = new FollowController(h);
    h.set([person('alice', 'a.ipynb'), person('bob', 'a.ipynb', [2])], [{ cell: 'x' }]);
    f.start('alice');
    f.toggle('bob');
    expect(f.following).toBe('bob');
  });
});

describe('followSignature', () => {
  it('changes when the document, cell or cursor changes', () => {
    const a = followSignature([{ current: 'a', cell: 'c1', cursors: [{ head: 1 }] }]);
    expect(followSignature([{ current: 'a', cell: 'c1', cursors: [{ head: 1 }] }])).toBe(a);
    expect(followSignature([{ current: 'b', cell: 'c1', cursors: [{ head: 1 }] }])).not.toBe(a);
    expect(followSignature([{ current: 'a', cell: 'c2', cursors: [{ head: 1 }] }])).not.toBe(a);
    expect(followSignature([{ current: 'a', cell: 'c1', cursors: [{ head: 2 }] }])).not.toBe(a);
    // other fields (such as the user's name) do not count
    expect(followSignature([{ current: 'a', cell: 'c1', cursors: [{ head: 1 }], user: {} }])).toBe(a);
  });
});

describe('cellMarks', () => {
  const alice = { username: 'alice', display_name: 'Alice', color: 'red' };
  const bob = { username: 'bob', display_name: 'Bob', initials: 'BB' };

  it('puts each person on their active cell, or their cursor’s cell', () => {
    const marks = cellMarks(
      [
        { clientId: 1, state: { user: alice, cell: 'c1', cursors: [{ head: 'in-c2', primary: true }] } },
        { clientId: 2, state: { user: bob, cursors: [{ head: 'in-c2', primary: true }] } },
        { clientId: 3, state: { user: { username: 'me' }, cell: 'c1' } },
        { clientId: 4, state: { cell: 'c1' } },
        { clientId: 5, state: { user: alice, cell: 'c1' } }
      ],
      id => id === 3,
      head => (head === 'in-c2' ? 'c2' : null)
    );
    expect([...marks.keys()].sort()).toEqual(['c1', 'c2']);
    expect(marks.get('c1')!.map(m => m.displayName)).toEqual(['Alice']);
    // initials as the server makes them; the colour as everywhere else
    expect(marks.get('c1')![0]).toMatchObject({ initials: 'AL', color: userColor(alice, 'alice'), clientId: 1 });
    expect(marks.get('c2')!.map(m => m.initials)).toEqual(['BB']);
  });

  it('skips people without a cell or a resolvable cursor', () => {
    const marks = cellMarks(
      [{ clientId: 1, state: { user: alice, cursors: [{ head: 'x' }] } }],
      () => false,
      () => null
    );
    expect(marks.size).toBe(0);
  });
});

describe('cellOfPosition', () => {
  it('finds the id of the cell whose source holds the position', () => {
    const doc = new Y.Doc();
    const cells = doc.getArray<Y.Map<any>>('cells');
    const cell = new Y.Map<any>();
    const source = new Y.Text('print(1)');
    cell.set('id', 'cell-1');
    cell.set('source', source);
    cells.push([cell]);
    const rel = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(source, 3));
    expect(cellOfPosition(doc, rel)).toBe('cell-1');
    const other = doc.getText('other');
    other.insert(0, 'abc');
    const outside = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(other, 1));
    expect(cellOfPosition(doc, outside)).toBe(null);
    expect(cellOfPosition(doc, null)).toBe(null);
    expect(cellOfPosition(doc, { nonsense: true })).toBe(null);
  });
});
