/**
 * Server notices that deserve a notification in JupyterLab's notification
 * center, and a small de-duplicator in front of it (unit tested: no
 * JupyterLab UI dependency, the notifier is injected).
 */
import { Notice } from '../protocol';
import { ITimeOptions, ITrans, versionReference } from './format';

export { ITrans };

export type NotificationType = 'info' | 'success' | 'warning' | 'error';

/** A notification to show. */
export interface INotificationSpec {
  /** Notifications with the same key replace each other. */
  key: string;
  type: NotificationType;
  message: string;
  /** ms, or false to keep it until dismissed. */
  autoClose: number | false;
}

/** Longest message JupyterLab shows without truncating it. */
export const MAX_MESSAGE = 140;

function shorten(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

/**
 * The notification for a notice of a document, or null for notices that
 * have none (saved, role, version...).
 *
 * @param roomKey identifies the document (the room id).
 * @param name the document's file name.
 * @param self our username (a restore we made says "you").
 * @param time locale and time zone of the times shown (tests).
 */
export function noticeNotification(
  notice: Notice,
  roomKey: string,
  name: string,
  trans: ITrans,
  self: string | null = null,
  time: ITimeOptions = {}
): INotificationSpec | null {
  let spec: Omit<INotificationSpec, 'key'> | null = null;
  switch (notice.type) {
    case 'restored': {
      const by =
        notice.by?.display_name ||
        notice.by?.username ||
        trans.__('someone');
      const mine = !!self && notice.by?.username === self;
      // The version by its name or its time: versions have no numbers.
      const what = versionReference(
        { name: notice.versionName, time: notice.versionTime, kind: notice.versionKind },
        trans,
        time
      );
      const message = mine
        ? trans.__('You restored “%1” to %2.', name, what)
        : trans.__('%1 restored “%2” to %3.', by, name, what);
      spec = { type: 'info', message, autoClose: 8000 };
      break;
    }
    case 'disk-merged':
      spec = {
        type: 'info',
        message: trans.__('“%1”: merged changes made on disk.', name),
        autoClose: 5000
      };
      break;
    case 'save-error': {
      const reason = shorten(notice.message || trans.__('unknown error'), 60);
      spec = {
        type: 'error',
        message: trans.__(
          '“%1” could not be saved: %2. Your changes are kept.',
          name,
          reason
        ),
        autoClose: false
      };
      break;
    }
    case 'store-error': {
      const reason = shorten(notice.message || trans.__('unknown error'), 50);
      spec = {
        type: 'warning',
        message: trans.__(
          '“%1”: the history could not be recorded (%2). Edits are still shared and saved.',
          name,
          reason
        ),
        autoClose: 10000
      };
      break;
    }
    default:
      return null;
  }
  return {
    key: `${roomKey}:${notice.type}`,
    ...spec,
    message: shorten(spec.message, MAX_MESSAGE)
  };
}

/** What the de-duplicator needs from JupyterLab's `Notification`. */
export interface INotifier {
  emit(
    message: string,
    type: NotificationType,
    options: { autoClose: number | false }
  ): string;
  /** False when the notification no longer exists. */
  update(args: {
    id: string;
    message: string;
    type: NotificationType;
    autoClose: number | false;
  }): boolean;
}

/**
 * Shows notifications so that the same event never piles up: a
 * notification with the same key and message within `window` ms is
 * dropped, one with the same key and another message replaces the shown
 * one (or is shown anew once that one was dismissed).
 */
export class NotificationDeduper {
  constructor(
    notifier: INotifier,
    options: { window?: number; now?: () => number } = {}
  ) {
    this._notifier = notifier;
    this._window = options.window ?? 10000;
    this._now = options.now ?? (() => Date.now());
  }

  /** Show `spec`; returns the notification id, or null if dropped. */
  notify(spec: INotificationSpec): string | null {
    const now = this._now();
    const last = this._shown.get(spec.key);
    if (last && last.message === spec.message && now - last.time < this._window) {
      return null;
    }
    if (last) {
      const updated = this._notifier.update({
        id: last.id,
        message: spec.message,
        type: spec.type,
        autoClose: spec.autoClose
      });
      if (updated) {
        this._shown.set(spec.key, { id: last.id, message: spec.message, time: now });
        return last.id;
      }
    }
    const id = this._notifier.emit(spec.message, spec.type, {
      autoClose: spec.autoClose
    });
    this._shown.set(spec.key, { id, message: spec.message, time: now });
    return id;
  }

  /** Forget the notifications of a key prefix (a closed document). */
  forget(prefix: string): void {
    for (const key of Array.from(this._shown.keys())) {
      if (key.startsWith(prefix)) {
        this._shown.delete(key);
      }
    }
  }

  private _notifier: INotifier;
  private _window: number;
  private _now: () => number;
  private _shown = new Map<string, { id: string; message: string; time: number }>();
}
