/**
 * Client of the comments REST API (docs/comments-api.md): the threads of a
 * document, new threads, replies, edits, deletions, resolve and reopen.
 *
 * No JupyterLab UI dependency (only ServerConnection), so it is unit tested
 * with a fake fetch.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IUsers, normalizeUsers } from '../history/api';

/**
 * Where a thread is: a notebook cell (`cell` only), or a range of a text
 * (a file, `cell: null`, or a cell's source) as two Yjs relative positions
 * (`Y.encodeRelativePosition`, base64), with the text that was selected.
 */
export interface IAnchor {
  cell: string | null;
  start: string | null;
  end: string | null;
  quote: string | null;
}

/** One comment of a thread. */
export interface IComment {
  id: string;
  author: string;
  body: string;
  /** ISO 8601. */
  created: string;
  /** ISO 8601 of the last edit, or null. */
  edited: string | null;
  /** Usernames mentioned in the body (as the server read them). */
  mentions: string[];
}

/** A thread: its anchor, state and comments (oldest first). */
export interface IThread {
  id: string;
  anchor: IAnchor;
  resolved: boolean;
  resolvedBy: string | null;
  resolvedAt: string | null;
  /** The server found the anchored text gone (the thread is kept). */
  detached: boolean;
  /**
   * The room (document kind and file id) the anchor is in: a notebook opened
   * in the text editor has other threads. Null from servers that do not say.
   */
  room: string | null;
  author: string;
  created: string;
  comments: IComment[];
}

/** Reply of `GET /api/collab/comments?path=`. */
export interface IThreadList {
  path: string;
  threads: IThread[];
  users: IUsers;
  /** Whether the caller may write comments (when the server says). */
  canComment: boolean | null;
  /** The caller's effective role (when the server says). */
  role: string | null;
}

/** Reply of a new thread or a reply: who was notified, who cannot read. */
export interface IPostResult {
  thread: IThread | null;
  comment: IComment | null;
  /** Mentioned people who were notified. */
  mentioned: string[];
  /** Mentioned people who may not read the document (offer a share). */
  unreachable: string[];
  users: IUsers;
}

/** Longest comment body the UI sends (the server has its own limit). */
export const MAX_BODY_LENGTH = 10000;

/** An error answered by the comments API (or a network failure: status null). */
export class CommentsError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    /** The endpoint itself is missing (an older server). */
    readonly unavailable = false
  ) {
    super(message);
    this.name = 'CommentsError';
  }
}

/** What the comments UI needs from the server (a fake in tests). */
export interface ICommentsApi {
  list(path: string): Promise<IThreadList>;
  create(
    path: string,
    anchor: IAnchor | null,
    body: string,
    room?: string | null
  ): Promise<IPostResult>;
  reply(thread: string, body: string): Promise<IPostResult>;
  edit(thread: string, comment: string, body: string): Promise<IComment | null>;
  remove(thread: string, comment: string): Promise<void>;
  setResolved(thread: string, resolved: boolean): Promise<IThread | null>;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function id(value: unknown): string | null {
  if (typeof value === 'string' && value) {
    return value;
  }
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : null;
}

function first(obj: any, ...keys: string[]): unknown {
  for (const key of keys) {
    if (obj[key] !== undefined && obj[key] !== null) {
      return obj[key];
    }
  }
  return null;
}

function strings(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string' && v !== '')
    : [];
}

/** The username of an author field (a username, or an identity object). */
function username(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value && typeof value === 'object' && typeof (value as any).username === 'string') {
    return (value as any).username;
  }
  return '';
}

/** An anchor with every field present and of its type (null when it has none). */
export function normalizeAnchor(a: any): IAnchor {
  if (!a || typeof a !== 'object') {
    return { cell: null, start: null, end: null, quote: null };
  }
  return {
    cell: str(a.cell) || null,
    start: str(a.start) || null,
    end: str(a.end) || null,
    quote: str(a.quote)
  };
}

export function normalizeComment(c: any): IComment | null {
  if (!c || typeof c !== 'object') {
    return null;
  }
  const cid = id(c.id);
  if (cid === null) {
    return null;
  }
  return {
    id: cid,
    author: username(first(c, 'author', 'user', 'by')),
    body: str(c.body) ?? '',
    created: str(first(c, 'created', 'createdAt', 'created_at', 'time')) ?? '',
    edited: str(first(c, 'edited', 'editedAt', 'edited_at', 'updated', 'updatedAt')),
    mentions: strings(c.mentions)
  };
}

export function normalizeThread(t: any): IThread | null {
  if (!t || typeof t !== 'object') {
    return null;
  }
  const tid = id(t.id);
  if (tid === null) {
    return null;
  }
  const comments = (Array.isArray(t.comments) ? t.comments : [])
    .map(normalizeComment)
    .filter((c: IComment | null): c is IComment => c !== null);
  const resolvedBy = first(t, 'resolvedBy', 'resolved_by');
  return {
    id: tid,
    anchor: normalizeAnchor(t.anchor),
    resolved: t.resolved === true,
    resolvedBy: resolvedBy ? username(resolvedBy) || null : null,
    resolvedAt: str(first(t, 'resolvedAt', 'resolved_at')),
    detached: t.detached === true,
    room: str(t.room) || null,
    author: username(first(t, 'author', 'createdBy', 'created_by', 'user')) || comments[0]?.author || '',
    created:
      str(first(t, 'created', 'createdAt', 'created_at', 'time')) ?? comments[0]?.created ?? '',
    comments
  };
}

export function normalizePost(data: any): IPostResult {
  const thread = normalizeThread(data?.thread ?? (data?.comments ? data : null));
  return {
    thread,
    comment: normalizeComment(data?.comment),
    mentioned: strings(data?.mentioned),
    unreachable: strings(data?.unreachable),
    users: normalizeUsers(data?.users)
  };
}

/**
 * The REST client.
 */
export class CommentsClient implements ICommentsApi {
  constructor(settings: ServerConnection.ISettings) {
    this.serverSettings = settings;
  }

  readonly serverSettings: ServerConnection.ISettings;

  /** URL of an endpoint under /api/collab/comments, with the query parameters that are set. */
  url(parts: string[] = [], query: Record<string, string | null | undefined> = {}): string {
    const base = URLExt.join(
      this.serverSettings.baseUrl,
      'api/collab/comments',
      ...parts.map(p => encodeURIComponent(p))
    );
    const params: string[] = [];
    for (const [key, value] of Object.entries(query)) {
      if (value !== null && value !== undefined) {
        params.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
      }
    }
    return params.length ? `${base}?${params.join('&')}` : base;
  }

  async list(path: string): Promise<IThreadList> {
    const data = await this._request(this.url([], { path }));
    if (!data || !Array.isArray(data.threads)) {
      throw new CommentsError('invalid reply: no threads', 500);
    }
    return {
      path: str(data.path) ?? path,
      threads: data.threads
        .map(normalizeThread)
        .filter((t: IThread | null): t is IThread => t !== null),
      users: normalizeUsers(data.users),
      canComment: typeof data.canComment === 'boolean' ? data.canComment : null,
      role: str(data.role)
    };
  }

  async create(
    path: string,
    anchor: IAnchor | null,
    body: string,
    room: string | null = null
  ): Promise<IPostResult> {
    const payload: Record<string, unknown> = { path, anchor, body: checkedBody(body) };
    if (room) {
      payload.room = room;
    }
    return normalizePost(
      await this._request(this.url(), { method: 'POST', body: JSON.stringify(payload) })
    );
  }

  async reply(thread: string, body: string): Promise<IPostResult> {
    return normalizePost(
      await this._request(this.url([thread, 'comments']), {
        method: 'POST',
        body: JSON.stringify({ body: checkedBody(body) })
      })
    );
  }

  async edit(thread: string, comment: string, body: string): Promise<IComment | null> {
    const data = await this._request(this.url([thread, 'comments', comment]), {
      method: 'PATCH',
      body: JSON.stringify({ body: checkedBody(body) })
    });
    return normalizeComment(data?.comment ?? data);
  }

  async remove(thread: string, comment: string): Promise<void> {
    await this._request(this.url([thread, 'comments', comment]), { method: 'DELETE' });
  }

  async setResolved(thread: string, resolved: boolean): Promise<IThread | null> {
    const data = await this._request(this.url([thread]), {
      method: 'PATCH',
      body: JSON.stringify({ resolved })
    });
    return normalizeThread(data?.thread ?? data);
  }

  private async _request(url: string, init: RequestInit = {}): Promise<any> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.serverSettings);
    } catch (err) {
      throw new CommentsError(String((err as Error)?.message ?? err), null);
    }
    if (!response.ok) {
      const isJson = (response.headers.get('Content-Type') ?? '').includes('json');
      if (response.status === 404 && !isJson) {
        throw new CommentsError('the server has no comments API', 404, true);
      }
      let message = response.statusText || `HTTP ${response.status}`;
      try {
        const body = await response.json();
        message = body?.message || body?.reason || message;
      } catch {
        // not JSON
      }
      throw new CommentsError(message, response.status);
    }
    if (response.status === 204) {
      return null;
    }
    const text = await response.text();
    if (!text) {
      return null;
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new CommentsError('invalid reply: not JSON', response.status);
    }
  }
}

/** A body as sent: trimmed, not empty, not longer than MAX_BODY_LENGTH. */
export function checkedBody(body: string): string {
  const trimmed = (body ?? '').trim();
  if (!trimmed) {
    throw new CommentsError('a comment cannot be empty', 400);
  }
  if (trimmed.length > MAX_BODY_LENGTH) {
    throw new CommentsError(`a comment has at most ${MAX_BODY_LENGTH} characters`, 400);
  }
  return trimmed;
}
