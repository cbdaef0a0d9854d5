import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { RestoreNoticeLog, pickShown, shareChange, streamNotification } from '../notifications/mapping';
import { NotificationPoller } from '../notifications/poller';
import {
  INotificationPage,
  INotificationsApi,
  IUserNotification,
  SharingError
} from '../sharing/api';

const trans = {
  __: (msg: string, ...args: any[]) =>
    msg.replace(/%(\d)/g, (m, i) => String(args[Number(i) - 1] ?? m))
};

function note(over: Partial<IUserNotification> & { id: number }): IUserNotification {
  return {
    type: 'shared',
    time: '2026-11-24T20:00:00Z',
    read: false,
    actor: { username: 'alice', display_name: 'Alice' },
    path: 'project/analysis.ipynb',
    room: 'json:notebook:f1',
    message: 'alice shared project/analysis.ipynb with you as editor',
    details: { role: 'editor' },
    ...over
  };
}

describe('streamNotification', () => {
  it('a share: who, what, what they can do, and an Open action', () => {
    expect(streamNotification(note({ id: 1, details: { role: 'editor', change: 'granted', previous: 'none' } }), trans)).toEqual({
      type: 'info',
      message: 'Alice shared “analysis.ipynb” with you: you can edit it.',
      autoClose: 10000,
      open: 'project/analysis.ipynb'
    });
    expect(streamNotification(note({ id: 1, details: { role: 'viewer', change: 'granted' } }), trans)?.message).toBe(
      'Alice shared “analysis.ipynb” with you: you can view it.'
    );
    expect(streamNotification(note({ id: 1, details: { role: 'owner', change: 'granted' } }), trans)?.message).toBe(
      'Alice shared “analysis.ipynb” with you: you own it, and can choose who has access.'
    );
  });

  it('a demotion is never announced as "shared with you"', () => {
    for (const details of [
      { role: 'viewer', previous: 'editor', change: 'changed' },
      // a new share that gives less than the server's default gave
      { role: 'viewer', previous: 'editor', change: 'granted' },
      { role: 'viewer', previous: 'owner' }
    ]) {
      expect(shareChange(details)).toBe('demoted');
      const spec = streamNotification(note({ id: 1, details }), trans)!;
      expect(spec.message).toBe('Alice changed your access to “analysis.ipynb” to Can view.');
      expect(spec.message).not.toMatch(/shared/);
      expect(spec.open).toBe('project/analysis.ipynb');
    }
    expect(streamNotification(note({ id: 1, details: { role: 'owner', previous: 'viewer', change: 'changed' } }), trans)?.message).toBe(
      'Alice changed your access to “analysis.ipynb” to Owner.'
    );
  });

  it('an older server (no kind of change): said neutrally, never as a new share', () => {
    expect(shareChange({ role: 'viewer' })).toBe('set');
    expect(streamNotification(note({ id: 1, details: { role: 'viewer' } }), trans)?.message).toBe(
      'Alice set your access to “analysis.ipynb” to Can view.'
    );
  });

  it('a removed share, and no access at all (nothing to open)', () => {
    expect(streamNotification(note({ id: 1, details: { role: null } }), trans)?.message).toMatch(
      /^Alice took you off the list of people with access to “analysis.ipynb”/
    );
    for (const details of [{ role: 'none' }, { role: 'none', previous: 'editor', change: 'removed' }]) {
      const none = streamNotification(note({ id: 1, details }), trans);
      expect(none).toMatchObject({ type: 'warning', open: null, message: 'Alice removed your access to “analysis.ipynb”.' });
    }
  });

  it('a folder is named by its last part, and says what is in it', () => {
    expect(
      streamNotification(note({ id: 1, path: 'project/data/', details: { role: 'editor', change: 'granted', kind: 'directory' } }), trans)?.message
    ).toBe('Alice shared the folder “data” with you: you can edit what is in it.');
  });

  it('a restore says which version: by its name, else its time, never its id', () => {
    expect(
      streamNotification(
        note({ id: 1, type: 'restored', details: { version: 4, versionName: 'Final', versionTime: '2026-11-20T10:00:00Z' } }),
        trans
      )?.message
    ).toBe('Alice restored “analysis.ipynb” to “Final”.');
    const byTime = streamNotification(
      note({ id: 1, type: 'restored', details: { version: 4, versionTime: '2020-01-02T03:04:00Z' } }),
      trans
    )?.message;
    expect(byTime).toMatch(/^Alice restored “analysis\.ipynb” to the version of .*2020/);
    expect(byTime).not.toContain('version 4');
    expect(
      streamNotification(note({ id: 1, type: 'restored', details: {}, actor: null }), trans)?.message
    ).toBe('Someone restored “analysis.ipynb” to an earlier version.');
  });

  it('an unknown type shows the server sentence; a generic one without it', () => {
    expect(streamNotification(note({ id: 1, type: 'poll-closed', message: 'The poll closed' }), trans)).toMatchObject({
      message: 'The poll closed',
      open: 'project/analysis.ipynb'
    });
    expect(streamNotification(note({ id: 1, type: 'poll-closed', message: '' }), trans).message).toBe(
      'Alice: a notification about “analysis.ipynb”.'
    );
  });

  it('long names are shortened', () => {
    const spec = streamNotification(note({ id: 1, path: 'x'.repeat(300) }), trans);
    expect(spec!.message.length).toBeLessThanOrEqual(140);
    expect(spec!.message.endsWith('…')).toBe(true);
  });
});

describe('RestoreNoticeLog', () => {
  const none = { rooms: new Set<string>(), paths: new Set<string>() };

  it('a restore of an open document, or one already told by its room, is a duplicate', () => {
    let now = 0;
    const log = new RestoreNoticeLog({ ttl: 1000, now: () => now });
    const restored = note({ id: 5, type: 'restored', details: { version: 3 } });
    expect(log.isDuplicate(restored, none)).toBe(false);
    expect(log.isDuplicate(restored, { rooms: new Set(['json:notebook:f1']), paths: new Set() })).toBe(true);
    expect(log.isDuplicate(restored, { rooms: new Set(), paths: new Set(['project/analysis.ipynb']) })).toBe(true);
    log.add('json:notebook:f1', 'project/analysis.ipynb', 3);
    expect(log.isDuplicate(restored, none)).toBe(true);
    expect(log.isDuplicate(note({ id: 6, type: 'restored', details: { version: 9 } }), none)).toBe(false);
    now = 5000;
    expect(log.isDuplicate(restored, none)).toBe(false);
  });

  it('shares are never duplicates of room notices', () => {
    const log = new RestoreNoticeLog();
    log.add('json:notebook:f1', 'project/analysis.ipynb', null);
    expect(
      log.isDuplicate(note({ id: 1 }), { rooms: new Set(['json:notebook:f1']), paths: new Set() })
    ).toBe(false);
  });
});

/** A fake stream: `items` on the server, read flags, calls recorded. */
class FakeStream implements INotificationsApi {
  items: IUserNotification[] = [];
  calls: string[] = [];
  fail: Error | null = null;
  gate: Promise<void> | null = null;

  async notifications(after: number, limit = 50): Promise<INotificationPage> {
    this.calls.push(`get ${after}`);
    if (this.gate) {
      await this.gate;
    }
    if (this.fail) {
      throw this.fail;
    }
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

describe('NotificationPoller', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(options: { limit?: number; hidden?: () => boolean } = {}) {
    const api = new FakeStream();
    const delivered: number[][] = [];
    const poller = new NotificationPoller({
      api,
      interval: 10000,
      limit: options.limit,
      isHidden: options.hidden,
      deliver: list => delivered.push(list.map(n => n.id))
    });
    return { api, poller, delivered };
  }

  it('shows the unread ones (not the read ones) once, leaves them unread, then asks only for newer ones', async () => {
    const { api, poller, delivered } = setup();
    api.items = [note({ id: 1, read: true }), note({ id: 2 }), note({ id: 3 })];
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual([[2, 3]]);
    // shown is not read (before: 'read 2,3' right after showing them)
    expect(api.calls).toEqual(['get 0']);
    expect(poller.after).toBe(3);
    expect(poller.unread).toBe(2);
    api.items.push(note({ id: 4 }));
    await vi.advanceTimersByTimeAsync(10000);
    expect(delivered).toEqual([[2, 3], [4]]);
    expect(api.calls.slice(1)).toEqual(['get 3']);
    expect(poller.unread).toBe(3);
    await vi.advanceTimersByTimeAsync(10000);
    expect(delivered).toHaveLength(2); // still unread, but never shown twice
    expect(api.calls.slice(2)).toEqual(['get 4']);
    poller.dispose();
  });

  it('reads every page', async () => {
    const { api, poller, delivered } = setup({ limit: 2 });
    api.items = [1, 2, 3, 4, 5].map(id => note({ id }));
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual([[1, 2, 3, 4, 5]]);
    expect(api.calls).toEqual(['get 0', 'get 2', 'get 4']);
    poller.dispose();
  });

  it('a poll asked for while one is under way runs right after it, never two at a time', async () => {
    const { api, poller, delivered } = setup();
    let open!: () => void;
    api.gate = new Promise<void>(r => (open = r));
    poller.start();
    const again = poller.pollNow();
    api.items = [note({ id: 1 })];
    expect(api.calls).toEqual(['get 0']);
    api.gate = null;
    open();
    await again;
    await vi.advanceTimersByTimeAsync(0);
    // the second one right after the first (not 10 s later), for newer ones
    expect(api.calls.filter(c => c.startsWith('get'))).toEqual(['get 0', 'get 1']);
    expect(delivered.flat()).toEqual([1]);
    poller.dispose();
  });

  it('no polling while the page is hidden; a poll when it shows again', async () => {
    let hidden = false;
    const { api, poller } = setup({ hidden: () => hidden });
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    hidden = true;
    poller.visibilityChanged();
    expect(poller.isScheduled).toBe(false);
    await vi.advanceTimersByTimeAsync(60000);
    expect(api.calls).toEqual(['get 0']);
    hidden = false;
    api.items = [note({ id: 1 })];
    poller.visibilityChanged();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.calls).toEqual(['get 0', 'get 0']);
    expect(poller.isScheduled).toBe(true);
    poller.dispose();
  });

  it('backs off after failures and recovers', async () => {
    const { api, poller, delivered } = setup();
    api.fail = new SharingError('Failed to fetch', null);
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(10000); // not yet: 20 s after one failure
    expect(api.calls).toEqual(['get 0']);
    await vi.advanceTimersByTimeAsync(10000);
    expect(api.calls).toEqual(['get 0', 'get 0']);
    api.fail = null;
    api.items = [note({ id: 1 })];
    await vi.advanceTimersByTimeAsync(40000);
    expect(delivered).toEqual([[1]]);
    expect(poller.enabled).toBe(true);
    poller.dispose();
  });

  it('stops for good when the server has no stream (404 page, 403)', async () => {
    for (const err of [new SharingError('none', 404, true), new SharingError('forbidden', 403)]) {
      const { api, poller } = setup();
      api.fail = err;
      poller.start();
      await vi.advanceTimersByTimeAsync(0);
      await vi.advanceTimersByTimeAsync(600000);
      expect(api.calls).toEqual(['get 0']);
      expect(poller.enabled).toBe(false);
      await poller.pollNow();
      expect(api.calls).toEqual(['get 0']);
    }
  });

  it('a page that fails after the first delivers what the first brought, once', async () => {
    const { api, poller, delivered } = setup({ limit: 2 });
    api.items = [1, 2, 3].map(id => note({ id }));
    const real = api.notifications.bind(api);
    let n = 0;
    api.notifications = async (after, limit) => {
      if (n++ === 1) {
        throw new SharingError('boom', 500);
      }
      return real(after, limit);
    };
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual([[1, 2]]);
    await vi.advanceTimersByTimeAsync(20000);
    expect(delivered).toEqual([[1, 2], [3]]);
    poller.dispose();
  });
});

describe('pickShown', () => {
  it('shows a few one by one (the newest) and counts the rest', () => {
    const list = [5, 1, 4, 2, 3, 6, 7].map(id => ({ id }));
    expect(pickShown(list, 5)).toEqual({ shown: [3, 4, 5, 6, 7].map(id => ({ id })), more: 2 });
    expect(pickShown([{ id: 2 }, { id: 1 }], 5)).toEqual({ shown: [{ id: 1 }, { id: 2 }], more: 0 });
  });
});
