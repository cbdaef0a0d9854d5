import { ServerConnection } from '@jupyterlab/services';
import { describe, expect, it } from 'vitest';

import { EarlySocket, openWebSocketUrl, readSessionNotice } from '../earlysocket';
import { encodeNotice } from '../protocol';
import { FakeSocket } from './fakesocket';

const SESSION = {
  room: 'json:notebook:id-1',
  fileId: 'id-1',
  path: 'a b/c.ipynb',
  format: 'json',
  type: 'notebook',
  role: 'editor'
};

/** Timers the test runs by hand. */
function manualTimers() {
  const pending: Array<() => void> = [];
  return {
    pending,
    setTimeout: (fn: () => void) => pending.push(fn),
    clearTimeout: () => pending.splice(0)
  };
}

async function microtasks(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

describe('openWebSocketUrl', () => {
  it('names the path in parts, the format and type, fresh=1 and the token', () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://server/base/',
      wsUrl: 'ws://server/base/',
      token: 't k',
      appendToken: true
    });
    expect(openWebSocketUrl(settings, 'a b/c#.ipynb', 'json', 'notebook')).toBe(
      'ws://server/base/api/collab/open/a%20b/c%23.ipynb?format=json&type=notebook&fresh=1&token=t%20k'
    );
  });
});

describe('readSessionNotice', () => {
  it('reads the session notice and nothing else', () => {
    expect(readSessionNotice(encodeNotice({ type: 'session', session: SESSION }))).toEqual(
      SESSION
    );
    expect(readSessionNotice(encodeNotice({ type: 'role', role: 'editor' }))).toBe(null);
    expect(readSessionNotice(encodeNotice({ type: 'session', session: { room: 1 } }))).toBe(
      null
    );
    expect(readSessionNotice(new Uint8Array([0, 0, 0]))).toBe(null);
    expect(readSessionNotice(new Uint8Array([]))).toBe(null);
  });
});

describe('EarlySocket', () => {
  it('replays what arrived before the room took it, in order, then passes events on', async () => {
    const raw = new FakeSocket('ws://x');
    const early = new EarlySocket(raw, { ttl: 1000, ...manualTimers() });
    expect(raw.binaryType).toBe('arraybuffer');
    raw.open();
    raw.receive(encodeNotice({ type: 'session', session: SESSION }));
    raw.receive(new Uint8Array([0, 0, 1]));
    raw.receive(new Uint8Array([1, 2, 3]));
    expect(await early.session).toEqual(SESSION);
    expect(early.room).toBe(SESSION.room);
    expect(early.canAdopt()).toBe(true);

    const seen: string[] = [];
    const socket = early.adopt();
    expect(early.canAdopt()).toBe(false); // taken once
    socket.onopen = () => seen.push('open');
    socket.onmessage = ev => seen.push(`message ${Array.from(new Uint8Array(ev.data))}`);
    socket.onclose = ev => seen.push(`close ${ev.code}`);
    expect(seen).toEqual([]); // not while the room sets its handlers
    await microtasks();
    // the session frame is the socket's own, not the room's
    expect(seen).toEqual(['open', 'message 0,0,1', 'message 1,2,3']);
    raw.receive(new Uint8Array([0, 2, 9]));
    raw.serverClose(4403, 'forbidden');
    expect(seen.slice(3)).toEqual(['message 0,2,9', 'close 4403']);
    socket.send(new Uint8Array([7]));
    expect(raw.sent).toEqual([new Uint8Array([7])]);
  });

  it('fails its session when the socket closes first or says something else', async () => {
    const raw = new FakeSocket('ws://x');
    const early = new EarlySocket(raw, { ttl: 1000, ...manualTimers() });
    raw.serverClose(1006);
    await expect(early.session).rejects.toThrow(/closed before its session/);
    expect(early.canAdopt()).toBe(false);

    const raw2 = new FakeSocket('ws://y');
    const other = new EarlySocket(raw2, { ttl: 1000, ...manualTimers() });
    raw2.open();
    raw2.receive(new Uint8Array([0, 0, 0]));
    await expect(other.session).rejects.toThrow(/not a session/);
    expect(raw2.closed).not.toBe(null);
  });

  it('closes itself when no room takes it in time, and not once taken', () => {
    const timers = manualTimers();
    const raw = new FakeSocket('ws://x');
    new EarlySocket(raw, { ttl: 1000, ...timers });
    expect(timers.pending.length).toBe(1);
    timers.pending[0]();
    expect(raw.closed).toEqual({ code: 1000, reason: 'not used' });

    const timers2 = manualTimers();
    const raw2 = new FakeSocket('ws://y');
    const taken = new EarlySocket(raw2, { ttl: 1000, ...timers2 });
    raw2.open();
    raw2.receive(encodeNotice({ type: 'session', session: SESSION }));
    taken.adopt();
    expect(timers2.pending.length).toBe(0); // cleared
    expect(raw2.closed).toBe(null);
  });
});
