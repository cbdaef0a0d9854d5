import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';

import { encodeCursors, resolvePosition } from '../cursors';
import {
  FALLBACK_COLORS,
  IPresenceEntry,
  groupCollaborators,
  userColor,
  userInitials
} from '../presencemodel';

const alice = {
  username: 'alice',
  name: 'Alice Liddell',
  display_name: 'Alice',
  initials: 'AL',
  color: 'var(--jp-collaborator-color1)'
};
const bob = { username: 'bob', name: 'Bob Marley', color: null };

describe('groupCollaborators', () => {
  const entries: IPresenceEntry[] = [
    { roomPath: 'b.ipynb', clientId: 1, state: { user: alice, current: 'b.ipynb' } },
    { roomPath: 'a.txt', clientId: 2, state: { user: alice } },
    { roomPath: 'a.txt', clientId: 3, state: { user: bob, current: 'c.py' } },
    { roomPath: 'a.txt', clientId: 4, state: { user: { username: 'me' } } },
    { roomPath: 'a.txt', clientId: 5, state: {} }
  ];

  it('groups states by user with their documents', () => {
    const people = groupCollaborators(entries, e => e.clientId === 4);
    expect(people.map(p => p.displayName)).toEqual(['Alice', 'Bob Marley']);
    expect(people[0].documents).toEqual(['a.txt', 'b.ipynb']);
    expect(people[0].current).toBe('b.ipynb');
    expect(people[0].initials).toBe('AL');
    expect(people[0].color).toBe('var(--jp-collaborator-color1)');
    // the current document of bob is one we do not have open
    expect(people[1].documents).toEqual(['a.txt', 'c.py']);
    expect(people[1].current).toBe('c.py');
    expect(people[1].initials).toBe('BM');
    expect(FALLBACK_COLORS).toContain(people[1].color);
  });

  it('gives a stable fallback colour and initials', () => {
    expect(userColor({ username: 'x' }, 'x')).toBe(userColor({ username: 'x' }, 'x'));
    expect(userColor({ color: '' }, 'k')).toMatch(/^var\(--jp-collaborator-color/);
    expect(userInitials({}, 'ada')).toBe('A');
    expect(userInitials({}, '')).toBe('?');
  });
});

describe('cursor positions', () => {
  it('survive concurrent edits and resolve only in their own text', () => {
    const doc = new Y.Doc();
    const text = doc.getText('source');
    const other = doc.getText('other');
    text.insert(0, 'hello world');
    const [cursor] = encodeCursors(text, [{ anchor: 6, head: 11, empty: false }], 0);
    expect(cursor.primary).toBe(true);
    // JSON round trip, as through the awareness
    const wire = JSON.parse(JSON.stringify(cursor));
    text.insert(0, '>> ');
    expect(resolvePosition(text, wire.anchor)).toBe(9);
    expect(resolvePosition(other, wire.anchor)).toBe(null);
    expect(resolvePosition(text, null)).toBe(null);
    expect(resolvePosition(text, { garbage: true })).toBe(null);
  });
});
