/**
 * The state machine behind the connection indicator.
 *
 * Pure functions without JupyterLab dependencies, unit tested.
 */
import { CloseKind, IClosePolicy } from './protocol';

/** What the indicator shows. */
export type ConnectionStatus =
  /** first connection attempt, nothing synced yet */
  | 'connecting'
  /** connected and in sync with the server */
  | 'connected'
  /** the connection was lost; trying again */
  | 'reconnecting'
  /** the browser is offline, or reconnecting failed several times */
  | 'offline'
  /** the server refused the document; no further attempt */
  | 'closed';

/**
 * How far the current connection attempt got (for the loading indicator).
 *
 * `session`: asking for the session (PUT); `socket`: opening the room
 * WebSocket; `syncing`: waiting for the server's sync step 2; `applying`: a
 * large first sync arrived and is being applied; `done`: in sync.
 */
export type LoadPhase = 'session' | 'socket' | 'syncing' | 'applying' | 'done';

export interface IConnectionState {
  readonly status: ConnectionStatus;
  /** Progress of the current connection attempt. */
  readonly phase: LoadPhase;
  /** Size of the first sync frame, once it arrived (bytes, 0 if unknown). */
  readonly receivedBytes: number;
  /** Local changes the server has not received yet. */
  readonly unsynced: number;
  /** Failed attempts since the last successful sync. */
  readonly attempts: number;
  /** Whether the document was synced at least once. */
  readonly everSynced: boolean;
  /** Whether the browser reports a network. */
  readonly browserOnline: boolean;
  /**
   * Whether the room socket is open and in sync, whatever the browser says:
   * the browser's offline/online events are hints, and a socket may live
   * through them (the indicator must then come back to "connected").
   */
  readonly live: boolean;
  /** Why the connection was closed (for `closed`, and the last failure). */
  readonly closeKind: CloseKind | null;
  /** The server's close reason text, if any. */
  readonly closeReason: string;
}

export type ConnectionEvent =
  /** A connection attempt starts. */
  | { type: 'connect' }
  /** The session is known; the room socket is being opened. */
  | { type: 'session' }
  /** The socket is open (sync not finished). */
  | { type: 'open' }
  /** A large sync frame arrived and is about to be applied. */
  | { type: 'receiving'; bytes: number }
  /** The server's sync step 2 arrived: we have its state. */
  | { type: 'synced' }
  /** We answered the server's sync step 1: it has our state. */
  | { type: 'flushed' }
  /** A local change was made to the document. */
  | { type: 'local-change' }
  /** The socket closed. */
  | {
      type: 'closed';
      code: number;
      reason: string;
      policy: IClosePolicy;
    }
  /** Opening the session (PUT) failed for good. */
  | { type: 'refused'; kind: CloseKind; reason: string }
  | { type: 'browser-offline' }
  | { type: 'browser-online' };

/** After this many failed attempts in a row, `reconnecting` becomes `offline`. */
export const OFFLINE_AFTER_ATTEMPTS = 3;

export function initialState(browserOnline = true): IConnectionState {
  return {
    status: browserOnline ? 'connecting' : 'offline',
    phase: 'session',
    receivedBytes: 0,
    unsynced: 0,
    attempts: 0,
    everSynced: false,
    browserOnline,
    live: false,
    closeKind: null,
    closeReason: ''
  };
}

function failingStatus(
  state: IConnectionState,
  attempts: number
): ConnectionStatus {
  if (!state.browserOnline || attempts >= OFFLINE_AFTER_ATTEMPTS) {
    return 'offline';
  }
  return state.everSynced ? 'reconnecting' : 'connecting';
}

/** Apply an event to a state. */
export function reduce(
  state: IConnectionState,
  event: ConnectionEvent
): IConnectionState {
  if (state.status === 'closed') {
    // Terminal, except that local edits are still counted.
    if (event.type === 'local-change') {
      return { ...state, unsynced: state.unsynced + 1 };
    }
    return state;
  }
  switch (event.type) {
    case 'connect':
      return state.phase === 'session' ? state : { ...state, phase: 'session' };
    case 'session':
      return state.phase === 'socket' ? state : { ...state, phase: 'socket' };
    case 'open':
      return state.phase === 'syncing' ? state : { ...state, phase: 'syncing' };
    case 'receiving':
      return { ...state, phase: 'applying', receivedBytes: event.bytes };
    case 'synced':
      return {
        ...state,
        status: 'connected',
        phase: 'done',
        attempts: 0,
        everSynced: true,
        live: true,
        closeKind: null,
        closeReason: ''
      };
    case 'flushed':
      return state.status === 'connected' ? { ...state, unsynced: 0 } : state;
    case 'local-change':
      return state.status === 'connected'
        ? state
        : { ...state, unsynced: state.unsynced + 1 };
    case 'closed': {
      if (!event.policy.reconnect) {
        return {
          ...state,
          status: 'closed',
          live: false,
          closeKind: event.policy.kind,
          closeReason: event.reason
        };
      }
      const attempts = state.attempts + 1;
      return {
        ...state,
        attempts,
        live: false,
        status: failingStatus(state, attempts),
        closeKind: event.policy.kind,
        closeReason: event.reason
      };
    }
    case 'refused':
      return {
        ...state,
        status: 'closed',
        live: false,
        closeKind: event.kind,
        closeReason: event.reason
      };
    case 'browser-offline':
      return { ...state, browserOnline: false, status: 'offline' };
    case 'browser-online': {
      const next = { ...state, browserOnline: true };
      if (state.live) {
        // The socket outlived the outage: it is what counts. (Its changes
        // are confirmed by the probe RoomConnection sends: 'flushed'.)
        return { ...next, status: 'connected' };
      }
      if (state.status === 'offline') {
        return {
          ...next,
          status:
            state.attempts >= OFFLINE_AFTER_ATTEMPTS
              ? 'offline'
              : state.everSynced
                ? 'reconnecting'
                : 'connecting'
        };
      }
      return next;
    }
  }
  return state;
}

const SEVERITY: Record<ConnectionStatus, number> = {
  connected: 0,
  connecting: 1,
  reconnecting: 2,
  offline: 3,
  closed: 4
};

/**
 * The state to show for several documents: the most severe status, with
 * the unsynced changes of all of them.
 */
export function combine(
  states: readonly IConnectionState[]
): IConnectionState | null {
  if (states.length === 0) {
    return null;
  }
  let worst = states[0];
  let unsynced = 0;
  for (const s of states) {
    if (SEVERITY[s.status] > SEVERITY[worst.status]) {
      worst = s;
    }
    unsynced += s.unsynced;
  }
  return { ...worst, unsynced };
}

/** The minimal translation bundle interface used here. */
export interface ITrans {
  __(msgid: string, ...args: any[]): string;
  _n(msgid: string, msgidPlural: string, n: number, ...args: any[]): string;
}

/** Short human text for a close kind. */
export function closeKindText(kind: CloseKind | null, trans: ITrans): string {
  switch (kind) {
    case 'forbidden':
      return trans.__('you are not allowed to open this document');
    case 'deleted':
      return trans.__('the document was deleted');
    case 'unknown-room':
      return trans.__('the server does not know this document');
    case 'too-large':
      return trans.__('a change was too large for the server');
    case 'unloadable':
      return trans.__('the server cannot load this document');
    case 'malformed':
      return trans.__('the server did not understand a message');
    case 'shutdown':
      return trans.__('the server is shutting down');
    case 'too-slow':
      return trans.__('the connection was too slow');
    case 'internal':
      return trans.__('the server had an internal error');
    case 'network':
      return trans.__('the network connection was lost');
    case 'unavailable':
      return trans.__('the collaboration server extension is not running');
    case 'server-reset':
      return trans.__('the server restarted and lost the shared state of the document');
    case 'diverged':
      return trans.__(
        'this copy has changes the shared document does not have and cannot take; reopen the document'
      );
    default:
      return '';
  }
}

/** Label and tooltip for the indicator. */
export function describe(
  state: IConnectionState,
  trans: ITrans
): { label: string; title: string } {
  const pending =
    state.unsynced > 0
      ? trans._n(
          '%1 unsynced change',
          '%1 unsynced changes',
          state.unsynced,
          state.unsynced
        )
      : '';
  const withPending = (text: string) =>
    pending ? trans.__('%1, %2', text, pending) : text;
  const why = closeKindText(state.closeKind, trans);
  switch (state.status) {
    case 'connecting':
      return {
        label: withPending(trans.__('Connecting')),
        title: trans.__('Connecting to the collaboration server')
      };
    case 'connected':
      return {
        label: withPending(trans.__('Connected')),
        title: trans.__('Connected: changes are shared in real time')
      };
    case 'reconnecting':
      return {
        label: withPending(trans.__('Reconnecting')),
        title: why
          ? trans.__('Reconnecting: %1', why)
          : trans.__('Reconnecting to the collaboration server')
      };
    case 'offline':
      return {
        label: withPending(trans.__('Offline')),
        title: state.browserOnline
          ? trans.__(
              'Cannot reach the collaboration server; still trying. Your changes are kept and sent when the connection is back.'
            )
          : trans.__(
              'The browser is offline. Your changes are kept and sent when the connection is back.'
            )
      };
    case 'closed':
      return {
        label: withPending(trans.__('Disconnected')),
        title: why
          ? trans.__('Disconnected: %1', why)
          : trans.__('Disconnected from the collaboration server')
      };
  }
}
