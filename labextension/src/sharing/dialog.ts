/**
 * The sharing dialog: who has which role on a document or folder, and (for
 * owners) changing it, with a search of the user directory.
 */
import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { EVERYONE, IDirectoryUser, ISharingApi, ROLES, ShareRole } from './api';
import { applyUserColor, userColor, userInitials } from '../presencemodel';
import {
  IShareRow,
  SharingModel,
  everyoneText,
  inheritedText,
  ownAccessText,
  ownersText,
  roleDescription,
  roleLabel
} from './model';

const CLASS = 'jp-collab-ShareDialog';


function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** An avatar: initials on the person's colour (a checked colour: see presencemodel.userColor). */
function avatar(initials: string, color: string): HTMLElement {
  const node = el('span', `${CLASS}-avatar`, initials);
  node.setAttribute('aria-hidden', 'true');
  applyUserColor(node, color);
  return node;
}

/**
 * The body of the dialog.
 */
export class SharingBody extends Widget {
  constructor(options: {
    model: SharingModel;
    trans: TranslationBundle;
    /** Pause after typing before searching (ms; the setting `userSearchDelay`). */
    searchDelay?: number;
  }) {
    super();
    this.model = options.model;
    this._trans = options.trans;
    this._searchDelay = options.searchDelay ?? 200;
    this.addClass(CLASS);
    this.node.tabIndex = -1;
    const trans = this._trans;

    this._own = el('p', `${CLASS}-own`);
    this._error = el('div', `${CLASS}-error`);
    this._error.setAttribute('role', 'alert');
    this._status = el('div', `${CLASS}-status`);
    this._status.setAttribute('role', 'status');
    this._status.setAttribute('aria-live', 'polite');

    // Add people (owners)
    this._add = el('section', `${CLASS}-add`);
    const addId = `${CLASS}-search-${Private.nextId()}`;
    const addLabel = el('label', `${CLASS}-label`, trans.__('Add people'));
    addLabel.htmlFor = addId;
    const addRow = el('div', `${CLASS}-addRow`);
    this._search = el('input', `${CLASS}-search jp-mod-styled`);
    this._search.id = addId;
    this._search.type = 'search';
    this._search.autocomplete = 'off';
    this._search.placeholder = trans.__('Search by name or username');
    this._search.setAttribute('aria-describedby', `${addId}-hint`);
    this._newRole = this._roleSelect(
      'editor',
      trans.__('Access for the person you add'),
      false
    );
    this._newRole.classList.add(`${CLASS}-newRole`);
    addRow.append(this._search, this._newRole);
    const hint = el(
      'div',
      `${CLASS}-hint`,
      trans.__('Type a name, then pick the person (↓ and Enter): they get the access chosen on the right.')
    );
    hint.id = `${addId}-hint`;
    this._results = el('ul', `${CLASS}-results`);
    this._results.setAttribute('aria-label', trans.__('People found'));
    this._add.append(addLabel, addRow, hint, this._results);

    // People with access
    const listSection = el('section', `${CLASS}-people`);
    const listTitle = el('h3', `${CLASS}-heading`, trans.__('People with access'));
    this._list = el('ul', `${CLASS}-list`);
    this._list.setAttribute('aria-label', trans.__('People with access'));
    this._ownersNote = el('p', `${CLASS}-hint ${CLASS}-ownersNote`);
    listSection.append(listTitle, this._ownersNote, this._list);

    // Everyone else
    this._everyone = el('section', `${CLASS}-everyone`);

    this.node.append(this._own, this._error, this._status, this._add, listSection, this._everyone);

    this._search.addEventListener('input', () => this._onSearchInput());
    this._search.addEventListener('keydown', event => this._onSearchKey(event));
    this._results.addEventListener('keydown', event => this._onResultsKey(event));

    // Re-rendering replaces elements: remember which one had the focus.
    this.node.addEventListener('focusin', event => {
      const key = (event.target as HTMLElement | null)?.dataset?.focusKey;
      this._focusKey = key ?? null;
    });

    this.model.changed.connect(this._render, this);
    this._render();
  }

  readonly model: SharingModel;

  /** The search box (focused when the dialog opens for an owner). */
  get searchInput(): HTMLInputElement {
    return this._search;
  }

  /** Handle Enter inside the body (the dialog would close otherwise). */
  handleEnter(target: HTMLElement): boolean {
    if (target === this._search) {
      const first = this._results.querySelector<HTMLButtonElement>('button');
      if (first) {
        first.focus();
      } else if (this._search.value.trim()) {
        this._clearPendingSearch();
        void this.model.search(this._search.value);
      }
      return true;
    }
    if (target instanceof HTMLButtonElement) {
      // A person found, Remove: press it. (JupyterLab < 4.6's Dialog cancels
      // Enter on any button but its own, so the browser would never click it.)
      target.click();
      return true;
    }
    // Selects apply on change; nothing else to submit here.
    return target instanceof HTMLSelectElement || target instanceof HTMLInputElement;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._clearPendingSearch();
    this.model.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _roleSelect(
    value: ShareRole | '',
    label: string,
    withUnset: boolean,
    unsetLabel = ''
  ): HTMLSelectElement {
    const trans = this._trans;
    const select = el('select', `${CLASS}-role jp-mod-styled`);
    select.setAttribute('aria-label', label);
    if (withUnset) {
      const option = el('option', undefined, unsetLabel);
      option.value = '';
      select.appendChild(option);
    }
    for (const role of ROLES) {
      const option = el('option', undefined, roleLabel(role, trans));
      option.value = role;
      option.title = roleDescription(role, trans);
      select.appendChild(option);
    }
    select.value = value;
    return select;
  }

  private _onSearchInput(): void {
    this._clearPendingSearch();
    const value = this._search.value;
    this._searchTimer = window.setTimeout(() => {
      this._searchTimer = null;
      void this.model.search(value);
    }, this._searchDelay);
  }

  private _clearPendingSearch(): void {
    if (this._searchTimer !== null) {
      window.clearTimeout(this._searchTimer);
      this._searchTimer = null;
    }
  }

  private _onSearchKey(event: KeyboardEvent): void {
    if (event.key === 'ArrowDown') {
      const first = this._results.querySelector<HTMLButtonElement>('button');
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  }

  private _onResultsKey(event: KeyboardEvent): void {
    const buttons = Array.from(this._results.querySelectorAll<HTMLButtonElement>('button'));
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (index < 0) {
      return;
    }
    if (event.key === 'ArrowDown' && index < buttons.length - 1) {
      event.preventDefault();
      buttons[index + 1].focus();
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      (index > 0 ? buttons[index - 1] : this._search).focus();
    }
  }

  private async _add_(user: IDirectoryUser): Promise<void> {
    const role = this._newRole.value as ShareRole;
    const ok = await this.model.setRole(user.username, role);
    if (ok) {
      this._search.value = '';
      await this.model.search('');
      // Focus the new row's role, so that it can be changed at once.
      const select = this._list.querySelector<HTMLSelectElement>(
        `[data-focus-key="role:${CSS.escape(user.username)}"]`
      );
      (select ?? this._search).focus();
    }
  }

  private _render(): void {
    const model = this.model;
    const trans = this._trans;
    const shares = model.shares;
    const active = document.activeElement as HTMLElement | null;
    const focusKey =
      active && this.node.contains(active) && active.dataset?.focusKey
        ? active.dataset.focusKey
        : !active || active === document.body
          ? this._focusKey
          : null;

    this.node.classList.toggle('jp-mod-loading', model.loading);
    this.node.classList.toggle('jp-mod-readOnly', !!shares && !shares.canManage);
    this._own.textContent = model.loading && !shares
      ? trans.__('Loading who has access…')
      : shares
        ? ownAccessText(shares, trans)
        : '';
    this._error.textContent = model.error ?? '';
    this._error.hidden = !model.error;
    this._status.textContent = model.status ?? '';

    // add people
    this._add.hidden = !model.canManage;
    this._results.textContent = '';
    if (model.canManage && model.query.trim()) {
      if (model.searching && !model.results.length) {
        this._results.appendChild(el('li', `${CLASS}-empty`, trans.__('Searching…')));
      } else if (!model.results.length) {
        this._results.appendChild(
          el('li', `${CLASS}-empty`, trans.__('Nobody matches “%1”.', model.query.trim()))
        );
      }
      for (const user of model.results) {
        const li = el('li');
        const button = el('button', `${CLASS}-result`);
        button.type = 'button';
        button.dataset.user = user.username;
        button.dataset.focusKey = `result:${user.username}`;
        const current = model.roleOf(user.username);
        const label = user.display_name || user.name || user.username;
        const name = el('span', `${CLASS}-name`, label);
        const detail = el(
          'span',
          `${CLASS}-detail`,
          user.username !== label ? user.username : ''
        );
        const extra = el(
          'span',
          `${CLASS}-detail`,
          user.username === model.self
            ? trans.__('(you)')
            : current
              ? trans.__('now: %1', roleLabel(current, trans))
              : ''
        );
        button.append(
          avatar(
            userInitials({ initials: user.initials }, label),
            userColor({ color: user.color, username: user.username }, user.username)
          ),
          name,
          detail,
          extra
        );
        button.title = trans.__('Give %1 this role', label);
        button.addEventListener('click', () => void this._add_(user));
        li.appendChild(button);
        this._results.appendChild(li);
      }
    }

    // the list
    this._list.textContent = '';
    const note = shares ? ownersText(shares, trans) : null;
    this._ownersNote.textContent = note ?? '';
    this._ownersNote.hidden = !note;
    const rows = model.rows;
    if (shares && !rows.length) {
      this._list.appendChild(
        el('li', `${CLASS}-empty`, trans.__('No one has been given access here yet.'))
      );
    }
    for (const row of rows) {
      this._list.appendChild(this._row(row));
    }

    // everyone else
    this._everyone.textContent = '';
    if (shares) {
      const e = shares.everyone;
      if (shares.canManage) {
        const id = `${CLASS}-everyone-${Private.nextId()}`;
        const label = el('label', `${CLASS}-label`, trans.__('Everyone else'));
        label.htmlFor = id;
        const unset = e?.inherited
          ? trans.__('As the folder “%1” says: %2', e.from, roleLabel(e.role, trans))
          : shares.defaultRole
            ? trans.__('The server’s default: %1', roleLabel(shares.defaultRole, trans))
            : trans.__('The server’s default');
        const select = this._roleSelect(
          e && !e.inherited ? e.role : '',
          trans.__('Access for everyone else'),
          true,
          unset
        );
        select.id = id;
        select.dataset.focusKey = 'everyone';
        select.setAttribute('aria-busy', String(model.isBusy(EVERYONE)));
        select.addEventListener('change', () => {
          const value = select.value;
          void model.setRole(EVERYONE, value ? (value as ShareRole) : null);
        });
        const text = el('div', `${CLASS}-hint`, everyoneText(shares, trans));
        this._everyone.append(label, select, text);
      } else {
        this._everyone.append(el('p', `${CLASS}-everyoneText`, everyoneText(shares, trans)));
      }
    }

    if (focusKey) {
      const again = this.node.querySelector<HTMLElement>(
        `[data-focus-key="${CSS.escape(focusKey)}"]`
      );
      if (again && again !== document.activeElement) {
        again.focus();
      } else if (!again && this.isAttached) {
        // The element went away (a removed person): keep the keyboard in the dialog.
        (model.canManage ? this._search : this.node).focus();
      }
    }
  }

  private _row(row: IShareRow): HTMLElement {
    const trans = this._trans;
    const model = this.model;
    const li = el('li', `${CLASS}-row`);
    li.dataset.user = row.user;
    li.dataset.role = row.role;
    if (row.inherited) {
      li.classList.add('jp-mod-inherited');
    }
    const who = el('div', `${CLASS}-who`);
    const name = el('span', `${CLASS}-name`, row.label);
    who.appendChild(name);
    const details: string[] = [];
    if (row.detail) {
      details.push(row.detail);
    }
    if (row.isSelf) {
      details.push(trans.__('you'));
    }
    if (row.serverOwner) {
      details.push(trans.__('owns this server'));
    }
    if (row.inherited) {
      details.push(inheritedText(row.from, trans));
    }
    if (details.length) {
      who.appendChild(el('span', `${CLASS}-detail`, details.join(' · ')));
    }
    if (row.limited !== null) {
      const limited = el(
        'span',
        `${CLASS}-limited`,
        row.limited || trans.__('This server lets them do less than this share says.')
      );
      who.appendChild(limited);
      li.classList.add('jp-mod-limited');
    }
    if (row.serverOwner) {
      li.classList.add('jp-mod-serverOwner');
    }
    if (row.grantedBy) {
      li.title = trans.__('Given by %1', row.grantedBy);
    }
    li.append(avatar(row.initials, row.color), who);
    if (row.canChange) {
      const select = this._roleSelect(
        row.role,
        row.inherited
          ? trans.__('Access of %1 here (instead of what the folder gives)', row.label)
          : trans.__('Access of %1', row.label),
        false
      );
      select.dataset.focusKey = `role:${row.user}`;
      select.setAttribute('aria-busy', String(model.isBusy(row.user)));
      select.addEventListener('change', () => {
        void model.setRole(row.user, select.value as ShareRole);
      });
      li.appendChild(select);
    } else {
      const role = el('span', `${CLASS}-roleText`, roleLabel(row.role, trans));
      role.title = roleDescription(row.role, trans);
      li.appendChild(role);
    }
    if (row.canRemove) {
      const remove = el('button', `${CLASS}-remove jp-mod-styled`, trans.__('Remove'));
      remove.type = 'button';
      remove.dataset.focusKey = `remove:${row.user}`;
      remove.setAttribute('aria-busy', String(model.isBusy(row.user)));
      remove.title = trans.__('Take %1 off this list (they keep any access the folders above give them)', row.label);
      remove.setAttribute('aria-label', trans.__('Take %1 off the list', row.label));
      remove.addEventListener('click', () => void model.setRole(row.user, null));
      li.appendChild(remove);
    }
    return li;
  }

  private _trans: TranslationBundle;
  private _own: HTMLElement;
  private _error: HTMLElement;
  private _status: HTMLElement;
  private _add: HTMLElement;
  private _search: HTMLInputElement;
  private _newRole: HTMLSelectElement;
  private _results: HTMLElement;
  private _list: HTMLElement;
  private _ownersNote: HTMLElement;
  private _everyone: HTMLElement;
  private _searchDelay: number;
  private _searchTimer: number | null = null;
  private _focusKey: string | null = null;
}

/**
 * A dialog whose Enter key inside the body does not close it.
 */
class SharingDialog extends Dialog<void> {
  constructor(options: Partial<Dialog.IOptions<void>> & { sharingBody: SharingBody }) {
    super(options);
    this._sharingBody = options.sharingBody;
  }

  handleEvent(event: Event): void {
    if (
      event.type === 'keydown' &&
      (event as KeyboardEvent).key === 'Enter' &&
      event.target instanceof HTMLElement &&
      this._sharingBody.node.contains(event.target) &&
      this._sharingBody.handleEnter(event.target)
    ) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    super.handleEvent(event);
  }

  private _sharingBody: SharingBody;
}

/**
 * Open the sharing dialog of a path; resolves when it is closed.
 */
export async function showSharingDialog(options: {
  path: string;
  title: string;
  api: ISharingApi;
  trans: TranslationBundle;
  self: string | null;
  /** Users known from elsewhere (awareness), for their names. */
  knownUsers?: Iterable<IDirectoryUser>;
  /** Pause after typing before searching (ms). */
  searchDelay?: number;
}): Promise<void> {
  const model = new SharingModel({
    path: options.path,
    api: options.api,
    trans: options.trans,
    self: options.self
  });
  if (options.knownUsers) {
    model.addUsers(options.knownUsers);
  }
  const body = new SharingBody({
    model,
    trans: options.trans,
    searchDelay: options.searchDelay
  });
  const dialog = new SharingDialog({
    title: options.title,
    body,
    sharingBody: body,
    buttons: [Dialog.okButton({ label: options.trans.__('Done') })],
    hasClose: true
  });
  dialog.addClass('jp-collab-ShareDialog-dialog');
  void model.load().then(() => {
    if (model.canManage && dialog.isAttached && !body.node.contains(document.activeElement)) {
      body.searchInput.focus();
    }
  });
  try {
    await dialog.launch();
  } finally {
    body.dispose();
    model.dispose();
  }
}

namespace Private {
  let id = 0;
  export function nextId(): number {
    return ++id;
  }
}
