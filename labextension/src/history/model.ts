/**
 * The state of the history panel for the current document: its versions
 * (paged), the selected version and what is shown of it (preview, diff
 * against current, attribution), loading and errors.
 *
 * No DOM: the panel renders it, tests drive it with a fake API.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { Notice } from '../protocol';
import {
  HistoryError,
  IAttribution,
  IHistoryApi,
  IRestoreResult,
  IVersion
} from './api';
import { HistoryUsers } from './people';

/** The document the panel is about. */
export interface IHistoryDocument {
  /** The server's room id (`{format}:{type}:{fileId}`). */
  room: string;
  path: string;
  /** 'file' | 'notebook'. */
  type: string;
  /** Whether the user may name and restore versions. */
  canWrite: boolean;
}

/**
 * What is shown below the list: "who wrote this". (A version's content and
 * its changes open in the main area: `viewmodel.ts`.)
 */
export type HistoryView =
  | { kind: 'none' }
  | { kind: 'attribution'; attribution: IAttribution };

/** An error, with what was being done. */
export interface IHistoryProblem {
  /** 'list' | 'more' | 'preview' | 'diff' | 'attribution' | 'name' | 'restore'. */
  action: string;
  status: number | null;
  message: string;
}

/** Versions asked for per page. */
export const PAGE_SIZE = 50;

export class HistoryModel {
  constructor(
    api: IHistoryApi,
    options: { pageSize?: number; users?: HistoryUsers } = {}
  ) {
    this._api = api;
    this._pageSize = options.pageSize ?? PAGE_SIZE;
    this.users = options.users ?? new HistoryUsers();
  }

  /** The identities the replies gave (names and colours of everyone named). */
  readonly users: HistoryUsers;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get document(): IHistoryDocument | null {
    return this._document;
  }

  get versions(): readonly IVersion[] {
    return this._versions;
  }

  /** Whether older versions can be loaded. */
  get hasMore(): boolean {
    return this._next !== null;
  }

  /** Whether the list is loading (first page or more). */
  get loading(): boolean {
    return this._loading;
  }

  /** Whether the list was loaded at least once for this document. */
  get loaded(): boolean {
    return this._loaded;
  }

  /** Whether the view is loading. */
  get viewLoading(): boolean {
    return this._viewLoading;
  }

  get selectedId(): number | null {
    return this._selectedId;
  }

  get selected(): IVersion | null {
    return this._versions.find(v => v.id === this._selectedId) ?? null;
  }

  get view(): HistoryView {
    return this._view;
  }

  /** The latest problem, if any (cleared by the next success). */
  get problem(): IHistoryProblem | null {
    return this._problem;
  }

  /** Whether name/restore are offered. */
  get canWrite(): boolean {
    return !!this._document?.canWrite;
  }

  /** Whether the panel is shown (the list loads only then). */
  get active(): boolean {
    return this._active;
  }

  /** Whether an action (name, restore) is running. */
  get busy(): boolean {
    return this._busy;
  }

  /**
   * Show the history of another document (or none). Loads at once if the
   * panel is active, else when it becomes active.
   */
  setDocument(doc: IHistoryDocument | null): Promise<void> {
    const same =
      doc && this._document && doc.room === this._document.room;
    if (same) {
      // The same document: path or role may have changed.
      const roleChanged = doc.canWrite !== this._document!.canWrite;
      const pathChanged = doc.path !== this._document!.path;
      this._document = { ...doc };
      if (roleChanged || pathChanged) {
        this._emit();
      }
      return this._active && this._stale ? this.refresh() : Promise.resolve();
    }
    this._generation++;
    this._document = doc ? { ...doc } : null;
    this._versions = [];
    this._next = null;
    this._loaded = false;
    this._loading = false;
    this._selectedId = null;
    this._view = { kind: 'none' };
    this._viewLoading = false;
    this._problem = null;
    this._stale = !!doc;
    this._emit();
    if (doc && this._active) {
      return this.refresh();
    }
    return Promise.resolve();
  }

  /** Tell whether the panel is shown. */
  setActive(active: boolean): Promise<void> {
    this._active = active;
    if (active && this._document && this._stale) {
      return this.refresh();
    }
    return Promise.resolve();
  }

  /**
   * Load the newest page again (keeps the selection if the version is
   * still listed). Calls made while one runs are merged into one more.
   */
  async refresh(): Promise<void> {
    if (!this._document) {
      return;
    }
    if (this._refreshing) {
      this._refreshAgain = true;
      return this._refreshing;
    }
    this._refreshing = this._doRefresh();
    try {
      await this._refreshing;
    } finally {
      this._refreshing = null;
    }
    if (this._refreshAgain) {
      this._refreshAgain = false;
      await this.refresh();
    }
  }

  private async _doRefresh(): Promise<void> {
    const doc = this._document!;
    const gen = this._generation;
    this._stale = false;
    this._loading = true;
    this._emit();
    try {
      // Keep every version listed before listed (at least one page).
      const oldest = this._versions.length
        ? this._versions[this._versions.length - 1]
        : null;
      const limit = Math.min(Math.max(this._pageSize, this._versions.length), 1000);
      let page = await this._api.listVersions(doc.room, { limit });
      if (gen !== this._generation) {
        return;
      }
      this.users.merge(page.users);
      let versions = page.versions;
      const reached = () =>
        !oldest ||
        versions.some(v => v.id === oldest.id || v.seq < oldest.seq);
      while (page.next !== null && !reached()) {
        page = await this._api.listVersions(doc.room, {
          limit: this._pageSize,
          before: page.next
        });
        if (gen !== this._generation) {
          return;
        }
        this.users.merge(page.users);
        versions = dedupe(versions.concat(page.versions));
      }
      this._versions = versions;
      this._next = page.next;
      this._problem = null;
    } catch (err) {
      if (gen !== this._generation) {
        return;
      }
      if (err instanceof HistoryError && err.status === 404) {
        // A document without history yet: nothing to list.
        this._versions = [];
        this._next = null;
        this._problem = null;
      } else {
        this._problem = problem('list', err);
      }
    } finally {
      if (gen === this._generation) {
        this._loading = false;
        this._loaded = true;
        if (
          this._selectedId !== null &&
          !this._versions.some(v => v.id === this._selectedId)
        ) {
          // The selected version is no longer listed: keep showing what
          // was loaded, but nothing is selected in the list.
          this._selectedId = null;
        }
        this._emit();
      }
    }
  }

  /** Load the next (older) page. */
  async loadMore(): Promise<void> {
    const doc = this._document;
    if (!doc || this._next === null || this._loading) {
      return;
    }
    const gen = this._generation;
    this._loading = true;
    this._emit();
    try {
      const page = await this._api.listVersions(doc.room, {
        limit: this._pageSize,
        before: this._next
      });
      if (gen !== this._generation) {
        return;
      }
      this.users.merge(page.users);
      this._versions = dedupe(this._versions.concat(page.versions));
      this._next = page.next;
      this._problem = null;
    } catch (err) {
      if (gen === this._generation) {
        this._problem = problem('more', err);
      }
    } finally {
      if (gen === this._generation) {
        this._loading = false;
        this._emit();
      }
    }
  }

  /** Select a version (its content and changes open in the main area). */
  select(id: number | null): void {
    if (id === this._selectedId) {
      return;
    }
    this._selectedId = id;
    this._emit();
  }

  /** Show who wrote each line / cell of the current content. */
  showAttribution(): Promise<void> {
    return this._load('attribution', async room => {
      const attribution = await this._api.attribution(room, { at: 'current' });
      this.users.merge(attribution.users);
      return { kind: 'attribution', attribution };
    });
  }

  /** Stop showing the preview / diff / attribution. */
  closeView(): void {
    this._viewGeneration++;
    this._view = { kind: 'none' };
    this._viewLoading = false;
    this._emit();
  }

  /** Name the current content. Throws a HistoryError on failure. */
  async nameVersion(name: string): Promise<IVersion> {
    const doc = this._requireWritable('name');
    this._busy = true;
    this._emit();
    try {
      const version = await this._api.nameVersion(doc.room, name);
      this._problem = null;
      this._insert(version);
      void this.refresh();
      return version;
    } catch (err) {
      this._problem = problem('name', err);
      throw err;
    } finally {
      this._busy = false;
      this._emit();
    }
  }

  /** Restore a version. Throws a HistoryError on failure. */
  async restore(id: number): Promise<IRestoreResult> {
    const doc = this._requireWritable('restore');
    this._busy = true;
    this._emit();
    try {
      const result = await this._api.restore(doc.room, id);
      this._problem = null;
      if (result.version && Number.isFinite(result.version.id)) {
        this._insert(result.version);
      }
      void this.refresh();
      return result;
    } catch (err) {
      this._problem = problem('restore', err);
      throw err;
    } finally {
      this._busy = false;
      this._emit();
    }
  }

  /** A notice of the current document's room. */
  handleNotice(notice: Notice): void {
    if (!this._document) {
      return;
    }
    if (notice.type !== 'version' && notice.type !== 'restored') {
      return;
    }
    if (!this._active) {
      this._stale = true;
      return;
    }
    void this.refresh();
    if (notice.type === 'restored' && this._view.kind === 'attribution') {
      // The current content changed: who wrote it too.
      void this.showAttribution();
    }
  }

  dispose(): void {
    this._generation++;
    Signal.clearData(this);
  }

  private async _load(
    action: string,
    fetch: (room: string) => Promise<HistoryView>
  ): Promise<void> {
    const doc = this._document;
    if (!doc) {
      return;
    }
    const gen = this._generation;
    const viewGen = ++this._viewGeneration;
    this._viewLoading = true;
    this._emit();
    try {
      const view = await fetch(doc.room);
      if (gen !== this._generation || viewGen !== this._viewGeneration) {
        return;
      }
      this._view = view;
      this._problem = null;
    } catch (err) {
      if (gen !== this._generation || viewGen !== this._viewGeneration) {
        return;
      }
      this._view = { kind: 'none' };
      this._problem = problem(action, err);
    } finally {
      if (gen === this._generation && viewGen === this._viewGeneration) {
        this._viewLoading = false;
        this._emit();
      }
    }
  }

  private _requireWritable(action: string): IHistoryDocument {
    const doc = this._document;
    if (!doc) {
      throw new HistoryError('no document', null);
    }
    if (!doc.canWrite) {
      const err = new HistoryError('you may only view this document', 403);
      this._problem = problem(action, err);
      this._emit();
      throw err;
    }
    return doc;
  }

  private _insert(version: IVersion): void {
    if (!this._versions.some(v => v.id === version.id)) {
      this._versions = [version, ...this._versions].sort(newestFirst);
    }
  }

  private _emit(): void {
    this._changed.emit();
  }

  private _api: IHistoryApi;
  private _pageSize: number;
  private _document: IHistoryDocument | null = null;
  private _versions: IVersion[] = [];
  private _next: number | null = null;
  private _loading = false;
  private _loaded = false;
  private _viewLoading = false;
  private _selectedId: number | null = null;
  private _view: HistoryView = { kind: 'none' };
  private _problem: IHistoryProblem | null = null;
  private _active = false;
  private _stale = false;
  private _busy = false;
  private _generation = 0;
  private _viewGeneration = 0;
  private _refreshing: Promise<void> | null = null;
  private _refreshAgain = false;
  private _changed = new Signal<this, void>(this);
}

function problem(action: string, err: unknown): IHistoryProblem {
  if (err instanceof HistoryError) {
    return { action, status: err.status, message: err.message };
  }
  return {
    action,
    status: null,
    message: String((err as Error)?.message ?? err)
  };
}

function newestFirst(a: IVersion, b: IVersion): number {
  return b.seq - a.seq || b.id - a.id;
}

function dedupe(versions: IVersion[]): IVersion[] {
  const seen = new Set<number>();
  return versions.filter(v => {
    if (seen.has(v.id)) {
      return false;
    }
    seen.add(v.id);
    return true;
  });
}
