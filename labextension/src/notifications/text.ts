/**
 * The words of the bell and of the e-mail preferences form, and the request
 * the form makes. No DOM dependency: unit tested.
 */
import { INotificationPreferences } from '../sharing/api';
import { ITrans } from '../sharing/model';

/** The bell's label and title for an unread count and the socket's state. */
export function bellText(
  unread: number,
  connected: boolean,
  trans: ITrans
): { label: string; title: string } {
  const count = unread > 99 ? '99+' : String(Math.max(0, unread));
  const title =
    unread > 0
      ? unread === 1
        ? trans.__('1 unread notification')
        : trans.__('%1 unread notifications', unread)
      : trans.__('No unread notifications');
  return {
    label: unread > 0 ? count : '',
    title: connected
      ? title
      : trans.__('%1 (checking every few seconds: the live connection is down)', title)
  };
}

/** The words people read for a kind (unknown kinds: the kind itself). */
export function kindLabel(kind: string, trans: ITrans): string {
  switch (kind) {
    case 'shared':
      return trans.__('A document is shared with me, or my access changes');
    case 'restored':
      return trans.__('A document I wrote is restored to an earlier version');
    case 'mentioned':
      return trans.__('Someone mentions me in a comment');
    case 'reply':
      return trans.__('Someone replies in a thread I am in');
    case 'resolved':
      return trans.__('A thread I am in is resolved');
    default:
      return kind;
  }
}

/**
 * The request for what the form shows: only what changed (an untouched
 * address is not sent, so the deployer's template keeps applying).
 */
export function preferencesChange(
  current: INotificationPreferences,
  chosen: { kinds: Iterable<string>; email: string }
): { email?: string | null; emailKinds?: string[] } {
  const change: { email?: string | null; emailKinds?: string[] } = {};
  const wanted = new Set(chosen.kinds);
  const kinds = current.kinds.filter(k => wanted.has(k));
  const same =
    kinds.length === current.emailKinds.length && kinds.every(k => current.emailKinds.includes(k));
  if (!same) {
    change.emailKinds = kinds;
  }
  const email = chosen.email.trim();
  if (email !== (current.email ?? '')) {
    change.email = email === '' ? null : email;
  }
  return change;
}
