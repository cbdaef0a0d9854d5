/**
 * A room socket opened as soon as a document is asked to open, before its
 * room (and even its session) exists.
 *
 * The page builds a document's widget in one long task right after
 * `docmanager:open`'s metadata request returns (~150-250 ms for a large
 * notebook). A socket created after the session reply waits for the end of
 * that task, then for the handshake, then for the document. This one is
 * created before the task, at `/api/collab/open/{path}` (docs/protocol.md,
 * "Opening over one socket"), which needs no room id: its first frame is the
 * session reply itself (notice `session`), and with `fresh=1` the document
 * follows unasked. Handshake, session and document travel while the widget is
 * built; the room created during that task adopts the socket, and every
 * event the socket had meanwhile is replayed to it, in order.
 */
import { URLExt } from '@jupyterlab/coreutils';
import type { ServerConnection } from '@jupyterlab/services';
import * as decoding from 'lib0/decoding';

import { ISessionModel, MessageType } from './protocol';
import type { IWebSocketLike } from './roomconnection';

/** The URL of the socket that opens `path` (as `format`/`type`) at once. */
export function openWebSocketUrl(
  settings: ServerConnection.ISettings,
  path: string,
  format: string,
  type: string
): string {
  const url = URLExt.join(
    settings.wsUrl,
    'api/collab/open',
    URLExt.encodeParts(path)
  );
  const query = [
    `format=${encodeURIComponent(format)}`,
    `type=${encodeURIComponent(type)}`,
    // the page holds nothing of the room's yet: the document comes unasked
    'fresh=1'
  ];
  if (settings.appendToken && settings.token) {
    query.push(`token=${encodeURIComponent(settings.token)}`);
  }
  return `${url}?${query.join('&')}`;
}

/** The session notice: the first frame of an open socket. */
export function readSessionNotice(bytes: Uint8Array): ISessionModel | null {
  try {
    const decoder = decoding.createDecoder(bytes);
    if (decoding.readVarUint(decoder) !== MessageType.Notice) {
      return null;
    }
    const value = JSON.parse(decoding.readVarString(decoder));
    const session = value?.type === 'session' ? value.session : null;
    if (
      !session ||
      typeof session !== 'object' ||
      typeof session.room !== 'string' ||
      typeof session.role !== 'string'
    ) {
      return null;
    }
    return session as ISessionModel;
  } catch {
    return null;
  }
}

type Queued =
  | { kind: 'open'; event: any }
  | { kind: 'message'; event: { data: any } }
  | { kind: 'close'; event: { code: number; reason: string } }
  | { kind: 'error'; event: any };

/**
 * A socket to `/api/collab/open/...`: `session` resolves with the session its
 * first frame carries (rejects if the socket closes first or says something
 * else). Until a room `adopt`s it, its events are kept; nobody adopting it
 * within `ttl` ms closes it.
 */
export class EarlySocket implements IWebSocketLike {
  constructor(
    socket: IWebSocketLike,
    options: {
      ttl: number;
      setTimeout?: (fn: () => void, ms: number) => any;
      clearTimeout?: (handle: any) => void;
    }
  ) {
    this._socket = socket;
    this._clearTimeout = options.clearTimeout ?? (h => clearTimeout(h));
    socket.binaryType = 'arraybuffer';
    this.session = new Promise<ISessionModel>((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    this.session.catch(() => undefined); // (seen by whoever takes the session)
    socket.onopen = event => this._event({ kind: 'open', event });
    socket.onmessage = event => {
      if (this._room === null) {
        // the first frame: the session, or this socket is of no use
        const session =
          event.data instanceof ArrayBuffer || event.data instanceof Uint8Array
            ? readSessionNotice(new Uint8Array(event.data))
            : null;
        if (!session) {
          this._fail('the first frame was not a session');
          return;
        }
        this._room = session.room;
        this._resolve(session);
        return;
      }
      this._event({ kind: 'message', event });
    };
    socket.onclose = event => {
      if (this._room === null) {
        this._fail(`closed before its session (${event.code} ${event.reason})`);
      }
      this._event({ kind: 'close', event });
    };
    socket.onerror = event => this._event({ kind: 'error', event });
    const set = options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this._expiry = set(() => {
      this._expiry = null;
      if (!this._adopted) {
        this.close(1000, 'not used');
      }
    }, options.ttl);
  }

  /** The session of the room this socket is in (its first frame). */
  readonly session: Promise<ISessionModel>;

  /** The room this socket is in, once its session arrived (else null). */
  get room(): string | null {
    return this._room;
  }

  /**
   * Whether a room may take this socket: its session came (`room` says
   * which room it is in), it is not closed and nobody took it.
   */
  canAdopt(): boolean {
    return (
      !this._adopted &&
      !this._closed &&
      this._room !== null &&
      this._socket.readyState <= 1 // CONNECTING or OPEN
    );
  }

  /**
   * Take the socket: its handlers are the caller's from now on. What it
   * received meanwhile is replayed to them right after the caller's current
   * task step (once they are set), in order.
   */
  adopt(): IWebSocketLike {
    this._adopted = true;
    if (this._expiry !== null) {
      this._clearTimeout(this._expiry);
      this._expiry = null;
    }
    queueMicrotask(() => this._flush());
    return this;
  }

  get binaryType(): string {
    return this._socket.binaryType;
  }
  set binaryType(value: string) {
    this._socket.binaryType = value;
  }

  get readyState(): number {
    return this._socket.readyState;
  }

  onopen: ((ev: any) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: any) => void) | null = null;
  onmessage: ((ev: { data: any }) => void) | null = null;

  send(data: Uint8Array): void {
    this._socket.send(data);
  }

  close(code?: number, reason?: string): void {
    this._closed = true;
    if (this._expiry !== null) {
      this._clearTimeout(this._expiry);
      this._expiry = null;
    }
    if (this._room === null) {
      this._fail('closed');
    }
    try {
      this._socket.close(code, reason);
    } catch {
      // ignore
    }
  }

  private _fail(reason: string): void {
    if (this._failed || this._room !== null) {
      return;
    }
    this._failed = true;
    this._reject(new Error(`jupyter-collab: early socket ${reason}`));
    if (!this._closed) {
      this.close(1000, 'no session');
    }
  }

  private _event(item: Queued): void {
    if (!this._adopted || this._queue !== null) {
      (this._queue ??= []).push(item);
      return;
    }
    this._deliver(item);
  }

  private _flush(): void {
    // (events that arrive while replaying join the end of the queue)
    while (this._queue && this._queue.length) {
      this._deliver(this._queue.shift()!);
    }
    this._queue = null;
  }

  private _deliver(item: Queued): void {
    const handler = {
      open: this.onopen,
      message: this.onmessage,
      close: this.onclose,
      error: this.onerror
    }[item.kind];
    handler?.(item.event as any);
  }

  private _socket: IWebSocketLike;
  private _room: string | null = null;
  private _adopted = false;
  private _closed = false;
  private _failed = false;
  private _queue: Queued[] | null = null;
  private _expiry: any = null;
  private _clearTimeout: (handle: any) => void;
  private _resolve!: (session: ISessionModel) => void;
  private _reject!: (err: Error) => void;
}
