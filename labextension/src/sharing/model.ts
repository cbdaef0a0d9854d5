/**
 * What the sharing dialog shows and does, without any DOM: rows of who has
 * which role, the role for everyone else, the user search and the changes
 * (unit tested with a fake API).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { userColor, userInitials } from '../presencemodel';
import {
  EVERYONE,
  IDirectoryUser,
  IShares,
  ISharingApi,
  ROLES,
  ShareRole,
  SharingError
} from './api';

/** The part of a TranslationBundle used here. */
export interface ITrans {
  __(msg: string, ...args: any[]): string;
}

/** The name a role is shown with: what it lets one do, in plain words. */
export function roleLabel(role: ShareRole | null, trans: ITrans): string {
  switch (role) {
    case 'owner':
      return trans.__('Owner');
    case 'editor':
      return trans.__('Can edit');
    case 'commenter':
      return trans.__('Can comment');
    case 'viewer':
      return trans.__('Can view');
    case 'none':
      return trans.__('No access');
    default:
      return trans.__('Not set');
  }
}

/** What a role allows (a tooltip). */
export function roleDescription(role: ShareRole, trans: ITrans): string {
  switch (role) {
    case 'owner':
      return trans.__('Can edit, and choose who has access');
    case 'editor':
      return trans.__('Can open and change it');
    case 'commenter':
      return trans.__('Can open and read it, and comment on it, but not change it or run its code');
    case 'viewer':
      return trans.__('Can open and read it, but not change it or run its code');
    case 'none':
      return trans.__('Cannot open it');
  }
}

/** The role in a sentence ("as editor"): lower case. */
export function roleInSentence(role: ShareRole | null, trans: ITrans): string {
  switch (role) {
    case 'owner':
      return trans.__('owner');
    case 'editor':
      return trans.__('can edit');
    case 'commenter':
      return trans.__('can comment');
    case 'viewer':
      return trans.__('can view');
    case 'none':
      return trans.__('no access');
    default:
      return '';
  }
}

/** Where an inherited share comes from. */
export function inheritedText(from: string, trans: ITrans): string {
  return from
    ? trans.__('from the folder “%1”', from)
    : trans.__('from the top folder');
}

/** One person in the list. */
export interface IShareRow {
  user: string;
  /** Display name (or the username). */
  label: string;
  /** The username, when it differs from the label. */
  detail: string | null;
  initials: string;
  /** Their colour (checked, as everywhere else: see presencemodel.userColor). */
  color: string;
  role: ShareRole;
  inherited: boolean;
  from: string;
  grantedBy: string | null;
  isSelf: boolean;
  /** Owns the whole server: an owner of everything, whatever is shared. */
  serverOwner: boolean;
  /** Why the share does not give what it says (the server's sentence), if so. */
  limited: string | null;
  /** The role can be changed here (an owner; an inherited share is overridden on this path). */
  canChange: boolean;
  /** The share is on this path and can be removed. */
  canRemove: boolean;
}

const RANK: Record<string, number> = { owner: 0, editor: 1, commenter: 2, viewer: 3, none: 4 };

/**
 * The rows of the list: the owners of the server (who own everything),
 * then the path's own shares, then inherited ones; by role (owners first),
 * then by name. When the server does not say who owns it and the caller
 * may manage the shares, the caller is listed as an owner.
 */
export function shareRows(
  shares: IShares,
  directory: ReadonlyMap<string, IDirectoryUser>,
  self: string | null
): IShareRow[] {
  const row = (
    user: string,
    role: ShareRole,
    extra: Partial<IShareRow>
  ): IShareRow => {
    const known = directory.get(user);
    const label = known?.display_name || known?.name || user;
    return {
      user,
      label,
      detail: label !== user ? user : null,
      initials: userInitials(known ? { initials: known.initials } : undefined, label),
      color: userColor(known ? { color: known.color, username: user } : undefined, user),
      role,
      inherited: false,
      from: shares.path,
      grantedBy: null,
      isSelf: !!self && user === self,
      serverOwner: false,
      limited: null,
      canChange: false,
      canRemove: false,
      ...extra
    };
  };
  const owners = new Set(shares.owners);
  const rows = shares.shares
    .filter(s => s.user !== EVERYONE)
    .map(s =>
      row(s.user, owners.has(s.user) ? 'owner' : s.role, {
        inherited: s.inherited,
        from: s.from,
        grantedBy: s.grantedBy,
        serverOwner: owners.has(s.user),
        limited: s.limited,
        canChange: shares.canManage && !owners.has(s.user),
        canRemove: shares.canManage && !s.inherited && !owners.has(s.user)
      })
    );
  const listed = new Set(rows.map(r => r.user));
  for (const owner of shares.owners) {
    if (!listed.has(owner)) {
      rows.push(row(owner, 'owner', { serverOwner: true }));
      listed.add(owner);
    }
  }
  if (!shares.owners.length && !shares.everyoneOwns && shares.canManage && self && !listed.has(self)) {
    rows.push(row(self, 'owner', {}));
  }
  rows.sort(
    (a, b) =>
      Number(b.serverOwner) - Number(a.serverOwner) ||
      Number(a.inherited) - Number(b.inherited) ||
      (RANK[a.role] ?? 9) - (RANK[b.role] ?? 9) ||
      a.label.localeCompare(b.label)
  );
  return rows;
}

/** The sentence about the caller's own access. */
export function ownAccessText(shares: IShares, trans: ITrans): string {
  if (shares.canManage) {
    return trans.__('You are an owner: you can edit this and choose who has access.');
  }
  switch (shares.role) {
    case 'editor':
      return trans.__('You can edit this. Only its owners can choose who has access.');
    case 'commenter':
      return trans.__('You can view and comment on this, but not change it. Only its owners can choose who has access.');
    case 'viewer':
      return trans.__('You can view this, but not change it. Only its owners can choose who has access.');
    default:
      return trans.__('Only its owners can choose who has access.');
  }
}

/** A sentence when everyone who signs in owns the server (else null). */
export function ownersText(shares: IShares, trans: ITrans): string | null {
  return shares.everyoneOwns
    ? trans.__(
        'Everyone who signs in to this server with its token or password is an owner of everything on it: shares only matter for people who sign in differently.'
      )
    : null;
}

/** The sentence about everyone else. */
export function everyoneText(shares: IShares, trans: ITrans): string {
  const e = shares.everyone;
  if (!e) {
    return shares.defaultRole
      ? trans.__('Everyone else: %1 (this server’s default).', roleLabel(shares.defaultRole, trans))
      : trans.__('Everyone else: what this server allows by default.');
  }
  const role = roleLabel(e.role, trans);
  return e.inherited
    ? trans.__('Everyone else: %1 (%2).', role, inheritedText(e.from, trans))
    : trans.__('Everyone else: %1.', role);
}

/** The confirmation of a change ("Bob can now view this."). */
export function changedText(name: string, role: ShareRole | null, trans: ITrans): string {
  switch (role) {
    case 'owner':
      return trans.__('%1 is now an owner.', name);
    case 'editor':
      return trans.__('%1 can now edit this.', name);
    case 'commenter':
      return trans.__('%1 can now view and comment on this, but not change it.', name);
    case 'viewer':
      return trans.__('%1 can now view this, but not change it.', name);
    case 'none':
      return trans.__('%1 no longer has access.', name);
    default:
      return trans.__('%1 was taken off the list: they keep any access the folders above give them.', name);
  }
}

/** A clear message for a failed request. */
export function errorText(err: unknown, path: string, trans: ITrans): string {
  const name = path || trans.__('the root folder');
  if (err instanceof SharingError) {
    if (err.unavailable) {
      return trans.__('This server does not support sharing (the jupyter-collab server extension is missing or too old).');
    }
    switch (err.status) {
      case null:
        return trans.__('The server could not be reached: %1', err.message);
      case 400:
        return trans.__('The change was refused: %1', err.message);
      case 403:
        return trans.__('You are not allowed to do this on “%1”: %2', name, err.message);
      case 404:
        return trans.__('Not found: %1', err.message);
      default:
        return trans.__('The server answered with an error (%1): %2', err.status, err.message);
    }
  }
  return trans.__('Unexpected error: %1', String((err as Error)?.message ?? err));
}

/** Roles offered for a person (and for everyone else). */
export const ASSIGNABLE_ROLES: readonly ShareRole[] = ROLES;

/**
 * The state of one sharing dialog.
 */
export class SharingModel {
  constructor(options: SharingModel.IOptions) {
    this.path = options.path;
    this._api = options.api;
    this._trans = options.trans;
    this.self = options.self ?? null;
  }

  readonly path: string;
  readonly self: string | null;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get shares(): IShares | null {
    return this._shares;
  }

  get loading(): boolean {
    return this._loading;
  }

  /** The last error, as a sentence (cleared by the next success). */
  get error(): string | null {
    return this._error;
  }

  /** A short confirmation of the last change ("Bob is now a viewer"). */
  get status(): string | null {
    return this._status;
  }

  /** Users with a change under way. */
  isBusy(user: string): boolean {
    return this._busy.has(user);
  }

  get canManage(): boolean {
    return !!this._shares?.canManage;
  }

  get rows(): IShareRow[] {
    return this._shares ? shareRows(this._shares, this._directory, this.self) : [];
  }

  get query(): string {
    return this._query;
  }

  get results(): readonly IDirectoryUser[] {
    return this._results;
  }

  get searching(): boolean {
    return this._searching;
  }

  /** The role a user has on this path (own or inherited), or null. */
  roleOf(user: string): ShareRole | null {
    return this._shares?.shares.find(s => s.user === user)?.role ?? null;
  }

  /** Everyone known by username (display names of the list). */
  get directory(): ReadonlyMap<string, IDirectoryUser> {
    return this._directory;
  }

  /** Remember users (from a search, or awareness) to show their names. */
  addUsers(users: Iterable<IDirectoryUser>): void {
    for (const u of users) {
      this._directory.set(u.username, u);
    }
  }

  async load(): Promise<void> {
    this._loading = true;
    this._emit();
    try {
      this._shares = await this._api.getShares(this.path);
      this._error = null;
      await this._fillNames();
    } catch (err) {
      this._error = errorText(err, this.path, this._trans);
    } finally {
      this._loading = false;
      this._emit();
    }
  }

  /**
   * Set a user's role (`EVERYONE` for everyone else); null removes the
   * share. Returns whether it was applied.
   */
  async setRole(user: string, role: ShareRole | null): Promise<boolean> {
    if (!this.canManage) {
      return false;
    }
    if (this._busy.has(user)) {
      // Applied after the change under way (the last choice wins: arrow
      // keys on a role menu change it several times in a row).
      this._queued.set(user, role);
      return false;
    }
    this._busy.add(user);
    this._status = null;
    this._emit();
    try {
      this._shares = await this._api.setShare(this.path, user, role);
      this._error = null;
      const name =
        user === EVERYONE
          ? this._trans.__('Everyone else')
          : this._directory.get(user)?.display_name || user;
      this._status =
        user === EVERYONE
          ? role === null
            ? this._trans.__('Everyone else now gets what the folders above and the server give.')
            : this._trans.__('Everyone else: %1.', roleLabel(role, this._trans))
          : changedText(name, role, this._trans);
      if (this._shares.warning) {
        this._status = `${this._status} ${this._shares.warning}`;
      }
      await this._fillNames();
      return true;
    } catch (err) {
      this._error = errorText(err, this.path, this._trans);
      return false;
    } finally {
      this._busy.delete(user);
      this._emit();
      if (this._queued.has(user)) {
        const next = this._queued.get(user)!;
        this._queued.delete(user);
        if (next !== this._ownRole(user)) {
          void this.setRole(user, next);
        }
      }
    }
  }

  /** Search the user directory; older answers never replace newer ones. */
  async search(query: string): Promise<void> {
    this._query = query;
    const q = query.trim();
    const seq = ++this._searchSeq;
    if (!q) {
      this._results = [];
      this._searching = false;
      this._emit();
      return;
    }
    this._searching = true;
    this._emit();
    try {
      const users = await this._api.searchUsers(q, 20);
      if (seq !== this._searchSeq) {
        return;
      }
      this.addUsers(users);
      this._results = users;
      this._error = null;
    } catch (err) {
      if (seq !== this._searchSeq) {
        return;
      }
      this._results = [];
      this._error = errorText(err, this.path, this._trans);
    } finally {
      if (seq === this._searchSeq) {
        this._searching = false;
        this._emit();
      }
    }
  }

  dispose(): void {
    Signal.clearData(this);
  }

  /** The role set on this very path for a user (or everyone else), or null. */
  private _ownRole(user: string): ShareRole | null {
    if (user === EVERYONE) {
      const e = this._shares?.everyone;
      return e && !e.inherited ? e.role : null;
    }
    return this._shares?.shares.find(s => s.user === user && !s.inherited)?.role ?? null;
  }

  /** Look up display names of listed users not known yet (best effort). */
  private async _fillNames(): Promise<void> {
    const missing = (this._shares?.shares ?? [])
      .map(s => s.user)
      .filter(u => u !== EVERYONE && !this._directory.has(u) && !this._looked.has(u));
    for (const user of missing.slice(0, 10)) {
      this._looked.add(user);
      try {
        const found = await this._api.searchUsers(user, 5);
        this.addUsers(found.filter(u => u.username === user));
      } catch {
        return; // names are a nicety
      }
    }
  }

  private _emit(): void {
    this._changed.emit();
  }

  private _api: ISharingApi;
  private _trans: ITrans;
  private _shares: IShares | null = null;
  private _loading = false;
  private _error: string | null = null;
  private _status: string | null = null;
  private _busy = new Set<string>();
  private _queued = new Map<string, ShareRole | null>();
  private _query = '';
  private _results: IDirectoryUser[] = [];
  private _searching = false;
  private _searchSeq = 0;
  private _directory = new Map<string, IDirectoryUser>();
  private _looked = new Set<string>();
  private _changed = new Signal<this, void>(this);
}

export namespace SharingModel {
  export interface IOptions {
    path: string;
    api: ISharingApi;
    trans: ITrans;
    /** Our username. */
    self?: string | null;
  }
}
