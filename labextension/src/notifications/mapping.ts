/**
 * The text and action of a notification of the per-user stream
 * (docs/sharing-api.md), and which ones were already shown as notices of an
 * open document. No JupyterLab UI dependency: unit tested.
 */
import { IUserNotification, ShareRole, isRole } from '../sharing/api';
import { ITrans, roleLabel } from '../sharing/model';
import { versionReference } from '../history/format';

export type NotificationType = 'info' | 'success' | 'warning' | 'error';

/** A notification to show in JupyterLab's notification center. */
export interface IStreamNotificationSpec {
  type: NotificationType;
  message: string;
  /** ms, or false to keep the toast until dismissed. */
  autoClose: number | false;
  /** The document or folder an "Open" action goes to, or null for none. */
  open: string | null;
  /** A comment thread of that document the "Open" action shows (comment kinds). */
  thread?: string | null;
}

/** Longest message JupyterLab shows without truncating it. */
export const MAX_MESSAGE = 140;

function basename(path: string): string {
  const parts = path.replace(/\/+$/, '').split('/');
  return parts[parts.length - 1] || path;
}

function shorten(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

const RANK: Record<ShareRole, number> = { owner: 4, editor: 3, commenter: 2, viewer: 1, none: 0 };

/**
 * What a change of someone's access did, from the notification's details:
 * `change` (`granted`, `changed`, `removed`, from servers that tell), the
 * new `role` and the `previous` one. A new share that gives less than they
 * had is a change, never "shared with you"; without `change` and
 * `previous` (older servers) the direction is unknown and said neutrally.
 */
export function shareChange(
  details: Record<string, any>
): 'granted' | 'promoted' | 'demoted' | 'removed' | 'unshared' | 'set' {
  const role = isRole(details.role) ? details.role : null;
  const previous = isRole(details.previous) ? details.previous : null;
  const change = typeof details.change === 'string' ? details.change : null;
  if (role === 'none' || change === 'removed') {
    return 'removed';
  }
  if (role === null) {
    return 'unshared';
  }
  if (previous !== null && previous !== 'none') {
    if (RANK[role] < RANK[previous]) {
      return 'demoted';
    }
    if (RANK[role] > RANK[previous]) {
      return change === 'granted' ? 'granted' : 'promoted';
    }
    return change === 'granted' ? 'granted' : 'set';
  }
  if (change === 'granted' || previous === 'none') {
    return 'granted';
  }
  return 'set';
}

/** The notification of a change to the reader's access (type `shared`). */
function shareNotification(
  n: IUserNotification,
  actor: string,
  name: string,
  trans: ITrans
): IStreamNotificationSpec {
  const details = n.details ?? {};
  const role: ShareRole | null = isRole(details.role) ? details.role : null;
  const folder = details.kind === 'directory';
  const base = { type: 'info' as NotificationType, autoClose: 10000 as number | false, open: n.path };
  switch (shareChange(details)) {
    case 'removed':
      return {
        ...base,
        type: 'warning',
        open: null,
        message: trans.__('%1 removed your access to “%2”.', actor, name)
      };
    case 'unshared':
      return {
        ...base,
        message: trans.__(
          '%1 took you off the list of people with access to “%2”: you keep what the folders above give you.',
          actor,
          name
        )
      };
    case 'granted':
      return { ...base, message: sharedText(actor, name, role!, folder, trans) };
    case 'demoted':
    case 'promoted':
      return {
        ...base,
        message: trans.__(
          '%1 changed your access to “%2” to %3.',
          actor,
          name,
          roleLabel(role, trans)
        )
      };
    default:
      return {
        ...base,
        message: trans.__('%1 set your access to “%2” to %3.', actor, name, roleLabel(role, trans))
      };
  }
}

/** "Alice shared “x” with you: you can view it." */
function sharedText(
  actor: string,
  name: string,
  role: ShareRole,
  folder: boolean,
  trans: ITrans
): string {
  switch (role) {
    case 'owner':
      return folder
        ? trans.__('%1 shared the folder “%2” with you: you own it, and can choose who has access.', actor, name)
        : trans.__('%1 shared “%2” with you: you own it, and can choose who has access.', actor, name);
    case 'editor':
      return folder
        ? trans.__('%1 shared the folder “%2” with you: you can edit what is in it.', actor, name)
        : trans.__('%1 shared “%2” with you: you can edit it.', actor, name);
    case 'commenter':
      return folder
        ? trans.__('%1 shared the folder “%2” with you: you can view and comment on what is in it.', actor, name)
        : trans.__('%1 shared “%2” with you: you can view and comment on it.', actor, name);
    default:
      return folder
        ? trans.__('%1 shared the folder “%2” with you: you can view what is in it.', actor, name)
        : trans.__('%1 shared “%2” with you: you can view it.', actor, name);
  }
}

/** A comment notification: mentioned, a reply, a thread resolved. */
function commentNotification(
  n: IUserNotification,
  actor: string,
  name: string,
  trans: ITrans
): IStreamNotificationSpec | null {
  if (!name) {
    return null;
  }
  const excerpt = typeof n.details?.excerpt === 'string' ? shorten(n.details.excerpt, 60) : '';
  const base = {
    type: 'info' as NotificationType,
    autoClose: 10000 as number | false,
    open: n.path,
    thread: typeof n.details?.thread === 'string' ? n.details.thread : null
  };
  switch (n.type) {
    case 'mentioned':
      return {
        ...base,
        message: excerpt
          ? trans.__('%1 mentioned you in “%2”: %3', actor, name, excerpt)
          : trans.__('%1 mentioned you in “%2”.', actor, name)
      };
    case 'reply':
      return {
        ...base,
        message: excerpt
          ? trans.__('%1 replied in a thread on “%2”: %3', actor, name, excerpt)
          : trans.__('%1 replied in a thread on “%2”.', actor, name)
      };
    default:
      return { ...base, message: trans.__('%1 resolved a thread on “%2”.', actor, name) };
  }
}

/**
 * The notification for an entry of the stream: kinds this client knows in
 * its own words, others as a generic item (the server's sentence).
 */
export function streamNotification(
  n: IUserNotification,
  trans: ITrans
): IStreamNotificationSpec {
  const actor = n.actor?.display_name || n.actor?.username || trans.__('Someone');
  const name = n.path ? basename(n.path) : '';
  let spec: IStreamNotificationSpec | null = null;
  switch (n.type) {
    case 'shared': {
      if (!name) {
        break;
      }
      spec = shareNotification(n, actor, name, trans);
      break;
    }
    case 'restored': {
      if (!name) {
        break;
      }
      // The version by its name or its time (in the reader's time zone), never its id.
      const what = versionReference(
        {
          name: typeof n.details?.versionName === 'string' ? n.details.versionName : null,
          time: typeof n.details?.versionTime === 'string' ? n.details.versionTime : null,
          kind: typeof n.details?.versionKind === 'string' ? n.details.versionKind : null
        },
        trans
      );
      spec = {
        type: 'info',
        message: trans.__('%1 restored “%2” to %3.', actor, name, what),
        autoClose: 10000,
        open: n.path
      };
      break;
    }
    case 'mentioned':
    case 'reply':
    case 'resolved': {
      spec = commentNotification(n, actor, name, trans);
      break;
    }
    default:
      break;
  }
  if (!spec) {
    // A kind this client does not know (or one without what it needs): a
    // generic item, the server's own sentence and an Open action.
    const message =
      n.message ||
      (name
        ? trans.__('%1: a notification about “%2”.', actor, name)
        : trans.__('%1: a new notification.', actor));
    spec = { type: 'info', message, autoClose: 10000, open: n.path || null };
  }
  return { ...spec, message: shorten(spec.message, MAX_MESSAGE) };
}

/**
 * Remembers the `restored` notices of open documents, so that the same
 * restore coming through the stream is not shown a second time.
 */
export class RestoreNoticeLog {
  constructor(options: { ttl?: number; now?: () => number } = {}) {
    this._ttl = options.ttl ?? 30 * 60 * 1000;
    this._now = options.now ?? (() => Date.now());
  }

  /** A room notice `restored` arrived for a document (server room id, path). */
  add(room: string | null, path: string | null, version: number | null): void {
    const now = this._now();
    for (const [key, time] of this._seen) {
      if (now - time > this._ttl) {
        this._seen.delete(key);
      }
    }
    if (room) {
      this._seen.set(`room:${room}:${version ?? '?'}`, now);
    }
    if (path) {
      this._seen.set(`path:${path}:${version ?? '?'}`, now);
    }
  }

  /**
   * Whether a stream notification was (or is being) shown as a room notice:
   * a restore seen in a room, or one of a document open right now (its room
   * notice is what tells about it).
   */
  isDuplicate(
    n: IUserNotification,
    open: { rooms: ReadonlySet<string>; paths: ReadonlySet<string> }
  ): boolean {
    if (n.type !== 'restored') {
      return false;
    }
    if ((n.room && open.rooms.has(n.room)) || (n.path && open.paths.has(n.path))) {
      return true;
    }
    const version = typeof n.details?.version === 'number' ? n.details.version : '?';
    const now = this._now();
    const fresh = (key: string) => {
      const time = this._seen.get(key);
      return time !== undefined && now - time <= this._ttl;
    };
    return (
      (!!n.room && (fresh(`room:${n.room}:${version}`) || fresh(`room:${n.room}:?`))) ||
      (!!n.path && (fresh(`path:${n.path}:${version}`) || fresh(`path:${n.path}:?`)))
    );
  }

  private _ttl: number;
  private _now: () => number;
  private _seen = new Map<string, number>();
}

/** At most this many notifications of one poll are shown one by one. */
export const MAX_SHOWN = 5;

/**
 * Which notifications of one poll to show one by one (the newest `max`), and
 * how many more are summed up in one line (a first poll after a long time
 * away must not fill the screen).
 */
export function pickShown<T extends { id: number }>(
  list: readonly T[],
  max = MAX_SHOWN
): { shown: T[]; more: number } {
  const sorted = [...list].sort((a, b) => a.id - b.id);
  if (sorted.length <= max) {
    return { shown: sorted, more: 0 };
  }
  return { shown: sorted.slice(sorted.length - max), more: sorted.length - max };
}
