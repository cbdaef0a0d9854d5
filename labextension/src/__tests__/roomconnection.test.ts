import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';

import { ISessionModel, encodeNotice } from '../protocol';
import { FakeSocket } from './fakesocket';
import {
  RoomConnection,
  SessionError,
  sessionErrorKind,
  withQuery
} from '../roomconnection';

/** A minimal y-websocket server for one client. */
class FakeServer {
  doc = new Y.Doc();

  step1(): Uint8Array {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    syncProtocol.writeSyncStep1(e, this.doc);
    return encoding.toUint8Array(e);
  }

  /** Apply the client's frames; return the answers. */
  handle(frames: Uint8Array[]): Uint8Array[] {
    const answers: Uint8Array[] = [];
    for (const frame of frames) {
      const d = decoding.createDecoder(frame);
      const type = decoding.readVarUint(d);
      if (type === 0) {
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, 0);
        syncProtocol.readSyncMessage(d, e, this.doc, 'client');
        if (encoding.length(e) > 1) {
          answers.push(encoding.toUint8Array(e));
        }
      }
    }
    return answers;
  }

  update(fn: (doc: Y.Doc) => void): Uint8Array {
    let update: Uint8Array | null = null;
    const listener = (u: Uint8Array) => {
      update = u;
    };
    this.doc.on('update', listener);
    fn(this.doc);
    this.doc.off('update', listener);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    syncProtocol.writeUpdate(e, update!);
    return encoding.toUint8Array(e);
  }
}

const SESSION: ISessionModel = {
  room: 'text:file:abc',
  fileId: 'abc',
  path: 'a.txt',
  format: 'text',
  type: 'file',
  role: 'editor'
};

interface IHarness {
  conn: RoomConnection;
  doc: Y.Doc;
  sockets: FakeSocket[];
  server: FakeServer;
  openSession: ReturnType<typeof vi.fn>;
  socket(): FakeSocket;
  /** Open the latest socket and run a full sync. */
  sync(): Promise<void>;
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

function setup(
  openSession: () => Promise<ISessionModel> = async () => SESSION,
  extra: {
    largeFrame?: number;
    answerTimeout?: number;
    requestFrame?: (fn: () => void) => void;
  } = {}
): IHarness {
  const doc = new Y.Doc();
  const awareness = new awarenessProtocol.Awareness(doc);
  const sockets: FakeSocket[] = [];
  const server = new FakeServer();
  const spy = vi.fn(openSession);
  const conn = new RoomConnection({
    doc,
    awareness,
    openSession: spy,
    roomUrl: s => `ws://test/api/collab/room/${s.room}`,
    createSocket: url => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    random: () => 0,
    ...extra
  });
  const h: IHarness = {
    conn,
    doc,
    sockets,
    server,
    openSession: spy,
    socket: () => sockets[sockets.length - 1],
    sync: async () => {
      await flush();
      const s = h.socket();
      s.open();
      // the server greets with its step 1, then answers the client's
      s.receive(h.server.step1());
      for (const answer of h.server.handle(s.sent)) {
        s.receive(answer);
      }
    }
  };
  return h;
}

describe('RoomConnection', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens a session, then syncs over the room socket', async () => {
    const h = setup();
    h.server.doc.getText('source').insert(0, 'hello');
    await h.sync();
    await h.conn.synced;
    expect(h.openSession).toHaveBeenCalledTimes(1);
    expect(h.socket().url).toBe('ws://test/api/collab/room/text:file:abc');
    expect(h.socket().binaryType).toBe('arraybuffer');
    expect(h.socket().sentTypes()[0]).toBe('sync0');
    expect(h.doc.getText('source').toString()).toBe('hello');
    expect(h.conn.state.status).toBe('connected');
    expect(h.conn.role).toBe('editor');
  });

  it('asks for the room\'s state at once on a first open (fresh=1)', async () => {
    // The server sends its state unasked; our step 1 would only wait for the
    // open event (after the page's long task) and cost a round trip.
    const h = setup(async () => ({ ...SESSION, syncsFreshClients: true }));
    h.server.doc.getText('source').insert(0, 'hello');
    // what JupyterLab's model writes into its own document first
    h.doc.getMap('state').set('dirty', false);
    await flush();
    const s = h.socket();
    expect(s.url).toBe('ws://test/api/collab/room/text:file:abc?fresh=1');
    s.open();
    expect(s.sentTypes()).not.toContain('sync0');
    // what the server sends: its step 1, then its state as step 2
    s.receive(h.server.step1());
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    syncProtocol.writeSyncStep2(e, h.server.doc, new Uint8Array([0]));
    s.receive(encoding.toUint8Array(e));
    await h.conn.synced;
    expect(h.conn.isSynced).toBe(true);
    expect(h.doc.getText('source').toString()).toBe('hello');
    // our own edits went in our answer to the server's step 1
    expect(s.sentTypes()).toContain('sync1');
    h.server.handle(s.sent);
    expect(h.server.doc.getMap('state').get('dirty')).toBe(false);
  });

  it('a document with content, or a server that does not offer it, syncs with step 1', async () => {
    const old = setup();
    await flush();
    expect(old.socket().url).toBe('ws://test/api/collab/room/text:file:abc');
    const h = setup(async () => ({ ...SESSION, syncsFreshClients: true }));
    // a copy holding someone else's items (never the case on a first open)
    const other = new Y.Doc();
    other.getText('source').insert(0, 'from elsewhere');
    Y.applyUpdate(h.doc, Y.encodeStateAsUpdate(other));
    await h.sync();
    await h.conn.synced;
    expect(h.socket().url).toBe('ws://test/api/collab/room/text:file:abc');
    expect(h.socket().sentTypes()).toContain('sync0');
    // a reconnect after a sync: our copy is not empty
    h.socket().serverClose(1006);
    await vi.advanceTimersByTimeAsync(2100);
    expect(h.sockets).toHaveLength(2);
    expect(h.socket().url).toBe('ws://test/api/collab/room/text:file:abc');
    await h.sync();
    expect(h.socket().sentTypes()).toContain('sync0');
    expect(h.conn.state.status).toBe('connected');
  });

  it('adds a query parameter to a URL with or without one', () => {
    expect(withQuery('ws://h/r', 'fresh=1')).toBe('ws://h/r?fresh=1');
    expect(withQuery('ws://h/r?token=t', 'fresh=1')).toBe('ws://h/r?token=t&fresh=1');
  });

  it('creates the room socket before the session reply\'s listeners run', async () => {
    // The page handles the reply late (its main thread builds the document's
    // widget meanwhile); what listens to the session (identity, comments,
    // status) must not delay the socket, whose handshake and first sync then
    // travel while those listeners run.
    const h = setup();
    const seen: Array<[string, number, string]> = [];
    h.conn.sessionChanged.connect(() =>
      seen.push(['session', h.sockets.length, h.conn.state.phase])
    );
    h.conn.roleChanged.connect(() =>
      seen.push(['role', h.sockets.length, h.conn.state.phase])
    );
    await flush();
    expect(seen).toEqual([
      ['session', 1, 'session'],
      ['role', 1, 'session']
    ]);
    expect(h.conn.state.phase).toBe('socket');
    await h.sync();
    expect(h.conn.isSynced).toBe(true);
  });

  it('closes the new socket when a listener of the session disposes the room', async () => {
    const h = setup();
    h.conn.sessionChanged.connect(() => h.conn.dispose());
    await flush();
    expect(h.sockets.length).toBe(1);
    expect(h.socket().readyState).toBe(3); // closed by dispose
    expect(h.conn.isDisposed).toBe(true);
  });

  it('sends local changes as updates', async () => {
    const h = setup();
    await h.sync();
    h.socket().sent = [];
    h.doc.getText('source').insert(0, 'abc');
    expect(h.socket().sentTypes()).toEqual(['sync2']);
    h.server.handle(h.socket().sent);
    expect(h.server.doc.getText('source').toString()).toBe('abc');
  });

  it('applies remote updates', async () => {
    const h = setup();
    await h.sync();
    h.socket().receive(h.server.update(d => d.getText('source').insert(0, 'x')));
    expect(h.doc.getText('source').toString()).toBe('x');
    // a remote update is not a local change
    expect(h.conn.state.unsynced).toBe(0);
  });

  it('handles notices (type 100) without breaking the sync', async () => {
    const h = setup();
    const notices: any[] = [];
    h.conn.noticeReceived.connect((_, n) => notices.push(n));
    await h.sync();
    h.socket().receive(encodeNotice({ type: 'saved', path: 'a.txt' }));
    h.socket().receive(encodeNotice({ type: 'something-new', x: 1 }));
    h.socket().receive(new Uint8Array([100])); // truncated
    h.socket().receive(new Uint8Array([42, 1, 2])); // unknown type
    h.socket().receive(h.server.update(d => d.getText('source').insert(0, 'ok')));
    expect(notices.map(n => n.type)).toEqual(['saved', 'unknown', 'unknown']);
    expect(h.doc.getText('source').toString()).toBe('ok');
    expect(h.conn.state.status).toBe('connected');
  });

  it('becomes read-only on a viewer role notice', async () => {
    const h = setup();
    const roles: string[] = [];
    h.conn.roleChanged.connect((_, r) => roles.push(r));
    await h.sync();
    h.socket().receive(encodeNotice({ type: 'role', role: 'viewer' }));
    expect(roles).toEqual(['editor', 'viewer']);
    expect(h.conn.writable).toBe(false);
    h.socket().sent = [];
    h.doc.getText('source').insert(0, 'nope');
    expect(h.socket().sentTypes()).toEqual([]);
  });

  it('updates the path on a renamed notice', async () => {
    const h = setup();
    await h.sync();
    h.socket().receive(encodeNotice({ type: 'renamed', path: 'b.txt' }));
    expect(h.conn.session?.path).toBe('b.txt');
  });

  it('does not reconnect after a refusal close code', async () => {
    for (const code of [4400, 4403, 4409, 4410, 4413, 4415]) {
      const h = setup();
      const refused: string[] = [];
      h.conn.refused.connect((_, r) => refused.push(r.kind));
      await h.sync();
      h.socket().serverClose(code, 'reason text');
      expect(h.conn.state.status).toBe('closed');
      expect(h.conn.state.closeReason).toBe('reason text');
      expect(refused).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(120_000);
      expect(h.sockets).toHaveLength(1);
      h.conn.connect();
      await flush();
      expect(h.sockets).toHaveLength(1);
    }
  });

  it('rejects `synced` when refused before the first sync', async () => {
    const h = setup();
    await flush();
    h.socket().open();
    h.socket().serverClose(4415, 'document cannot be loaded');
    await expect(h.conn.synced).rejects.toThrow('document cannot be loaded');
  });

  it('reconnects after network errors, 1001, 4429 and 4500', async () => {
    for (const code of [1006, 1001, 4429, 4500]) {
      const h = setup();
      await h.sync();
      h.socket().serverClose(code);
      expect(h.conn.state.status).toBe('reconnecting');
      expect(h.sockets).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(2100);
      expect(h.sockets).toHaveLength(2);
      await h.sync();
      expect(h.conn.state.status).toBe('connected');
      // 1001 and 4500 ask for the session again
      const renewed = code === 1001 || code === 4500;
      expect(h.openSession).toHaveBeenCalledTimes(renewed ? 2 : 1);
    }
  });

  it('backs off and goes offline after repeated failures', async () => {
    const h = setup();
    await h.sync();
    for (let i = 0; i < 3; i++) {
      h.socket().open();
      h.socket().serverClose(1006);
      // backoff (jitter 0): 250, 500, 1000 ms
      await vi.advanceTimersByTimeAsync(2_000);
    }
    expect(h.conn.state.status).toBe('offline');
    expect(h.sockets).toHaveLength(4);
    // a socket that does not open in time counts as one more failure
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.sockets[3].closed).not.toBe(null);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(h.sockets).toHaveLength(5);
    await h.sync();
    expect(h.conn.state.status).toBe('connected');
  });

  it('keeps offline changes, counts them and sends them on reconnect', async () => {
    const h = setup();
    await h.sync();
    h.socket().serverClose(1006);
    h.doc.getText('source').insert(0, 'offline ');
    h.doc.getText('source').insert(8, 'edit');
    expect(h.conn.state.unsynced).toBe(2);
    await vi.advanceTimersByTimeAsync(1000);
    await h.sync();
    expect(h.conn.state.status).toBe('connected');
    expect(h.conn.state.unsynced).toBe(0);
    expect(h.server.doc.getText('source').toString()).toBe('offline edit');
  });

  it('asks for the session again once when the room is unknown', async () => {
    const h = setup();
    await h.sync();
    h.socket().serverClose(4404, 'unknown room');
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.openSession).toHaveBeenCalledTimes(2);
    expect(h.sockets).toHaveLength(2);
    await flush();
    h.socket().open();
    h.socket().serverClose(4404, 'unknown room');
    expect(h.conn.state.status).toBe('closed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sockets).toHaveLength(2);
  });

  it('gives up when the session is refused', async () => {
    const h = setup(async () => {
      throw new SessionError('Forbidden', 403);
    });
    await expect(h.conn.synced).rejects.toThrow('Forbidden');
    expect(h.conn.state.status).toBe('closed');
    expect(h.conn.state.closeKind).toBe('forbidden');
    expect(h.sockets).toHaveLength(0);
  });

  it('retries the session request after a network error', async () => {
    let calls = 0;
    const h = setup(async () => {
      calls++;
      if (calls === 1) {
        throw new SessionError('Failed to fetch', null);
      }
      return SESSION;
    });
    await flush();
    expect(h.sockets).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.sockets).toHaveLength(1);
    await h.sync();
    expect(h.conn.state.status).toBe('connected');
  });

  it('reconnects at once when the browser is back online', async () => {
    const h = setup();
    await h.sync();
    h.conn.setOnline(false);
    expect(h.conn.state.status).toBe('offline');
    h.socket().serverClose(1006);
    h.conn.setOnline(true);
    await flush();
    expect(h.sockets).toHaveLength(2);
  });

  it('sends awareness and clears the others on close', async () => {
    const h = setup();
    h.conn.awareness.setLocalStateField('user', { name: 'me' });
    await h.sync();
    expect(h.socket().sentTypes()).toContain('awareness');
    // a remote peer
    const peerDoc = new Y.Doc();
    const peer = new awarenessProtocol.Awareness(peerDoc);
    peer.setLocalStateField('user', { name: 'peer' });
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint8Array(
      e,
      awarenessProtocol.encodeAwarenessUpdate(peer, [peerDoc.clientID])
    );
    h.socket().receive(encoding.toUint8Array(e));
    expect(h.conn.awareness.getStates().has(peerDoc.clientID)).toBe(true);
    h.socket().serverClose(1006);
    expect(h.conn.awareness.getStates().has(peerDoc.clientID)).toBe(false);
    expect(h.conn.awareness.getStates().has(h.doc.clientID)).toBe(true);
    peer.destroy();
  });

  it('says goodbye and stops on dispose', async () => {
    const h = setup();
    h.conn.awareness.setLocalStateField('user', { name: 'me' });
    await h.sync();
    const socket = h.socket();
    socket.sent = [];
    h.conn.dispose();
    expect(socket.sentTypes()).toEqual(['awareness']);
    expect(socket.closed?.code).toBe(1000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sockets).toHaveLength(1);
  });
});

describe('the network goes and comes back (issue 8: the indicator)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shows connected again, and no unsynced changes, when the socket outlived the outage', async () => {
    const h = setup();
    await h.sync();
    const socket = h.socket();
    h.conn.setOnline(false);
    expect(h.conn.state.status).toBe('offline');
    // the socket stays open: the edits go through it all the same
    socket.sent = [];
    h.doc.getText('source').insert(0, 'a');
    h.doc.getText('source').insert(1, 'b');
    expect(socket.sentTypes()).toEqual(['sync2', 'sync2']);
    expect(h.conn.state.unsynced).toBe(2);
    socket.sent = [];
    h.conn.setOnline(true);
    // not "Reconnecting, 2 unsynced changes" until a reload
    expect(h.conn.state.status).toBe('connected');
    expect(h.sockets).toHaveLength(1);
    // a probe (sync step 1) was sent on the same socket; its answer confirms
    expect(socket.sentTypes()).toEqual(['sync0']);
    for (const answer of h.server.handle(socket.sent)) {
      socket.receive(answer);
    }
    expect(h.conn.state.unsynced).toBe(0);
    expect(h.conn.state.status).toBe('connected');
    // no timer is left to give the socket up
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sockets).toHaveLength(1);
  });

  it('gives a socket that died with the network up when the probe gets no answer', async () => {
    const h = setup(undefined, { answerTimeout: 5000 });
    await h.sync();
    h.conn.setOnline(false);
    h.doc.getText('source').insert(0, 'kept');
    h.conn.setOnline(true);
    expect(h.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5000);
    // given up: reconnecting at once, with a new socket
    expect(h.sockets[0].closed).not.toBe(null);
    expect(h.conn.state.status).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.sockets).toHaveLength(2);
    await h.sync();
    expect(h.conn.state.status).toBe('connected');
    expect(h.conn.state.unsynced).toBe(0);
    expect(h.server.doc.getText('source').toString()).toBe('kept');
  });

  it('gives up a socket that never opens and tries again', async () => {
    const h = setup(undefined, { answerTimeout: 5000 });
    await flush();
    expect(h.sockets).toHaveLength(1); // never opens
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.sockets[0].closed).not.toBe(null);
    await vi.advanceTimersByTimeAsync(2000);
    expect(h.sockets).toHaveLength(2);
    await h.sync();
    expect(h.conn.state.status).toBe('connected');
  });

  it('stops for good on 4409: this copy has diverged', async () => {
    const h = setup();
    const refused: string[] = [];
    h.conn.refused.connect((_, r) => refused.push(r.kind));
    await h.sync();
    h.socket().serverClose(4409, 'document diverged: reload the document');
    expect(refused).toEqual(['diverged']);
    expect(h.conn.state.status).toBe('closed');
    expect(h.conn.state.closeKind).toBe('diverged');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sockets).toHaveLength(1);
  });
});

describe('server restarts', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resyncs normally with a server that kept the room', async () => {
    const h = setup();
    h.server.doc.getText('source').insert(0, 'hello');
    await h.sync();
    h.socket().serverClose(1006);
    // others keep editing on the server; we edit offline
    h.server.doc.getText('source').insert(5, ' world');
    h.doc.getText('source').insert(0, '> ');
    await vi.advanceTimersByTimeAsync(1000);
    await h.sync();
    expect(h.conn.state.status).toBe('connected');
    expect(h.doc.getText('source').toString()).toBe('> hello world');
    expect(h.server.doc.getText('source').toString()).toBe('> hello world');
  });

  it('stops instead of duplicating content when the server lost the room', async () => {
    const h = setup();
    h.server.doc.getText('source').insert(0, 'hello');
    await h.sync();
    const refused: string[] = [];
    h.conn.refused.connect((_, r) => refused.push(r.kind));
    h.socket().serverClose(1001, 'server shutting down');
    // the server restarts and loads the file again: same text, new items
    h.server = new FakeServer();
    h.server.doc.getText('source').insert(0, 'hello');
    await vi.advanceTimersByTimeAsync(3000);
    expect(h.sockets).toHaveLength(2);
    await h.sync();
    expect(refused).toEqual(['server-reset']);
    expect(h.conn.state.status).toBe('closed');
    expect(h.conn.state.closeKind).toBe('server-reset');
    expect(h.doc.getText('source').toString()).toBe('hello');
    expect(h.server.doc.getText('source').toString()).toBe('hello');
    // only our sync step 1 (and awareness) went out
    expect(h.socket().sentTypes().filter(t => t.startsWith('sync'))).toEqual([
      'sync0'
    ]);
    expect(h.socket().closed).not.toBe(null);
  });
});

describe('a server that lost the history and merges kept copies', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** The payload of the client's sync frame of type `syncType`. */
  function sentSync(frames: Uint8Array[], syncType: number): Uint8Array {
    for (const frame of frames) {
      const d = decoding.createDecoder(frame);
      if (decoding.readVarUint(d) === 0 && decoding.readVarUint(d) === syncType) {
        return decoding.readVarUint8Array(d);
      }
    }
    throw new Error(`no sync${syncType} sent`);
  }

  function syncFrame(syncType: number, payload: Uint8Array): Uint8Array {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    encoding.writeVarUint(e, syncType);
    encoding.writeVarUint8Array(e, payload);
    return encoding.toUint8Array(e);
  }

  it('sends its whole copy, then converges on the server’s state without doubling', async () => {
    const h = setup(async () => ({ ...SESSION, mergesLostCopies: true }));
    h.server.doc.getText('source').insert(0, 'hello\n');
    await h.sync();
    const resets: { kept: boolean }[] = [];
    const refused: string[] = [];
    h.conn.historyReset.connect((_, r) => resets.push(r));
    h.conn.refused.connect((_, r) => refused.push(r.kind));
    h.socket().serverClose(1001, 'server shutting down');
    // offline, a line of ours the server never got
    h.doc.getText('source').insert(6, 'mine\n');
    // the server restarts without its history: the file again, new items
    const server = new FakeServer();
    server.doc.getText('source').insert(0, 'hello\n');
    h.server = server;
    await vi.advanceTimersByTimeAsync(3000);
    const s = h.socket();
    s.open();
    s.receive(server.step1());
    // no refusal: our answer to the server's step 1 is the whole copy
    expect(refused).toEqual([]);
    expect(h.conn.historyLost).toBe(true);
    const copy = sentSync(s.sent, 1);
    const ourStep1 = sentSync(s.sent, 0);
    // what our server does (collaboration/lostcopy.py): the copy's items
    // enter deleted, the line only the copy had is added, then the client
    // is sent the state it lacks (with the deletion of its old items)
    const copyClients = new Set(Y.decodeStateVector(Y.encodeStateVectorFromUpdate(copy)).keys());
    const text = server.doc.getText('source');
    Y.applyUpdate(server.doc, copy, 'client');
    Y.transact(server.doc, tr => {
      let item = text._start;
      while (item) {
        if (copyClients.has(item.id.client) && !item.deleted) {
          item.delete(tr);
        }
        item = item.right;
      }
    });
    expect(text.toString()).toBe('hello\n');
    text.insert(6, 'mine\n');
    s.receive(encodeNotice({ type: 'history-reset', kept: true }));
    s.receive(syncFrame(1, Y.encodeStateAsUpdate(server.doc, ourStep1)));
    expect(resets).toEqual([{ kept: true }]);
    expect(h.conn.historyLost).toBe(false);
    expect(h.doc.getText('source').toString()).toBe('hello\nmine\n');
    expect(h.conn.state.status).toBe('connected');
    // and the next edit goes through as usual
    s.sent = [];
    h.doc.getText('source').insert(0, '> ');
    server.handle(s.sent);
    expect(text.toString()).toBe('> hello\nmine\n');
  });

  it('still stops when the server kept only part of our history', async () => {
    // (an older database restored: merging what it lacks would double it)
    const h = setup(async () => ({ ...SESSION, mergesLostCopies: true }));
    h.server.doc.getText('source').insert(0, 'hello');
    const older = Y.encodeStateAsUpdate(h.server.doc);
    await h.sync();
    h.socket().receive(h.server.update(d => d.getText('source').insert(5, ' world')));
    const refused: string[] = [];
    h.conn.refused.connect((_, r) => refused.push(r.kind));
    h.socket().serverClose(1001, 'server shutting down');
    h.server = new FakeServer();
    Y.applyUpdate(h.server.doc, older);
    await vi.advanceTimersByTimeAsync(3000);
    await h.sync();
    expect(refused).toEqual(['server-reset']);
    expect(h.doc.getText('source').toString()).toBe('hello world');
  });

  it('still stops with a server that does not merge kept copies', async () => {
    const h = setup(async () => ({ ...SESSION, mergesLostCopies: false }));
    h.server.doc.getText('source').insert(0, 'hello');
    await h.sync();
    const refused: string[] = [];
    h.conn.refused.connect((_, r) => refused.push(r.kind));
    h.socket().serverClose(1001, 'server shutting down');
    h.server = new FakeServer();
    h.server.doc.getText('source').insert(0, 'hello');
    await vi.advanceTimersByTimeAsync(3000);
    await h.sync();
    expect(refused).toEqual(['server-reset']);
  });
});

describe('sessionErrorKind', () => {
  it('maps HTTP statuses', () => {
    expect(sessionErrorKind(403)).toEqual({ kind: 'forbidden', retry: false });
    expect(sessionErrorKind(404)).toEqual({ kind: 'deleted', retry: false });
    expect(sessionErrorKind(400).retry).toBe(false);
    expect(sessionErrorKind(500)).toEqual({ kind: 'internal', retry: true });
    expect(sessionErrorKind(null)).toEqual({ kind: 'network', retry: true });
    // no jupyter-collab endpoint at all
    expect(sessionErrorKind(404, true)).toEqual({
      kind: 'unavailable',
      retry: false
    });
  });
});

describe('large first sync', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports its phases and applies a large first sync after a pause, in order', async () => {
    const h = setup(undefined, { largeFrame: 1000 });
    const phases: string[] = [];
    h.conn.stateChanged.connect((_, s) => phases.push(s.phase));
    h.server.doc.getText('source').insert(0, 'x'.repeat(5000));
    await flush();
    expect(h.conn.state.phase).toBe('socket');
    const s = h.socket();
    s.open();
    expect(h.conn.state.phase).toBe('syncing');
    s.receive(h.server.step1());
    const [step2] = h.server.handle(s.sent);
    s.receive(step2);
    // a later update arrives while the big one waits
    s.receive(h.server.update(d => d.getText('source').insert(0, 'A')));
    expect(h.conn.state.phase).toBe('applying');
    expect(h.conn.state.receivedBytes).toBe(step2.length);
    expect(h.doc.getText('source').length).toBe(0);
    expect(h.conn.isSynced).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    expect(h.conn.isSynced).toBe(true);
    expect(h.conn.state.phase).toBe('done');
    expect(h.doc.getText('source').toString()).toBe('A' + 'x'.repeat(5000));
    expect(phases).toEqual(['socket', 'syncing', 'applying', 'done']);
  });

  it('drops a held frame when the socket closes before it is applied', async () => {
    const h = setup(undefined, { largeFrame: 1000 });
    h.server.doc.getText('source').insert(0, 'y'.repeat(5000));
    await flush();
    const s = h.socket();
    s.open();
    s.receive(h.server.step1());
    s.receive(h.server.handle(s.sent)[0]);
    s.serverClose(1006);
    await vi.advanceTimersByTimeAsync(100);
    expect(h.doc.getText('source').length).toBe(0);
    expect(h.conn.state.status).toBe('connecting');
  });

  /** A connection whose paints wait in `frames`, for a 5,000-character text. */
  async function paintedLater(fill: string) {
    const frames: Array<() => void> = [];
    const h = setup(undefined, {
      largeFrame: 1000,
      requestFrame: fn => frames.push(fn)
    });
    h.server.doc.getText('source').insert(0, fill.repeat(5000));
    await flush();
    return { h, frames };
  }

  /** Open the latest socket; the server's step 1, then its (large) answer. */
  function syncLarge(h: IHarness) {
    const s = h.socket();
    s.open();
    s.receive(h.server.step1());
    s.receive(h.server.handle(s.sent)[0]);
    return s;
  }

  it('applies a held first sync right after the next paint', async () => {
    const { h, frames } = await paintedLater('z');
    syncLarge(h);
    expect(h.conn.state.phase).toBe('applying');
    expect(frames.length).toBe(1);
    // nothing before the page painted...
    await vi.advanceTimersByTimeAsync(0);
    expect(h.doc.getText('source').length).toBe(0);
    // ...then in the task right after the paint, well before the pause's end
    frames[0]();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.conn.isSynced).toBe(true);
    expect(h.doc.getText('source').toString()).toBe('z'.repeat(5000));
    // the pause's timer finds nothing left to do
    await vi.advanceTimersByTimeAsync(100);
    expect(h.doc.getText('source').length).toBe(5000);
  });

  it('a paint meant for a dropped frame does not touch the next socket\'s frame', async () => {
    const { h, frames } = await paintedLater('w');
    syncLarge(h).serverClose(1006); // the held frame is dropped
    await vi.advanceTimersByTimeAsync(5000); // reconnects
    expect(h.sockets.length).toBe(2);
    syncLarge(h);
    expect(frames.length).toBe(2);
    frames[0](); // the old socket's paint
    await vi.advanceTimersByTimeAsync(0);
    expect(h.doc.getText('source').length).toBe(0);
    frames[1]();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.doc.getText('source').toString()).toBe('w'.repeat(5000));
    expect(h.conn.isSynced).toBe(true);
  });

  it('does not hold small frames', async () => {
    const h = setup(undefined, { largeFrame: 1000 });
    h.server.doc.getText('source').insert(0, 'small');
    await h.sync();
    expect(h.conn.isSynced).toBe(true);
    expect(h.conn.state.receivedBytes).toBe(0);
  });
});

describe('whenSynced', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits for the sync, and gives up after the timeout or a refusal', async () => {
    const h = setup();
    const first = h.conn.whenSynced(5000);
    await h.sync();
    expect(await first).toBe(true);
    expect(await h.conn.whenSynced(1)).toBe(true);
    h.socket().serverClose(1006);
    const again = h.conn.whenSynced(100);
    await vi.advanceTimersByTimeAsync(150);
    expect(await again).toBe(false);
    const refused = h.conn.whenSynced(60_000);
    await vi.advanceTimersByTimeAsync(2000);
    await flush();
    h.socket().open();
    h.socket().serverClose(4403, 'forbidden');
    expect(await refused).toBe(false);
  });
});

describe("applying the server's changes (issue 8: time to editable)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Whether the document has an `update` listener (Yjs then encodes every transaction). */
  const encodes = (doc: Y.Doc): boolean =>
    (doc as unknown as { _observers: Map<string, unknown> })._observers.has('update');

  it('holds no update listener while the first sync and later updates are applied', async () => {
    const h = setup();
    h.server.doc.getText('source').insert(0, 'x'.repeat(10_000));
    const seen: boolean[] = [];
    h.doc.getText('source').observe(() => seen.push(encodes(h.doc)));
    expect(encodes(h.doc)).toBe(true);
    await h.sync();
    h.socket().receive(h.server.update(d => d.getText('source').insert(0, 'A')));
    expect(seen).toEqual([false, false]);
    expect(h.doc.getText('source').length).toBe(10_001);
    // local changes are sent again at once afterwards
    expect(encodes(h.doc)).toBe(true);
    h.socket().sent = [];
    h.doc.getText('source').insert(0, 'B');
    expect(h.socket().sentTypes()).toEqual(['sync2']);
    h.server.handle(h.socket().sent);
    expect(h.server.doc.getText('source').toString()).toBe('BA' + 'x'.repeat(10_000));
  });

  it("sends a local change that an observer makes while the server's change is applied", async () => {
    const h = setup();
    await h.sync();
    // JupyterLab's models react to remote changes; a change of theirs made
    // in an observer is a nested transaction of ours, to be sent as usual.
    h.doc.getText('source').observe(event => {
      if (event.transaction.origin === h.conn) {
        h.doc.getMap('meta').set('seen', event.target.toString().length);
        h.doc.getText('notes').insert(0, 'n');
      }
    });
    h.socket().sent = [];
    h.socket().receive(h.server.update(d => d.getText('source').insert(0, 'hello')));
    expect(h.socket().sentTypes()).toEqual(['sync2', 'sync2']);
    h.server.handle(h.socket().sent);
    expect(h.server.doc.getMap('meta').get('seen')).toBe(5);
    expect(h.server.doc.getText('notes').toString()).toBe('n');
    expect(h.server.doc.getText('source').toString()).toBe('hello');
  });

  it('sends the local changes made during the apply as Yjs encodes them, never the whole document', async () => {
    const h = setup();
    h.server.doc.getText('source').insert(0, 'x'.repeat(100_000));
    await h.sync();
    const cells = h.doc.getArray<Y.Map<any>>('cells');
    cells.observe(event => {
      if (event.transaction.origin === h.conn) {
        // an observer writing to each cell it sees arrive
        cells.forEach(cell => cell.set('seen', true));
      }
    });
    h.socket().sent = [];
    h.socket().receive(
      h.server.update(d => {
        const remote = d.getArray<Y.Map<any>>('cells');
        d.transact(() => {
          for (let i = 0; i < 20; i++) {
            remote.push([new Y.Map()]);
          }
        });
      })
    );
    const sent = h.socket().sent;
    expect(sent).toHaveLength(20);
    // (Yjs encodes a queued transaction up to the state when it is cleaned
    // up, so the first ones also hold the later ones' small changes; none
    // holds the document.)
    for (const frame of sent) {
      expect(frame.length).toBeLessThan(1000);
    }
    h.server.handle(sent);
    const serverCells = h.server.doc.getArray<Y.Map<any>>('cells');
    expect(serverCells.length).toBe(20);
    expect(serverCells.toArray().every(cell => cell.get('seen') === true)).toBe(true);
  });

  it('keeps a local deletion made by an observer during the apply', async () => {
    const h = setup();
    h.server.doc.getText('source').insert(0, 'abc');
    await h.sync();
    h.doc.getText('source').observe(event => {
      if (event.transaction.origin === h.conn && event.target.toString().startsWith('Z')) {
        h.doc.getText('source').delete(0, 1);
      }
    });
    h.socket().sent = [];
    h.socket().receive(h.server.update(d => d.getText('source').insert(0, 'Z')));
    expect(h.doc.getText('source').toString()).toBe('abc');
    expect(h.socket().sentTypes()).toEqual(['sync2']);
    h.server.handle(h.socket().sent);
    expect(h.server.doc.getText('source').toString()).toBe('abc');
  });

  it("does not send a viewer's change made during the apply, and counts it as dropped", async () => {
    const h = setup();
    await h.sync();
    h.socket().receive(encodeNotice({ type: 'role', role: 'viewer' }));
    let dropped = 0;
    h.conn.localChangeDropped.connect(() => dropped++);
    h.doc.getText('source').observe(event => {
      if (event.transaction.origin === h.conn) {
        h.doc.getMap('meta').set('seen', true);
      }
    });
    h.socket().sent = [];
    h.socket().receive(h.server.update(d => d.getText('source').insert(0, 'v')));
    expect(h.socket().sentTypes()).toEqual([]);
    expect(dropped).toBe(1);
  });
});
