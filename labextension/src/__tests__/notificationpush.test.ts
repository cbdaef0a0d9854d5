import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { streamNotification } from '../notifications/mapping';
import { bellText, kindLabel, preferencesChange } from '../notifications/text';
import { IPushSocketLike, NotificationFeed } from '../notifications/push';
import {
  INotificationPage,
  INotificationPreferences,
  INotificationsApi,
  IUserNotification,
  normalizePreferences
} from '../sharing/api';

const trans = {
  __: (msg: string, ...args: any[]) =>
    msg.replace(/%(\d)/g, (m, i) => String(args[Number(i) - 1] ?? m))
};

function note(id: number, over: Partial<IUserNotification> = {}): IUserNotification {
  return {
    id,
    type: 'mentioned',
    time: '2026-11-25T21:00:00Z',
    read: false,
    actor: { username: 'alice', display_name: 'Alice' },
    path: 'project/a.ipynb',
    room: null,
    message: 'Alice mentioned you in a.ipynb',
    details: { thread: 't1', excerpt: '@bob look' },
    ...over
  };
}

/** The server side of the push socket, played by the test. */
class FakePush implements IPushSocketLike {
  constructor(readonly after: number) {}
  readyState = 0;
  onopen: ((ev: any) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: any) => void) | null = null;
  onmessage: ((ev: { data: any }) => void) | null = null;
  closed = false;
  close(): void {
    this.closed = true;
  }
  send(message: any): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }
}

/** The REST side: stored notifications, calls recorded. */
class FakeApi implements INotificationsApi {
  items: IUserNotification[] = [];
  calls: string[] = [];
  async notifications(after: number, limit = 50): Promise<INotificationPage> {
    this.calls.push(`get ${after}`);
    const list = this.items.filter(n => n.id > after).slice(0, limit);
    return { notifications: list.map(n => ({ ...n })), unread: this.items.filter(n => !n.read).length };
  }
  async markRead(target: { ids: number[] } | { upto: number }): Promise<number> {
    const ids = 'ids' in target ? target.ids : this.items.filter(n => n.id <= target.upto).map(n => n.id);
    this.calls.push(`read ${ids.join(',')}`);
    for (const n of this.items) {
      if (ids.includes(n.id)) {
        n.read = true;
      }
    }
    return this.items.filter(n => !n.read).length;
  }
}

function setup(api = new FakeApi()) {
  const sockets: FakePush[] = [];
  const delivered: number[][] = [];
  const unread: number[] = [];
  const states: boolean[] = [];
  const earlierOnes: number[] = [];
  const live: number[] = [];
  const feed = new NotificationFeed({
    api,
    connect: after => {
      const s = new FakePush(after);
      sockets.push(s);
      return s;
    },
    deliver: (list, earlier) => {
      delivered.push(list.map(n => n.id));
      (earlier ? earlierOnes : live).push(...list.map(n => n.id));
    },
    onUnread: n => unread.push(n),
    onConnected: c => states.push(c),
    interval: 10000,
    reconnectDelay: 1000,
    reconnectMax: 8000
  });
  return { api, feed, sockets, delivered, unread, states, earlierOnes, live };
}

describe('NotificationFeed', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a shown notification stays unread until the person opens it or marks it read', async () => {
    const { api, feed, sockets, delivered, unread } = setup();
    feed.start();
    sockets[0].send({ type: 'ready', unread: 0, last: 0, truncated: false });
    for (const id of [7, 8]) {
      api.items.push(note(id));
      sockets[0].send({ type: 'notification', notification: note(id), unread: id - 6 });
    }
    await vi.advanceTimersByTimeAsync(60000);
    expect(delivered).toEqual([[7], [8]]);
    expect(api.calls).toEqual([]); // (before: 'read 7', 'read 8' as soon as they showed)
    expect(api.items.filter(n => !n.read).map(n => n.id)).toEqual([7, 8]);
    expect(feed.unread).toBe(2);

    // the person opens (or marks read) the first one: that one only
    await feed.markRead([7]);
    expect(api.calls).toEqual(['read 7']);
    expect(api.items.filter(n => !n.read).map(n => n.id)).toEqual([8]);
    expect(feed.unread).toBe(1);
    expect(unread[unread.length - 1]).toBe(1);

    // "Mark all read" from the bell's menu
    await feed.markAllRead();
    expect(api.calls).toEqual(['read 7', 'read 7,8']);
    expect(feed.unread).toBe(0);
    await feed.markRead([]); // nothing to do: no request
    expect(api.calls).toHaveLength(2);
    feed.dispose();
  });

  it('two tabs of one user: what one reads, the other counts at once (the pushed count)', async () => {
    // one server-side store, two pages (feeds) each with its own socket
    const api = new FakeApi();
    const one = setup(api);
    const two = setup(api);
    for (const tab of [one, two]) {
      tab.feed.start();
      tab.sockets[0].send({ type: 'ready', unread: 0, last: 0, truncated: false });
    }
    api.items.push(note(3));
    for (const tab of [one, two]) {
      tab.sockets[0].send({ type: 'notification', notification: note(3), unread: 1 });
    }
    await vi.advanceTimersByTimeAsync(0);
    expect([one.feed.unread, two.feed.unread]).toEqual([1, 1]);
    await one.feed.markRead([3]);
    expect(one.feed.unread).toBe(0);
    // the server pushes the new count to every socket of the user (docs/notifications.md)
    two.sockets[0].send({ type: 'unread', unread: 0 });
    expect(two.feed.unread).toBe(0);
    expect(two.unread).toEqual([1, 0]);
    expect(api.calls).toEqual(['read 3']);
    one.feed.dispose();
    two.feed.dispose();
  });

  it('what was there before the page opened is "earlier" (listed, no pop-up); what comes after is live', async () => {
    const api = new FakeApi();
    api.items.push(note(1), note(2));
    const { feed, sockets, earlierOnes, live } = setup(api);
    feed.start();
    sockets[0].send({ type: 'notification', notification: note(1) });
    sockets[0].send({ type: 'notification', notification: note(2) });
    sockets[0].send({ type: 'ready', unread: 2, last: 2, truncated: false });
    sockets[0].send({ type: 'notification', notification: note(3), unread: 3 });
    expect(earlierOnes).toEqual([1, 2]);
    expect(live).toEqual([3]);
    // a reconnection's catch-up is what was missed meanwhile: live
    sockets[0].drop();
    await vi.advanceTimersByTimeAsync(1000);
    sockets[1].send({ type: 'notification', notification: note(4) });
    sockets[1].send({ type: 'ready', unread: 4, last: 4, truncated: false });
    expect(live).toEqual([3, 4]);
    expect(earlierOnes).toEqual([1, 2]);
    feed.dispose();
  });

  it('with the socket down at first, the first poll is "earlier" and later polls are live', async () => {
    const api = new FakeApi();
    api.items.push(note(1));
    const { feed, sockets, earlierOnes, live } = setup(api);
    feed.start();
    sockets[0].drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(earlierOnes).toEqual([1]);
    api.items.push(note(2));
    await vi.advanceTimersByTimeAsync(10000);
    expect(live).toEqual([2]);
    expect(api.calls.filter(c => c.startsWith('read'))).toEqual([]);
    feed.dispose();
  });

  it('shows what the socket pushes at once, and never polls while it is up', async () => {
    const { api, feed, sockets, delivered, unread, states } = setup();
    feed.start();
    expect(sockets.map(s => s.after)).toEqual([0]);
    sockets[0].send({ type: 'ready', unread: 0, last: 0, truncated: false });
    expect(feed.connected).toBe(true);
    expect(states).toEqual([true]);

    api.items.push(note(7));
    sockets[0].send({ type: 'notification', notification: note(7), unread: 1 });
    expect(delivered).toEqual([[7]]);
    expect(unread).toContain(1);
    await vi.advanceTimersByTimeAsync(0);
    // shown is not read: nothing is marked read, and no GET at all
    expect(api.calls).toEqual([]);
    expect(feed.unread).toBe(1);

    // A long time passes: still no poll, and a focus check asks nothing either.
    await vi.advanceTimersByTimeAsync(120000);
    await feed.check();
    expect(api.calls.filter(c => c.startsWith('get'))).toEqual([]);
    // The same notification pushed again (another server's copy) is not shown twice.
    sockets[0].send({ type: 'notification', notification: note(7), unread: 0 });
    expect(delivered).toEqual([[7]]);
    // The count follows what other tabs do.
    sockets[0].send({ type: 'unread', unread: 3 });
    expect(feed.unread).toBe(3);
    feed.dispose();
    expect(sockets[0].closed).toBe(true);
  });

  it('the catch-up after connecting is shown together; read ones only move the cursor', () => {
    const { feed, sockets, delivered } = setup();
    feed.start();
    sockets[0].send({ type: 'notification', notification: note(1, { read: true }) });
    sockets[0].send({ type: 'notification', notification: note(2) });
    sockets[0].send({ type: 'notification', notification: note(3) });
    expect(delivered).toEqual([]); // not before "ready"
    sockets[0].send({ type: 'ready', unread: 2, last: 3, truncated: false });
    expect(delivered).toEqual([[2, 3]]);
    expect(feed.after).toBe(3);
    feed.dispose();
  });

  it('falls back to polling while the socket is down, and reconnects saying what it has', async () => {
    const { api, feed, sockets, delivered, states } = setup();
    feed.start();
    sockets[0].send({ type: 'ready', unread: 0, last: 0, truncated: false });
    sockets[0].send({ type: 'notification', notification: note(4), unread: 1 });
    api.items.push({ ...note(4), read: true });

    sockets[0].drop();
    expect(feed.connected).toBe(false);
    expect(states).toEqual([true, false]);
    await vi.advanceTimersByTimeAsync(0);
    // one poll at once, from the last id received (nothing shown twice)
    expect(api.calls.filter(c => c.startsWith('get'))).toEqual(['get 4']);

    // While down, a new notification arrives by polling.
    api.items.push(note(5));
    await vi.advanceTimersByTimeAsync(999);
    expect(sockets.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1); // reconnect after 1 s
    expect(sockets.length).toBe(2);
    expect(sockets[1].after).toBe(4);
    sockets[1].drop(); // refused again: next attempt after 2 s
    await vi.advanceTimersByTimeAsync(10000);
    expect(delivered).toEqual([[4], [5]]); // the poll showed 5
    // the socket opened meanwhile never answered; it fails, the next one says 5
    sockets[sockets.length - 1].drop();
    await vi.advanceTimersByTimeAsync(8000);
    const n = sockets.length;
    expect(sockets[n - 1].after).toBe(5);

    // Connected again: it catches up from 5 and polling stops.
    sockets[n - 1].send({ type: 'ready', unread: 0, last: 5, truncated: false });
    expect(feed.connected).toBe(true);
    const polls = api.calls.filter(c => c.startsWith('get')).length;
    await vi.advanceTimersByTimeAsync(60000);
    expect(api.calls.filter(c => c.startsWith('get')).length).toBe(polls);
    feed.dispose();
  });

  it('backs off up to the longest delay between reconnections', async () => {
    const { feed, sockets } = setup();
    feed.start();
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = sockets.length;
      sockets[before - 1].drop();
      let waited = 0;
      while (sockets.length === before) {
        await vi.advanceTimersByTimeAsync(500);
        waited += 500;
      }
      times.push(waited);
    }
    expect(times).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    feed.dispose();
  });

  it('a truncated catch-up pages the rest through the REST API', async () => {
    const api = new FakeApi();
    for (let id = 1; id <= 8; id++) {
      api.items.push(note(id));
    }
    const { feed, sockets, delivered } = setup(api);
    feed.start();
    for (let id = 1; id <= 5; id++) {
      sockets[0].send({ type: 'notification', notification: note(id) });
    }
    sockets[0].send({ type: 'ready', unread: 8, last: 5, truncated: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered.flat()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(api.calls).toContain('get 5');
    feed.dispose();
  });

  it('ignores what it does not understand', () => {
    const { feed, sockets, delivered } = setup();
    feed.start();
    sockets[0].onmessage?.({ data: 'not json' });
    sockets[0].send({ type: 'ready', unread: 0, last: 0 });
    sockets[0].send({ type: 'something-new', x: 1 });
    sockets[0].send({ type: 'notification', notification: { id: 'x' } });
    sockets[0].send({ type: 'notification', notification: note(9, { type: 'poll-closed' }) });
    expect(delivered).toEqual([[9]]);
    feed.dispose();
  });
});

describe('comment and unknown kinds', () => {
  it('mentions, replies and resolved threads in the reader’s words', () => {
    expect(streamNotification(note(1), trans)).toEqual({
      type: 'info',
      message: 'Alice mentioned you in “a.ipynb”: @bob look',
      autoClose: 10000,
      open: 'project/a.ipynb',
      // (its Open action shows the thread: the comments plugin's open-comment-thread)
      thread: 't1'
    });
    expect(streamNotification(note(1, { type: 'reply', details: { excerpt: 'done' } }), trans).message).toBe(
      'Alice replied in a thread on “a.ipynb”: done'
    );
    expect(streamNotification(note(1, { type: 'resolved' }), trans).message).toBe(
      'Alice resolved a thread on “a.ipynb”.'
    );
  });

  it('an unknown kind is a generic item with an Open action', () => {
    expect(streamNotification(note(1, { type: 'poll-closed', message: 'Alice closed the poll' }), trans)).toEqual({
      type: 'info',
      message: 'Alice closed the poll',
      autoClose: 10000,
      open: 'project/a.ipynb'
    });
    expect(streamNotification(note(1, { type: 'poll-closed', message: '' }), trans).message).toBe(
      'Alice: a notification about “a.ipynb”.'
    );
    expect(streamNotification(note(1, { type: 'x', message: '', path: null }), trans)).toMatchObject({
      message: 'Alice: a new notification.',
      open: null
    });
  });
});

describe('e-mail preferences', () => {
  const prefs: INotificationPreferences = normalizePreferences({
    email: null,
    emailKinds: ['mentioned'],
    address: 'bob@example.org',
    addressFrom: 'template',
    emailEnabled: true,
    kinds: ['shared', 'restored', 'mentioned', 'reply', 'resolved']
  });

  it('sends only what changed', () => {
    expect(preferencesChange(prefs, { kinds: ['mentioned'], email: '' })).toEqual({});
    expect(preferencesChange(prefs, { kinds: ['reply', 'mentioned'], email: ' ' })).toEqual({
      emailKinds: ['mentioned', 'reply']
    });
    expect(preferencesChange(prefs, { kinds: ['mentioned'], email: 'b@work.org ' })).toEqual({
      email: 'b@work.org'
    });
    expect(
      preferencesChange({ ...prefs, email: 'b@work.org' }, { kinds: [], email: '' })
    ).toEqual({ email: null, emailKinds: [] });
    // kinds the server does not offer are not sent
    expect(preferencesChange(prefs, { kinds: ['mentioned', 'gossip'], email: '' })).toEqual({});
  });

  it('labels kinds in plain words; unknown ones by name', () => {
    expect(kindLabel('mentioned', trans)).toBe('Someone mentions me in a comment');
    expect(kindLabel('gossip', trans)).toBe('gossip');
  });

  it('reads replies defensively', () => {
    expect(() => normalizePreferences({})).toThrow();
    expect(normalizePreferences({ emailKinds: ['reply', 3], kinds: 'x', addressFrom: 'evil' })).toEqual({
      email: null,
      emailKinds: ['reply'],
      address: null,
      addressFrom: null,
      emailEnabled: false,
      kinds: []
    });
  });
});

describe('the bell', () => {
  it('shows the unread count and says when the live connection is down', () => {
    expect(bellText(0, true, trans)).toEqual({ label: '', title: 'No unread notifications' });
    expect(bellText(1, true, trans)).toEqual({ label: '1', title: '1 unread notification' });
    expect(bellText(250, true, trans).label).toBe('99+');
    expect(bellText(3, false, trans).title).toBe(
      '3 unread notifications (checking every few seconds: the live connection is down)'
    );
  });
});
