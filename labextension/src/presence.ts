/**
 * Presence UI: the collaborators side panel and the avatars of a document.
 */
import { PathExt } from '@jupyterlab/coreutils';
import { TranslationBundle } from '@jupyterlab/translation';
import { usersIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { IRoom } from './contentprovider';
import { FollowController } from './follow';
import { safeAvatarUrl } from './identity';
import { ICollaborator, activityOf, applyUserColor } from './presencemodel';
import { PresenceTracker } from './presencetracker';

export { PresenceTracker } from './presencetracker';

/** An avatar circle (image or initials on the user's colour). */
export function createAvatar(c: ICollaborator, size = 'normal'): HTMLElement {
  const el = document.createElement('span');
  el.className = `jp-collab-Avatar jp-collab-Avatar-${size}`;
  applyUserColor(el, c.color);
  el.setAttribute('aria-hidden', 'true');
  const avatarUrl = safeAvatarUrl(c.user.avatar_url);
  if (avatarUrl) {
    const img = document.createElement('img');
    img.src = avatarUrl;
    img.referrerPolicy = 'no-referrer';
    img.alt = '';
    el.appendChild(img);
  } else {
    el.textContent = c.initials;
  }
  return el;
}

/**
 * The side panel listing the collaborators and their documents.
 */
export class CollaboratorsPanel extends Widget {
  constructor(options: CollaboratorsPanel.IOptions) {
    super();
    this._tracker = options.tracker;
    this._trans = options.trans;
    this._open = options.open;
    this._follow = options.follow ?? null;
    this.id = 'jp-collab-collaborators';
    this.addClass('jp-collab-CollaboratorsPanel');
    this.title.icon = usersIcon;
    this.title.caption = this._trans.__('Collaborators');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', this._trans.__('Collaborators'));

    const header = document.createElement('h2');
    header.className = 'jp-collab-CollaboratorsPanel-header';
    header.textContent = this._trans.__('Collaborators');
    this._list = document.createElement('ul');
    this._list.className = 'jp-collab-CollaboratorsPanel-list';
    this._list.setAttribute('aria-label', this._trans.__('People in your open documents'));
    this._empty = document.createElement('p');
    this._empty.className = 'jp-collab-CollaboratorsPanel-empty';
    this._empty.textContent = this._trans.__(
      'Nobody else is here yet. People working on the documents you have open appear here.'
    );
    this._status = document.createElement('div');
    this._status.className = 'jp-collab-CollaboratorsPanel-following';
    this._status.setAttribute('role', 'status');
    this._status.hidden = true;
    this.node.appendChild(header);
    this.node.appendChild(this._status);
    this.node.appendChild(this._empty);
    this.node.appendChild(this._list);
    this._tracker.changed.connect(this._render, this);
    this._follow?.changed.connect(this._render, this);
    this._render();
  }

  private _renderStatus(people: ICollaborator[]): void {
    const key = this._follow?.following ?? null;
    const person = key ? people.find(p => p.key === key) : undefined;
    this._status.hidden = !person;
    this._status.replaceChildren();
    if (!person) {
      return;
    }
    applyUserColor(this._status, person.color);
    const text = document.createElement('span');
    text.textContent = this._trans.__(
      'Following %1. Press Escape to stop.',
      person.displayName
    );
    const stop = document.createElement('button');
    stop.type = 'button';
    stop.className = 'jp-collab-CollaboratorsPanel-stop';
    stop.textContent = this._trans.__('Stop');
    stop.title = this._trans.__('Stop following %1', person.displayName);
    stop.addEventListener('click', () => this._follow?.stop());
    this._status.append(text, stop);
  }

  private _render(): void {
    const everyone = this._tracker.collaborators(this._trans.__('Anonymous'), true);
    const people = everyone.filter(c => !c.isSelf);
    this._empty.hidden = people.length > 0;
    this._renderStatus(people);
    // Keep the keyboard focus on the same control across re-renders.
    const focused = document.activeElement as HTMLElement | null;
    const focusKey =
      focused && this._list.contains(focused) ? focused.dataset.focusKey : undefined;
    this._list.replaceChildren();
    for (const c of everyone) {
      const item = document.createElement('li');
      item.className = 'jp-collab-Collaborator';
      item.classList.toggle('jp-mod-self', c.isSelf);
      item.dataset.user = c.user.username ?? c.key;
      const head = document.createElement('div');
      head.className = 'jp-collab-Collaborator-head';
      head.appendChild(createAvatar(c));
      const name = document.createElement('span');
      name.className = 'jp-collab-Collaborator-name';
      name.textContent = c.displayName;
      head.appendChild(name);
      if (c.isSelf) {
        const you = document.createElement('span');
        you.className = 'jp-collab-Collaborator-you';
        you.textContent = this._trans.__('you');
        head.appendChild(you);
      }
      if (this._follow && !c.isSelf) {
        const following = this._follow.following === c.key;
        const follow = document.createElement('button');
        follow.type = 'button';
        follow.className = 'jp-collab-Collaborator-follow';
        follow.classList.toggle('jp-mod-active', following);
        follow.dataset.focusKey = `follow:${c.key}`;
        follow.setAttribute('aria-pressed', following ? 'true' : 'false');
        follow.textContent = following
          ? this._trans.__('Following')
          : this._trans.__('Follow');
        follow.title = following
          ? this._trans.__('Stop following %1 (Escape)', c.displayName)
          : this._trans.__(
              'Follow %1: your view goes where they go',
              c.displayName
            );
        follow.setAttribute('aria-label', follow.title);
        follow.addEventListener('click', () => this._follow?.toggle(c.key));
        head.appendChild(follow);
      }
      item.appendChild(head);

      const docs = document.createElement('ul');
      docs.className = 'jp-collab-Collaborator-documents';
      docs.setAttribute(
        'aria-label',
        c.isSelf
          ? this._trans.__('Documents you have open')
          : this._trans.__('Documents %1 has open', c.displayName)
      );
      for (const path of c.documents) {
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'jp-collab-Collaborator-document';
        const activity = activityOf(c, path);
        button.dataset.activity = activity;
        const label = document.createElement('span');
        label.className = 'jp-collab-Collaborator-documentName';
        label.textContent = PathExt.basename(path);
        button.appendChild(label);
        if (activity !== 'open') {
          button.classList.add('jp-mod-current');
          const badge = document.createElement('span');
          badge.className = `jp-collab-Collaborator-badge jp-mod-${activity}`;
          badge.textContent =
            activity === 'editing' ? this._trans.__('editing') : this._trans.__('viewing');
          button.appendChild(badge);
        }
        button.title = this._documentTitle(c, path, activity);
        button.setAttribute('aria-label', button.title);
        button.dataset.focusKey = `open:${c.key}:${path}`;
        button.addEventListener('click', () => this._open(path, c));
        li.appendChild(button);
        docs.appendChild(li);
      }
      item.appendChild(docs);
      this._list.appendChild(item);
    }
    if (focusKey) {
      const again = Array.from(
        this._list.querySelectorAll<HTMLElement>('[data-focus-key]')
      ).find(el => el.dataset.focusKey === focusKey);
      again?.focus();
    }
  }

  /** What a document entry says (its tooltip and accessible name). */
  private _documentTitle(c: ICollaborator, path: string, activity: string): string {
    const t = this._trans;
    if (c.isSelf) {
      switch (activity) {
        case 'editing':
          return t.__('You are editing %1.', path);
        case 'viewing':
          return t.__('You are looking at %1.', path);
        default:
          return t.__('You have %1 open. Open it.', path);
      }
    }
    switch (activity) {
      case 'editing':
        return t.__('%1 is editing %2. Open it.', c.displayName, path);
      case 'viewing':
        return t.__('%1 is looking at %2. Open it.', c.displayName, path);
      default:
        return t.__('%1 has %2 open. Open it.', c.displayName, path);
    }
  }

  dispose(): void {
    this._tracker.changed.disconnect(this._render, this);
    this._follow?.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _tracker: PresenceTracker;
  private _trans: TranslationBundle;
  private _open: (path: string, c: ICollaborator) => void;
  private _follow: FollowController | null;
  private _list: HTMLUListElement;
  private _empty: HTMLParagraphElement;
  private _status: HTMLDivElement;
}

export namespace CollaboratorsPanel {
  export interface IOptions {
    tracker: PresenceTracker;
    trans: TranslationBundle;
    /** Open a document a collaborator has open (and show where they are). */
    open: (path: string, c: ICollaborator) => void;
    /** Follow mode (a Follow button per person). */
    follow?: FollowController;
  }
}

/**
 * The avatars of the people in one document (shown in its toolbar).
 */
export class DocumentAvatars extends Widget {
  constructor(options: DocumentAvatars.IOptions) {
    super();
    this._tracker = options.tracker;
    this._room = options.room;
    this._trans = options.trans;
    this._onSelect = options.onSelect;
    this._maxAvatars = options.max ?? (() => 5);
    this.addClass('jp-collab-DocumentAvatars');
    this.node.setAttribute('role', 'group');
    this.node.setAttribute('aria-label', this._trans.__('People in this document'));
    this._tracker.changed.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    if (this.isDisposed) {
      return;
    }
    const room = this._room();
    const people = room
      ? this._tracker.roomCollaborators(room, this._trans.__('Anonymous'))
      : [];
    this.node.replaceChildren();
    const max = this._maxAvatars();
    for (const c of people.slice(0, max)) {
      const item = document.createElement(this._onSelect ? 'button' : 'span');
      item.className = 'jp-collab-DocumentAvatars-item';
      item.appendChild(createAvatar(c, 'small'));
      item.title = this._onSelect
        ? this._trans.__('%1 is in this document. Show their cursor.', c.displayName)
        : this._trans.__('%1 is in this document', c.displayName);
      item.setAttribute('aria-label', item.title);
      if (this._onSelect) {
        (item as HTMLButtonElement).type = 'button';
        item.addEventListener('click', () => this._onSelect?.(c));
      } else {
        item.setAttribute('role', 'img');
      }
      this.node.appendChild(item);
    }
    if (people.length > max) {
      const more = document.createElement('span');
      more.className = 'jp-collab-DocumentAvatars-more';
      more.textContent = `+${people.length - max}`;
      more.title = people
        .slice(max)
        .map(c => c.displayName)
        .join(', ');
      this.node.appendChild(more);
    }
  }

  dispose(): void {
    this._tracker.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _tracker: PresenceTracker;
  private _room: () => IRoom | null;
  private _trans: TranslationBundle;
  private _onSelect?: (c: ICollaborator) => void;
  private _maxAvatars: () => number;
}

export namespace DocumentAvatars {
  export interface IOptions {
    tracker: PresenceTracker;
    room: () => IRoom | null;
    trans: TranslationBundle;
    onSelect?: (c: ICollaborator) => void;
    /** How many avatars before "+N" (the setting `toolbarAvatars`). */
    max?: () => number;
  }
}
