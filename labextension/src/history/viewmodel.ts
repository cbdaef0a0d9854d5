/**
 * The state of a version tab in the main area: one version of one
 * document, shown as its content or as its changes up to the current
 * content, with what is loading and what went wrong.
 *
 * It belongs to its document, not to the history panel: switching to
 * another document leaves the tab as it is. No DOM: `viewer.ts` renders it,
 * tests drive it with a fake API.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { Notice } from '../protocol';
import { HistoryError, IDiff, IHistoryApi, IVersion, IVersionContent } from './api';
import { IHistoryDocument, IHistoryProblem } from './model';
import { HistoryUsers } from './people';

/** What the tab shows of its version. */
export type VersionMode = 'content' | 'changes';

export class VersionViewModel {
  constructor(
    api: IHistoryApi,
    document: IHistoryDocument,
    options: { users?: HistoryUsers } = {}
  ) {
    this._api = api;
    this._document = { ...document };
    this.users = options.users ?? new HistoryUsers();
  }

  /** Identities of the people the replies named. */
  readonly users: HistoryUsers;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get document(): IHistoryDocument {
    return this._document;
  }

  get version(): IVersion | null {
    return this._version;
  }

  get mode(): VersionMode {
    return this._mode;
  }

  get loading(): boolean {
    return this._loading;
  }

  /** The version's content (mode 'content'), once loaded. */
  get content(): IVersionContent | null {
    return this._content;
  }

  /** Its changes up to the current content (mode 'changes'), once loaded. */
  get diff(): IDiff | null {
    return this._diff;
  }

  get problem(): IHistoryProblem | null {
    return this._problem;
  }

  /** Whether the user may restore (editors). */
  get canWrite(): boolean {
    return this._document.canWrite;
  }

  /** The document's path or the user's role changed. */
  setDocument(document: IHistoryDocument): void {
    if (document.room !== this._document.room) {
      return; // a tab stays with its document
    }
    this._document = { ...document };
    this._changed.emit();
  }

  /** Show a version, as its content or its changes. */
  show(version: IVersion, mode: VersionMode = this._mode): Promise<void> {
    const same = this._version?.id === version.id && this._mode === mode;
    this._version = version;
    this._mode = mode;
    if (same && (this._content || this._diff)) {
      this._changed.emit();
      return Promise.resolve();
    }
    return this.reload();
  }

  setMode(mode: VersionMode): Promise<void> {
    if (!this._version) {
      return Promise.resolve();
    }
    return this.show(this._version, mode);
  }

  /** Load what is shown again (the current content moved on). */
  async reload(): Promise<void> {
    const version = this._version;
    if (!version) {
      return;
    }
    const mode = this._mode;
    const generation = ++this._generation;
    this._loading = true;
    this._changed.emit();
    try {
      if (mode === 'content') {
        const content = await this._api.getVersion(this._document.room, version.id);
        if (generation !== this._generation) {
          return;
        }
        this.users.merge(content.users);
        this._content = content;
        this._diff = null;
        if (Number.isFinite(content.version?.id)) {
          this._version = { ...version, ...content.version };
        }
      } else {
        const diff = await this._api.diff(this._document.room, version.id, 'current');
        if (generation !== this._generation) {
          return;
        }
        this.users.merge(diff.users);
        this._diff = diff;
        this._content = null;
      }
      this._problem = null;
    } catch (err) {
      if (generation !== this._generation) {
        return;
      }
      this._content = null;
      this._diff = null;
      this._problem =
        err instanceof HistoryError
          ? { action: mode === 'content' ? 'preview' : 'diff', status: err.status, message: err.message }
          : { action: mode === 'content' ? 'preview' : 'diff', status: null, message: String(err) };
    } finally {
      if (generation === this._generation) {
        this._loading = false;
        this._changed.emit();
      }
    }
  }

  /**
   * A notice of the document's room: its changes up to the current content
   * are stale once a version is made or a version restored.
   */
  handleNotice(notice: Notice): void {
    if (
      this._mode === 'changes' &&
      this._version &&
      (notice.type === 'restored' || notice.type === 'version')
    ) {
      void this.reload();
    }
  }

  dispose(): void {
    this._generation++;
    Signal.clearData(this);
  }

  private _api: IHistoryApi;
  private _document: IHistoryDocument;
  private _version: IVersion | null = null;
  private _mode: VersionMode = 'content';
  private _loading = false;
  private _content: IVersionContent | null = null;
  private _diff: IDiff | null = null;
  private _problem: IHistoryProblem | null = null;
  private _generation = 0;
  private _changed = new Signal<this, void>(this);
}
