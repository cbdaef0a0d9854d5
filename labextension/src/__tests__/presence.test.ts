import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';

import { encodeCursors, labelVisible, primaryCursor, resolvePosition, transactionAuthors } from '../cursors';
import {
  FALLBACK_COLORS,
  IPresenceEntry,
  activityOf,
  applyUserColor,
  groupCollaborators,
  setColorSource,
  textColorOn,
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

  it('gives a stable fallback colour and initials as the server makes them', () => {
    expect(userColor({ username: 'x' }, 'x')).toBe(userColor({ username: 'x' }, 'x'));
    expect(userColor({ color: '' }, 'k')).toMatch(/^var\(--jp-collaborator-color/);
    expect(userInitials({}, 'ada')).toBe('AD');
    expect(userInitials({}, 'Ada Lovelace King')).toBe('AL');
    expect(userInitials({}, 'bob.smith')).toBe('BS');
    expect(userInitials({ initials: 'zq' }, 'Ada')).toBe('zq');
    expect(userInitials({}, '')).toBe('?');
  });

  it('lists us first, marked, when asked; otherwise only the others', () => {
    const people = groupCollaborators(entries, e => e.clientId === 4, 'Anonymous', { includeSelf: true });
    expect(people.map(p => [p.displayName, p.isSelf])).toEqual([
      ['me', true],
      ['Alice', false],
      ['Bob Marley', false]
    ]);
    expect(people[0].documents).toEqual(['a.txt']);
    expect(groupCollaborators(entries, e => e.clientId === 4).some(p => p.isSelf)).toBe(false);
  });

  it('someone whose changes arrived recently is editing; in front of them only, viewing', () => {
    const edits = new Map([['a.txt:3', 1000]]);
    const options = {
      lastEdit: (path: string, id: number) => edits.get(`${path}:${id}`),
      timeout: 10000
    };
    let [, bobNow] = groupCollaborators(entries, e => e.clientId === 4, 'Anonymous', { ...options, now: 5000 });
    expect(bobNow.editing).toEqual(['a.txt']);
    expect(activityOf(bobNow, 'a.txt')).toBe('editing');
    expect(activityOf(bobNow, 'c.py')).toBe('viewing');
    // typing in a document that is also the one in front of them: editing wins
    const typing = groupCollaborators(
      [{ roomPath: 'c.py', clientId: 3, state: { user: bob, current: 'c.py' } }],
      () => false,
      'Anonymous',
      { lastEdit: () => 4000, now: 5000, timeout: 10000 }
    )[0];
    expect(activityOf(typing, 'c.py')).toBe('editing');
    // later: back to viewing
    [, bobNow] = groupCollaborators(entries, e => e.clientId === 4, 'Anonymous', { ...options, now: 20000 });
    expect(bobNow.editing).toEqual([]);
    expect(activityOf(bobNow, 'a.txt')).toBe('open');
    expect(activityOf(bobNow, 'c.py')).toBe('viewing');
  });
});

describe('colours', () => {
  afterEach(() => setColorSource('theme'));

  it('theme: the theme\'s collaborator colour of the person\'s slot, their own colour as fallback', () => {
    setColorSource('theme');
    const c = userColor({ username: 'alice', color: '#1f77b4' }, 'alice');
    expect(c).toMatch(/^var\(--jp-collaborator-color[1-7], #1f77b4\)$/);
    // the same slot on every screen, whatever the identity's colour
    expect(userColor({ username: 'alice', color: '#d62728' }, 'alice').split(',')[0]).toBe(c.split(',')[0]);
    // a colour that is a theme variable already is kept
    expect(userColor({ color: 'var(--jp-collaborator-color3)' }, 'x')).toBe('var(--jp-collaborator-color3)');
  });

  it('identity: the identity\'s own colour, else a theme slot', () => {
    setColorSource('identity');
    expect(userColor({ color: '#1f77b4' }, 'alice')).toBe('#1f77b4');
    expect(FALLBACK_COLORS).toContain(userColor({ color: null }, 'alice'));
  });

  it('never lets anything but a colour through (CSS injection)', () => {
    for (const source of ['theme', 'identity'] as const) {
      setColorSource(source);
      for (const bad of [
        'red; background: url(https://evil.example/x)',
        'url(https://evil.example/x)',
        '#fff" onmouseover="alert(1)',
        'expression(alert(1))',
        'var(--x); color: red',
        'rgb(1,2,3);}body{display:none',
        'inherit',
        42 as any
      ]) {
        const c = userColor({ color: bad }, 'alice');
        expect(c).not.toMatch(/url|expression|;|"|\}|inherit/);
        expect(c).toMatch(/^(var\(--jp-collaborator-color[1-7], #[0-9a-f]{6}\)|#[0-9a-f]{6})$/);
      }
    }
  });

  it('text on a colour reads: the theme\'s text colour on theme slots, else black or white', () => {
    expect(textColorOn('var(--jp-collaborator-color2, #dac83d)')).toBe('var(--jp-ui-font-color0)');
    expect(textColorOn('#ffff00')).toBe('#000000');
    expect(textColorOn('#1f1f7f')).toBe('#ffffff');
    expect(textColorOn('rgb(20, 20, 20)')).toBe('#ffffff');
    expect(textColorOn('rebeccapurple')).toBe('var(--jp-ui-inverse-font-color0)');
    const set: Record<string, string> = {};
    applyUserColor({ style: { setProperty: (k, v) => (set[k] = v) } }, '#ffff00');
    expect(set).toEqual({ '--jp-collab-user-color': '#ffff00', '--jp-collab-user-text-color': '#000000' });
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

describe('cursor names', () => {
  it('show on activity for a while, always, or only on hover', () => {
    const activity = { mode: 'activity' as const, duration: 3000 };
    expect(labelVisible(activity, 1000, 2000)).toBe(true);
    expect(labelVisible(activity, 1000, 4500)).toBe(false);
    expect(labelVisible(activity, undefined, 10)).toBe(false);
    expect(labelVisible({ mode: 'always', duration: 3000 }, undefined, 10)).toBe(true);
    expect(labelVisible({ mode: 'hover', duration: 3000 }, 1000, 1001)).toBe(false);
  });

  it('go with the primary cursor', () => {
    expect(primaryCursor([{ head: 1 }, { head: 2, primary: true }])).toEqual({ head: 2, primary: true });
    expect(primaryCursor([{ head: 1 }])).toEqual({ head: 1 });
    expect(primaryCursor([])).toBeNull();
    expect(primaryCursor('x')).toBeNull();
  });
});

describe('who typed', () => {
  it('the authors of a text change are the clients whose clocks advanced', () => {
    const alice = new Y.Doc();
    const bob = new Y.Doc();
    alice.getText('source').insert(0, 'hello');
    Y.applyUpdate(bob, Y.encodeStateAsUpdate(alice));
    const seen: number[][] = [];
    alice.getText('source').observe(event => seen.push(transactionAuthors(event.transaction)));
    const before = Y.encodeStateVector(bob);
    bob.getText('source').insert(0, 'x');
    Y.applyUpdate(alice, Y.encodeStateAsUpdate(bob, before));
    expect(seen).toEqual([[bob.clientID]]);
    alice.getText('source').delete(0, 1); // a deletion names nobody
    expect(seen[1]).toEqual([]);
  });
});
