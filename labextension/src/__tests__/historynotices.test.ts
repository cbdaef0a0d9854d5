import { describe, expect, it } from 'vitest';

import {
  INotifier,
  MAX_MESSAGE,
  NotificationDeduper,
  noticeNotification
} from '../history/notices';
import { parseNotice } from '../protocol';

const trans = {
  __: (msg: string, ...args: any[]) =>
    msg.replace(/%(\d)/g, (m, i) => String(args[Number(i) - 1] ?? m))
};

function notice(value: object) {
  return parseNotice(JSON.stringify(value));
}

describe('notices from the server', () => {
  it('parses the history notices', () => {
    expect(
      notice({
        type: 'restored', version: 12, versionName: 'Draft', versionTime: '2026-11-25T14:02:00+00:00',
        versionKind: 'named', by: { username: 'alice', display_name: 'Alice' }, path: 'a.txt'
      })
    ).toEqual({
      type: 'restored', version: 12, versionName: 'Draft', versionTime: '2026-11-25T14:02:00+00:00',
      versionKind: 'named', by: { username: 'alice', display_name: 'Alice' }, path: 'a.txt'
    });
    expect(notice({ type: 'restored' })).toEqual({
      type: 'restored', version: null, versionName: null, versionTime: null, versionKind: null,
      by: null, path: undefined
    });
    expect(notice({ type: 'version', version: { id: 3 } })).toEqual({ type: 'version', version: { id: 3 } });
    expect(notice({ type: 'store-error', message: 'disk full' })).toEqual({ type: 'store-error', message: 'disk full' });
  });
});

const TIME = { locale: 'en-GB', timeZone: 'Europe/London', now: new Date('2026-11-28T09:00:00Z') };

describe('noticeNotification', () => {
  it('says who restored which version, by its name or its time, never its id', () => {
    const by = { username: 'alice', display_name: 'Alice' };
    const named = notice({ type: 'restored', version: 12, versionName: 'Before cleanup', versionTime: '2026-11-20T10:00:00Z', by });
    expect(noticeNotification(named, 'room-1', 'notes.txt', trans, null, TIME)).toEqual({
      key: 'room-1:restored',
      type: 'info',
      message: 'Alice restored “notes.txt” to “Before cleanup”.',
      autoClose: 8000
    });
    expect(noticeNotification(named, 'room-1', 'notes.txt', trans, 'alice', TIME)?.message).toBe(
      'You restored “notes.txt” to “Before cleanup”.'
    );
    const unnamed = notice({ type: 'restored', version: 3, versionTime: '2026-11-25T14:02:00Z', by: { username: 'bob' } });
    const message = noticeNotification(unnamed, 'r', 'a', trans, null, TIME)?.message;
    expect(message).toBe('bob restored “a” to the version of 25 Nov, 14:02.');
    expect(message).not.toMatch(/version 3\b/);
    const yesterday = notice({ type: 'restored', version: 3, versionTime: '2026-11-25T14:02:00Z', by });
    expect(noticeNotification(yesterday, 'r', 'a', trans, null, { ...TIME, now: new Date('2026-11-26T12:00:00Z') })?.message)
      .toBe('Alice restored “a” to the version of yesterday, 14:02.');
    const original = notice({ type: 'restored', version: 1, versionKind: 'opened', versionTime: '2026-11-25T14:02:00Z', by });
    expect(noticeNotification(original, 'r', 'a', trans, null, TIME)?.message).toBe(
      'Alice restored “a” to the file as first opened.'
    );
    const old = notice({ type: 'restored', version: 3, by: { username: 'bob' } });
    expect(noticeNotification(old, 'r', 'a', trans)?.message).toBe('bob restored “a” to an earlier version.');
  });

  it('tells about merged disk changes, save and store errors', () => {
    expect(noticeNotification(notice({ type: 'disk-merged', path: 'a.txt' }), 'r', 'a.txt', trans)).toMatchObject({
      key: 'r:disk-merged', type: 'info', message: '“a.txt”: merged changes made on disk.'
    });
    const save = noticeNotification(notice({ type: 'save-error', message: 'Permission denied' }), 'r', 'a.txt', trans);
    expect(save).toMatchObject({ key: 'r:save-error', type: 'error', autoClose: false });
    expect(save?.message).toContain('Permission denied');
    const store = noticeNotification(notice({ type: 'store-error', message: 'database is locked' }), 'r', 'a.txt', trans);
    expect(store).toMatchObject({ key: 'r:store-error', type: 'warning' });
    expect(store?.message).toContain('database is locked');
  });

  it('keeps messages short', () => {
    const spec = noticeNotification(
      notice({ type: 'save-error', message: 'x'.repeat(500) }),
      'r',
      'a-rather-long-file-name-for-a-notebook.ipynb',
      trans
    );
    expect(spec!.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    expect(spec!.message).toContain('…');
  });

  it('has nothing to say for other notices', () => {
    for (const n of [
      { type: 'saved', path: 'a' },
      { type: 'role', role: 'editor' },
      { type: 'version', version: {} },
      { type: 'something-new' }
    ]) {
      expect(noticeNotification(notice(n), 'r', 'a', trans)).toBeNull();
    }
  });
});

class FakeNotifier implements INotifier {
  shown = new Map<string, { message: string; type: string }>();
  emitted = 0;
  updated = 0;
  emit(message: string, type: any): string {
    const id = `n${++this.emitted}`;
    this.shown.set(id, { message, type });
    return id;
  }
  update(args: { id: string; message: string; type: any }): boolean {
    if (!this.shown.has(args.id)) {
      return false;
    }
    this.updated++;
    this.shown.set(args.id, { message: args.message, type: args.type });
    return true;
  }
}

describe('NotificationDeduper', () => {
  const spec = (key: string, message: string) => ({ key, type: 'info' as const, message, autoClose: 5000 });

  it('drops the same notification within the window', () => {
    let now = 0;
    const n = new FakeNotifier();
    const d = new NotificationDeduper(n, { window: 10000, now: () => now });
    expect(d.notify(spec('r:disk-merged', 'merged'))).toBe('n1');
    now = 2000;
    expect(d.notify(spec('r:disk-merged', 'merged'))).toBeNull();
    expect(n.emitted).toBe(1);
    // another document: its own notification
    expect(d.notify(spec('s:disk-merged', 'merged'))).toBe('n2');
  });

  it('replaces the shown notification of a key with a new message', () => {
    let now = 0;
    const n = new FakeNotifier();
    const d = new NotificationDeduper(n, { now: () => now });
    d.notify(spec('r:restored', 'version 1 restored'));
    now = 100;
    expect(d.notify(spec('r:restored', 'version 2 restored'))).toBe('n1');
    expect(n.emitted).toBe(1);
    expect(n.shown.get('n1')?.message).toBe('version 2 restored');
  });

  it('shows again after the window, updating the same notification', () => {
    let now = 0;
    const n = new FakeNotifier();
    const d = new NotificationDeduper(n, { window: 1000, now: () => now });
    d.notify(spec('r:save-error', 'failed'));
    now = 5000;
    expect(d.notify(spec('r:save-error', 'failed'))).toBe('n1');
    expect(n.updated).toBe(1);
  });

  it('emits anew once the shown one was dismissed, and forgets closed documents', () => {
    let now = 0;
    const n = new FakeNotifier();
    const d = new NotificationDeduper(n, { window: 1000, now: () => now });
    d.notify(spec('room-1:save-error', 'failed'));
    n.shown.clear(); // dismissed by the user
    now = 5000;
    expect(d.notify(spec('room-1:save-error', 'failed'))).toBe('n2');
    d.forget('room-1:');
    expect(d.notify(spec('room-1:save-error', 'failed'))).toBe('n3');
  });
});
