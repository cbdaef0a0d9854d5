/**
 * A y-websocket compatible connection to one jupyter-collab room.
 *
 * It speaks the y-protocols sync and awareness messages, handles the
 * jupyter-collab notices (message type 100) and follows the close-code
 * policy of docs/protocol.md. It has no JupyterLab dependency besides
 * Lumino signals, so it is unit tested with a fake WebSocket.
 */
import { PromiseDelegate } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';

import {
  ConnectionEvent,
  IConnectionState,
  initialState,
  reduce
} from './connectionstate';
import {
  CloseKind,
  ISessionModel,
  MessageType,
  Notice,
  backoffDelay,
  canWrite,
  closePolicy,
  readNotice,
  encodeNotice
} from './protocol';

/** An error from opening a session (the PUT). */
export class SessionError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    /** The endpoint does not exist (the server extension is not enabled). */
    readonly unavailable = false
  ) {
    super(message);
    this.name = 'SessionError';
  }
}

/** What a failed session request means. */
export function sessionErrorKind(
  status: number | null,
  unavailable = false
): {
  kind: CloseKind;
  retry: boolean;
} {
  if (unavailable) {
    return { kind: 'unavailable', retry: false };
  }
  switch (status) {
    case 403:
      return { kind: 'forbidden', retry: false };
    case 404:
      return { kind: 'deleted', retry: false };
    case 400:
      return { kind: 'malformed', retry: false };
    case 413:
      return { kind: 'too-large', retry: false };
    case 415:
    case 422:
      return { kind: 'unloadable', retry: false };
    default:
      // network failures (null), 5xx, 429...
      return { kind: status && status >= 500 ? 'internal' : 'network', retry: true };
  }
}

/**
 * The state vector of a sync message if it is the server's sync step 1, else
 * null (another message, or one that does not decode). Does not consume
 * `decoder`.
 */
/** Whether every item of `doc` was made by `clientID` (or it has none). */
export function holdsOnly(doc: Y.Doc, clientID: number): boolean {
  for (const id of doc.store.clients.keys()) {
    if (id !== clientID) {
      return false;
    }
  }
  return true;
}

/** `url` with one more query parameter (`name=value`, already encoded). */
export function withQuery(url: string, parameter: string): string {
  return url + (url.includes('?') ? '&' : '?') + parameter;
}

function step1StateVector(decoder: decoding.Decoder): Map<number, number> | null {
  try {
    const peek = decoding.clone(decoder);
    if (decoding.readVarUint(peek) !== syncProtocol.messageYjsSyncStep1) {
      return null;
    }
    return Y.decodeStateVector(decoding.readVarUint8Array(peek));
  } catch {
    return null;
  }
}

/**
 * Whether a sync message is the server's sync step 1 with a state vector
 * that lacks content we already received from the server.
 *
 * Everything in our document that was not written by this client came
 * through the server, so a server that still has its room knows at least
 * that much of every other client. Does not consume `decoder`.
 */
export function serverLostState(decoder: decoding.Decoder, doc: Y.Doc): boolean {
  const serverSV = step1StateVector(decoder);
  if (serverSV === null) {
    return false;
  }
  const localSV = Y.decodeStateVector(Y.encodeStateVector(doc));
  for (const [client, clock] of localSV) {
    if (client !== doc.clientID && (serverSV.get(client) ?? 0) < clock) {
      return true;
    }
  }
  return false;
}

/**
 * Whether the server's sync step 1 shows a document of another history than
 * ours: both have content and no client id in common. A server that merges
 * kept copies (session `mergesLostCopies`) merges such a copy without
 * doubling it (docs/protocol.md, "Copies of a lost history"); a server that
 * kept some of our history but not all of it (an older database restored)
 * does not, and we stop then. Does not consume `decoder`.
 */
export function otherHistory(decoder: decoding.Decoder, doc: Y.Doc): boolean {
  const serverSV = step1StateVector(decoder);
  if (serverSV === null) {
    return false;
  }
  const ours = Array.from(Y.decodeStateVector(Y.encodeStateVector(doc)))
    .filter(([, clock]) => clock > 0)
    .map(([client]) => client);
  const theirs = Array.from(serverSV).filter(([, clock]) => clock > 0);
  return (
    ours.length > 0 &&
    theirs.length > 0 &&
    !theirs.some(([client]) => ours.includes(client))
  );
}

/**
 * Every transaction origin but the connection's own (remote changes): the
 * local changes JupyterLab makes come with various origins.
 *
 * Y.UndoManager also asks about the origin's constructor (a class may stand
 * for all its instances): the connection's class must answer no too, or the
 * room's changes would be tracked and undone with ours.
 */
class LocalOrigins extends Set<any> {
  constructor(private readonly _remote: object) {
    super();
  }
  has(origin: unknown): boolean {
    return origin !== this._remote && origin !== this._remote.constructor;
  }
}

/** The part of the WebSocket constructor we use. */
export interface IWebSocketLike {
  binaryType: string;
  readyState: number;
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketFactory = (url: string) => IWebSocketLike;

export interface IRoomConnectionOptions {
  doc: Y.Doc;
  awareness: awarenessProtocol.Awareness;
  /** Ask the server for a session (PUT /api/collab/session/{path}). */
  openSession: () => Promise<ISessionModel>;
  /** The WebSocket URL of a room. */
  roomUrl: (session: ISessionModel) => string;
  /** Create a WebSocket. */
  createSocket: WebSocketFactory;
  /** Whether the browser is online (navigator.onLine). */
  isOnline?: () => boolean;
  /** Random source for backoff jitter. */
  random?: () => number;
  /** Timer functions (injected for tests). */
  setTimeout?: (fn: () => void, ms: number) => any;
  clearTimeout?: (handle: any) => void;
  /** Whether to connect right away (default true). */
  connect?: boolean;
  /**
   * A first sync frame at least this big (bytes) is applied after a short
   * pause, so that the page can show that a large document is loading
   * before the main thread is busy with it. Default LARGE_FRAME.
   */
  largeFrame?: number;
  /**
   * Call back just before the page's next paint (requestAnimationFrame by
   * default, where there is one). A held large first sync is applied in the
   * task after that paint, so the page shows that the document is loading
   * without waiting longer than a frame (LARGE_FRAME_PAUSE stays the limit,
   * for pages that do not paint: a tab in the background).
   */
  requestFrame?: (fn: () => void) => void;
  /**
   * How long (ms) to wait for a socket to open, or for the server to answer
   * the sync step 1 sent when the browser is back online, before giving the
   * socket up and connecting again. Default ANSWER_TIMEOUT.
   */
  answerTimeout?: number;
}

/** See IRoomConnectionOptions.largeFrame. */
export const LARGE_FRAME = 100 * 1024;

/**
 * The longest pause before applying a large first sync (ms): time for a
 * paint. Where the page paints, the sync is applied right after its next
 * paint instead (see IRoomConnectionOptions.requestFrame).
 */
export const LARGE_FRAME_PAUSE = 50;

/** See IRoomConnectionOptions.answerTimeout. */
export const ANSWER_TIMEOUT = 10_000;

/** The root type (one of `doc.share`) that `type` belongs to. */
function rootOf(type: Y.AbstractType<any>): Y.AbstractType<any> {
  let root: Y.AbstractType<any> = type;
  while (root._item && root._item.parent) {
    root = root._item.parent as Y.AbstractType<any>;
  }
  return root;
}

/**
 * Whether a transaction changed the document's content, as opposed to only
 * the `state` map where JupyterLab keeps its own bookkeeping (the dirty
 * flag), which the server counts as nobody's edit.
 */
export function changesContent(doc: Y.Doc, transaction: Y.Transaction): boolean {
  const state = doc.share.get('state');
  for (const type of transaction.changed.keys()) {
    if (rootOf(type) !== state) {
      return true;
    }
  }
  return false;
}

const OPEN = 1;

/**
 * One room connection.
 */
export class RoomConnection {
  constructor(options: IRoomConnectionOptions) {
    this.doc = options.doc;
    this.awareness = options.awareness;
    this._options = options;
    this._setTimeout =
      options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this._clearTimeout =
      options.clearTimeout ?? (h => globalThis.clearTimeout(h));
    this._random = options.random ?? Math.random;
    this._answerTimeout = options.answerTimeout ?? ANSWER_TIMEOUT;
    this._requestFrame =
      options.requestFrame ??
      (typeof globalThis.requestAnimationFrame === 'function'
        ? fn => globalThis.requestAnimationFrame(() => fn())
        : null);
    const online = options.isOnline ? options.isOnline() : true;
    this._state = initialState(online);

    this._listenUpdates(true);
    this.awareness.on('update', this._onAwarenessUpdate);
    // Avoid an unhandled rejection when nobody awaits `synced`.
    this._synced.promise.catch(() => undefined);
    if (options.connect !== false) {
      this.connect();
    }
  }

  readonly doc: Y.Doc;
  readonly awareness: awarenessProtocol.Awareness;

  /** The current session (room, role...), once known. */
  get session(): ISessionModel | null {
    return this._session;
  }

  /** The role granted by the server. */
  get role(): string | null {
    return this._role;
  }

  /** Whether local changes may be sent. */
  get writable(): boolean {
    return canWrite(this._role);
  }

  get state(): IConnectionState {
    return this._state;
  }

  /** Whether the socket is open and the document in sync. */
  get isSynced(): boolean {
    return this._isSynced;
  }

  /** Resolves on the first successful sync; rejects if refused before. */
  get synced(): Promise<void> {
    return this._synced.promise;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get stateChanged(): ISignal<this, IConnectionState> {
    return this._stateChanged;
  }

  get noticeReceived(): ISignal<this, Notice> {
    return this._noticeReceived;
  }

  get roleChanged(): ISignal<this, string> {
    return this._roleChanged;
  }

  get sessionChanged(): ISignal<this, ISessionModel> {
    return this._sessionChanged;
  }

  /** A local change was not sent because the role may not write. */
  get localChangeDropped(): ISignal<this, void> {
    return this._localChangeDropped;
  }

  /**
   * The role allows writing again, and the changes made to the content
   * while it did not were undone (never shared); the count of changes.
   */
  get changesDiscarded(): ISignal<this, number> {
    return this._changesDiscarded;
  }

  /**
   * The server lost the document's history and merged this copy into its
   * new one (`kept`: some of this copy's content was added to it); the
   * document then converges on the server's (our old items are deleted).
   */
  get historyReset(): ISignal<this, { kept: boolean }> {
    return this._historyReset;
  }

  /** Whether the server lost what we had synced, and merges our copy now. */
  get historyLost(): boolean {
    return this._historyLost;
  }

  /** Emitted once when the server closes the room for good. */
  get refused(): ISignal<this, { kind: CloseKind; reason: string }> {
    return this._refused;
  }

  /**
   * Wait until the document is in sync (true), the room is closed for good
   * or `timeout` ms passed (false).
   */
  whenSynced(timeout: number): Promise<boolean> {
    if (this._isSynced) {
      return Promise.resolve(true);
    }
    if (this._isDisposed || this._state.status === 'closed') {
      return Promise.resolve(false);
    }
    return new Promise<boolean>(resolve => {
      const done = (value: boolean) => {
        this._clearTimeout(handle);
        this._stateChanged.disconnect(onState);
        resolve(value);
      };
      const onState = (_: unknown, state: IConnectionState) => {
        if (this._isSynced) {
          done(true);
        } else if (state.status === 'closed') {
          done(false);
        }
      };
      const handle = this._setTimeout(() => done(false), timeout);
      this._stateChanged.connect(onState);
    });
  }

  /**
   * Ask the server to save the document now; resolves with its answer
   * (`saved` or `save-error`), or null if none came within `timeout` ms.
   */
  requestSave(timeout: number): Promise<Notice | null> {
    return new Promise<Notice | null>(resolve => {
      const done = (value: Notice | null) => {
        this._clearTimeout(handle);
        this._noticeReceived.disconnect(onNotice);
        resolve(value);
      };
      const onNotice = (_: unknown, notice: Notice) => {
        if (notice.type === 'saved' || notice.type === 'save-error') {
          done(notice);
        } else if (notice.type === 'refused') {
          done({ type: 'save-error', message: notice.reason });
        }
      };
      const handle = this._setTimeout(() => done(null), timeout);
      this._noticeReceived.connect(onNotice);
      this._send(encodeNotice({ type: 'save' }));
    });
  }

  /** Start (or restart) connecting. */
  connect(): void {
    if (this._isDisposed || this._state.status === 'closed') {
      return;
    }
    if (this._socket || this._connecting) {
      return;
    }
    this._cancelRetry();
    void this._connect();
  }

  /** Reconnect right away (for example when the browser is back online). */
  reconnectNow(): void {
    if (this._retryHandle !== null) {
      this._cancelRetry();
      this.connect();
    }
  }

  /**
   * Tell the connection about the browser's network state.
   *
   * Back online with a socket that looks alive, the connection asks the
   * server for its state (sync step 1): the answer proves the socket works
   * and that every change sent before it reached the server; no answer in
   * time means the socket died with the network, and it connects again.
   */
  setOnline(online: boolean): void {
    this._dispatch({ type: online ? 'browser-online' : 'browser-offline' });
    if (!online) {
      return;
    }
    const socket = this._socket;
    if (socket && socket.readyState === OPEN && this._isSynced) {
      this._probe(socket);
    } else {
      this.reconnectNow();
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._cancelRetry();
    this._clearWatch();
    this._readOnlyChanges?.destroy();
    this._readOnlyChanges = null;
    this._dropHeld();
    this._listenUpdates(false);
    this.awareness.off('update', this._onAwarenessUpdate);
    const socket = this._socket;
    if (socket) {
      // Tell the others we left.
      if (socket.readyState === OPEN) {
        try {
          const encoder = encoding.createEncoder();
          encoding.writeVarUint(encoder, MessageType.Awareness);
          awarenessProtocol.removeAwarenessStates(
            this.awareness,
            [this.doc.clientID],
            'dispose'
          );
          encoding.writeVarUint8Array(
            encoder,
            awarenessProtocol.encodeAwarenessUpdate(this.awareness, [
              this.doc.clientID
            ])
          );
          socket.send(encoding.toUint8Array(encoder));
        } catch {
          // ignore
        }
      }
      this._detach(socket);
      try {
        socket.close(1000, 'document closed');
      } catch {
        // ignore
      }
    }
    this._socket = null;
    this._synced.reject(new Error('disposed'));
    Signal.clearData(this);
  }

  private async _connect(): Promise<void> {
    this._connecting = true;
    this._dispatch({ type: 'connect' });
    let session: ISessionModel;
    let fresh = false;
    try {
      if (!this._session || this._renewSession) {
        session = await this._options.openSession();
        this._renewSession = false;
        this._session = session;
        fresh = true;
      } else {
        session = this._session;
      }
    } catch (err) {
      this._connecting = false;
      if (this._isDisposed) {
        return;
      }
      const status = err instanceof SessionError ? err.status : null;
      const { kind, retry } = sessionErrorKind(
        status,
        err instanceof SessionError && err.unavailable
      );
      const reason = (err as Error)?.message ?? String(err);
      if (!retry) {
        this._refuse(kind, reason);
      } else {
        this._dispatch({
          type: 'closed',
          code: 1006,
          reason,
          policy: {
            kind,
            reconnect: true,
            minDelay: 0,
            renewSession: true
          }
        });
        this._renewSession = true;
        this._scheduleRetry(0);
      }
      return;
    }
    if (this._isDisposed) {
      this._connecting = false;
      return;
    }
    // The socket first, then the listeners of the session reply: the
    // handshake and the server's first sync then travel while the page runs
    // them (the identity, the comments, the status bar...). When the reply is
    // in, the main thread is usually still busy building the document's
    // widget, so every task spent before the socket exists delays the
    // document by as much (docs: benchmarks/RESULTS-open.md).
    const socket = this._openSocket(session);
    if (fresh) {
      this._sessionChanged.emit(session);
      this._setRole(session.role);
    }
    if (socket && socket === this._socket && !this._isDisposed) {
      this._dispatch({ type: 'session' });
    }
  }

  /** Create the room's socket for `session` (its events arrive later). */
  private _openSocket(session: ISessionModel): IWebSocketLike | null {
    let socket: IWebSocketLike;
    // A first open (we hold nothing of the room's: at most our own edits, such
    // as the defaults JupyterLab's model writes) asks for the room's state at
    // once: it then travels while the page is still busy (protocol.md, "A
    // first open"), not after our step 1, which waits for the open event. Our
    // own edits go in our answer to the server's step 1.
    const asksWhole =
      session.syncsFreshClients === true &&
      !this._everSynced &&
      holdsOnly(this.doc, this.doc.clientID);
    try {
      socket = this._options.createSocket(
        asksWhole
          ? withQuery(this._options.roomUrl(session), 'fresh=1')
          : this._options.roomUrl(session)
      );
    } catch (err) {
      this._connecting = false;
      this._onClose(null, { code: 1006, reason: String(err) });
      return null;
    }
    this._connecting = false;
    socket.binaryType = 'arraybuffer';
    this._socket = socket;
    this._isSynced = false;
    this._answeredStep1 = false;
    this._askedWhole = asksWhole;
    socket.onopen = () => this._onOpen(socket);
    socket.onmessage = ev => this._onMessage(socket, ev.data);
    socket.onclose = ev => this._onClose(socket, ev);
    socket.onerror = () => {
      /* a close event follows */
    };
    // A socket opened into a dead network can wait minutes for TCP to give up.
    this._watch(socket, 'open');
    return socket;
  }

  private _onOpen(socket: IWebSocketLike): void {
    if (socket !== this._socket) {
      return;
    }
    this._clearWatch();
    this._dispatch({ type: 'open' });
    // sync step 1, unless the server sends its state unasked (we were empty)
    if (!this._askedWhole) {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MessageType.Sync);
      syncProtocol.writeSyncStep1(encoder, this.doc);
      this._send(encoding.toUint8Array(encoder));
    }
    // our awareness
    if (this.awareness.getLocalState() !== null) {
      const enc = encoding.createEncoder();
      encoding.writeVarUint(enc, MessageType.Awareness);
      encoding.writeVarUint8Array(
        enc,
        awarenessProtocol.encodeAwarenessUpdate(this.awareness, [
          this.doc.clientID
        ])
      );
      this._send(encoding.toUint8Array(enc));
    }
  }

  /** Receive one frame. */
  private _onMessage(socket: IWebSocketLike, data: any): void {
    if (socket !== this._socket) {
      return;
    }
    if (typeof data === 'string') {
      // Text frames are not part of the protocol: ignore them.
      return;
    }
    const bytes =
      data instanceof Uint8Array ? data : new Uint8Array(data as ArrayBuffer);
    if (this._held !== null) {
      // A large first sync waits to be applied: keep the order.
      this._held.push(bytes);
      return;
    }
    const large = this._options.largeFrame ?? LARGE_FRAME;
    if (
      !this._everSynced &&
      bytes.length >= large &&
      bytes[0] === MessageType.Sync
    ) {
      // Let the page paint "loading" before applying a big document, which
      // keeps the main thread busy for a while.
      const held = [bytes];
      this._held = held;
      this._dispatch({ type: 'receiving', bytes: bytes.length });
      const apply = () => {
        if (this._held !== held) {
          return; // applied already, or dropped (socket closed)
        }
        if (this._heldHandle !== null) {
          this._clearTimeout(this._heldHandle);
          this._heldHandle = null;
        }
        this._held = null;
        for (const frame of held) {
          if (socket !== this._socket) {
            break; // closed meanwhile: a new socket syncs again
          }
          this._handleMessage(socket, frame);
        }
      };
      this._heldHandle = this._setTimeout(apply, LARGE_FRAME_PAUSE);
      // After the next paint (a task queued from the frame callback runs
      // after it), rather than a fixed pause: the frame often comes sooner.
      this._requestFrame?.(() => this._setTimeout(apply, 0));
      return;
    }
    this._handleMessage(socket, bytes);
  }

  /** Handle one binary frame. */
  private _handleMessage(socket: IWebSocketLike, bytes: Uint8Array): void {
    if (socket !== this._socket) {
      return;
    }
    let decoder: decoding.Decoder;
    let type: number;
    try {
      decoder = decoding.createDecoder(bytes);
      type = decoding.readVarUint(decoder);
    } catch {
      return;
    }
    switch (type) {
      case MessageType.Sync: {
        if (this._everSynced && serverLostState(decoder, this.doc)) {
          if (!this._session?.mergesLostCopies || !otherHistory(decoder, this.doc)) {
            // A server that does not merge such a copy (an older one, or one
            // that kept part of our history): merging would duplicate the
            // content, so stop here (see README).
            this._detach(socket);
            this._socket = null;
            this._isSynced = false;
            try {
              socket.close(1000, 'stale document');
            } catch {
              // ignore
            }
            this._refuse('server-reset', '');
            return;
          }
          // The server lost the room's history (its document does not hold
          // what we received from it): it merges our copy without doubling
          // it, then sends us its state, which deletes our old items (notice
          // `history-reset`). Our answer to its step 1 is the whole copy.
          this._historyLost = true;
        }
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, MessageType.Sync);
        let syncType: number;
        try {
          syncType = this._applyRemote(() =>
            syncProtocol.readSyncMessage(decoder, encoder, this.doc, this)
          );
        } catch (err) {
          console.error('jupyter-collab: bad sync message', err);
          return;
        }
        if (syncType === syncProtocol.messageYjsSyncStep1) {
          // readSyncMessage wrote our sync step 2 (what the server lacks).
          if (this.writable) {
            this._send(encoding.toUint8Array(encoder));
          }
          this._answeredStep1 = true;
          if (this._isSynced) {
            this._dispatch({ type: 'flushed' });
          }
        } else if (
          syncType === syncProtocol.messageYjsSyncStep2 &&
          !this._isSynced
        ) {
          this._isSynced = true;
          this._everSynced = true;
          this._unknownRoomRetries = 0;
          this._dispatch({ type: 'synced' });
          if (this._answeredStep1) {
            this._dispatch({ type: 'flushed' });
          }
          this._synced.resolve();
        } else if (
          syncType === syncProtocol.messageYjsSyncStep2 &&
          this._watching === 'probe'
        ) {
          // The answer to our probe: the socket works, and the server has
          // applied everything sent before the probe (one ordered socket).
          this._clearWatch();
          this._dispatch({ type: 'synced' });
          this._dispatch({ type: 'flushed' });
        }
        break;
      }
      case MessageType.Awareness: {
        try {
          awarenessProtocol.applyAwarenessUpdate(
            this.awareness,
            decoding.readVarUint8Array(decoder),
            this
          );
        } catch (err) {
          console.error('jupyter-collab: bad awareness message', err);
        }
        break;
      }
      case MessageType.QueryAwareness: {
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, MessageType.Awareness);
        encoding.writeVarUint8Array(
          encoder,
          awarenessProtocol.encodeAwarenessUpdate(
            this.awareness,
            Array.from(this.awareness.getStates().keys())
          )
        );
        this._send(encoding.toUint8Array(encoder));
        break;
      }
      case MessageType.Notice: {
        const notice = readNotice(decoder);
        if (notice.type === 'role') {
          this._setRole(notice.role);
        } else if (notice.type === 'refused' && notice.what === 'edit') {
          // An edit sent just before the server made us a viewer: the server
          // never applies it, so this copy may hold what the room lacks.
          this._divergedLocally = true;
        } else if (notice.type === 'history-reset') {
          this._historyLost = false;
          this._historyReset.emit({ kept: notice.kept });
        } else if (notice.type === 'renamed' && this._session) {
          this._session = { ...this._session, path: notice.path };
        }
        this._noticeReceived.emit(notice);
        break;
      }
      default:
        // Unknown message types are ignored (forward compatibility).
        break;
    }
  }

  private _onClose(
    socket: IWebSocketLike | null,
    ev: { code: number; reason: string }
  ): void {
    if (socket !== null && socket !== this._socket) {
      return;
    }
    if (socket) {
      this._detach(socket);
    }
    this._clearWatch();
    this._dropHeld();
    this._socket = null;
    this._isSynced = false;
    this._answeredStep1 = false;
    // Others' presence is stale now.
    const others = Array.from(this.awareness.getStates().keys()).filter(
      id => id !== this.doc.clientID
    );
    if (others.length) {
      awarenessProtocol.removeAwarenessStates(this.awareness, others, this);
    }
    if (this._isDisposed) {
      return;
    }
    const code = ev.code || 1006;
    const policy = closePolicy(code, this._unknownRoomRetries);
    if (policy.kind === 'unknown-room') {
      this._unknownRoomRetries += 1;
    }
    if (!policy.reconnect) {
      this._dispatch({ type: 'closed', code, reason: ev.reason, policy });
      this._refused.emit({ kind: policy.kind, reason: ev.reason });
      this._synced.reject(
        new SessionError(ev.reason || policy.kind, code)
      );
      return;
    }
    this._dispatch({ type: 'closed', code, reason: ev.reason, policy });
    if (policy.renewSession) {
      this._renewSession = true;
    }
    this._scheduleRetry(policy.minDelay);
  }

  private _refuse(kind: CloseKind, reason: string): void {
    this._dispatch({ type: 'refused', kind, reason });
    this._refused.emit({ kind, reason });
    this._synced.reject(new SessionError(reason || kind, null));
  }

  private _scheduleRetry(minDelay: number): void {
    if (this._isDisposed || this._state.status === 'closed') {
      return;
    }
    this._cancelRetry();
    const delay = backoffDelay(
      Math.max(0, this._state.attempts - 1),
      minDelay,
      this._random()
    );
    this._retryHandle = this._setTimeout(() => {
      this._retryHandle = null;
      this.connect();
    }, delay);
  }

  private _dropHeld(): void {
    if (this._heldHandle !== null) {
      this._clearTimeout(this._heldHandle);
      this._heldHandle = null;
    }
    this._held = null;
  }

  private _cancelRetry(): void {
    if (this._retryHandle !== null) {
      this._clearTimeout(this._retryHandle);
      this._retryHandle = null;
    }
  }

  private _detach(socket: IWebSocketLike): void {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
  }

  private _send(data: Uint8Array): void {
    const socket = this._socket;
    if (socket && socket.readyState === OPEN) {
      try {
        socket.send(data);
      } catch {
        // the close event will follow
      }
    }
  }

  private _setRole(role: string): void {
    if (role !== this._role) {
      const wasReadOnly = this._role !== null && !canWrite(this._role);
      if (wasReadOnly && canWrite(role) && this._divergedLocally) {
        // The server refused an edit of ours (sent just before we became a
        // viewer): its rule is that a refused edit is never applied later,
        // and what the edit deleted cannot be given back here. This copy
        // stays read-only and the user is told to reopen the document.
        this._diverge('the server refused a change made in this copy; it cannot be shared');
        return;
      }
      if (wasReadOnly && canWrite(role) && this._readOnlyConflicts()) {
        // A change made here while read-only and a change from the room hit
        // the same map entry: undoing ours would take theirs away too.
        this._diverge(
          'changes were made to this copy while it was read-only, where others changed it too'
        );
        return;
      }
      if (!canWrite(role)) {
        this._trackReadOnlyChanges();
      }
      let discarded = 0;
      if (wasReadOnly && canWrite(role)) {
        discarded = this._discardReadOnlyChanges();
      }
      this._role = role;
      if (wasReadOnly && canWrite(role)) {
        this._sendOwnChanges();
      }
      this._roleChanged.emit(role);
      if (discarded) {
        this._changesDiscarded.emit(discarded);
      }
    }
  }

  /**
   * While read-only, record the local changes to the content (JupyterLab
   * makes some by itself: kernel metadata, for example), so that they can
   * be undone when the role allows writing again: the server's rule is that
   * an edit it refused, or never received because we could only view, is
   * never applied later. JupyterLab's bookkeeping in the `state` map (the
   * dirty flag, which the server counts as nobody's edit) is left alone.
   */
  private _trackReadOnlyChanges(): void {
    if (this._readOnlyChanges) {
      return;
    }
    this._localKeys.clear();
    this._remoteKeys.clear();
    const scope = Array.from(this.doc.share.entries())
      .filter(([name]) => name !== 'state')
      .map(([, type]) => type);
    if (scope.length === 0) {
      return; // no content types yet (JupyterLab's models create theirs first)
    }
    this._readOnlyChanges = new Y.UndoManager(scope, {
      captureTimeout: 0,
      trackedOrigins: new LocalOrigins(this)
    });
  }

  /** Whether a map entry was changed both here (read-only) and by the room. */
  private _readOnlyConflicts(): boolean {
    for (const [type, keys] of this._localKeys) {
      const remote = this._remoteKeys.get(type);
      const both = remote ? Array.from(keys).filter(key => remote.has(key)) : [];
      if (both.some(key => this._ownsEntry(type, key))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether the last write to a map entry is this client's. When it is the
   * room's, undoing ours leaves the entry as the room has it (Yjs does not
   * bring back a value overwritten by another client's later one), so a
   * change made on both sides matters only when ours is the one that shows.
   */
  private _ownsEntry(type: unknown, key: string): boolean {
    const item = (type as { _map?: Map<string, Y.Item> })._map?.get(key);
    return !item || item.id.client === this.doc.clientID;
  }

  /**
   * Note which map entries of the content a transaction changed (while
   * read-only). Only the types the undo covers count: the `state` map
   * (JupyterLab's dirty flag) is never undone, so both sides changing it is
   * no conflict. A viewer's page resets its own dirty flag, and the room
   * changes it whenever someone edits or the server saves: counting it
   * stopped every promotion that followed an edit elsewhere.
   */
  private _noteKeys(transaction: Y.Transaction, into: Map<unknown, Set<string>>): void {
    const state = this.doc.share.get('state');
    for (const [type, keys] of transaction.changed) {
      if (state && rootOf(type) === state) {
        continue;
      }
      for (const key of keys) {
        if (key !== null) {
          let set = into.get(type);
          if (!set) {
            set = new Set();
            into.set(type, set);
          }
          set.add(key);
        }
      }
    }
  }

  /**
   * Undo what was changed locally while read-only (see above); return how
   * many changes were undone. The undo restores what the changes deleted as
   * copies, so the content is the room's again; the server then receives the
   * changes and their undoing together, as an editor, and nothing shows.
   */
  private _discardReadOnlyChanges(): number {
    const changes = this._readOnlyChanges;
    this._readOnlyChanges = null;
    if (!changes) {
      return 0;
    }
    const count = changes.undoStack.length;
    while (changes.undoStack.length) {
      changes.undo();
    }
    changes.destroy();
    this._localKeys.clear();
    this._remoteKeys.clear();
    return count;
  }

  /**
   * After a change of role from viewer to editor in an open room: send what
   * this client wrote meanwhile (its bookkeeping, and its content changes
   * together with their undoing), so that our next edits do not wait on it.
   */
  private _sendOwnChanges(): void {
    const socket = this._socket;
    if (!socket || socket.readyState !== OPEN) {
      return; // the next sync sends them (our answer to the server's step 1)
    }
    const sv = Y.decodeStateVector(Y.encodeStateVector(this.doc));
    if (!sv.has(this.doc.clientID)) {
      return; // nothing written here
    }
    sv.delete(this.doc.clientID);
    const update = Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(sv));
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.Sync);
    syncProtocol.writeUpdate(encoder, update);
    this._send(encoding.toUint8Array(encoder));
  }

  /** Stop for good: this copy has diverged from the room (see _setRole). */
  private _diverge(reason: string): void {
    const socket = this._socket;
    if (socket) {
      this._detach(socket);
      try {
        socket.close(1000, 'diverged');
      } catch {
        // ignore
      }
    }
    this._clearWatch();
    this._dropHeld();
    this._socket = null;
    this._isSynced = false;
    this._refuse('diverged', reason);
  }

  /** Ask the server for its state; give the socket up if no answer comes. */
  private _probe(socket: IWebSocketLike): void {
    if (this._watching === 'probe') {
      return;
    }
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.Sync);
    syncProtocol.writeSyncStep1(encoder, this.doc);
    this._send(encoding.toUint8Array(encoder));
    this._watch(socket, 'probe');
  }

  /** Give ``socket`` up if it does not open (or answer) in time. */
  private _watch(socket: IWebSocketLike, what: 'open' | 'probe'): void {
    this._clearWatch();
    this._watching = what;
    this._watchHandle = this._setTimeout(() => {
      this._watchHandle = null;
      this._watching = null;
      if (socket !== this._socket) {
        return;
      }
      this._detach(socket);
      try {
        socket.close(1000, 'no answer');
      } catch {
        // ignore
      }
      this._onClose(null, {
        code: 1006,
        reason: what === 'open' ? 'the connection did not open' : 'no answer from the server'
      });
    }, this._answerTimeout);
  }

  private _clearWatch(): void {
    if (this._watchHandle !== null) {
      this._clearTimeout(this._watchHandle);
      this._watchHandle = null;
    }
    this._watching = null;
  }

  private _dispatch(event: ConnectionEvent): void {
    const next = reduce(this._state, event);
    if (next !== this._state) {
      const changed =
        next.status !== this._state.status ||
        next.phase !== this._state.phase ||
        next.unsynced !== this._state.unsynced ||
        next.closeKind !== this._state.closeKind;
      this._state = next;
      if (changed) {
        this._stateChanged.emit(next);
      }
    }
  }

  /**
   * Run `apply` (reading the server's sync message into the document)
   * without an `update` listener on the document during the server's
   * transaction.
   *
   * Yjs encodes every transaction's update for the document's `update`
   * listeners; ours only sends local changes, so holding it while the
   * server's changes are applied made Yjs encode each of them again, to be
   * dropped: for a first sync of a 4 MiB text, that doubled the time to
   * apply it and left megabytes of garbage. Observers (JupyterLab's models,
   * ours) may make local changes in reaction: Yjs runs those as
   * transactions of their own after the server's, and the listener
   * is back for them (an `afterTransaction` listener, which costs no
   * encoding, puts it back before Yjs encodes them), so they are sent as
   * usual, each once.
   */
  private _applyRemote<T>(apply: () => T): T {
    const onTransaction = (transaction: Y.Transaction): void => {
      if (transaction.origin === this) {
        this._listenUpdates(false);
        if (!this.writable && this._readOnlyChanges) {
          this._noteKeys(transaction, this._remoteKeys);
        }
      } else {
        this._listenUpdates(true);
      }
    };
    this._listenUpdates(false);
    this.doc.on('afterTransaction', onTransaction);
    try {
      return apply();
    } finally {
      this.doc.off('afterTransaction', onTransaction);
      this._listenUpdates(true);
    }
  }

  /** Hold the document's `update` listener, or not (see _applyRemote). */
  private _listenUpdates(on: boolean): void {
    if (on && !this._listening && !this._isDisposed) {
      this.doc.on('update', this._onDocUpdate);
      this._listening = true;
    } else if (!on && this._listening) {
      this.doc.off('update', this._onDocUpdate);
      this._listening = false;
    }
  }

  private _onDocUpdate = (
    update: Uint8Array,
    origin: unknown,
    _doc?: Y.Doc,
    transaction?: Y.Transaction
  ): void => {
    if (!this.writable && transaction && this._readOnlyChanges) {
      this._noteKeys(transaction, origin === this ? this._remoteKeys : this._localKeys);
    }
    if (origin === this) {
      return;
    }
    if (!this.writable) {
      // Viewers' changes are never sent (the server would refuse them); the
      // ones to the content are undone when we may write again.
      if (transaction && !changesContent(this.doc, transaction)) {
        return; // JupyterLab's bookkeeping (the dirty flag): not the user's doing
      }
      this._localChangeDropped.emit();
      return;
    }
    this._dispatch({ type: 'local-change' });
    // Sent whenever the socket is open; changes made while it is closed
    // reach the server with our answer to its sync step 1.
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.Sync);
    syncProtocol.writeUpdate(encoder, update);
    this._send(encoding.toUint8Array(encoder));
  };

  private _onAwarenessUpdate = (
    change: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown
  ): void => {
    if (origin === this) {
      return;
    }
    const changed = change.added.concat(change.updated, change.removed);
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MessageType.Awareness);
    encoding.writeVarUint8Array(
      encoder,
      awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed)
    );
    this._send(encoding.toUint8Array(encoder));
  };

  private _options: IRoomConnectionOptions;
  private _setTimeout: (fn: () => void, ms: number) => any;
  private _clearTimeout: (handle: any) => void;
  private _random: () => number;
  private _answerTimeout: number;
  private _requestFrame: ((fn: () => void) => void) | null;
  private _watchHandle: any = null;
  private _watching: 'open' | 'probe' | null = null;
  private _divergedLocally = false;
  private _historyLost = false;
  private _historyReset = new Signal<this, { kept: boolean }>(this);
  private _listening = false;
  private _state: IConnectionState;
  private _session: ISessionModel | null = null;
  private _renewSession = false;
  private _role: string | null = null;
  private _socket: IWebSocketLike | null = null;
  private _connecting = false;
  private _isSynced = false;
  private _everSynced = false;
  private _answeredStep1 = false;
  private _askedWhole = false; // this socket asked for the room's state (fresh=1)
  private _unknownRoomRetries = 0;
  private _retryHandle: any = null;
  private _held: Uint8Array[] | null = null;
  private _heldHandle: any = null;
  private _isDisposed = false;
  private _synced = new PromiseDelegate<void>();
  private _stateChanged = new Signal<this, IConnectionState>(this);
  private _noticeReceived = new Signal<this, Notice>(this);
  private _roleChanged = new Signal<this, string>(this);
  private _localChangeDropped = new Signal<this, void>(this);
  private _changesDiscarded = new Signal<this, number>(this);
  private _readOnlyChanges: Y.UndoManager | null = null;
  private _localKeys = new Map<unknown, Set<string>>();
  private _remoteKeys = new Map<unknown, Set<string>>();
  private _sessionChanged = new Signal<this, ISessionModel>(this);
  private _refused = new Signal<this, { kind: CloseKind; reason: string }>(
    this
  );
}
