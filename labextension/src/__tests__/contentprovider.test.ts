import { Contents, IContentProvider, ServerConnection } from '@jupyterlab/services';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';

import { CollabContentProvider, roomIdOf } from '../contentprovider';
import { encodeNotice } from '../protocol';
import { CollabSettings, ICollabSettings } from '../settings';
import { FakeSocket, recordingSocketClass } from './fakesocket';

/** WebSockets created by the provider; the test plays the server. */
const sockets: FakeSocket[] = [];

/** Sync a fresh server document into the client behind `socket`. */
function serverSync(socket: FakeSocket, server: Y.Doc, open = true): void {
  if (open) {
    socket.open();
  }
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  syncProtocol.writeSyncStep1(e, server);
  socket.receive(encoding.toUint8Array(e));
  const e2 = encoding.createEncoder();
  encoding.writeVarUint(e2, 0);
  syncProtocol.writeSyncStep2(e2, server);
  socket.receive(encoding.toUint8Array(e2));
}

/** A contents REST provider double. */
class FakeRest implements IContentProvider {
  disk = new Map<string, { hash: string; last_modified: string }>();
  saves: string[] = [];
  gets: Array<{ path: string; options?: Contents.IFetchOptions }> = [];

  async get(path: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    this.gets.push({ path, options });
    const meta = this.disk.get(path);
    if (!meta) {
      const err: any = new Error('not found');
      err.response = { status: 404 };
      throw err;
    }
    return {
      name: path,
      path,
      type: options?.type ?? 'file',
      writable: true,
      created: '2026-01-01T00:00:00Z',
      last_modified: meta.last_modified,
      mimetype: 'text/plain',
      content: options?.content === false ? null : 'REST CONTENT',
      format: options?.format ?? 'text',
      hash: meta.hash,
      hash_algorithm: 'sha256'
    } as Contents.IModel;
  }

  async save(path: string, options?: Partial<Contents.IModel>): Promise<Contents.IModel> {
    this.saves.push(path);
    this.disk.set(path, { hash: 'h-rest', last_modified: '2026-01-03T00:00:00Z' });
    return this.get(path, { content: false });
  }
}

function setup(
  fetchImpl?: (url: string, init: any) => Promise<Response>,
  settings: Partial<ICollabSettings> = { earlySession: false }
) {
  sockets.length = 0;
  const requests: Array<{ url: string; body: any }> = [];
  const fetch = async (input: any, init?: any): Promise<Response> => {
    const url = typeof input === 'string' ? input : input.url;
    const body = init?.body ?? (typeof input === 'string' ? undefined : await input.text());
    requests.push({ url, body: body ? JSON.parse(body) : null });
    if (fetchImpl) {
      return fetchImpl(url, init);
    }
    const path = decodeURIComponent(url.split('/api/collab/session/')[1].split('?')[0]);
    const { format, type } = body ? JSON.parse(body) : {};
    return new Response(
      JSON.stringify({
        room: `${format}:${type}:id-${path}`,
        fileId: `id-${path}`,
        path,
        format,
        type,
        role: 'editor'
      }),
      { status: 201, headers: { 'Content-Type': 'application/json' } }
    );
  };
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: 'http://server/',
    wsUrl: 'ws://server/',
    token: 'tok',
    appendToken: true,
    fetch: fetch as any,
    WebSocket: recordingSocketClass(sockets) as any
  });
  const rest = new FakeRest();
  const provider = new CollabContentProvider({
    serverSettings,
    defaultProvider: rest,
    settings: new CollabSettings(settings)
  });
  const changes: Contents.IChangedArgs[] = [];
  provider.fileChanged.connect((_, c) => changes.push(c));
  return { provider, rest, requests, changes };
}

/** A collaborative shared model of `path`, as JupyterLab's context asks for one. */
function createModel(
  provider: any,
  path: string,
  format = 'text',
  contentType = 'file'
): any {
  return provider.sharedModelFactory.createNew({
    path,
    format,
    contentType,
    collaborative: true
  });
}

/** The session the fake server gives for `path` (as its session PUT does). */
function sessionOf(path: string, format = 'text', type = 'file'): any {
  return {
    room: `${format}:${type}:id-${path}`,
    fileId: `id-${path}`,
    path,
    format,
    type,
    role: 'editor',
    syncsFreshClients: true
  };
}

/** Play the server of an open socket (`/api/collab/open/...`): its session, then `text`. */
function serveOpen(socket: FakeSocket, path: string, text: string): void {
  socket.open();
  socket.receive(encodeNotice({ type: 'session', session: sessionOf(path) }));
  const server = new Y.Doc();
  server.getText('source').insert(0, text);
  serverSync(socket, server, false);
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await new Promise(r => setTimeout(r, 0));
  }
}

describe('CollabContentProvider', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens the room early by path and the room takes that socket and its session', async () => {
    const { provider, requests } = setup();
    provider.prefetchSession('early.txt', 'text', 'file');
    provider.prefetchSession('early.txt', 'text', 'file'); // asked twice: once
    // the socket is out before any room exists (with docmanager:open's first
    // request); no session request
    expect(sockets.map(s => s.url)).toEqual([
      'ws://server/api/collab/open/early.txt?format=text&type=file&fresh=1&token=tok'
    ]);
    // the server's frames arrive while the page builds the widget: kept
    const early = sockets[0];
    serveOpen(early, 'early.txt', 'early content');
    await flush();
    const model: any = createModel(provider, 'early.txt');
    await provider.roomForModel(model)!.connection.synced;
    expect(model.getSource()).toBe('early content');
    expect(requests.length).toBe(0);
    expect(sockets.length).toBe(1);
    expect(early.closed).toBe(null);
    // asked for the whole room: no step 1 of ours; our awareness went out
    expect(early.sentTypes()).not.toContain('sync0');
    expect(early.sentTypes()).toContain('awareness');
    // what the room types goes out on that socket
    const before = early.sent.length;
    model.setSource('early content!');
    expect(early.sentTypes().slice(before)).toContain('sync2');
    // a later room of the same document asks the server again
    const other: any = createModel(provider, 'early.txt');
    await flush();
    expect(requests.length).toBe(1);
    other.dispose();
    model.dispose();
  });

  it('opens a room by path when its context is created (a file browser open)', async () => {
    const { provider, requests } = setup(undefined, { earlySession: true });
    const model: any = createModel(provider, 'dir/f.txt');
    // the socket is out before the widget is built (same task): no PUT
    expect(sockets.map(s => s.url)).toEqual([
      'ws://server/api/collab/open/dir/f.txt?format=text&type=file&fresh=1&token=tok'
    ]);
    const early = sockets[0];
    serveOpen(early, 'dir/f.txt', 'opened by path');
    await provider.roomForModel(model)!.connection.synced;
    expect(model.getSource()).toBe('opened by path');
    expect(provider.roomForModel(model)!.connection.session?.role).toBe('editor');
    expect(requests.length).toBe(0);
    expect(sockets.length).toBe(1);
    model.dispose();

    // refused at the handshake: the session request says why, as before
    const { provider: p2, requests: r2 } = setup(
      async () =>
        new Response(JSON.stringify({ message: 'secret.txt is not shared with you' }), {
          status: 403,
          headers: { 'Content-Type': 'application/json' }
        }),
      { earlySession: true }
    );
    const refused: any = createModel(p2, 'secret.txt');
    sockets[0].serverClose(1006);
    await flush();
    expect(r2.map(r => r.url.split('?')[0])).toEqual([
      'http://server/api/collab/session/secret.txt'
    ]);
    const state = p2.roomForModel(refused)!.connection.state;
    expect(state.status).toBe('closed');
    expect(state.closeKind).toBe('forbidden');
    expect(state.closeReason).toContain('not shared with you');
    expect(sockets.length).toBe(1); // no room socket
    refused.dispose();
  });

  it('takes an early socket whose session comes after the room exists', async () => {
    const { provider, requests } = setup();
    provider.prefetchSession('late.txt', 'text', 'file');
    const model: any = createModel(provider, 'late.txt');
    await flush();
    const early = sockets[0];
    early.open();
    early.receive(encodeNotice({ type: 'session', session: sessionOf('late.txt') }));
    await flush();
    const server = new Y.Doc();
    server.getText('source').insert(0, 'late content');
    serverSync(early, server, false);
    await provider.roomForModel(model)!.connection.synced;
    expect(model.getSource()).toBe('late content');
    expect(requests.length).toBe(0);
    expect(sockets.length).toBe(1);
    model.dispose();
  });

  it('asks for the session as usual when the early socket fails', async () => {
    const { provider, requests } = setup();
    provider.prefetchSession('gone.txt', 'text', 'file');
    const early = sockets[0];
    // refused at the handshake (the browser says 1006 and nothing else)
    early.serverClose(1006);
    const model: any = createModel(provider, 'gone.txt');
    await flush();
    expect(requests.map(r => r.url.split('?')[0])).toEqual([
      'http://server/api/collab/session/gone.txt'
    ]);
    expect(sockets.length).toBe(2);
    expect(sockets[1].url.split('?')[0]).toBe(
      'ws://server/api/collab/room/text%3Afile%3Aid-gone.txt'
    );
    model.dispose();

    // a first frame that is not a session: closed, and the usual way taken
    provider.prefetchSession('odd.txt', 'text', 'file');
    const odd = sockets[2];
    odd.open();
    odd.receive(encodeNotice({ type: 'role', role: 'editor' }));
    expect(odd.closed).not.toBe(null);
    const second: any = createModel(provider, 'odd.txt');
    await flush();
    expect(requests.length).toBe(2);
    expect(sockets[3].url).toContain('api/collab/room/text%3Afile%3Aid-odd.txt');
    second.dispose();
  });

  it('does not take an early socket opened for another format, nor a stale one', async () => {
    const { provider, requests } = setup();
    provider.prefetchSession('b.ipynb', 'text', 'file');
    sockets[0].open();
    sockets[0].receive(
      encodeNotice({ type: 'session', session: sessionOf('b.ipynb', 'text', 'file') })
    );
    const nb: any = createModel(provider, 'b.ipynb', 'json', 'notebook');
    await flush();
    expect(requests.map(r => r.body)).toEqual([{ format: 'json', type: 'notebook' }]);
    expect(sockets[1].url).toContain('json%3Anotebook');
    nb.dispose();

    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now);
    provider.prefetchSession('c.txt', 'text', 'file');
    const stale = sockets[2];
    clock.mockReturnValue(now + 60_000); // the open never came
    const late: any = createModel(provider, 'c.txt');
    clock.mockRestore();
    await flush();
    expect(stale.closed).not.toBe(null);
    expect(requests.filter(r => r.url.includes('/c.txt')).length).toBe(1);
    expect(sockets[3].url).toContain('api/collab/room/text%3Afile%3Aid-c.txt');
    late.dispose();
  });

  it('asks for no early session for a document whose room is open', async () => {
    const { provider, requests } = setup();
    const model: any = createModel(provider, 'd.txt');
    await flush();
    provider.prefetchSession('d.txt', 'text', 'file');
    expect(requests.length).toBe(1);
    expect(sockets.length).toBe(1); // the room's own: no early one
    model.dispose();
  });

  it('opens a room per document and loads the content through it', async () => {
    const { provider, rest, requests } = setup();
    rest.disk.set('a.txt', { hash: 'h1', last_modified: '2026-01-01T00:00:00Z' });
    const model: any = createModel(provider, 'a.txt');
    expect(model).toBeDefined();
    const got = provider.get('a.txt', { type: 'file', format: 'text', content: true });
    await flush();
    expect(requests[0].url).toContain('api/collab/session/a.txt');
    expect(requests[0].body).toEqual({ format: 'text', type: 'file' });
    expect(sockets).toHaveLength(1);
    expect(sockets[0].url).toBe('ws://server/api/collab/room/text%3Afile%3Aid-a.txt?token=tok');
    const server = new Y.Doc();
    server.getText('source').insert(0, 'from the room');
    serverSync(sockets[0], server);
    const result = await got;
    // content comes from the room, not from the REST API
    expect(result.content).toBe(null);
    expect(result.hash).toBe('h1');
    expect(model.source).toBe('from the room');
    expect(provider.roomForModel(model)?.path).toBe('a.txt');
  });

  it("asks for the file's metadata while the room syncs, not after (one round trip less before a document shows)", async () => {
    const { provider, rest } = setup();
    rest.disk.set('a.txt', { hash: 'h1', last_modified: '2026-01-01T00:00:00Z' });
    createModel(provider, 'a.txt');
    let settled = false;
    const got = provider.get('a.txt', { type: 'file', format: 'text', content: true });
    void got.then(() => (settled = true));
    await flush();
    // the room has not synced yet, and the metadata request is already out
    expect(rest.gets.map(g => g.options?.content)).toEqual([false]);
    expect(rest.gets[0].options?.hash).toBe(true);
    expect(settled).toBe(false);
    serverSync(sockets[0], new Y.Doc());
    const result = await got;
    expect(result.hash).toBe('h1');
    expect(rest.gets).toHaveLength(1);
  });

  it('a notebook learns its language_info and all its cells from the room (highlighting, cell count)', async () => {
    const { provider, rest } = setup();
    rest.disk.set('ran.ipynb', { hash: 'h1', last_modified: '2026-01-01T00:00:00Z' });
    const model: any = createModel(provider, 'ran.ipynb', 'json', 'notebook');
    // Before the first sync the document holds nothing of its own: no
    // metadata map, no nbformat, no cells that the room's would overwrite.
    expect(Y.decodeStateVector(Y.encodeStateVector(model.ydoc)).size).toBe(0);
    const metadataEvents: Array<{ key: string; newValue: any }> = [];
    model.metadataChanged.connect((_: unknown, change: any) => metadataEvents.push(change));
    const cellsSeen: number[] = [];
    model.changed.connect((_: unknown, change: any) => {
      if (change.metadataChange) {
        cellsSeen.push(model.cells.length);
      }
    });

    // The room's notebook, as jupyter_ydoc lays it out, after a kernel ran
    // it (full language_info). A low client id: a concurrent write of ours
    // to the same keys would win over it.
    const server = new Y.Doc();
    server.clientID = 1;
    const languageInfo = {
      name: 'python',
      version: '3.11.7',
      mimetype: 'text/x-python',
      codemirror_mode: { name: 'ipython', version: 3 },
      pygments_lexer: 'ipython3',
      nbconvert_exporter: 'python',
      file_extension: '.py'
    };
    server.transact(() => {
      const meta = server.getMap('meta');
      meta.set('nbformat', 4);
      meta.set('nbformat_minor', 5);
      const metadata = new Y.Map();
      metadata.set('language_info', languageInfo);
      metadata.set('kernelspec', { name: 'python3', display_name: 'Python 3', language: 'python' });
      meta.set('metadata', metadata);
      const cells = server.getArray('cells');
      for (const [i, text] of ['import math', 'def f(x):\n    return x', 'print(f(1))'].entries()) {
        const cell = new Y.Map();
        cell.set('id', `c${i}`);
        cell.set('cell_type', 'code');
        cell.set('source', new Y.Text(text));
        cell.set('metadata', new Y.Map());
        cell.set('outputs', new Y.Array());
        cell.set('execution_count', null);
        cells.push([cell]);
      }
    });
    const got = provider.get('ran.ipynb', { type: 'notebook', format: 'json', content: true });
    await flush();
    serverSync(sockets[0], server);
    await got;

    // JupyterLab's Notebook widget updates the cells' mime type on this
    // signal only: it must come, with the full value.
    const info = metadataEvents.find(e => e.key === 'language_info');
    expect(info?.newValue).toEqual(languageInfo);
    expect(model.getMetadata('language_info')).toEqual(languageInfo);
    // ... and after the cells are there (the status bar's cell counter
    // counts on the content change that comes with it).
    expect(cellsSeen.length).toBeGreaterThan(0);
    expect(cellsSeen.every(n => n === 3)).toBe(true);
    expect(model.cells.map((c: any) => c.getSource())).toEqual([
      'import math',
      'def f(x):\n    return x',
      'print(f(1))'
    ]);

    // Nothing of ours reached the room (our answer to its step 1 is empty),
    // so its metadata stays the notebook's.
    for (const frame of sockets[0].sent) {
      const d = decoding.createDecoder(frame);
      if (decoding.readVarUint(d) === 0 && decoding.readVarUint(d) !== 0) {
        Y.applyUpdate(server, decoding.readVarUint8Array(d));
      }
    }
    expect((server.getMap('meta').get('metadata') as Y.Map<any>).get('language_info')).toEqual(
      languageInfo
    );
    expect(server.getArray('cells').length).toBe(3);
  });

  it('shows us as the server shows us to the others (session reply), checked', async () => {
    const sessionReply = (url: string) => {
      const path = decodeURIComponent(url.split('/api/collab/session/')[1]);
      return new Response(
        JSON.stringify({
          room: `text:file:id-${path}`,
          fileId: `id-${path}`,
          path,
          format: 'text',
          type: 'file',
          role: 'editor',
          user: {
            username: 'alice',
            name: 'Alice Liddell',
            display_name: 'Alice',
            initials: 'AL',
            color: '#e377c2;background:url(//evil.example/x)',
            avatar_url: 'javascript:alert(1)'
          }
        }),
        { status: 201, headers: { 'Content-Type': 'application/json' } }
      );
    };
    const { provider } = setup(async url => sessionReply(url));
    const seen: any[] = [];
    provider.identityChanged.connect((_, user) => seen.push(user));
    const first: any = createModel(provider, 'a.txt');
    await flush();
    const expected = {
      username: 'alice',
      name: 'Alice Liddell',
      display_name: 'Alice',
      initials: 'AL',
      color: null,
      avatar_url: null
    };
    expect(provider.identity).toEqual(expected);
    expect(first.awareness.getLocalState().user).toEqual(expected);
    expect(seen).toEqual([expected]);
    // a document opened later starts with it at once
    const second: any = createModel(provider, 'b.txt');
    expect(second.awareness.getLocalState().user).toEqual(expected);
    await flush();
    expect(seen).toHaveLength(1); // the same identity again: no change
  });

  it("exposes the server's room id of a document (for the history API)", async () => {
    const { provider, rest } = setup();
    rest.disk.set('a.txt', { hash: 'h1', last_modified: '2026-01-01T00:00:00Z' });
    const model = createModel(provider, 'a.txt');
    const room = provider.roomForModel(model)!;
    expect(roomIdOf(room)).toBeNull(); // before the session reply
    await flush();
    expect(roomIdOf(room)).toBe('text:file:id-a.txt');
    expect(provider.serverSettings.baseUrl).toBe('http://server/');
  });

  it('does not make rooms for documents that are not collaborative', () => {
    const { provider } = setup();
    expect(
      provider.sharedModelFactory.createNew({
        path: 'a.txt',
        format: 'text',
        contentType: 'file',
        collaborative: false
      })
    ).toBeUndefined();
    expect(
      createModel(provider, 'a.png', 'base64', 'blob')
    ).toBeUndefined();
  });

  it('keeps the context in step with the disk, so saving raises no conflict', async () => {
    const { provider, rest, changes } = setup();
    rest.disk.set('a.txt', { hash: 'h1', last_modified: '2026-01-01T00:00:00Z' });
    createModel(provider, 'a.txt');
    const got = provider.get('a.txt', { type: 'file', format: 'text', content: true });
    await flush();
    serverSync(sockets[0], new Y.Doc());
    await got;
    expect(changes).toHaveLength(0);

    // our server saved the room: the disk changed
    rest.disk.set('a.txt', { hash: 'h2', last_modified: '2026-01-02T00:00:00Z' });
    sockets[0].receive(encodeNotice({ type: 'saved', path: 'a.txt' }));
    await flush();
    expect(changes).toHaveLength(1);
    expect(changes[0].type).toBe('save');
    expect(changes[0].newValue?.hash).toBe('h2');

    // the context's check before saving: metadata only, and no new event
    // when nothing changed
    const meta = await provider.get('a.txt', { content: false, hash: true });
    expect(meta.hash).toBe('h2');
    expect(changes).toHaveLength(1);

    // a save that races with a server write: announced before returning
    rest.disk.set('a.txt', { hash: 'h3', last_modified: '2026-01-02T00:00:01Z' });
    const meta2 = await provider.get('a.txt', { content: false, hash: true });
    expect(changes).toHaveLength(2);
    expect(changes[1].newValue?.hash).toBe(meta2.hash);

    // saving does not write through the REST API: it asks the server to
    // write the room now, and returns once the server says it did
    const sentBefore = sockets[0].sent.length;
    const saving = provider.save('a.txt', { type: 'file', format: 'text', content: 'x' });
    await flush();
    const request = sockets[0].sent.slice(sentBefore).map(m => Array.from(m));
    expect(request).toContainEqual(Array.from(encodeNotice({ type: 'save' })));
    sockets[0].receive(encodeNotice({ type: 'saved', path: 'a.txt' }));
    const saved = await saving;
    expect(rest.saves).toEqual([]);
    expect(saved.hash).toBe('h3');
  });

  it('follows a rename made elsewhere', async () => {
    const { provider, rest, changes } = setup();
    rest.disk.set('a.txt', { hash: 'h1', last_modified: '2026-01-01T00:00:00Z' });
    createModel(provider, 'a.txt');
    await flush();
    serverSync(sockets[0], new Y.Doc());
    rest.disk.set('b.txt', rest.disk.get('a.txt')!);
    rest.disk.delete('a.txt');
    sockets[0].receive(encodeNotice({ type: 'renamed', path: 'b.txt' }));
    await flush();
    expect(changes.map(c => c.type)).toEqual(['rename']);
    expect(changes[0].oldValue?.path).toBe('a.txt');
    expect(changes[0].newValue?.path).toBe('b.txt');
    expect(provider.rooms[0].path).toBe('b.txt');
  });

  it('saves through the REST API once the room is closed for good', async () => {
    const { provider, rest } = setup();
    rest.disk.set('a.txt', { hash: 'h1', last_modified: '2026-01-01T00:00:00Z' });
    createModel(provider, 'a.txt');
    await flush();
    serverSync(sockets[0], new Y.Doc());
    sockets[0].serverClose(4410, 'document deleted');
    await provider.save('a.txt', { type: 'file', format: 'text', content: 'mine' });
    expect(rest.saves).toEqual(['a.txt']);
  });

  it('refuses to save while disconnected, after waiting a while', async () => {
    vi.useFakeTimers();
    const { provider, rest } = setup();
    rest.disk.set('a.txt', { hash: 'h1', last_modified: '2026-01-01T00:00:00Z' });
    createModel(provider, 'a.txt');
    await vi.advanceTimersByTimeAsync(10);
    serverSync(sockets[0], new Y.Doc());
    sockets[0].serverClose(1006);
    const saving = provider.save('a.txt', { type: 'file', format: 'text', content: 'x' });
    const outcome = saving.then(
      () => 'saved',
      err => String(err.message)
    );
    // the reconnection attempts fail too
    for (let i = 0; i < 12; i++) {
      await vi.advanceTimersByTimeAsync(1000);
      const last = sockets[sockets.length - 1];
      if (last.readyState === 0) {
        last.serverClose(1006);
      }
    }
    expect(await outcome).toContain('Not connected');
    expect(rest.saves).toEqual([]);
  });

  it('falls back to plain documents without the server extension', async () => {
    const { provider, rest } = setup(
      async () => new Response('<html>404</html>', { status: 404, headers: { 'Content-Type': 'text/html' } })
    );
    rest.disk.set('a.txt', { hash: 'h1', last_modified: '2026-01-01T00:00:00Z' });
    let unavailable = 0;
    provider.unavailable.connect(() => unavailable++);
    createModel(provider, 'a.txt');
    const got = await provider.get('a.txt', { type: 'file', format: 'text', content: true });
    expect(got.content).toBe('REST CONTENT');
    expect(unavailable).toBe(1);
    expect(sockets).toHaveLength(0);
    await provider.save('a.txt', { type: 'file', format: 'text', content: 'x' });
    expect(rest.saves).toEqual(['a.txt']);
  });

  it('reports a missing file instead of falling back', async () => {
    const { provider, rest } = setup(
      async () =>
        new Response(JSON.stringify({ message: 'no such file: a.txt' }), {
          status: 404,
          headers: { 'Content-Type': 'application/json' }
        })
    );
    rest.disk.set('a.txt', { hash: 'h1', last_modified: '2026-01-01T00:00:00Z' });
    createModel(provider, 'a.txt');
    await expect(
      provider.get('a.txt', { type: 'file', format: 'text', content: true })
    ).rejects.toThrow('no such file');
  });
});
