/**
 * The history side panel: versions of the current document, preview,
 * diff against the current content, naming, restoring and "who wrote
 * this". Renders a HistoryModel.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { historyIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

type Message = Parameters<Widget['processMessage']>[0];

import { IAwarenessUser } from '../presencemodel';
import { IVersion } from './api';
import { IUserBadge, attributionRows, firstLine, userBadge } from './diffmodel';
import {
  ITimeOptions,
  kindLabel,
  madeBy,
  shownTime,
  versionTitle
} from './format';
import { HistoryModel, IHistoryProblem } from './model';
import { avatar, button } from './viewer';
import { VersionMode } from './viewmodel';
import { nextInList } from '../listkeys';

export namespace HistoryPanel {
  export interface IOptions {
    model: HistoryModel;
    trans: TranslationBundle;
    /** Users we know (awareness states), by username. */
    knownUsers: () => ReadonlyMap<string, IAwarenessUser>;
    /** The current content (for attribution excerpts). */
    currentContent: () => {
      text?: string;
      cells?: ReadonlyMap<string, { source: string; cellType: string }>;
    };
    /** Ask for a version name (null: cancelled). */
    askName: () => Promise<string | null>;
    /** Confirm a restore. */
    confirmRestore: (version: IVersion) => Promise<boolean>;
    /** Tell the user something went wrong with an action. */
    reportError: (message: string) => void;
    /** Open a version in the main area, as its content or its changes. */
    openVersion: (version: IVersion, mode: VersionMode) => void;
    /** Locale, time zone (tests). */
    time?: ITimeOptions;
  }
}

/** The history side panel. */
export class HistoryPanel extends Widget {
  constructor(options: HistoryPanel.IOptions) {
    super();
    this._options = options;
    this.model = options.model;
    const trans = (this._trans = options.trans);
    this.id = 'jp-collab-history';
    this.addClass('jp-collab-HistoryPanel');
    this.title.icon = historyIcon;
    this.title.caption = trans.__('Document History');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('Document History'));
    this.node.addEventListener('keydown', this._onKeyDown);

    const header = document.createElement('div');
    header.className = 'jp-collab-HistoryPanel-header';
    const h2 = document.createElement('h2');
    h2.textContent = trans.__('History');
    this._docName = document.createElement('div');
    this._docName.className = 'jp-collab-HistoryPanel-document';
    header.append(h2, this._docName);

    this._toolbar = document.createElement('div');
    this._toolbar.className = 'jp-collab-HistoryPanel-toolbar';
    this._toolbar.setAttribute('role', 'toolbar');
    this._toolbar.setAttribute('aria-label', trans.__('History actions'));

    this._status = document.createElement('div');
    this._status.className = 'jp-collab-HistoryPanel-status';
    this._status.setAttribute('role', 'status');
    this._status.setAttribute('aria-live', 'polite');

    this._list = document.createElement('ul');
    this._list.className = 'jp-collab-HistoryPanel-list';
    this._list.setAttribute('aria-label', trans.__('Versions, newest first'));

    this._detail = document.createElement('section');
    this._detail.className = 'jp-collab-HistoryPanel-detail';
    this._detail.setAttribute('aria-label', trans.__('Selected version'));

    this.node.append(header, this._toolbar, this._status, this._list, this._detail);
    this.model.changed.connect(this._render, this);
    this._render();
  }

  readonly model: HistoryModel;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._render, this);
    this.node.removeEventListener('keydown', this._onKeyDown);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.model.setActive(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    void this.model.setActive(false);
  }

  /** Ask for a name and name the current content. */
  async nameCurrent(): Promise<void> {
    if (!this.model.canWrite || this.model.busy) {
      return;
    }
    const name = await this._options.askName();
    if (name === null || !name.trim()) {
      return;
    }
    try {
      await this.model.nameVersion(name);
    } catch (err) {
      this._options.reportError(this._problemText(this.model.problem));
    }
  }

  /** Confirm, then restore a version. */
  async restoreVersion(version: IVersion): Promise<void> {
    if (!this.model.canWrite || this.model.busy) {
      return;
    }
    const ok = await this._options.confirmRestore(version);
    if (!ok) {
      return;
    }
    try {
      await this.model.restore(version.id);
    } catch (err) {
      this._options.reportError(this._problemText(this.model.problem));
    }
  }

  // ---- rendering ---------------------------------------------------------

  private _render(): void {
    if (this.isDisposed) {
      return;
    }
    const trans = this._trans;
    const model = this.model;
    const doc = model.document;
    const focused = document.activeElement as HTMLElement | null;
    const focusKey =
      focused && this.node.contains(focused) ? focused.dataset.focusKey : undefined;

    this._docName.textContent = doc
      ? doc.path
      : trans.__('Open a shared notebook or text file to see its history.');
    this.node.classList.toggle('jp-mod-empty', !doc);
    this.node.classList.toggle('jp-mod-readonly', !!doc && !doc.canWrite);

    this._renderToolbar();
    this._renderStatus();
    this._renderList();
    this._renderDetail();

    if (focusKey) {
      const again = Array.from(
        this.node.querySelectorAll<HTMLElement>('[data-focus-key]')
      ).find(el => el.dataset.focusKey === focusKey);
      if (again && again !== document.activeElement) {
        again.focus();
      }
    }
  }

  private _renderToolbar(): void {
    const trans = this._trans;
    const model = this.model;
    const doc = model.document;
    this._toolbar.replaceChildren();
    if (!doc) {
      return;
    }
    if (model.canWrite) {
      this._toolbar.append(
        button(trans.__('Name this version…'), {
          title: trans.__('Give the current content a name in the history'),
          focusKey: 'name',
          className: 'jp-collab-HistoryPanel-name',
          disabled: model.busy,
          onClick: () => void this.nameCurrent()
        })
      );
    }
    this._toolbar.append(
      button(trans.__('Who wrote this'), {
        title: trans.__('Show who last wrote each line or cell of the current content'),
        focusKey: 'attribution',
        className: 'jp-collab-HistoryPanel-attribution',
        pressed: model.view.kind === 'attribution',
        onClick: () =>
          model.view.kind === 'attribution'
            ? model.closeView()
            : void model.showAttribution()
      }),
      button(trans.__('Refresh'), {
        title: trans.__('Load the list of versions again'),
        focusKey: 'refresh',
        className: 'jp-collab-HistoryPanel-refresh',
        disabled: model.loading,
        onClick: () => void model.refresh()
      })
    );
    if (!model.canWrite) {
      const note = document.createElement('p');
      note.className = 'jp-collab-HistoryPanel-note';
      note.textContent = trans.__(
        'You can view this history; only editors can name or restore versions.'
      );
      this._toolbar.append(note);
    }
  }

  private _renderStatus(): void {
    const model = this.model;
    const trans = this._trans;
    const problem = model.problem;
    this._status.classList.toggle('jp-mod-error', !!problem);
    if (problem) {
      this._status.textContent = this._problemText(problem);
    } else if (model.loading && !model.versions.length) {
      this._status.textContent = trans.__('Loading versions…');
    } else if (model.viewLoading) {
      this._status.textContent = trans.__('Loading…');
    } else if (model.busy) {
      this._status.textContent = trans.__('Working…');
    } else {
      this._status.textContent = '';
    }
    this._status.hidden = !this._status.textContent;
  }

  private _renderList(): void {
    const trans = this._trans;
    const model = this.model;
    this._list.replaceChildren();
    if (!model.document) {
      return;
    }
    if (model.loaded && !model.versions.length && !model.problem) {
      const li = document.createElement('li');
      li.className = 'jp-collab-HistoryPanel-empty';
      li.textContent = trans.__(
        'No versions yet. Versions are made as people edit, save, and name versions.'
      );
      this._list.append(li);
      return;
    }
    for (const v of model.versions) {
      this._list.append(this._versionItem(v));
    }
    if (model.hasMore) {
      const li = document.createElement('li');
      li.className = 'jp-collab-HistoryPanel-more';
      li.append(
        button(trans.__('Load older versions'), {
          focusKey: 'more',
          disabled: model.loading,
          onClick: () => void model.loadMore()
        })
      );
      this._list.append(li);
    }
  }

  /** One version in the list: what it is, when, who made it, who wrote it. */
  private _versionItem(v: IVersion): HTMLElement {
    const trans = this._trans;
    const model = this.model;
    const li = document.createElement('li');
    li.className = 'jp-collab-HistoryPanel-version';
    li.dataset.versionId = String(v.id);
    li.dataset.kind = v.kind;
    const selected = model.selectedId === v.id;
    li.classList.toggle('jp-mod-selected', selected);

    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'jp-collab-HistoryPanel-versionButton';
    button.dataset.focusKey = `version:${v.id}`;
    button.setAttribute('aria-current', selected ? 'true' : 'false');
    const title = versionTitle(v, trans, this._options.time);
    const when = shownTime(v.time, this._options.time);
    button.title = trans.__('%1 (%2): show it in the main area', title, when.full);
    button.addEventListener('click', () => this._open(v, 'content'));

    const top = document.createElement('span');
    top.className = 'jp-collab-HistoryPanel-versionTop';
    const name = document.createElement('span');
    name.className = 'jp-collab-HistoryPanel-versionName';
    name.textContent = title;
    const kind = document.createElement('span');
    kind.className = `jp-collab-HistoryPanel-kind jp-mod-${v.kind}`;
    kind.textContent = kindLabel(v.kind, trans);
    top.append(name, kind);

    const meta = document.createElement('span');
    meta.className = 'jp-collab-HistoryPanel-versionMeta';
    const time = document.createElement('time');
    time.dateTime = v.time;
    time.textContent = when.label;
    time.title = when.full;
    // (automatic and saved versions are titled by their time already)
    time.hidden = title === when.label;
    meta.append(time);
    const made = madeBy(v, u => this._badge(u).label, trans);
    if (made) {
      const by = document.createElement('span');
      by.className = 'jp-collab-HistoryPanel-madeBy';
      by.textContent = made;
      meta.append(by);
    }
    button.append(top, meta);
    if (v.authors.length) {
      const people = document.createElement('span');
      people.className = 'jp-collab-HistoryPanel-authors';
      for (const a of v.authors.slice(0, 4)) {
        people.append(avatar(this._badge(a)));
      }
      const names = document.createElement('span');
      names.className = 'jp-collab-HistoryPanel-authorNames';
      const list = v.authors.map(a => this._badge(a).label).join(', ');
      names.textContent = trans.__('Changes by %1', list);
      people.title = trans.__('Who wrote the changes since the previous version: %1', list);
      people.append(names);
      button.append(people);
    }
    li.append(button);
    return li;
  }

  private _open(v: IVersion, mode: VersionMode): void {
    this.model.select(v.id);
    this._options.openVersion(v, mode);
  }

  private _badge(username: string | null, nobody = ''): IUserBadge {
    return userBadge(username, this._options.knownUsers(), nobody);
  }

  private _renderDetail(): void {
    const trans = this._trans;
    const model = this.model;
    const view = model.view;
    this._detail.replaceChildren();
    const selected = model.selected;
    this._detail.hidden = view.kind === 'none' && !selected;
    if (this._detail.hidden) {
      return;
    }

    if (view.kind === 'attribution') {
      const body = document.createElement('div');
      body.className = 'jp-collab-HistoryPanel-body jp-collab-HistoryPanel-attributionBody';
      body.tabIndex = 0;
      body.setAttribute('aria-label', trans.__('Who wrote the current content'));
      const h3 = document.createElement('h3');
      h3.textContent = trans.__('Who wrote this');
      const close = button(trans.__('Close'), {
        focusKey: 'close',
        className: 'jp-collab-HistoryPanel-close',
        onClick: () => model.closeView()
      });
      const bar = document.createElement('div');
      bar.className = 'jp-collab-HistoryPanel-detailBar';
      bar.append(h3, close);
      this._detail.append(bar);
      this._renderAttribution(body, view.attribution);
      this._detail.append(body);
      return;
    }

    // The selected version: what can be done with it (shown in the main area).
    const version = selected!;
    const bar = document.createElement('div');
    bar.className = 'jp-collab-HistoryPanel-detailBar';
    const h3 = document.createElement('h3');
    const title = versionTitle(version, trans, this._options.time);
    h3.textContent = title;
    h3.title = title;
    const when = shownTime(version.time, this._options.time);
    const time = document.createElement('time');
    time.className = 'jp-collab-HistoryPanel-detailTime';
    time.dateTime = version.time;
    time.textContent = when.label;
    time.title = when.full;
    const actions = document.createElement('div');
    actions.className = 'jp-collab-HistoryPanel-actions';
    actions.setAttribute('role', 'toolbar');
    actions.append(
      button(trans.__('Open'), {
        title: trans.__('Show the content of this version in the main area'),
        focusKey: 'preview',
        className: 'jp-collab-HistoryPanel-preview',
        onClick: () => this._open(version, 'content')
      }),
      button(trans.__('Changes since'), {
        title: trans.__('What changed from this version to the current content'),
        focusKey: 'diff',
        className: 'jp-collab-HistoryPanel-diff',
        onClick: () => this._open(version, 'changes')
      })
    );
    if (model.canWrite) {
      actions.append(
        button(trans.__('Restore…'), {
          title: trans.__('Make this version the current content (for everyone)'),
          focusKey: 'restore',
          className: 'jp-collab-HistoryPanel-restore jp-mod-warn',
          disabled: model.busy,
          onClick: () => void this.restoreVersion(version)
        })
      );
    }
    bar.append(h3, time, actions);
    this._detail.append(bar);
  }

  private _renderAttribution(body: HTMLElement, attribution: any): void {
    const trans = this._trans;
    const known = this._options.knownUsers();
    const rows = attributionRows(attribution, this._options.currentContent());
    if (!rows.length) {
      body.append(emptyText(trans.__('Nothing to attribute: the document is empty.')));
      return;
    }
    const ol = document.createElement('ol');
    ol.className = 'jp-collab-HistoryPanel-attributionList';
    for (const row of rows) {
      const li = document.createElement('li');
      li.className = 'jp-collab-HistoryPanel-attributionRow';
      const badge = userBadge(row.user, known, this._originLabel(row.origin));
      li.style.setProperty('--jp-collab-user-color', badge.color);
      li.dataset.user = row.user ?? '';
      const where = document.createElement('span');
      where.className = 'jp-collab-HistoryPanel-where';
      if (attribution.type === 'notebook') {
        where.textContent = trans.__('Cell %1', row.from);
      } else {
        where.textContent =
          row.from === row.to
            ? trans.__('Line %1', row.from)
            : trans.__('Lines %1–%2', row.from, row.to);
      }
      const who = document.createElement('span');
      who.className = 'jp-collab-HistoryPanel-who';
      who.append(avatar(badge));
      const name = document.createElement('span');
      name.textContent = badge.label;
      who.append(name);
      if (row.restoredBy) {
        const restored = document.createElement('span');
        restored.className = 'jp-collab-HistoryPanel-restoredBy';
        restored.textContent = trans.__(
          'restored by %1',
          userBadge(row.restoredBy, known, '').label
        );
        who.append(restored);
      }
      const others = row.authors.filter(a => a !== row.user);
      if (others.length) {
        const more = document.createElement('span');
        more.className = 'jp-collab-HistoryPanel-coauthors';
        more.textContent = trans.__(
          'with %1',
          others.map(a => userBadge(a, known, '').label).join(', ')
        );
        who.append(more);
      }
      const excerpt = document.createElement('code');
      excerpt.className = 'jp-collab-HistoryPanel-excerpt';
      excerpt.textContent = firstLine(row.excerpt);
      li.title = trans.__('%1: last written by %2', where.textContent, badge.label);
      li.append(where, who, excerpt);
      ol.append(li);
    }
    body.append(ol);
  }

  // ---- keyboard ----------------------------------------------------------

  private _onKeyDown = (event: KeyboardEvent): void => {
    const target = event.target as HTMLElement;
    if (event.key === 'Escape' && this.model.view.kind !== 'none') {
      this.model.closeView();
      this._focusSelected();
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    if (
      event.key === 'Enter' &&
      target.classList.contains('jp-collab-HistoryPanel-versionButton')
    ) {
      // (a button's own Enter would click it too: once is enough)
      event.preventDefault();
      target.click();
      return;
    }
    if (!target.classList.contains('jp-collab-HistoryPanel-versionButton')) {
      return;
    }
    const buttons = Array.from(
      this._list.querySelectorAll<HTMLButtonElement>(
        '.jp-collab-HistoryPanel-versionButton'
      )
    );
    const next = nextInList(
      event.key,
      buttons.indexOf(target as HTMLButtonElement),
      buttons.length
    );
    if (next === null) {
      return;
    }
    event.preventDefault();
    buttons[next]?.focus();
  };

  private _focusSelected(): void {
    const id = this.model.selectedId;
    const el =
      (id !== null &&
        this._list.querySelector<HTMLElement>(
          `[data-focus-key="version:${id}"]`
        )) ||
      this._list.querySelector<HTMLElement>('button');
    el?.focus();
  }

  // ---- labels ------------------------------------------------------------

  private _originLabel(origin: string): string {
    const trans = this._trans;
    switch (origin) {
      case 'disk':
        return trans.__('changed on disk');
      case 'load':
        return trans.__('the file as opened');
      case 'snapshot':
        return trans.__('before the kept history');
      case 'restore':
        return trans.__('a restore');
      case 'server':
        return trans.__('the server');
      default:
        return trans.__('unknown');
    }
  }

  private _problemText(problem: IHistoryProblem | null): string {
    const trans = this._trans;
    if (!problem) {
      return trans.__('Something went wrong.');
    }
    if (problem.status === 409) {
      // 409 also answers a restore whose file path is taken by another file.
      return problem.action === 'restore'
        ? trans.__('Could not restore the version: %1', problem.message)
        : trans.__(
            'This version can no longer be rebuilt: its history was compacted.'
          );
    }
    if (problem.status === 403) {
      return problem.action === 'name' || problem.action === 'restore'
        ? trans.__('You may not change this document.')
        : trans.__('You may not read the history of this document.');
    }
    if (problem.status === null) {
      return trans.__('The server cannot be reached: %1', problem.message);
    }
    switch (problem.action) {
      case 'list':
      case 'more':
        return trans.__('Could not load the versions: %1', problem.message);
      case 'preview':
        return trans.__('Could not load this version: %1', problem.message);
      case 'diff':
        return trans.__('Could not compare with the current content: %1', problem.message);
      case 'attribution':
        return trans.__('Could not find who wrote what: %1', problem.message);
      case 'name':
        return trans.__('Could not name the version: %1', problem.message);
      case 'restore':
        return trans.__('Could not restore the version: %1', problem.message);
      default:
        return problem.message;
    }
  }

  private _options: HistoryPanel.IOptions;
  private _trans: TranslationBundle;
  private _docName: HTMLDivElement;
  private _toolbar: HTMLDivElement;
  private _status: HTMLDivElement;
  private _list: HTMLUListElement;
  private _detail: HTMLElement;
}

function emptyText(text: string): HTMLElement {
  const p = document.createElement('p');
  p.className = 'jp-collab-HistoryPanel-summary';
  p.textContent = text;
  return p;
}
