/**
 * Client of the history REST API (docs/history-api.md): versions, content
 * of a version, diff, naming, restore and attribution.
 *
 * No JupyterLab UI dependency (only ServerConnection), so it is unit tested
 * with a fake fetch.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IAwarenessUser } from '../presencemodel';

/** What a restore restored: a version, by its name and time. */
export interface IVersionReference {
  id: number | null;
  name: string | null;
  /** ISO 8601, UTC. */
  time: string | null;
  kind: string | null;
}

/** One version of a document. */
export interface IVersion {
  id: number;
  seq: number;
  /** ISO 8601, UTC. */
  time: string;
  name: string | null;
  /** 'opened' | 'auto' | 'save' | 'named' | 'restore' (others may come). */
  kind: string;
  /** Who made the version point (named, saved, restored): not its authors. */
  createdBy: string | null;
  /** Who wrote the changes since the previous version point. */
  authors: string[];
  changeBytes: number;
  size: number;
  /** A restore: the version it restored. */
  restoredFrom: IVersionReference | null;
}

/**
 * Who the usernames of a reply are (name, initials, colour), also for
 * people who are not in the room: `{username: identity}`.
 */
export type IUsers = Record<string, IAwarenessUser>;

/** A page of versions, newest first. */
export interface IVersionPage {
  versions: IVersion[];
  /** Pass as `before` to get the next (older) page. */
  next: number | null;
  users: IUsers;
}

/** The content of a version. */
export interface IVersionContent {
  version: IVersion;
  type: 'file' | 'notebook' | 'blob' | string;
  format: 'text' | 'json' | 'base64' | string;
  /** A string (text, base64) or an nbformat 4 notebook. */
  content: any;
  users?: IUsers;
}

/** One cell of a notebook diff. */
export interface ICellDiff {
  id: string | null;
  cellType: string;
  status: 'added' | 'removed' | 'modified' | 'unchanged' | string;
  moved: boolean;
  oldIndex: number | null;
  newIndex: number | null;
  sourceChanged: boolean;
  outputsChanged: boolean;
  metadataChanged: boolean;
  sourceDiff: string | null;
}

export interface ITextDiff {
  type: 'text';
  from: number | string;
  to: number | string;
  diff: string;
  added: number;
  removed: number;
  authors: string[];
  users?: IUsers;
}

export interface INotebookDiff {
  type: 'notebook';
  from: number | string;
  to: number | string;
  authors: string[];
  metadataChanged: boolean;
  cells: ICellDiff[];
  /** The notebook's language (its `language_info`, or its kernel's language). */
  language?: { name?: string; [key: string]: any } | null;
  users?: IUsers;
}

export interface IBlobDiff {
  type: 'blob';
  from: number | string;
  to: number | string;
  changed: boolean;
  oldSize: number;
  newSize: number;
  authors: string[];
  users?: IUsers;
}

export type IDiff = ITextDiff | INotebookDiff | IBlobDiff;

/** Reply of a restore. */
export interface IRestoreResult {
  restored: number;
  before: IVersion;
  version: IVersion;
  users?: IUsers;
}

export interface ILineAttribution {
  line: number;
  user: string | null;
  origin: string;
  time: string | null;
  authors: string[];
  changed: boolean;
  /** Who restored the line as it was (it is still credited to `user`). */
  restoredBy?: string | null;
}

export interface ICellAttribution {
  id: string;
  index: number;
  createdBy: string | null;
  user: string | null;
  origin: string;
  time: string | null;
  authors: string[];
  changed: boolean;
  restoredBy?: string | null;
}

export type IAttribution =
  | { type: 'text'; lines: ILineAttribution[]; users?: IUsers }
  | { type: 'notebook'; cells: ICellAttribution[]; users?: IUsers };

/** An error answered by the history API (or a network failure: status null). */
export class HistoryError extends Error {
  constructor(
    message: string,
    readonly status: number | null
  ) {
    super(message);
    this.name = 'HistoryError';
  }

  /** The version's log was compacted: it cannot be rebuilt any more. */
  get isGone(): boolean {
    return this.status === 409;
  }

  get isForbidden(): boolean {
    return this.status === 403;
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }
}

/** What the history UI needs from the server (a fake in tests). */
export interface IHistoryApi {
  listVersions(
    room: string,
    options?: { limit?: number; before?: number | null }
  ): Promise<IVersionPage>;
  getVersion(room: string, id: number): Promise<IVersionContent>;
  diff(room: string, from: number, to?: number | 'current'): Promise<IDiff>;
  nameVersion(room: string, name: string): Promise<IVersion>;
  restore(room: string, version: number): Promise<IRestoreResult>;
  attribution(
    room: string,
    options?: { at?: number | 'current'; since?: number | null }
  ): Promise<IAttribution>;
}

/** Longest version name the server accepts. */
export const MAX_NAME_LENGTH = 200;

/**
 * The history REST client.
 */
export class HistoryClient implements IHistoryApi {
  constructor(settings: ServerConnection.ISettings) {
    this.serverSettings = settings;
  }

  readonly serverSettings: ServerConnection.ISettings;

  /** URL of a document endpoint, with the query parameters that are set. */
  url(
    room: string,
    parts: string[],
    query: Record<string, string | number | null | undefined> = {}
  ): string {
    const base = URLExt.join(
      this.serverSettings.baseUrl,
      'api/collab/documents',
      encodeURIComponent(room),
      ...parts.map(p => encodeURIComponent(p))
    );
    const params: string[] = [];
    for (const [key, value] of Object.entries(query)) {
      if (value !== null && value !== undefined && value !== '') {
        params.push(
          `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`
        );
      }
    }
    return params.length ? `${base}?${params.join('&')}` : base;
  }

  async listVersions(
    room: string,
    options: { limit?: number; before?: number | null } = {}
  ): Promise<IVersionPage> {
    const data = await this._request(
      this.url(room, ['versions'], {
        limit: options.limit,
        before: options.before
      })
    );
    if (!data || !Array.isArray(data.versions)) {
      throw new HistoryError('invalid reply: no versions', 500);
    }
    return {
      versions: data.versions.map(normalizeVersion),
      next: typeof data.next === 'number' ? data.next : null,
      users: normalizeUsers(data.users)
    };
  }

  async getVersion(room: string, id: number): Promise<IVersionContent> {
    const data = await this._request(this.url(room, ['versions', String(id)]));
    return {
      ...data,
      version: normalizeVersion(data?.version ?? {}),
      users: normalizeUsers(data?.users)
    };
  }

  async diff(
    room: string,
    from: number,
    to: number | 'current' = 'current'
  ): Promise<IDiff> {
    const data = await this._request(this.url(room, ['diff'], { from, to }));
    return { ...data, users: normalizeUsers(data?.users) };
  }

  async nameVersion(room: string, name: string): Promise<IVersion> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > MAX_NAME_LENGTH) {
      throw new HistoryError(
        `a version name has 1 to ${MAX_NAME_LENGTH} characters`,
        400
      );
    }
    const data = await this._request(this.url(room, ['versions']), {
      method: 'POST',
      body: JSON.stringify({ name: trimmed })
    });
    return normalizeVersion(data?.version ?? {});
  }

  async restore(room: string, version: number): Promise<IRestoreResult> {
    const data = await this._request(this.url(room, ['restore']), {
      method: 'POST',
      body: JSON.stringify({ version })
    });
    return {
      restored: data?.restored,
      before: normalizeVersion(data?.before ?? {}),
      version: normalizeVersion(data?.version ?? {}),
      users: normalizeUsers(data?.users)
    };
  }

  async attribution(
    room: string,
    options: { at?: number | 'current'; since?: number | null } = {}
  ): Promise<IAttribution> {
    const data = await this._request(
      this.url(room, ['attribution'], {
        at: options.at ?? 'current',
        since: options.since
      })
    );
    return { ...data, users: normalizeUsers(data?.users) };
  }

  private async _request(url: string, init: RequestInit = {}): Promise<any> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        init,
        this.serverSettings
      );
    } catch (err) {
      throw new HistoryError(String((err as Error)?.message ?? err), null);
    }
    if (!response.ok) {
      let message = response.statusText || `HTTP ${response.status}`;
      try {
        const body = await response.json();
        message = body?.message || body?.reason || message;
      } catch {
        // not JSON
      }
      throw new HistoryError(message, response.status);
    }
    try {
      return await response.json();
    } catch {
      throw new HistoryError('invalid reply: not JSON', response.status);
    }
  }
}

/** A version with every field present (older or partial replies). */
export function normalizeVersion(v: any): IVersion {
  return {
    id: Number(v?.id),
    seq: Number(v?.seq ?? 0),
    time: typeof v?.time === 'string' ? v.time : '',
    name: typeof v?.name === 'string' && v.name ? v.name : null,
    kind: typeof v?.kind === 'string' ? v.kind : 'auto',
    createdBy: typeof v?.createdBy === 'string' ? v.createdBy : null,
    authors: Array.isArray(v?.authors)
      ? v.authors.filter((a: unknown) => typeof a === 'string')
      : [],
    changeBytes: Number(v?.changeBytes ?? 0),
    size: Number(v?.size ?? 0),
    restoredFrom: normalizeReference(v?.restoredFrom)
  };
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value ? value : null;
}

function normalizeReference(r: any): IVersionReference | null {
  if (!r || typeof r !== 'object') {
    return null;
  }
  return {
    id: typeof r.id === 'number' ? r.id : null,
    name: text(r.name),
    time: text(r.time),
    kind: text(r.kind)
  };
}

// A colour goes into style properties: only plain colour values (no url(), no ";").
const COLOR = /^(#[0-9a-f]{3,8}|[a-z]{3,30}|(rgb|hsl)a?\([0-9\s.,%/]+\))$/i;

function safeColor(value: unknown): string | null {
  return typeof value === 'string' && COLOR.test(value.trim()) ? value.trim() : null;
}

/** The `users` map of a reply, keeping only well-formed string fields. */
export function normalizeUsers(users: any): IUsers {
  const result: IUsers = {};
  if (!users || typeof users !== 'object' || Array.isArray(users)) {
    return result;
  }
  for (const [username, u] of Object.entries<any>(users)) {
    if (!u || typeof u !== 'object') {
      continue;
    }
    result[username] = {
      username,
      name: text(u.name) ?? undefined,
      display_name: text(u.display_name) ?? undefined,
      initials: text(u.initials) ?? undefined,
      color: safeColor(u.color)
    };
  }
  return result;
}
