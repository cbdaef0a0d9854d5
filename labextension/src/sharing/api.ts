/**
 * Client of the sharing, user directory and notifications REST API
 * (docs/sharing-api.md).
 *
 * No JupyterLab UI dependency (only ServerConnection), so it is unit tested
 * with a fake fetch.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { safeColor, safeInitials, safeText } from '../identity';

/** Roles, from most to least. */
export const ROLES = ['owner', 'editor', 'commenter', 'viewer', 'none'] as const;
export type ShareRole = (typeof ROLES)[number];

/** The user key of the share for everyone else. */
export const EVERYONE = '*';

/** One per-user share that applies to a path. */
export interface IShare {
  user: string;
  role: ShareRole;
  grantedBy: string | null;
  /** ISO 8601, or null. */
  time: string | null;
  /** Set on a folder above the path. */
  inherited: boolean;
  /** The path that carries the share (the path itself or a folder). */
  from: string;
  /**
   * What the share really gives when that is less (or other) than its role
   * (the Jupyter server lets the user do less), with the server's sentence;
   * null when the share gives what it says (or an older server).
   */
  limited: string | null;
}

/** The share for everyone else that applies to a path. */
export interface IEveryoneShare {
  role: ShareRole;
  inherited: boolean;
  from: string;
}

/** Reply of GET/PUT /api/collab/shares/{path}. */
export interface IShares {
  path: string;
  shares: IShare[];
  everyone: IEveryoneShare | null;
  /** The caller's own effective role. */
  role: ShareRole;
  /** Whether the caller may change the shares. */
  canManage: boolean;
  /** The users who own the whole server (owners of everything), if told. */
  owners: string[];
  /** Everyone who signs in is the server's own user (token or password login). */
  everyoneOwns: boolean;
  /** The role of people nothing is set for (the server's `default_role`), if told. */
  defaultRole: ShareRole | null;
  /** After a change: why the share does not give what it says, if so. */
  warning: string | null;
}

/** A user of the directory. */
export interface IDirectoryUser {
  username: string;
  name: string;
  display_name: string;
  initials: string;
  color: string | null;
}

/** One notification of the per-user stream. */
export interface IUserNotification {
  id: number;
  type: 'shared' | 'restored' | string;
  time: string;
  read: boolean;
  actor: { username: string; display_name: string } | null;
  path: string | null;
  room: string | null;
  message: string;
  details: Record<string, any>;
}

export interface INotificationPage {
  notifications: IUserNotification[];
  unread: number;
}

/** An error answered by the API (or a network failure: status null). */
export class SharingError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    /** The endpoint itself is missing (an older server). */
    readonly unavailable = false
  ) {
    super(message);
    this.name = 'SharingError';
  }
}

/** What the sharing UI and the notification poller need (a fake in tests). */
export interface ISharingApi {
  getShares(path: string): Promise<IShares>;
  setShare(path: string, user: string, role: ShareRole | null): Promise<IShares>;
  searchUsers(query: string, limit?: number): Promise<IDirectoryUser[]>;
}

export interface INotificationsApi {
  notifications(after: number, limit?: number): Promise<INotificationPage>;
  markRead(target: { ids: number[] } | { upto: number }): Promise<number>;
}

/** The caller's e-mail choices (docs/notifications.md). */
export interface INotificationPreferences {
  /** The address the user gave, or null (the deployer's template applies). */
  email: string | null;
  /** The kinds that also go by e-mail. */
  emailKinds: string[];
  /** Where e-mail goes now, or null (none). */
  address: string | null;
  addressFrom: 'preference' | 'template' | null;
  /** False when the server sends no e-mail at all (no SMTP server). */
  emailEnabled: boolean;
  /** The kinds one may choose. */
  kinds: string[];
}

export interface IPreferencesApi {
  preferences(): Promise<INotificationPreferences>;
  setPreferences(change: {
    email?: string | null;
    emailKinds?: string[];
  }): Promise<INotificationPreferences>;
}

export function normalizePreferences(data: any): INotificationPreferences {
  if (!data || typeof data !== 'object' || !Array.isArray(data.emailKinds)) {
    throw new SharingError('invalid reply: no preferences', 500);
  }
  const strings = (v: unknown) =>
    Array.isArray(v) ? v.filter((k): k is string => typeof k === 'string') : [];
  const from = data.addressFrom;
  return {
    email: str(data.email),
    emailKinds: strings(data.emailKinds),
    address: str(data.address),
    addressFrom: from === 'preference' || from === 'template' ? from : null,
    emailEnabled: data.emailEnabled === true,
    kinds: strings(data.kinds)
  };
}

export function isRole(value: unknown): value is ShareRole {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** A shares reply with every field checked (older or partial replies). */
export function normalizeShares(data: any, path: string): IShares {
  if (!data || typeof data !== 'object' || !Array.isArray(data.shares)) {
    throw new SharingError('invalid reply: no shares', 500);
  }
  const shares: IShare[] = [];
  for (const s of data.shares) {
    if (!s || typeof s.user !== 'string' || !isRole(s.role)) {
      continue;
    }
    shares.push({
      user: s.user,
      role: s.role,
      grantedBy: str(s.grantedBy),
      time: str(s.time),
      inherited: s.inherited === true,
      from: str(s.from) ?? data.path ?? path,
      limited: s.limited === true ? str(s.message) || '' : null
    });
  }
  const e = data.everyone;
  const everyone: IEveryoneShare | null =
    e && typeof e === 'object' && isRole(e.role)
      ? {
          role: e.role,
          inherited: e.inherited === true,
          from: str(e.from) ?? data.path ?? path
        }
      : null;
  return {
    path: str(data.path) ?? path,
    shares,
    everyone,
    role: isRole(data.role) ? data.role : 'viewer',
    canManage: data.canManage === true,
    owners: Array.isArray(data.owners)
      ? data.owners.filter((o: unknown): o is string => typeof o === 'string' && o !== '')
      : [],
    everyoneOwns: data.everyoneOwns === true,
    defaultRole: isRole(data.defaultRole) ? data.defaultRole : null,
    warning: str(data.warning)
  };
}

export function normalizeUser(u: any): IDirectoryUser | null {
  if (!u || typeof u.username !== 'string' || !u.username) {
    return null;
  }
  const username = safeText(u.username);
  if (!username) {
    return null;
  }
  const name = safeText(u.name) ?? username;
  return {
    username,
    name,
    display_name: safeText(u.display_name) || name,
    initials: safeInitials(u.initials) || name.slice(0, 1).toUpperCase(),
    color: safeColor(u.color)
  };
}

export function normalizeNotification(n: any): IUserNotification | null {
  if (!n || typeof n !== 'object' || typeof n.id !== 'number' || typeof n.type !== 'string') {
    return null;
  }
  const actor =
    n.actor && typeof n.actor === 'object' && typeof n.actor.username === 'string'
      ? {
          username: n.actor.username,
          display_name: str(n.actor.display_name) || n.actor.username
        }
      : null;
  return {
    id: n.id,
    type: n.type,
    time: str(n.time) ?? '',
    read: n.read === true,
    actor,
    path: str(n.path),
    room: str(n.room),
    message: str(n.message) ?? '',
    details: n.details && typeof n.details === 'object' ? n.details : {}
  };
}

/**
 * The REST client.
 */
export class SharingClient implements ISharingApi, INotificationsApi, IPreferencesApi {
  constructor(settings: ServerConnection.ISettings) {
    this.serverSettings = settings;
  }

  readonly serverSettings: ServerConnection.ISettings;

  /** URL of an endpoint, with the query parameters that are set. */
  url(
    endpoint: string,
    path: string | null = null,
    query: Record<string, string | number | null | undefined> = {}
  ): string {
    let base = URLExt.join(this.serverSettings.baseUrl, 'api/collab', endpoint);
    if (path !== null) {
      base = URLExt.join(base, URLExt.encodeParts(path.replace(/^\/+/, '')));
    }
    const params: string[] = [];
    for (const [key, value] of Object.entries(query)) {
      if (value !== null && value !== undefined) {
        params.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
      }
    }
    return params.length ? `${base}?${params.join('&')}` : base;
  }

  async getShares(path: string): Promise<IShares> {
    return normalizeShares(await this._request(this.url('shares', path)), path);
  }

  async setShare(path: string, user: string, role: ShareRole | null): Promise<IShares> {
    if (!user) {
      throw new SharingError('no user given', 400);
    }
    if (role !== null && !isRole(role)) {
      throw new SharingError(`unknown role: ${role}`, 400);
    }
    const data = await this._request(this.url('shares', path), {
      method: 'PUT',
      body: JSON.stringify({ user, role })
    });
    return normalizeShares(data, path);
  }

  async searchUsers(query: string, limit = 20): Promise<IDirectoryUser[]> {
    const data = await this._request(this.url('users', null, { q: query, limit }));
    if (!data || !Array.isArray(data.users)) {
      throw new SharingError('invalid reply: no users', 500);
    }
    return data.users.map(normalizeUser).filter((u: IDirectoryUser | null) => u !== null);
  }

  async notifications(after: number, limit = 50): Promise<INotificationPage> {
    const data = await this._request(this.url('notifications', null, { after, limit }));
    if (!data || !Array.isArray(data.notifications)) {
      throw new SharingError('invalid reply: no notifications', 500);
    }
    const list = data.notifications
      .map(normalizeNotification)
      .filter((n: IUserNotification | null) => n !== null) as IUserNotification[];
    list.sort((a, b) => a.id - b.id);
    return { notifications: list, unread: Number(data.unread ?? 0) };
  }

  async markRead(target: { ids: number[] } | { upto: number }): Promise<number> {
    const data = await this._request(this.url('notifications/read'), {
      method: 'POST',
      body: JSON.stringify(target)
    });
    return Number(data?.unread ?? 0);
  }

  async preferences(): Promise<INotificationPreferences> {
    return normalizePreferences(await this._request(this.url('notifications/preferences')));
  }

  async setPreferences(change: {
    email?: string | null;
    emailKinds?: string[];
  }): Promise<INotificationPreferences> {
    const data = await this._request(this.url('notifications/preferences'), {
      method: 'PUT',
      body: JSON.stringify(change)
    });
    return normalizePreferences(data);
  }

  /** The push socket's URL, asking for what came after `after`. */
  pushUrl(after: number): string {
    const settings = this.serverSettings;
    let url = URLExt.join(settings.wsUrl, 'api/collab/notifications/ws');
    url += `?after=${Math.max(0, Math.floor(after))}`;
    if (settings.appendToken && settings.token) {
      url += `&token=${encodeURIComponent(settings.token)}`;
    }
    return url;
  }

  private async _request(url: string, init: RequestInit = {}): Promise<any> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.serverSettings);
    } catch (err) {
      throw new SharingError(String((err as Error)?.message ?? err), null);
    }
    if (!response.ok) {
      const isJson = (response.headers.get('Content-Type') ?? '').includes('json');
      let message = response.statusText || `HTTP ${response.status}`;
      if (response.status === 404 && !isJson) {
        throw new SharingError('the server has no sharing API', 404, true);
      }
      try {
        const body = await response.json();
        message = body?.message || body?.reason || message;
      } catch {
        // not JSON
      }
      throw new SharingError(message, response.status);
    }
    try {
      return await response.json();
    } catch {
      throw new SharingError('invalid reply: not JSON', response.status);
    }
  }
}
