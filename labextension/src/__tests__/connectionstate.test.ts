import { describe, expect, it } from 'vitest';

import {
  ConnectionEvent,
  IConnectionState,
  ITrans,
  OFFLINE_AFTER_ATTEMPTS,
  combine,
  describe as describeState,
  initialState,
  reduce
} from '../connectionstate';
import { closePolicy } from '../protocol';

/** A translator that formats like JupyterLab's (%1, %2 ...). */
const trans: ITrans = {
  __: (msg: string, ...args: any[]) =>
    msg.replace(/%(\d)/g, (_, i) => String(args[Number(i) - 1])),
  _n: (one: string, many: string, n: number, ...args: any[]) =>
    (n === 1 ? one : many).replace(/%(\d)/g, (_, i) =>
      String(args[Number(i) - 1])
    )
};

function run(
  events: ConnectionEvent[],
  state: IConnectionState = initialState()
): IConnectionState {
  return events.reduce(reduce, state);
}

const close = (code: number): ConnectionEvent => ({
  type: 'closed',
  code,
  reason: '',
  policy: closePolicy(code)
});

describe('connection state machine', () => {
  it('starts connecting, then is connected once synced', () => {
    const s0 = initialState();
    expect(s0.status).toBe('connecting');
    const s1 = run([{ type: 'connect' }, { type: 'open' }], s0);
    expect(s1.status).toBe('connecting');
    const s2 = reduce(s1, { type: 'synced' });
    expect(s2.status).toBe('connected');
    expect(s2.everSynced).toBe(true);
  });

  it('starts offline when the browser is offline', () => {
    expect(initialState(false).status).toBe('offline');
  });

  it('reconnects after a network error, and goes offline after several failures', () => {
    let s = run([{ type: 'synced' }, close(1006)]);
    expect(s.status).toBe('reconnecting');
    expect(s.attempts).toBe(1);
    expect(s.closeKind).toBe('network');
    for (let i = 1; i < OFFLINE_AFTER_ATTEMPTS; i++) {
      s = reduce(s, close(1006));
    }
    expect(s.status).toBe('offline');
    s = reduce(s, { type: 'synced' });
    expect(s.status).toBe('connected');
    expect(s.attempts).toBe(0);
    expect(s.closeKind).toBe(null);
  });

  it('counts local changes made while not connected, until flushed', () => {
    let s = run([{ type: 'synced' }, { type: 'local-change' }]);
    expect(s.unsynced).toBe(0);
    s = run([close(1006), { type: 'local-change' }, { type: 'local-change' }], s);
    expect(s.unsynced).toBe(2);
    // reconnected but the server does not have them yet
    s = reduce(s, { type: 'synced' });
    expect(s.status).toBe('connected');
    expect(s.unsynced).toBe(2);
    s = reduce(s, { type: 'flushed' });
    expect(s.unsynced).toBe(0);
  });

  it('ignores flushed while not connected', () => {
    const s = run([close(1006), { type: 'local-change' }, { type: 'flushed' }]);
    expect(s.unsynced).toBe(1);
  });

  it('is closed for good when the server refuses', () => {
    for (const code of [4400, 4403, 4409, 4410, 4413, 4415]) {
      let s = run([{ type: 'synced' }, close(code)]);
      expect(s.status).toBe('closed');
      // terminal
      s = run([{ type: 'synced' }, { type: 'browser-online' }, close(1006)], s);
      expect(s.status).toBe('closed');
      // but local edits are still counted
      s = reduce(s, { type: 'local-change' });
      expect(s.unsynced).toBe(1);
    }
  });

  it('is closed when the session request is refused', () => {
    const s = reduce(initialState(), {
      type: 'refused',
      kind: 'forbidden',
      reason: 'nope'
    });
    expect(s).toMatchObject({
      status: 'closed',
      closeKind: 'forbidden',
      closeReason: 'nope'
    });
  });

  it('follows the browser network state', () => {
    let s = run([{ type: 'synced' }, { type: 'browser-offline' }, close(1006)]);
    expect(s.status).toBe('offline');
    expect(s.browserOnline).toBe(false);
    expect(s.live).toBe(false);
    s = reduce(s, { type: 'browser-online' });
    expect(s.status).toBe('reconnecting');
    s = reduce(s, { type: 'synced' });
    expect(s.status).toBe('connected');
    // a close while the browser is offline stays offline
    s = run([{ type: 'browser-offline' }, close(1006)], s);
    expect(s.status).toBe('offline');
  });

  it('is connected again when the socket outlived an offline spell (issue 8)', () => {
    // The browser said offline, but the room socket stayed open and kept
    // syncing: back online, the indicator must not wait for a reconnect that
    // never comes ("Reconnecting, 2 unsynced changes" until a page reload).
    let s = run([
      { type: 'synced' },
      { type: 'browser-offline' },
      { type: 'local-change' },
      { type: 'local-change' }
    ]);
    expect(s.status).toBe('offline');
    expect(s.unsynced).toBe(2);
    s = reduce(s, { type: 'browser-online' });
    expect(s.status).toBe('connected');
    // the server's answer to the probe confirms the changes
    s = run([{ type: 'synced' }, { type: 'flushed' }], s);
    expect(s.unsynced).toBe(0);
    expect(describeState(s, trans).label).toBe('Connected');
  });

  it('stays connecting when the first attempts fail', () => {
    const s = run([close(1006)]);
    expect(s.status).toBe('connecting');
  });
});

describe('combine', () => {
  it('shows the most severe state with all unsynced changes', () => {
    const a = run([{ type: 'synced' }]);
    const b = run([{ type: 'synced' }, close(1006), { type: 'local-change' }]);
    const c = run([close(1006), { type: 'local-change' }, { type: 'local-change' }]);
    const all = combine([a, b, c]);
    expect(all?.status).toBe('reconnecting');
    expect(all?.unsynced).toBe(3);
    expect(combine([])).toBe(null);
    expect(combine([a])?.status).toBe('connected');
  });
});

describe('describe', () => {
  it('labels each state', () => {
    expect(describeState(run([{ type: 'synced' }]), trans).label).toBe(
      'Connected'
    );
    expect(describeState(initialState(), trans).label).toBe('Connecting');
    expect(
      describeState(run([{ type: 'synced' }, close(1006)]), trans).label
    ).toBe('Reconnecting');
    const closed = describeState(run([close(4410)]), trans);
    expect(closed.label).toBe('Disconnected');
    expect(closed.title).toContain('deleted');
    const diverged = describeState(run([{ type: 'synced' }, close(4409)]), trans);
    expect(diverged.label).toBe('Disconnected');
    expect(diverged.title).toContain('reopen the document');
  });

  it('says how many changes are not synced', () => {
    let s = run([
      { type: 'synced' },
      { type: 'browser-offline' },
      { type: 'local-change' }
    ]);
    expect(describeState(s, trans).label).toBe('Offline, 1 unsynced change');
    s = reduce(s, { type: 'local-change' });
    expect(describeState(s, trans).label).toBe('Offline, 2 unsynced changes');
  });
});
