import { describe, expect, it } from 'vitest';

import {
  ConnectionEvent,
  IConnectionState,
  initialState,
  reduce
} from '../connectionstate';
import { describeLoading, formatBytes } from '../loading';
import { closePolicy } from '../protocol';

const trans = {
  __: (msg: string, ...args: any[]) =>
    msg.replace(/%(\d)/g, (m, i) => String(args[Number(i) - 1] ?? m)),
  _n: (one: string, many: string, n: number, ...args: any[]) =>
    (n === 1 ? one : many).replace(/%(\d)/g, (m, i) =>
      String(args[Number(i) - 1] ?? m)
    )
};

function run(events: ConnectionEvent[], s: IConnectionState = initialState()) {
  return events.reduce(reduce, s);
}

describe('load phases', () => {
  it('go session, socket, syncing, applying, done', () => {
    let s = initialState();
    expect(s.phase).toBe('session');
    s = run([{ type: 'connect' }, { type: 'session' }], s);
    expect(s.phase).toBe('socket');
    s = reduce(s, { type: 'open' });
    expect(s.phase).toBe('syncing');
    s = reduce(s, { type: 'receiving', bytes: 2048 });
    expect(s.phase).toBe('applying');
    expect(s.receivedBytes).toBe(2048);
    s = reduce(s, { type: 'synced' });
    expect(s.phase).toBe('done');
    expect(s.status).toBe('connected');
  });

  it('start again with the next connection attempt', () => {
    const s = run([
      { type: 'synced' },
      { type: 'closed', code: 1006, reason: '', policy: closePolicy(1006) },
      { type: 'connect' }
    ]);
    expect(s.phase).toBe('session');
  });
});

describe('describeLoading', () => {
  it('tells what happens, with the document name', () => {
    const s0 = initialState();
    const v0 = describeLoading(s0, 'big.ipynb', false, trans);
    expect(v0).toMatchObject({ visible: true, busy: true, error: false });
    expect(v0.title).toBe('Opening “big.ipynb”…');
    expect(v0.detail).toMatch(/Asking/);
    const s1 = run([{ type: 'session' }, { type: 'open' }], s0);
    expect(describeLoading(s1, 'big.ipynb', false, trans).detail).toBe(
      'Receiving the document'
    );
    const s2 = reduce(s1, { type: 'receiving', bytes: 3 * 1024 * 1024 });
    expect(describeLoading(s2, 'big.ipynb', false, trans).detail).toBe(
      'Displaying the document (3.0 MB)'
    );
  });

  it('stays until the content is revealed, then hides', () => {
    const s = run([{ type: 'open' }, { type: 'synced' }]);
    expect(describeLoading(s, 'a.ipynb', false, trans).visible).toBe(true);
    expect(describeLoading(s, 'a.ipynb', true, trans).visible).toBe(false);
  });

  it('shows an error when the server refuses the document', () => {
    const s = reduce(initialState(), {
      type: 'refused',
      kind: 'forbidden',
      reason: ''
    });
    const v = describeLoading(s, 'secret.ipynb', false, trans);
    expect(v).toMatchObject({ visible: true, busy: false, error: true });
    expect(v.title).toBe('“secret.ipynb” could not be opened');
    expect(v.detail).toBe('you are not allowed to open this document');
    const closed = reduce(initialState(), {
      type: 'closed',
      code: 4410,
      reason: 'document deleted',
      policy: closePolicy(4410)
    });
    expect(describeLoading(closed, 'x.txt', false, trans).detail).toBe(
      'the document was deleted'
    );
  });

  it('hides when the server extension is missing (plain document)', () => {
    const s = reduce(initialState(), {
      type: 'refused',
      kind: 'unavailable',
      reason: ''
    });
    expect(describeLoading(s, 'a.txt', false, trans).visible).toBe(false);
  });

  it('says it is still trying when the server cannot be reached', () => {
    const s = run([
      { type: 'closed', code: 1006, reason: '', policy: closePolicy(1006) }
    ]);
    const v = describeLoading(s, 'a.txt', false, trans);
    expect(v.busy).toBe(true);
    expect(v.detail).toMatch(/still trying/);
  });

  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2048)).toBe('2.0 KB');
    expect(formatBytes(200 * 1024)).toBe('200 KB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MB');
  });
});
