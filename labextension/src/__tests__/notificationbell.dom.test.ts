// @vitest-environment jsdom
/**
 * The collaboration bell in a DOM (jsdom), driven by a real NotificationFeed
 * whose socket is played by the test: it counts what is shown and not yet
 * read, and follows the count the server pushes (another tab reading).
 */
import { Widget } from '@lumino/widgets';
import { afterEach, describe, expect, it } from 'vitest';

import { NotificationBell } from '../notifications/bell';
import { IPushSocketLike, NotificationFeed } from '../notifications/push';
import { INotificationPage, INotificationsApi, IUserNotification } from '../sharing/api';

const trans = {
  __: (msg: string, ...args: any[]) => msg.replace(/%(\d)/g, (m, i) => String(args[Number(i) - 1] ?? m))
};

function note(id: number): IUserNotification {
  return {
    id,
    type: 'mentioned',
    time: '2026-11-25T21:00:00Z',
    read: false,
    actor: { username: 'alice', display_name: 'Alice' },
    path: 'a.ipynb',
    room: null,
    message: 'Alice mentioned you in a.ipynb',
    details: { thread: 't1', excerpt: '@bob look' }
  };
}

class Socket implements IPushSocketLike {
  readyState = 1;
  onopen = null;
  onclose: IPushSocketLike['onclose'] = null;
  onerror = null;
  onmessage: IPushSocketLike['onmessage'] = null;
  close(): void {}
  send(m: any): void {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
}

/** The stored notifications of the user, shared by the tabs (the server's store). */
class Store implements INotificationsApi {
  items: IUserNotification[] = [];
  async notifications(after: number): Promise<INotificationPage> {
    return { notifications: this.items.filter(n => n.id > after), unread: this.items.filter(n => !n.read).length };
  }
  async markRead(target: { ids: number[] } | { upto: number }): Promise<number> {
    for (const n of this.items) {
      if ('ids' in target ? target.ids.includes(n.id) : n.id <= target.upto) {
        n.read = true;
      }
    }
    return this.items.filter(n => !n.read).length;
  }
}

const widgets: Widget[] = [];
afterEach(() => {
  for (const w of widgets.splice(0)) {
    w.dispose();
  }
});

function tab(store: Store) {
  const socket = new Socket();
  const bell = new NotificationBell({ trans, onActivate: () => undefined });
  Widget.attach(bell, document.body);
  widgets.push(bell);
  const feed = new NotificationFeed({
    api: store,
    connect: () => socket,
    deliver: () => undefined,
    onUnread: unread => bell.show_(unread, feed.connected),
    onConnected: connected => bell.show_(feed.unread, connected)
  });
  feed.start();
  socket.send({ type: 'ready', unread: 0, last: 0, truncated: false });
  return { bell, feed, socket };
}

describe('NotificationBell (DOM)', () => {
  it('counts a shown notification until it is read, in both tabs of the user', async () => {
    const store = new Store();
    const one = tab(store);
    const two = tab(store);
    expect(one.bell.node.title).toBe('No unread notifications');
    expect(one.bell.hasClass('jp-mod-offline')).toBe(false);

    store.items.push(note(1));
    for (const t of [one, two]) {
      t.socket.send({ type: 'notification', notification: note(1), unread: 1 });
    }
    await new Promise(r => setTimeout(r, 0));
    for (const t of [one, two]) {
      // shown, still unread (before: marked read at once, and the bell went back to none)
      expect(t.bell.node.querySelector('.jp-collab-NotificationBell-count')?.textContent).toBe('1');
      expect(t.bell.node.getAttribute('aria-label')).toBe('1 unread notification');
      expect(t.bell.hasClass('jp-mod-unread')).toBe(true);
    }
    expect(store.items[0].read).toBe(false);

    // opened in the first tab; the server pushes the new count to the second
    await one.feed.markRead([1]);
    two.socket.send({ type: 'unread', unread: 0 });
    for (const t of [one, two]) {
      expect(t.bell.node.title).toBe('No unread notifications');
      expect(t.bell.hasClass('jp-mod-unread')).toBe(false);
      expect(t.bell.node.querySelector('.jp-collab-NotificationBell-count')?.textContent).toBe('');
    }
    one.feed.dispose();
    two.feed.dispose();
  });

  it('says when the live connection is down', () => {
    const { bell, socket, feed } = tab(new Store());
    socket.onclose?.({ code: 1006, reason: '' });
    expect(bell.hasClass('jp-mod-offline')).toBe(true);
    expect(bell.node.title).toMatch(/live connection is down/);
    feed.dispose();
  });
});
