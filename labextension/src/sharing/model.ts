/**
 * What the sharing dialog shows and does, without any DOM: rows of who has
 * which role, the role for everyone else, the user search and the changes
 * (unit tested with a fake API).
 */
import { ISignal, Signal } from '@lumino/signaling';

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

/** The name a role is shown with. */
export function roleLabel(role: ShareRole | null, trans: ITrans): string {
  switch (role) {
    case 'owner':
      return trans.__('Owner');
    case 'editor':
      return trans.__('Editor');
    case 'viewer':
      return trans.__('Viewer');
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
      return trans.__('Can edit and change who has access');
    case 'editor':
      return trans.__('Can edit');
    case 'viewer':
      return trans.__('Can view, not edit');
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
      return trans.__('editor');
    case 'viewer':
      return trans.__('viewer');
    case 'none':
      return trans.__('no access');
    default:
      return '';
  }
}

/** Where an inherited share comes from. */
export function inheritedText(from: string, trans: ITrans): string {
  return from
    ? trans.__('inherited from the folder “%1”', from)
    : trans.__('inherited from the root folder');
}

/** One person in the list. */
export interface IShareRow {
  user: string;
  /** Display name (or the username). */
  label: string;
  /** The username, when it differs from the label. */
  detail: string | null;
  initials: string;
  color: string | null;
  role: ShareRole;
  inherited: boolean;
  from: string;
  grantedBy: string | null;
  isSelf: boolean;
  /** The role can be changed here (an owner; an inherited share is overridden on this path). */
  canChange: boolean;
  /** The share is on this path and can be removed. */
  canRemove: boolean;
}

const RANK: Record<string, number> = { owner: 0, editor: 1, viewer: 2, none: 3 };

/**
 * The rows of the list: the path's own shares, then inherited ones; by role
 * (owners first), then by name.
 */
export function shareRows(
  shares: IShares,
  directory: ReadonlyMap<string, IDirectoryUser>,
  self: string | null
): IShareRow[] {
  const rows = shares.shares
    .filter(s => s.user !== EVERYONE)
    .map(s => {
      const user = directory.get(s.user);
      const label = user?.display_name || user?.name || s.user;
      return {
        user: s.user,
        label,
        detail: label !== s.user ? s.user : null,
        initials: user?.initials || s.user.slice(0, 1).toUpperCase(),
        color: user?.color ?? null,
        role: s.role,
        inherited: s.inherited,
        from: s.from,
        grantedBy: s.grantedBy,
        isSelf: !!self && s.user === self,
        canChange: shares.canManage,
        canRemove: shares.canManage && !s.inherited
      };
    });
  rows.sort(
    (a, b) =>
      Number(a.inherited) - Number(b.inherited) ||
      (RANK[a.role] ?? 9) - (RANK[b.role] ?? 9) ||
      a.label.localeCompare(b.label)
  );
  return rows;
}

/** The sentence about the caller's own access. */
export function ownAccessText(shares: IShares, trans: ITrans): string {
  if (shares.canManage) {
    return trans.__('You are an owner: you can change who has access.');
  }
  switch (shares.role) {
    case 'editor':
      return trans.__('You can edit this, but only its owners can change who has access.');
    case 'viewer':
      return trans.__('You can view this, but only its owners can change who has access.');
    default:
      return trans.__('Only the owners can change who has access.');
  }
}

/** The sentence about everyone else. */
export function everyoneText(shares: IShares, trans: ITrans): string {
  const e = shares.everyone;
  if (!e) {
    return trans.__(
      'Everyone else: nothing set here or above, so the server’s default role applies (never more than Jupyter lets them do).'
    );
  }
  const role = roleInSentence(e.role, trans);
  return e.inherited
    ? trans.__('Everyone else: %1 (%2).', role, inheritedText(e.from, trans))
    : trans.__('Everyone else: %1.', role);
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
        role === null
          ? user === EVERYONE
            ? this._trans.__('The role for everyone else was removed.')
            : this._trans.__('%1’s share was removed.', name)
          : this._trans.__('%1: %2.', name, roleLabel(role, this._trans));
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
