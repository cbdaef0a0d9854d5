/**
 * The comments of one document, without any DOM: its threads, the filter
 * (open, resolved, mine), the selected thread, the actions (new thread,
 * reply, edit, delete, resolve, reopen) and what is shown while they run.
 * The panel and the inline markers render it (unit tested with a fake API).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { HistoryUsers } from '../history/people';
import { Notice } from '../protocol';
import {
  CommentsError,
  IAnchor,
  IComment,
  ICommentsApi,
  IPostResult,
  IThread
} from './api';
import { mentionsIn } from './mentions';

export type ThreadFilter = 'open' | 'resolved' | 'mine';

export const FILTERS: readonly ThreadFilter[] = ['open', 'resolved', 'mine'];

/** The document the comments are of, and what the user may do. */
export interface ICommentsDocument {
  path: string;
  /**
   * The room open here (the session's room id): only its threads are shown
   * (a notebook opened as text has other threads). Null: all threads.
   */
  room: string | null;
  /** Commenter, editor or owner (viewers read comments only). */
  canComment: boolean;
  /** Owners may delete anyone's comment. */
  isOwner: boolean;
  /** The user's username (null: anonymous, owns no comment). */
  self: string | null;
}

/** What went wrong, with the action that failed. */
export interface ICommentsProblem {
  action: 'list' | 'create' | 'reply' | 'edit' | 'delete' | 'resolve' | 'reopen';
  status: number | null;
  message: string;
  /** The thread of the action, if any. */
  thread: string | null;
}

/** People a comment mentioned who cannot read the document (a share is offered). */
export interface IShareOffer {
  thread: string;
  users: string[];
}

/** Whether the user takes part in a thread: wrote in it, or is mentioned in it. */
export function isMine(thread: IThread, self: string | null): boolean {
  if (!self) {
    return false;
  }
  return (
    thread.author === self ||
    thread.comments.some(
      c => c.author === self || c.mentions.includes(self) || mentionsIn(c.body).includes(self)
    )
  );
}

/**
 * The threads a filter shows: open ones, resolved ones, or (mine) the
 * threads the user takes part in, open or resolved.
 */
export function filterThreads(
  threads: readonly IThread[],
  filter: ThreadFilter,
  self: string | null
): IThread[] {
  switch (filter) {
    case 'open':
      return threads.filter(t => !t.resolved);
    case 'resolved':
      return threads.filter(t => t.resolved);
    case 'mine':
      return threads.filter(t => isMine(t, self));
  }
}

/** How many threads each filter shows. */
export function filterCounts(
  threads: readonly IThread[],
  self: string | null
): Record<ThreadFilter, number> {
  return {
    open: filterThreads(threads, 'open', self).length,
    resolved: filterThreads(threads, 'resolved', self).length,
    mine: filterThreads(threads, 'mine', self).length
  };
}

/**
 * Threads in the order of the document: by `position` (where their anchor
 * is now; detached threads last), then by time.
 */
export function orderThreads(
  threads: readonly IThread[],
  position: (thread: IThread) => number | null
): IThread[] {
  const keyed = threads.map(t => ({ t, p: position(t) }));
  keyed.sort((x, y) => {
    const px = x.p ?? Number.POSITIVE_INFINITY;
    const py = y.p ?? Number.POSITIVE_INFINITY;
    if (px !== py) {
      return px < py ? -1 : 1;
    }
    return x.t.created < y.t.created ? -1 : x.t.created > y.t.created ? 1 : 0;
  });
  return keyed.map(k => k.t);
}

export class CommentsModel {
  constructor(api: ICommentsApi, doc: ICommentsDocument, options: CommentsModel.IOptions = {}) {
    this._api = api;
    this._document = doc;
    this.users = options.users ?? new HistoryUsers();
  }

  /** Identities of the people the replies named. */
  readonly users: HistoryUsers;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get document(): ICommentsDocument {
    return this._document;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /** The document moved (renamed) or the user's role changed. */
  setDocument(doc: ICommentsDocument): void {
    const before = this._document;
    const changed =
      doc.path !== before.path || doc.room !== before.room || doc.canComment !== before.canComment;
    this._document = doc;
    this._emit();
    if (changed && this._loaded) {
      void this.refresh();
    }
  }

  /** Whether the user may write comments: their role here, and the server agrees. */
  get canComment(): boolean {
    return this._document.canComment && this._serverCanComment !== false;
  }

  get threads(): readonly IThread[] {
    return this._threads;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get loading(): boolean {
    return this._loading;
  }

  get problem(): ICommentsProblem | null {
    return this._problem;
  }

  /** The server has no comments API (an older server). */
  get unavailable(): boolean {
    return this._unavailable;
  }

  get filter(): ThreadFilter {
    return this._filter;
  }

  setFilter(filter: ThreadFilter): void {
    if (filter !== this._filter) {
      this._filter = filter;
      this._emit();
    }
  }

  /** The threads of the current filter (in the model's order). */
  get visible(): IThread[] {
    return filterThreads(this._threads, this._filter, this._document.self);
  }

  get counts(): Record<ThreadFilter, number> {
    return filterCounts(this._threads, this._document.self);
  }

  thread(id: string): IThread | undefined {
    return this._threads.find(t => t.id === id);
  }

  get selectedId(): string | null {
    return this._selected;
  }

  /**
   * Select a thread (from a marker, a notification): the filter changes to
   * one that shows it.
   */
  select(id: string | null): void {
    if (id !== null) {
      const t = this.thread(id);
      if (t && !filterThreads([t], this._filter, this._document.self).length) {
        this._filter = t.resolved ? 'resolved' : 'open';
      }
    }
    this._selected = id;
    this._emit();
  }

  get shareOffer(): IShareOffer | null {
    return this._shareOffer;
  }

  dismissShareOffer(): void {
    this._shareOffer = null;
    this._emit();
  }

  /** Whether an action on `key` (a thread id, or 'new') is running. */
  isBusy(key: string): boolean {
    return this._busy.has(key);
  }

  canEdit(comment: IComment): boolean {
    return this.canComment && !!this._document.self && comment.author === this._document.self;
  }

  canDelete(comment: IComment): boolean {
    return this.canEdit(comment) || (this.canComment && this._document.isOwner);
  }

  /**
   * Load the threads again. Calls while a load runs make one more load
   * after it (a burst of notices makes two requests, not one each).
   */
  async refresh(): Promise<void> {
    if (this._loading) {
      this._again = true;
      return this._running ?? Promise.resolve();
    }
    this._loading = true;
    this._emit();
    const run = async () => {
      do {
        this._again = false;
        const path = this._document.path;
        try {
          const list = await this._api.list(path);
          if (this._isDisposed) {
            return;
          }
          if (path !== this._document.path) {
            this._again = true; // renamed meanwhile
            continue;
          }
          this.users.merge(list.users);
          const room = this._document.room;
          this._threads = list.threads.filter(t => !room || !t.room || t.room === room);
          this._serverCanComment = list.canComment;
          this._loaded = true;
          this._unavailable = false;
          if (this._problem?.action === 'list') {
            this._problem = null;
          }
          if (this._selected !== null && !this.thread(this._selected)) {
            this._selected = null;
          }
        } catch (err) {
          this._unavailable = err instanceof CommentsError && err.unavailable;
          this._setProblem('list', err, null);
        }
      } while (this._again && !this._isDisposed);
    };
    this._running = run().finally(() => {
      this._loading = false;
      this._running = null;
      this._emit();
    });
    return this._running;
  }

  /** A new thread; resolves with it (null when it failed: see `problem`). */
  async createThread(anchor: IAnchor | null, body: string): Promise<IThread | null> {
    const result = await this._act('create', 'new', null, () =>
      this._api.create(this._document.path, anchor, body, this._document.room)
    );
    if (!result) {
      return null;
    }
    const thread = result.thread;
    if (thread) {
      this._upsert(thread);
      this._selected = thread.id;
      if (thread.resolved ? this._filter === 'open' : this._filter === 'resolved') {
        this._filter = 'open';
      }
    }
    this._afterPost(thread?.id ?? null, result);
    void this.refresh();
    return thread;
  }

  async reply(threadId: string, body: string): Promise<boolean> {
    const result = await this._act('reply', threadId, threadId, () =>
      this._api.reply(threadId, body)
    );
    if (!result) {
      return false;
    }
    if (result.thread) {
      this._upsert(result.thread);
    } else if (result.comment) {
      const t = this.thread(threadId);
      if (t && !t.comments.some(c => c.id === result.comment!.id)) {
        this._upsert({ ...t, comments: [...t.comments, result.comment] });
      }
    }
    this._afterPost(threadId, result);
    void this.refresh();
    return true;
  }

  async edit(threadId: string, commentId: string, body: string): Promise<boolean> {
    const comment = await this._act('edit', threadId, threadId, () =>
      this._api.edit(threadId, commentId, body)
    );
    if (comment === undefined) {
      return false;
    }
    const t = this.thread(threadId);
    if (t) {
      this._upsert({
        ...t,
        comments: t.comments.map(c =>
          c.id === commentId ? (comment ?? { ...c, body: body.trim() }) : c
        )
      });
    }
    void this.refresh();
    return true;
  }

  async remove(threadId: string, commentId: string): Promise<boolean> {
    const done = await this._act('delete', threadId, threadId, async () => {
      await this._api.remove(threadId, commentId);
      return true;
    });
    if (!done) {
      return false;
    }
    const t = this.thread(threadId);
    if (t) {
      const comments = t.comments.filter(c => c.id !== commentId);
      if (comments.length) {
        this._upsert({ ...t, comments });
      } else {
        this._threads = this._threads.filter(x => x.id !== threadId);
      }
      this._emit();
    }
    void this.refresh();
    return true;
  }

  async setResolved(threadId: string, resolved: boolean): Promise<boolean> {
    const thread = await this._act(resolved ? 'resolve' : 'reopen', threadId, threadId, () =>
      this._api.setResolved(threadId, resolved)
    );
    if (thread === undefined) {
      return false;
    }
    const t = thread ?? this.thread(threadId);
    if (t) {
      this._upsert({
        ...t,
        resolved,
        resolvedBy: thread ? thread.resolvedBy : resolved ? this._document.self : null
      });
    }
    void this.refresh();
    return true;
  }

  /** A room notice: the comments changed (here or on another server). */
  handleNotice(notice: Notice): void {
    if (notice.type === 'comments' || notice.type === 'renamed') {
      void this.refresh();
    }
  }

  clearProblem(): void {
    if (this._problem) {
      this._problem = null;
      this._emit();
    }
  }

  private _afterPost(thread: string | null, result: IPostResult): void {
    this.users.merge(result.users);
    this._shareOffer =
      thread !== null && result.unreachable.length
        ? { thread, users: [...result.unreachable] }
        : null;
    this._emit();
  }

  /** Run an action: busy while it runs; undefined (and `problem` set) when it fails. */
  private async _act<T>(
    action: ICommentsProblem['action'],
    key: string,
    thread: string | null,
    fn: () => Promise<T>
  ): Promise<T | undefined> {
    if (!this.canComment) {
      this._problem = {
        action,
        status: 403,
        message: 'you may read the comments of this document, not write them',
        thread
      };
      this._emit();
      return undefined;
    }
    this._busy.add(key);
    if (this._problem && this._problem.action !== 'list') {
      this._problem = null;
    }
    this._emit();
    try {
      return await fn();
    } catch (err) {
      this._setProblem(action, err, thread);
      return undefined;
    } finally {
      this._busy.delete(key);
      this._emit();
    }
  }

  private _setProblem(action: ICommentsProblem['action'], err: unknown, thread: string | null): void {
    this._problem = {
      action,
      status: err instanceof CommentsError ? err.status : null,
      message: String((err as Error)?.message ?? err),
      thread
    };
    this._emit();
  }

  private _upsert(thread: IThread): void {
    const i = this._threads.findIndex(t => t.id === thread.id);
    this._threads =
      i < 0
        ? [...this._threads, thread]
        : [...this._threads.slice(0, i), thread, ...this._threads.slice(i + 1)];
    this._emit();
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _api: ICommentsApi;
  private _document: ICommentsDocument;
  private _threads: IThread[] = [];
  private _loaded = false;
  private _loading = false;
  private _again = false;
  private _running: Promise<void> | null = null;
  private _unavailable = false;
  private _serverCanComment: boolean | null = null;
  private _problem: ICommentsProblem | null = null;
  private _filter: ThreadFilter = 'open';
  private _selected: string | null = null;
  private _shareOffer: IShareOffer | null = null;
  private _busy = new Set<string>();
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}

export namespace CommentsModel {
  export interface IOptions {
    users?: HistoryUsers;
  }
}
