/**
 * A version of a document in the main area, like a document tab: its
 * content, or what changed from it to the current content, as read-only
 * CodeMirror editors highlighted in the document's language (a notebook
 * cell by cell), with who made the version, who wrote it, and a clear
 * "Restore this version". Renders a VersionViewModel.
 */
import { IEditorMimeTypeService, CodeEditor } from '@jupyterlab/codeeditor';
import { PathExt } from '@jupyterlab/coreutils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { IAwarenessUser } from '../presencemodel';
import { IDiff, IVersion, IVersionContent } from './api';
import { cellMimeType, diffHunks, notebookLanguage } from './codedoc';
import { IReadOnlyEditor, LazyEditors, diffExtensions, readOnlyEditor } from './codeview';
import {
  IUserBadge,
  notebookDiffRows,
  parseUnifiedDiff,
  previewCells,
  summarizeNotebookDiff,
  userBadge
} from './diffmodel';
import { ITimeOptions, kindLabel, madeBy, shownTime, versionTitle } from './format';
import { IHistoryProblem } from './model';
import { VersionMode, VersionViewModel } from './viewmodel';

type Message = Parameters<Widget['processMessage']>[0];

export namespace VersionView {
  export interface IOptions {
    model: VersionViewModel;
    trans: TranslationBundle;
    /** JupyterLab's editor factories (IEditorServices.factoryService). */
    inlineEditor: CodeEditor.Factory;
    documentEditor: CodeEditor.Factory;
    /** Languages by file name / notebook metadata (IEditorServices.mimeTypeService). */
    mimeTypes: IEditorMimeTypeService;
    /** Users we know, by username (identities of replies and awareness). */
    knownUsers: () => ReadonlyMap<string, IAwarenessUser>;
    /** Confirm and restore the version (for everyone). */
    restore: (version: IVersion) => Promise<void>;
    time?: ITimeOptions;
  }
}

/** The content of a version tab. */
export class VersionView extends Widget {
  constructor(options: VersionView.IOptions) {
    super();
    this._options = options;
    this.model = options.model;
    const trans = (this._trans = options.trans);
    this.addClass('jp-collab-VersionView');
    this.node.setAttribute('role', 'region');

    this._header = document.createElement('header');
    this._header.className = 'jp-collab-VersionView-header';
    this._titleEl = document.createElement('h2');
    this._titleEl.className = 'jp-collab-VersionView-title';
    this._meta = document.createElement('div');
    this._meta.className = 'jp-collab-VersionView-meta';
    this._actions = document.createElement('div');
    this._actions.className = 'jp-collab-VersionView-actions';
    this._actions.setAttribute('role', 'toolbar');
    this._actions.setAttribute('aria-label', trans.__('Version actions'));
    this._header.append(this._titleEl, this._meta, this._actions);

    this._status = document.createElement('div');
    this._status.className = 'jp-collab-VersionView-status';
    this._status.setAttribute('role', 'status');
    this._status.setAttribute('aria-live', 'polite');

    this._body = document.createElement('div');
    this._body.className = 'jp-collab-VersionView-body';
    this._body.tabIndex = 0;

    this.node.append(this._header, this._status, this._body);
    this.model.changed.connect(this._render, this);
    this._render();
  }

  readonly model: VersionViewModel;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._render, this);
    this._disposeEditors();
    this.model.dispose();
    super.dispose();
  }

  /** The tab's label and caption: the document and the version. */
  get label(): { label: string; caption: string } {
    const v = this.model.version;
    const name = PathExt.basename(this.model.document.path);
    if (!v) {
      return { label: name, caption: name };
    }
    const title = versionTitle(v, this._trans, this._options.time);
    return {
      label: this._trans.__('%1 · %2', name, title),
      caption: this._trans.__(
        '%1 — %2 (%3)',
        this.model.document.path,
        title,
        shownTime(v.time, this._options.time).full
      )
    };
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    this._body.focus({ preventScroll: true });
  }

  // ---- rendering ---------------------------------------------------------

  private _render(): void {
    if (this.isDisposed) {
      return;
    }
    const model = this.model;
    const trans = this._trans;
    const v = model.version;
    this.node.classList.toggle('jp-mod-readonly', !model.canWrite);
    this.node.dataset.mode = model.mode;
    const { label, caption } = this.label;
    this.title.label = label;
    this.title.caption = caption;
    this.node.setAttribute('aria-label', caption);
    if (!v) {
      this._titleEl.textContent = '';
      return;
    }
    const title = versionTitle(v, trans, this._options.time);
    this._titleEl.textContent = title;
    this._titleEl.title = title;
    this._renderMeta(v);
    this._renderActions(v);
    this._renderStatus(model.problem);

    const shown = model.mode === 'content' ? model.content : model.diff;
    if (shown !== this._shown) {
      this._shown = shown;
      this._disposeEditors();
      this._body.replaceChildren();
      this._body.className = `jp-collab-VersionView-body jp-collab-VersionView-${model.mode}`;
      if (model.mode === 'content' && model.content) {
        this._body.setAttribute('aria-label', trans.__('Content of the version (read-only)'));
        this._renderContent(model.content);
      } else if (model.mode === 'changes' && model.diff) {
        this._body.setAttribute(
          'aria-label',
          trans.__('Changes from this version to the current content')
        );
        this._renderChanges(model.diff);
      }
    }
    this._body.setAttribute('aria-busy', model.loading ? 'true' : 'false');
  }

  private _badge(username: string | null): IUserBadge {
    return userBadge(username, this._options.knownUsers(), this._trans.__('nobody'));
  }

  private _renderMeta(v: IVersion): void {
    const trans = this._trans;
    this._meta.replaceChildren();
    const kind = document.createElement('span');
    kind.className = `jp-collab-HistoryPanel-kind jp-mod-${v.kind}`;
    kind.textContent = kindLabel(v.kind, trans);
    const when = shownTime(v.time, this._options.time);
    const time = document.createElement('time');
    time.className = 'jp-collab-VersionView-time';
    time.dateTime = v.time;
    time.textContent = when.label;
    time.title = when.full;
    this._meta.append(kind, time);
    const made = madeBy(v, u => this._badge(u).label, trans);
    if (made) {
      const by = document.createElement('span');
      by.className = 'jp-collab-VersionView-madeBy';
      by.append(avatar(this._badge(v.createdBy)), document.createTextNode(made));
      this._meta.append(by);
    }
    if (v.authors.length) {
      const people = document.createElement('span');
      people.className = 'jp-collab-VersionView-authors';
      const names = v.authors.map(a => this._badge(a).label).join(', ');
      people.append(
        document.createTextNode(trans.__('Changes by')),
        ...v.authors.slice(0, 6).map(a => avatar(this._badge(a))),
        document.createTextNode(names)
      );
      people.title = trans.__('Who wrote the changes since the previous version: %1', names);
      this._meta.append(people);
    }
  }

  private _renderActions(v: IVersion): void {
    const trans = this._trans;
    const model = this.model;
    this._actions.replaceChildren();
    const modes: Array<[VersionMode, string, string, string]> = [
      ['content', trans.__('Content'), trans.__('The content of this version'), 'jp-collab-VersionView-showContent'],
      [
        'changes',
        trans.__('Changes since'),
        trans.__('What changed from this version to the current content'),
        'jp-collab-VersionView-showChanges'
      ]
    ];
    const group = document.createElement('div');
    group.className = 'jp-collab-VersionView-modes';
    group.setAttribute('role', 'group');
    for (const [mode, label, title, className] of modes) {
      group.append(
        button(label, {
          title,
          className,
          pressed: model.mode === mode,
          onClick: () => void model.setMode(mode)
        })
      );
    }
    this._actions.append(group);
    if (model.canWrite) {
      this._actions.append(
        button(trans.__('Restore this version'), {
          title: trans.__('Make this version the current content, for everyone'),
          className: 'jp-collab-VersionView-restore jp-mod-accept',
          onClick: () => void this._options.restore(v)
        })
      );
    }
    this._actions.append(
      button(trans.__('Refresh'), {
        title: trans.__('Load this version again'),
        className: 'jp-collab-VersionView-refresh',
        disabled: model.loading,
        onClick: () => void model.reload()
      })
    );
  }

  private _renderStatus(problem: IHistoryProblem | null): void {
    const trans = this._trans;
    let text = '';
    if (problem) {
      text =
        problem.status === 409
          ? trans.__('This version can no longer be rebuilt: its history was compacted.')
          : problem.status === null
            ? trans.__('The server cannot be reached: %1', problem.message)
            : problem.action === 'diff'
              ? trans.__('Could not compare with the current content: %1', problem.message)
              : trans.__('Could not load this version: %1', problem.message);
    } else if (this.model.loading) {
      text = trans.__('Loading…');
    }
    this._status.textContent = text;
    this._status.classList.toggle('jp-mod-error', !!problem);
    this._status.hidden = !text;
  }

  private _renderContent(content: IVersionContent): void {
    const trans = this._trans;
    const body = this._body;
    if (content.type === 'notebook') {
      const codeMime = this._notebookMime(content.content?.metadata);
      const cells = previewCells(content.content);
      if (!cells.length) {
        body.append(note(trans.__('This version has no cells.')));
        return;
      }
      const list = document.createElement('ol');
      list.className = 'jp-collab-VersionView-cells';
      for (const cell of cells) {
        const li = document.createElement('li');
        li.className = `jp-collab-VersionView-cell jp-mod-${cell.cellType}`;
        li.dataset.cellType = cell.cellType;
        const label = document.createElement('div');
        label.className = 'jp-collab-VersionView-cellLabel';
        label.textContent =
          cell.outputs > 0
            ? trans.__('Cell %1 · %2 · %3 outputs', cell.index + 1, cellTypeLabel(cell.cellType, trans), cell.outputs)
            : trans.__('Cell %1 · %2', cell.index + 1, cellTypeLabel(cell.cellType, trans));
        const host = placeholder(cell.source);
        li.append(label, host);
        list.append(li);
        const mime = cellMimeType(cell.cellType, codeMime);
        this._lazy().add(host, h =>
          readOnlyEditor(this._options.inlineEditor, h, cell.source, mime)
        );
      }
      body.append(list);
    } else if (content.format === 'base64' || content.type === 'blob') {
      const bytes = Math.floor((String(content.content ?? '').length * 3) / 4);
      body.append(note(trans.__('Binary content (%1 bytes) cannot be shown.', bytes)));
    } else {
      const host = document.createElement('div');
      host.className = 'jp-collab-VersionView-editor';
      body.append(host);
      const mime = this._options.mimeTypes.getMimeTypeByFilePath(this.model.document.path);
      this._editors.push(
        readOnlyEditor(this._options.documentEditor, host, String(content.content ?? ''), mime)
      );
    }
  }

  private _renderChanges(diff: IDiff): void {
    const trans = this._trans;
    const body = this._body;
    const labels = { added: trans.__('added'), removed: trans.__('removed') };
    const summary = document.createElement('p');
    summary.className = 'jp-collab-VersionView-summary';
    body.append(summary);
    if (diff.type === 'text') {
      const hunks = diffHunks(parseUnifiedDiff(diff.diff));
      summary.textContent = hunks.length
        ? trans.__(
            '%1, %2 since this version.',
            trans._n('%1 line added', '%1 lines added', diff.added ?? 0),
            trans._n('%1 removed', '%1 removed', diff.removed ?? 0)
          )
        : trans.__('No difference: this version is the current content.');
      const mime = this._options.mimeTypes.getMimeTypeByFilePath(this.model.document.path);
      for (const hunk of hunks) {
        const section = document.createElement('section');
        section.className = 'jp-collab-VersionView-hunk';
        const head = document.createElement('div');
        head.className = 'jp-collab-VersionView-hunkHeader';
        head.textContent = trans.__('Line %1', hunk.newStart || hunk.oldStart);
        const host = placeholder(hunk.doc.text);
        section.append(head, host);
        body.append(section);
        this._lazy().add(host, h =>
          readOnlyEditor(this._options.inlineEditor, h, hunk.doc.text, mime, {
            lineNumbers: false,
            extensions: diffExtensions(hunk.doc, labels)
          })
        );
      }
    } else if (diff.type === 'notebook') {
      const s = summarizeNotebookDiff(diff.cells ?? []);
      summary.textContent = trans.__(
        'Cells since this version: %1 added, %2 removed, %3 modified, %4 moved.',
        s.added,
        s.removed,
        s.modified,
        s.moved
      );
      if (diff.metadataChanged) {
        body.append(note(trans.__('The notebook’s metadata changed.')));
      }
      const rows = notebookDiffRows(diff.cells ?? []);
      if (!rows.length && !diff.metadataChanged) {
        summary.textContent = trans.__('No difference: this version is the current content.');
      }
      const codeMime = this._notebookMime({ language_info: diff.language ?? undefined });
      const list = document.createElement('ol');
      list.className = 'jp-collab-VersionView-cellDiffs';
      for (const row of rows) {
        const li = document.createElement('li');
        li.className = `jp-collab-VersionView-cellDiff jp-mod-${row.status}`;
        li.dataset.status = row.status;
        const head = document.createElement('div');
        head.className = 'jp-collab-VersionView-cellLabel';
        const where =
          row.status === 'removed'
            ? trans.__('Cell %1 (before)', (row.oldIndex ?? 0) + 1)
            : trans.__('Cell %1', row.position ?? '?');
        const text = document.createElement('span');
        text.textContent = `${where} · ${cellTypeLabel(row.cellType, trans)}`;
        head.append(text);
        for (const b of row.badges) {
          const badge = document.createElement('span');
          badge.className = `jp-collab-HistoryPanel-badge jp-mod-${b}`;
          badge.textContent = badgeLabel(b, row.oldIndex, row.newIndex, trans);
          head.append(badge);
        }
        li.append(head);
        const hunks = diffHunks(row.lines);
        const mime = cellMimeType(row.cellType, codeMime);
        for (const hunk of hunks) {
          const host = placeholder(hunk.doc.text);
          li.append(host);
          this._lazy().add(host, h =>
            readOnlyEditor(this._options.inlineEditor, h, hunk.doc.text, mime, {
              lineNumbers: false,
              extensions: diffExtensions(hunk.doc, labels)
            })
          );
        }
        list.append(li);
      }
      body.append(list);
    } else if (diff.type === 'blob') {
      summary.textContent = diff.changed
        ? trans.__('The file changed since this version (%1 bytes → %2 bytes).', diff.oldSize, diff.newSize)
        : trans.__('No difference: this version is the current content.');
    }
    const authors = (diff.authors ?? []).map(a => this._badge(a).label);
    if (authors.length) {
      const by = document.createElement('p');
      by.className = 'jp-collab-VersionView-summary jp-collab-VersionView-changedBy';
      by.textContent = trans.__('Changed since by %1.', authors.join(', '));
      summary.after(by);
    }
  }

  private _notebookMime(metadata: any): string {
    const info = notebookLanguage(metadata);
    return info
      ? this._options.mimeTypes.getMimeTypeByLanguage(info as any)
      : IEditorMimeTypeService.defaultMimeType;
  }

  private _lazy(): LazyEditors {
    if (!this._lazyEditors) {
      this._lazyEditors = new LazyEditors(this._body);
    }
    return this._lazyEditors;
  }

  private _disposeEditors(): void {
    this._lazyEditors?.dispose();
    this._lazyEditors = null;
    for (const editor of this._editors) {
      editor.dispose();
    }
    this._editors = [];
  }

  private _options: VersionView.IOptions;
  private _trans: TranslationBundle;
  private _header: HTMLElement;
  private _titleEl: HTMLHeadingElement;
  private _meta: HTMLDivElement;
  private _actions: HTMLDivElement;
  private _status: HTMLDivElement;
  private _body: HTMLDivElement;
  private _shown: unknown = undefined;
  private _editors: IReadOnlyEditor[] = [];
  private _lazyEditors: LazyEditors | null = null;
}

/** A button of the version tab. */
export function button(
  label: string,
  options: {
    title?: string;
    className?: string;
    disabled?: boolean;
    pressed?: boolean;
    focusKey?: string;
    onClick: () => void;
  }
): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `jp-collab-HistoryPanel-button ${options.className ?? ''}`.trim();
  b.textContent = label;
  if (options.title) {
    b.title = options.title;
  }
  if (options.focusKey) {
    b.dataset.focusKey = options.focusKey;
  }
  b.disabled = !!options.disabled;
  if (options.pressed !== undefined) {
    b.setAttribute('aria-pressed', options.pressed ? 'true' : 'false');
  }
  b.addEventListener('click', options.onClick);
  return b;
}

/** A user's avatar: initials on their colour. */
export function avatar(badge: IUserBadge): HTMLElement {
  const el = document.createElement('span');
  el.className = 'jp-collab-Avatar jp-collab-Avatar-small';
  el.style.setProperty('--jp-collab-user-color', badge.color);
  el.textContent = badge.initials;
  el.title = badge.label;
  el.setAttribute('aria-hidden', 'true');
  return el;
}

function note(text: string): HTMLElement {
  const p = document.createElement('p');
  p.className = 'jp-collab-VersionView-summary';
  p.textContent = text;
  return p;
}

/** Where an editor will be, showing its text meanwhile. */
function placeholder(text: string): HTMLElement {
  const host = document.createElement('div');
  host.className = 'jp-collab-VersionView-editor jp-mod-pending';
  const pre = document.createElement('pre');
  pre.className = 'jp-collab-VersionView-plain';
  pre.textContent = text;
  host.append(pre);
  return host;
}

export function cellTypeLabel(type: string, trans: TranslationBundle): string {
  switch (type) {
    case 'code':
      return trans.__('code');
    case 'markdown':
      return trans.__('markdown');
    case 'raw':
      return trans.__('raw');
    default:
      return type;
  }
}

function badgeLabel(
  b: string,
  oldIndex: number | null,
  newIndex: number | null,
  trans: TranslationBundle
): string {
  switch (b) {
    case 'added':
      return trans.__('added');
    case 'removed':
      return trans.__('removed');
    case 'modified':
      return trans.__('modified');
    case 'moved':
      return oldIndex !== null && newIndex !== null
        ? trans.__('moved from %1', oldIndex + 1)
        : trans.__('moved');
    case 'outputs':
      return trans.__('outputs changed');
    case 'metadata':
      return trans.__('metadata changed');
    default:
      return b;
  }
}
