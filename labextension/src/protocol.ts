/**
 * Wire-level knowledge of the jupyter-collab protocol (see docs/protocol.md).
 *
 * This module has no JupyterLab dependency so that it can be unit tested.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/** y-websocket message types (first varUint of a frame). */
export enum MessageType {
  Sync = 0,
  Awareness = 1,
  Auth = 2,
  QueryAwareness = 3,
  /** jupyter-collab JSON notice (server -> client). */
  Notice = 100
}

/** Roles a session can grant. */
export type Role = 'owner' | 'editor' | 'commenter' | 'viewer' | 'none' | string;

/** Reply of `PUT /api/collab/session/{path}`. */
export interface ISessionModel {
  room: string;
  fileId: string;
  path: string;
  format: string;
  type: string;
  role: Role;
  roomUrl?: string;
  /**
   * The identity the server stamps into our awareness states, as the others
   * see us (servers before this field: absent).
   */
  user?: unknown;
  /**
   * The server merges a copy kept across the loss of the document's history
   * without doubling it (notice `history-reset`); older servers: absent.
   */
  mergesLostCopies?: boolean;
  /**
   * A client that holds nothing of the room's may ask for the room's state at
   * once (`fresh=1` on the room's URL) instead of sending its sync step 1;
   * older servers: absent.
   */
  syncsFreshClients?: boolean;
}

/**
 * Whether a role may change the document (an unknown role, from a server
 * without roles, may). A commenter is read-only in the room, like a viewer.
 */
export function canWrite(role: Role | null | undefined): boolean {
  return role !== 'viewer' && role !== 'commenter' && role !== 'none';
}

/**
 * Whether a role may write comments: commenters and up (viewers read them
 * only). An unknown role, from a server without roles, may.
 */
export function canComment(role: Role | null | undefined): boolean {
  return role !== 'viewer' && role !== 'none';
}

/** Notices the server sends as message type 100. */
export type Notice =
  | { type: 'role'; role: Role }
  | { type: 'saved'; path?: string; lastModified?: string }
  | { type: 'save-error'; message?: string }
  | { type: 'disk-merged'; path?: string }
  | { type: 'renamed'; path: string }
  /** `what` was refused: `edit` (an update, never applied) or `save`. */
  | { type: 'refused'; reason?: string; what?: string }
  | { type: 'store-error'; message?: string }
  /** A version was made (named, saved, automatic or by a restore). */
  | { type: 'version'; version: unknown }
  /** Someone restored a version (docs/history-api.md). */
  | {
      type: 'restored';
      /** The restored version's id (to tell restores apart; never shown). */
      version: number | null;
      /** How people know the restored version: its name, else its time. */
      versionName?: string | null;
      versionTime?: string | null;
      versionKind?: string | null;
      by: { username?: string; display_name?: string } | null;
      path?: string;
    }
  /**
   * The comments of the document changed (docs/comments-api.md): a thread
   * was created, replied to, edited, deleted, resolved or reopened.
   */
  | { type: 'comments'; thread: string | null; action: string | null }
  /**
   * The server lost the document's history and merged this copy into its
   * new one without doubling it; `kept`: some of the copy's content (lines,
   * cells) was added to the shared document.
   */
  | { type: 'history-reset'; kept: boolean; message?: string }
  | { type: 'unknown'; raw: unknown };

/**
 * Parse the JSON payload of a notice. Never throws: anything unexpected
 * becomes an `unknown` notice, so that a newer server cannot break an
 * older client.
 */
export function parseNotice(text: string): Notice {
  let value: any;
  try {
    value = JSON.parse(text);
  } catch {
    return { type: 'unknown', raw: text };
  }
  if (!value || typeof value !== 'object' || typeof value.type !== 'string') {
    return { type: 'unknown', raw: value };
  }
  const str = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : undefined;
  switch (value.type) {
    case 'role':
      if (typeof value.role === 'string') {
        return { type: 'role', role: value.role };
      }
      break;
    case 'saved':
      return {
        type: 'saved',
        path: str(value.path),
        lastModified: str(value.lastModified)
      };
    case 'save-error':
      return { type: 'save-error', message: str(value.message) };
    case 'disk-merged':
      return { type: 'disk-merged', path: str(value.path) };
    case 'renamed':
      if (typeof value.path === 'string') {
        return { type: 'renamed', path: value.path };
      }
      break;
    case 'refused':
      return { type: 'refused', reason: str(value.reason), what: str(value.what) };
    case 'store-error':
      return { type: 'store-error', message: str(value.message) };
    case 'version':
      return { type: 'version', version: value.version ?? null };
    case 'history-reset':
      return {
        type: 'history-reset',
        kept: value.kept === true,
        message: str(value.message)
      };
    case 'comments':
      return {
        type: 'comments',
        thread:
          typeof value.thread === 'string' || typeof value.thread === 'number'
            ? String(value.thread)
            : null,
        action: str(value.action) ?? null
      };
    case 'restored': {
      const by =
        value.by && typeof value.by === 'object'
          ? {
              username: str(value.by.username),
              display_name: str(value.by.display_name)
            }
          : null;
      return {
        type: 'restored',
        version: typeof value.version === 'number' ? value.version : null,
        versionName: str(value.versionName) ?? null,
        versionTime: str(value.versionTime) ?? null,
        versionKind: str(value.versionKind) ?? null,
        by,
        path: str(value.path)
      };
    }
  }
  return { type: 'unknown', raw: value };
}

/** Encode a notice frame (clients send `{"type": "save"}`; servers send the others). */
export function encodeNotice(notice: object): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.Notice);
  encoding.writeVarString(encoder, JSON.stringify(notice));
  return encoding.toUint8Array(encoder);
}

/** Read the notice payload that follows the message type. */
export function readNotice(decoder: decoding.Decoder): Notice {
  let text: string;
  try {
    text = decoding.readVarString(decoder);
  } catch {
    return { type: 'unknown', raw: null };
  }
  return parseNotice(text);
}

/**
 * Why a room connection ended, as far as the user is concerned.
 */
export type CloseKind =
  | 'shutdown'
  | 'malformed'
  | 'forbidden'
  | 'unknown-room'
  | 'deleted'
  | 'too-large'
  | 'unloadable'
  | 'too-slow'
  | 'internal'
  | 'network'
  /** the server lost the room's state (restart without persistence) */
  | 'server-reset'
  /**
   * this copy holds changes the room does not have and will never take
   * (made while read-only, or building on such changes): reload it
   */
  | 'diverged'
  /** the server has no jupyter-collab endpoints (extension not enabled) */
  | 'unavailable';

/** What the client should do after a close. */
export interface IClosePolicy {
  kind: CloseKind;
  /** Whether to try again. */
  reconnect: boolean;
  /** Minimum delay in ms before the first retry. */
  minDelay: number;
  /** Whether the first retry should ask for a session again (PUT). */
  renewSession: boolean;
}

/** Close codes of docs/protocol.md. */
export const CloseCode = {
  GoingAway: 1001,
  MessageTooBig: 1009,
  Malformed: 4400,
  Forbidden: 4403,
  UnknownRoom: 4404,
  Diverged: 4409,
  Deleted: 4410,
  TooLarge: 4413,
  Unloadable: 4415,
  TooSlow: 4429,
  Internal: 4500
} as const;

/**
 * Decide what to do after the room socket closed with `code`.
 *
 * @param code the WebSocket close code (1006 for network failures).
 * @param unknownRoomRetries how many times in a row the room was unknown.
 */
export function closePolicy(
  code: number,
  unknownRoomRetries = 0
): IClosePolicy {
  switch (code) {
    case CloseCode.GoingAway:
      return {
        kind: 'shutdown',
        reconnect: true,
        minDelay: 2000,
        renewSession: true
      };
    case CloseCode.Malformed:
      return {
        kind: 'malformed',
        reconnect: false,
        minDelay: 0,
        renewSession: false
      };
    case CloseCode.Forbidden:
      return {
        kind: 'forbidden',
        reconnect: false,
        minDelay: 0,
        renewSession: false
      };
    case CloseCode.UnknownRoom:
      // The server may have restarted and forgotten the room: ask for the
      // session once more; if the room is still unknown, give up.
      return {
        kind: 'unknown-room',
        reconnect: unknownRoomRetries < 1,
        minDelay: 0,
        renewSession: true
      };
    case CloseCode.Diverged:
      return {
        kind: 'diverged',
        reconnect: false,
        minDelay: 0,
        renewSession: false
      };
    case CloseCode.Deleted:
      return {
        kind: 'deleted',
        reconnect: false,
        minDelay: 0,
        renewSession: false
      };
    case CloseCode.MessageTooBig:
    case CloseCode.TooLarge:
      return {
        kind: 'too-large',
        reconnect: false,
        minDelay: 0,
        renewSession: false
      };
    case CloseCode.Unloadable:
      return {
        kind: 'unloadable',
        reconnect: false,
        minDelay: 0,
        renewSession: false
      };
    case CloseCode.TooSlow:
      return {
        kind: 'too-slow',
        reconnect: true,
        minDelay: 500,
        renewSession: false
      };
    case CloseCode.Internal:
      return {
        kind: 'internal',
        reconnect: true,
        minDelay: 2000,
        renewSession: true
      };
    default:
      // 1000 (normal), 1006 (abnormal), 1011, 1012, 1013 and anything else:
      // a network problem or a restart; try again.
      return {
        kind: 'network',
        reconnect: true,
        minDelay: 0,
        renewSession: code === 1012 || code === 1013
      };
  }
}

/** The longest backoff wait (ms): the setting `reconnectMaxDelay`. */
let maxBackoff = 30000;

/** Set the longest wait between reconnection attempts (applies to the next one). */
export function setMaxBackoff(ms: number): void {
  if (Number.isFinite(ms) && ms >= 1000) {
    maxBackoff = ms;
  }
}

/**
 * Exponential backoff with jitter.
 *
 * @param attempt 0 for the first retry.
 * @param random a number in [0, 1) (injected for tests).
 */
export function backoffDelay(
  attempt: number,
  minDelay = 0,
  random: number = Math.random()
): number {
  const base = Math.min(maxBackoff, 500 * Math.pow(2, Math.min(30, Math.max(0, attempt))));
  const jittered = base / 2 + (base / 2) * random;
  return Math.round(Math.max(minDelay, jittered));
}
