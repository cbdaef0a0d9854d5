/**
 * The people history names: identities from the `users` map of history
 * replies (the server's user directory: also people who are not in the
 * room), merged with the awareness states of the rooms open here.
 */
import { IAwarenessUser } from '../presencemodel';
import { IUsers } from './api';

export class HistoryUsers {
  /** Add the identities of a reply (newer replies win). */
  merge(users: IUsers | null | undefined): void {
    if (!users) {
      return;
    }
    for (const [username, user] of Object.entries(users)) {
      this._users.set(username, { ...user, username });
    }
  }

  get(username: string): IAwarenessUser | undefined {
    return this._users.get(username);
  }

  /**
   * Everybody known, by username: the replies' identities, completed by
   * `live` (awareness states) for people no reply named yet.
   */
  known(
    live: ReadonlyMap<string, IAwarenessUser> = new Map()
  ): ReadonlyMap<string, IAwarenessUser> {
    const all = new Map(live);
    for (const [username, user] of this._users) {
      all.set(username, { ...live.get(username), ...definedOnly(user) });
    }
    return all;
  }

  private _users = new Map<string, IAwarenessUser>();
}

function definedOnly(user: IAwarenessUser): IAwarenessUser {
  const out: IAwarenessUser = {};
  for (const [key, value] of Object.entries(user)) {
    if (value !== undefined && value !== null && value !== '') {
      (out as any)[key] = value;
    }
  }
  return out;
}
