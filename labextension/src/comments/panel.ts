/**
 * The comments side panel: the threads of the current document (open,
 * resolved, mine), each with its comments, a reply box, edit and delete of
 * one's own comments, resolve and reopen; a box for a new thread on the
 * selection; `@` completion from the user directory; an offer to share the
 * document with mentioned people who cannot read it. Renders a
 * CommentsModel.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { IAwarenessUser } from '../presencemodel';
import { IUserBadge, userBadge } from '../history/diffmodel';
import { ITimeOptions, shownTime } from '../history/format';
import { avatar, button } from '../history/viewer';
import { IAnchor, IComment, IThread } from './api';
import { IMentionQuery, insertMention, mentionAt, splitMentions } from './mentions';
import { CommentsModel, FILTERS, ICommentsProblem, ThreadFilter, orderThreads } from './model';
import { nextInList } from '../listkeys';

/** Where a thread is, as the panel says it. */
export interface IThreadPlace {
  /** "Cell 3", "Line 12", "Lines 4–6", "The whole document". */
  label: string;
  /** The anchored text is gone. */
  detached: boolean;
  /** A sort key (document order), null for detached threads. */
  position: number | null;
  /** What the anchor covers now, if a range. */
  text: string | null;
}

/** A person the mention completion offers. */
export interface IMentionCandidate {
  username: string;
  label: string;
  initials: string;
  color: string | null;
}

/** A thread about to be made (from a command): its anchor and how to show it. */
export interface IPendingThread {
  anchor: IAnchor | null;
  label: string;
  quote: string | null;
}

export namespace CommentsPanel {
  export interface IOptions {
    trans: TranslationBundle;
    /** Users we know (replies, awareness), by username. */
    knownUsers: () => ReadonlyMap<string, IAwarenessUser>;
    /** Where a thread is in the open document. */
    placeOf: (thread: IThread) => IThreadPlace;
    /** Show a thread's place in the document. */
    reveal: (thread: IThread) => void;
    /** People for the `@` completion. */
    searchUsers: (query: string) => Promise<IMentionCandidate[]>;
    /**
     * Share the document with people (role `commenter` or `viewer`);
     * resolves with an error message, or null when it worked.
     */
    share: (users: string[], role: 'commenter' | 'viewer') => Promise<string | null>;
    /** Ask before deleting a comment. */
    confirm: (message: string) => Promise<boolean>;
    /** Pause after typing before searching for people (ms). */
    searchDelay?: () => number;
    /** The Comment command's keyboard shortcut as shown ("Ctrl+Alt+M"), or ''. */
    shortcut?: () => string;
    /** Locale, time zone (tests). */
    time?: ITimeOptions;
  }
}

type Message = Parameters<Widget['processMessage']>[0];

const CLASS = 'jp-collab-CommentsPanel';
const MAX_SUGGESTIONS = 8;

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

/** The comments side panel. */
export class CommentsPanel extends Widget {
  constructor(options: CommentsPanel.IOptions) {
    super();
    this._options = options;
    const trans = (this._trans = options.trans);
    this.id = 'jp-collab-comments';
    this.addClass(CLASS);
    this.title.caption = trans.__('Comments');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('Comments'));
    this.node.addEventListener('keydown', this._onKeyDown);

    const header = el('div', `${CLASS}-header`);
    const h2 = el('h2', undefined, trans.__('Comments'));
    this._docName = el('div', `${CLASS}-document`);
    header.append(h2, this._docName);

    this._filters = el('div', `${CLASS}-filters`);
    this._filters.setAttribute('role', 'toolbar');
    this._filters.setAttribute('aria-label', trans.__('Show threads'));

    this._status = el('div', `${CLASS}-status`);
    this._status.setAttribute('role', 'status');
    this._status.setAttribute('aria-live', 'polite');

    this._offer = el('section', `${CLASS}-offer`);
    this._offer.setAttribute('role', 'alert');

    this._composer = el('section', `${CLASS}-composer`);
    this._composer.setAttribute('aria-label', trans.__('New comment'));

    this._list = el('ul', `${CLASS}-list`);
    this._list.setAttribute('aria-label', trans.__('Comment threads'));

    this._popup = el('ul', `${CLASS}-mentions`);
    this._popup.id = `${CLASS}-mentions-${++Private.count}`;
    this._popup.setAttribute('role', 'listbox');
    this._popup.setAttribute('aria-label', trans.__('People to mention'));
    this._popup.hidden = true;
    this._popup.addEventListener('mousedown', event => event.preventDefault());

    this.node.append(
      header,
      this._filters,
      this._status,
      this._offer,
      this._composer,
      this._list,
      this._popup
    );
    this._render();
  }

  get model(): CommentsModel | null {
    return this._model;
  }

  /** Show the comments of another document (null: none). */
  setModel(model: CommentsModel | null): void {
    if (model === this._model) {
      return;
    }
    this._model?.changed.disconnect(this._render, this);
    this._model = model;
    this._pending = null;
    this._editing = null;
    this._offerStatus = null;
    this._closePopup();
    model?.changed.connect(this._render, this);
    if (model && !model.loaded && !model.loading) {
      void model.refresh();
    }
    this._render();
  }

  /** Start a new thread: a box for its first comment, focused. */
  startThread(pending: IPendingThread): void {
    this._pending = pending;
    this._drafts.delete('new');
    this._render();
    const box = this._composer.querySelector<HTMLTextAreaElement>('textarea');
    box?.focus();
    // Run from the command palette or a menu, the command returns before
    // they close, and closing gives the focus back to where it was (the
    // notebook, whose command mode would take the typed comment as
    // commands): take it back once they are gone.
    requestAnimationFrame(() => {
      if (this._pending === pending && box?.isConnected && !this.node.contains(document.activeElement)) {
        box.focus();
      }
    });
  }

  /** Select a thread and bring it into view (from a marker or a notification). */
  showThread(id: string, focusReply = false): void {
    const model = this._model;
    if (!model) {
      return;
    }
    model.select(id);
    const item = this._list.querySelector<HTMLElement>(
      `[data-thread-id="${CSS.escape(id)}"]`
    );
    item?.scrollIntoView({ block: 'nearest' });
    const target =
      (focusReply && item?.querySelector<HTMLElement>('textarea')) ||
      item?.querySelector<HTMLElement>(`.${CLASS}-place`);
    target?.focus();
  }

  /** Draw again (the document changed: places of threads). */
  refresh(): void {
    this._render();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._render(); // places may have moved while hidden
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model?.changed.disconnect(this._render, this);
    this.node.removeEventListener('keydown', this._onKeyDown);
    if (this._searchTimer !== null) {
      window.clearTimeout(this._searchTimer);
    }
    super.dispose();
  }

  // ---- rendering ---------------------------------------------------------

  private _render(): void {
    if (this.isDisposed) {
      return;
    }
    const trans = this._trans;
    const model = this._model;
    const focused = document.activeElement as HTMLElement | null;
    const focusKey =
      focused && this.node.contains(focused) ? (focused.dataset.focusKey ?? null) : null;
    const selection =
      focused instanceof HTMLTextAreaElement
        ? [focused.selectionStart, focused.selectionEnd, focused.scrollTop]
        : null;

    this._docName.textContent = model
      ? model.document.path
      : trans.__('Open a shared notebook or text file to see its comments.');
    this.node.classList.toggle('jp-mod-empty', !model);
    this.node.classList.toggle('jp-mod-readonly', !!model && !model.canComment);

    this._renderFilters();
    this._renderStatus();
    this._renderOffer();
    this._renderComposer();
    this._renderList();
    this._updatePopup();

    if (focusKey) {
      const again = Array.from(this.node.querySelectorAll<HTMLElement>('[data-focus-key]')).find(
        e => e.dataset.focusKey === focusKey
      );
      if (again && again !== document.activeElement) {
        again.focus();
        if (selection && again instanceof HTMLTextAreaElement) {
          again.setSelectionRange(selection[0], selection[1]);
          again.scrollTop = selection[2];
        }
      } else if (!again && this.isVisible) {
        // the element went away (a deleted comment): keep the keyboard here
        this._list.querySelector<HTMLElement>(`.${CLASS}-place`)?.focus();
      }
    }
  }

  private _renderFilters(): void {
    const trans = this._trans;
    const model = this._model;
    this._filters.replaceChildren();
    if (!model) {
      return;
    }
    const counts = model.counts;
    const labels: Record<ThreadFilter, string> = {
      open: trans.__('Open'),
      resolved: trans.__('Resolved'),
      mine: trans.__('Mine')
    };
    const titles: Record<ThreadFilter, string> = {
      open: trans.__('Threads not resolved yet'),
      resolved: trans.__('Threads marked resolved'),
      mine: trans.__('Threads you wrote in or are mentioned in')
    };
    for (const filter of FILTERS) {
      const b = button(`${labels[filter]} (${counts[filter]})`, {
        title: titles[filter],
        focusKey: `filter:${filter}`,
        className: `${CLASS}-filter`,
        pressed: model.filter === filter,
        onClick: () => model.setFilter(filter)
      });
      b.dataset.filter = filter;
      this._filters.append(b);
    }
  }

  private _renderStatus(): void {
    const model = this._model;
    const trans = this._trans;
    const problem = model?.problem ?? null;
    this._status.classList.toggle('jp-mod-error', !!problem);
    let text = '';
    if (!model) {
      text = '';
    } else if (model.unavailable) {
      text = trans.__('This server does not keep comments (the jupyter-collab server extension is missing or too old).');
    } else if (problem) {
      text = this._problemText(problem);
    } else if (model.loading && !model.loaded) {
      text = trans.__('Loading comments…');
    } else if (!model.canComment) {
      text = trans.__('You can read the comments of this document; people who can comment on it or edit it write them.');
    }
    this._status.textContent = text;
    this._status.hidden = !text;
  }

  private _renderOffer(): void {
    const trans = this._trans;
    const model = this._model;
    this._offer.replaceChildren();
    const offer = model?.shareOffer ?? null;
    this._offer.hidden = !offer && !this._offerStatus;
    if (this._offerStatus) {
      this._offer.append(el('p', `${CLASS}-offerText`, this._offerStatus));
      this._offer.append(
        button(trans.__('OK'), {
          focusKey: 'offer:ok',
          className: `${CLASS}-offerDismiss`,
          onClick: () => {
            this._offerStatus = null;
            this._render();
          }
        })
      );
      return;
    }
    if (!offer || !model) {
      return;
    }
    const names = offer.users.map(u => this._badge(u).label).join(', ');
    this._offer.append(
      el(
        'p',
        `${CLASS}-offerText`,
        trans._n(
          '%2 cannot open this document, so they were not notified. Share it with them?',
          '%2 cannot open this document, so they were not notified. Share it with them?',
          offer.users.length, // %1 (the count)
          names // %2
        )
      )
    );
    const actions = el('div', `${CLASS}-actions`);
    const busy = this._sharing;
    const share = (role: 'commenter' | 'viewer') => async () => {
      this._sharing = true;
      this._render();
      const error = await this._options.share(offer.users, role);
      this._sharing = false;
      if (error) {
        this._offerStatus = error;
      } else {
        this._offerStatus =
          role === 'commenter'
            ? trans.__('%1 can now view and comment on this document. Mention them again in a reply to notify them.', names)
            : trans.__('%1 can now view this document. Mention them again in a reply to notify them.', names);
      }
      model.dismissShareOffer();
    };
    actions.append(
      button(trans.__('Let them comment'), {
        title: trans.__('Share the document with them: they can read it and comment'),
        focusKey: 'offer:commenter',
        className: `${CLASS}-shareComment`,
        disabled: busy,
        onClick: () => void share('commenter')()
      }),
      button(trans.__('Let them view'), {
        title: trans.__('Share the document with them: they can read it and its comments'),
        focusKey: 'offer:viewer',
        className: `${CLASS}-shareView`,
        disabled: busy,
        onClick: () => void share('viewer')()
      }),
      button(trans.__('Not now'), {
        focusKey: 'offer:dismiss',
        className: `${CLASS}-offerDismiss`,
        disabled: busy,
        onClick: () => model.dismissShareOffer()
      })
    );
    this._offer.append(actions);
  }

  private _renderComposer(): void {
    const trans = this._trans;
    const model = this._model;
    const pending = this._pending;
    this._composer.replaceChildren();
    this._composer.hidden = !pending || !model || !model.canComment;
    if (this._composer.hidden || !pending || !model) {
      return;
    }
    const title = el('h3', `${CLASS}-composerTitle`, trans.__('New comment on %1', pending.label));
    this._composer.append(title);
    if (pending.quote) {
      this._composer.append(this._quote(pending.quote));
    }
    const box = this._textarea('new', trans.__('Write a comment… (@ to mention someone)'), trans.__('New comment'));
    const actions = el('div', `${CLASS}-actions`);
    actions.append(
      button(trans.__('Comment'), {
        title: trans.__('Post the comment (Enter; Shift+Enter for a new line)'),
        focusKey: 'new:submit',
        className: `${CLASS}-submit jp-mod-accept`,
        disabled: model.isBusy('new'),
        onClick: () => void this._submitNew()
      }),
      button(trans.__('Cancel'), {
        title: trans.__('Do not comment (Escape)'),
        focusKey: 'new:cancel',
        className: `${CLASS}-cancel`,
        onClick: () => this._cancelNew()
      })
    );
    this._composer.append(box, actions);
  }

  private _renderList(): void {
    const trans = this._trans;
    const model = this._model;
    this._list.replaceChildren();
    if (!model || (!model.loaded && !model.threads.length)) {
      return;
    }
    const places = new Map<string, IThreadPlace>();
    for (const t of model.threads) {
      places.set(t.id, this._options.placeOf(t));
    }
    const threads = orderThreads(model.visible, t => places.get(t.id)?.position ?? null);
    if (!threads.length) {
      const empty = el('li', `${CLASS}-empty`);
      switch (model.filter) {
        case 'open':
          {
            const keys = this._options.shortcut?.() ?? '';
            empty.textContent = !model.canComment
              ? trans.__('No open threads.')
              : keys
                ? trans.__('No open threads. Select some text or a cell and choose “Comment” (%1) to start one.', keys)
                : trans.__('No open threads. Select some text or a cell and choose “Comment” to start one.');
          }
          break;
        case 'resolved':
          empty.textContent = trans.__('No resolved threads.');
          break;
        default:
          empty.textContent = trans.__('No threads you wrote in or are mentioned in.');
      }
      this._list.append(empty);
      return;
    }
    for (const t of threads) {
      this._list.append(this._threadItem(t, places.get(t.id)!));
    }
  }

  private _threadItem(thread: IThread, place: IThreadPlace): HTMLElement {
    const trans = this._trans;
    const model = this._model!;
    const detached = place.detached || thread.detached;
    const li = el('li', `${CLASS}-thread`);
    li.dataset.threadId = thread.id;
    const selected = model.selectedId === thread.id;
    li.classList.toggle('jp-mod-selected', selected);
    li.classList.toggle('jp-mod-resolved', thread.resolved);
    li.classList.toggle('jp-mod-detached', detached);
    li.setAttribute('aria-label', trans.__('Thread on %1', place.label));

    // where it is (a button: shows it in the document and selects the thread)
    const where = el('button', `${CLASS}-place`);
    where.type = 'button';
    where.dataset.focusKey = `thread:${thread.id}`;
    where.setAttribute('aria-expanded', selected ? 'true' : 'false');
    where.title = detached
      ? trans.__('The text this thread was on was deleted')
      : trans.__('Show where this thread is in the document');
    const label = el('span', `${CLASS}-placeLabel`, place.label);
    where.append(label);
    if (detached) {
      where.append(el('span', `${CLASS}-tag jp-mod-detached`, trans.__('Detached')));
    }
    if (thread.resolved) {
      where.append(el('span', `${CLASS}-tag jp-mod-resolved`, trans.__('Resolved')));
    }
    where.addEventListener('click', () => {
      model.select(selected ? null : thread.id);
      if (!detached) {
        this._options.reveal(thread);
      }
    });
    li.append(where);
    const quote = detached ? thread.anchor.quote : (place.text ?? thread.anchor.quote);
    if (quote) {
      li.append(this._quote(quote, detached));
    }
    if (detached) {
      li.append(
        el('p', `${CLASS}-detachedNote`, trans.__('The text this thread was on was deleted; the thread is kept.'))
      );
    }

    const ol = el('ol', `${CLASS}-comments`);
    for (const c of thread.comments) {
      ol.append(this._commentItem(thread, c));
    }
    li.append(ol);

    if (thread.resolved && thread.resolvedBy) {
      const when = shownTime(thread.resolvedAt, this._options.time);
      const note = el(
        'p',
        `${CLASS}-resolvedNote`,
        when.inline
          ? trans.__('Resolved by %1, %2', this._badge(thread.resolvedBy).label, when.inline)
          : trans.__('Resolved by %1', this._badge(thread.resolvedBy).label)
      );
      li.append(note);
    }

    if (model.canComment) {
      const busy = model.isBusy(thread.id);
      if (selected) {
        const key = `reply:${thread.id}`;
        const box = this._textarea(key, trans.__('Reply… (@ to mention someone)'), trans.__('Reply to this thread'));
        li.append(box);
      }
      const actions = el('div', `${CLASS}-actions`);
      actions.setAttribute('role', 'toolbar');
      actions.setAttribute('aria-label', trans.__('Thread actions'));
      if (selected) {
        actions.append(
          button(trans.__('Reply'), {
            title: trans.__('Post the reply (Enter; Shift+Enter for a new line)'),
            focusKey: `reply-submit:${thread.id}`,
            className: `${CLASS}-submit jp-mod-accept`,
            disabled: busy,
            onClick: () => void this._submitReply(thread.id)
          })
        );
      } else {
        actions.append(
          button(trans.__('Reply'), {
            title: trans.__('Write a reply'),
            focusKey: `reply-open:${thread.id}`,
            className: `${CLASS}-replyOpen`,
            onClick: () => this.showThread(thread.id, true)
          })
        );
      }
      actions.append(
        thread.resolved
          ? button(trans.__('Reopen'), {
              title: trans.__('Mark this thread as not resolved'),
              focusKey: `reopen:${thread.id}`,
              className: `${CLASS}-reopen`,
              disabled: busy,
              onClick: () => void model.setResolved(thread.id, false)
            })
          : button(trans.__('Resolve'), {
              title: trans.__('Mark this thread as resolved (it moves to Resolved)'),
              focusKey: `resolve:${thread.id}`,
              className: `${CLASS}-resolve`,
              disabled: busy,
              onClick: () => void model.setResolved(thread.id, true)
            })
      );
      li.append(actions);
    }
    return li;
  }

  private _commentItem(thread: IThread, comment: IComment): HTMLElement {
    const trans = this._trans;
    const model = this._model!;
    const li = el('li', `${CLASS}-comment`);
    li.dataset.commentId = comment.id;
    li.dataset.author = comment.author;
    const badge = this._badge(comment.author);
    const head = el('div', `${CLASS}-commentHead`);
    const name = el('span', `${CLASS}-author`, badge.label);
    const when = shownTime(comment.created, this._options.time);
    const time = el('time', `${CLASS}-time`, when.label);
    time.dateTime = comment.created;
    time.title = when.full;
    head.append(avatar(badge), name, time);
    if (comment.edited) {
      const edited = el('span', `${CLASS}-edited`, trans.__('(edited)'));
      edited.title = trans.__('Edited %1', shownTime(comment.edited, this._options.time).full);
      head.append(edited);
    }
    li.append(head);

    const editKey = `${thread.id}/${comment.id}`;
    if (this._editing === editKey) {
      const key = `edit:${editKey}`;
      if (!this._drafts.has(key)) {
        this._drafts.set(key, comment.body);
      }
      const box = this._textarea(key, '', trans.__('Edit your comment'));
      const actions = el('div', `${CLASS}-actions`);
      actions.append(
        button(trans.__('Save'), {
          title: trans.__('Save the comment (Enter)'),
          focusKey: `edit-save:${editKey}`,
          className: `${CLASS}-save jp-mod-accept`,
          disabled: model.isBusy(thread.id),
          onClick: () => void this._submitEdit(thread.id, comment.id)
        }),
        button(trans.__('Cancel'), {
          title: trans.__('Keep the comment as it is (Escape)'),
          focusKey: `edit-cancel:${editKey}`,
          className: `${CLASS}-cancel`,
          onClick: () => this._cancelEdit()
        })
      );
      li.append(box, actions);
      return li;
    }

    const body = el('p', `${CLASS}-body`);
    for (const part of splitMentions(comment.body)) {
      if (part.mention) {
        const m = el('span', `${CLASS}-mention`, part.text);
        m.title = this._badge(part.mention).label;
        body.append(m);
      } else {
        body.append(document.createTextNode(part.text));
      }
    }
    li.append(body);

    const canEdit = model.canEdit(comment);
    const canDelete = model.canDelete(comment);
    if (canEdit || canDelete) {
      const actions = el('div', `${CLASS}-commentActions`);
      if (canEdit) {
        const b = button(trans.__('Edit'), {
          title: trans.__('Change your comment'),
          focusKey: `edit:${editKey}:open`,
          className: `${CLASS}-edit`,
          onClick: () => {
            this._editing = editKey;
            this._drafts.set(`edit:${editKey}`, comment.body);
            this._render();
            this.node.querySelector<HTMLTextAreaElement>(
              `textarea[data-focus-key="${CSS.escape(`edit:${editKey}`)}"]`
            )?.focus();
          }
        });
        b.setAttribute('aria-label', trans.__('Edit your comment of %1', when.inline));
        actions.append(b);
      }
      if (canDelete) {
        const b = button(trans.__('Delete'), {
          title:
            comment.author === model.document.self
              ? trans.__('Delete your comment')
              : trans.__('Delete this comment (you own the document)'),
          focusKey: `delete:${editKey}`,
          className: `${CLASS}-delete jp-mod-warn`,
          disabled: model.isBusy(thread.id),
          onClick: () => void this._delete(thread, comment)
        });
        b.setAttribute('aria-label', trans.__('Delete the comment of %1 by %2', when.inline, badge.label));
        actions.append(b);
      }
      li.append(actions);
    }
    return li;
  }

  private _quote(text: string, detached = false): HTMLElement {
    const q = el('blockquote', `${CLASS}-quote${detached ? ' jp-mod-detached' : ''}`);
    q.textContent = text.length > 300 ? text.slice(0, 299) + '…' : text;
    return q;
  }

  /** A comment box (kept across renders: its text is in `_drafts`). */
  private _textarea(key: string, placeholder: string, label: string): HTMLTextAreaElement {
    let box = this._boxes.get(key);
    if (!box) {
      box = el('textarea', `${CLASS}-input jp-mod-styled`);
      box.dataset.focusKey = key;
      box.rows = 2;
      box.setAttribute('aria-autocomplete', 'list');
      box.setAttribute('aria-haspopup', 'listbox');
      const b = box;
      b.addEventListener('input', () => {
        this._drafts.set(key, b.value);
        this._onMentionInput(b, key);
      });
      b.addEventListener('click', () => this._onMentionInput(b, key));
      b.addEventListener('blur', () => {
        if (this._mention?.key === key) {
          this._closePopup();
        }
      });
      b.addEventListener('keydown', event => this._onBoxKey(event, b, key));
      this._boxes.set(key, b);
    }
    box.placeholder = placeholder;
    box.setAttribute('aria-label', label);
    const draft = this._drafts.get(key) ?? '';
    if (box.value !== draft) {
      box.value = draft;
    }
    return box;
  }

  // ---- actions -----------------------------------------------------------

  private async _submitNew(): Promise<void> {
    const model = this._model;
    const pending = this._pending;
    const body = this._drafts.get('new') ?? '';
    if (!model || !pending || !body.trim() || model.isBusy('new')) {
      return;
    }
    const thread = await model.createThread(pending.anchor, body);
    if (thread && this._model === model) {
      this._pending = null;
      this._drafts.delete('new');
      this._boxes.delete('new');
      this._render();
      this.showThread(thread.id);
    }
  }

  private _cancelNew(): void {
    this._pending = null;
    this._drafts.delete('new');
    this._boxes.delete('new');
    this._closePopup();
    this._render();
    this._filters.querySelector<HTMLElement>('button[aria-pressed="true"]')?.focus();
  }

  private async _submitReply(threadId: string): Promise<void> {
    const model = this._model;
    const key = `reply:${threadId}`;
    const body = this._drafts.get(key) ?? '';
    if (!model || !body.trim() || model.isBusy(threadId)) {
      return;
    }
    if (await model.reply(threadId, body)) {
      this._drafts.delete(key);
      this._render();
      this.node.querySelector<HTMLTextAreaElement>(`textarea[data-focus-key="${CSS.escape(key)}"]`)?.focus();
    }
  }

  private async _submitEdit(threadId: string, commentId: string): Promise<void> {
    const model = this._model;
    const editKey = `${threadId}/${commentId}`;
    const key = `edit:${editKey}`;
    const body = this._drafts.get(key) ?? '';
    if (!model || !body.trim() || model.isBusy(threadId)) {
      return;
    }
    if (await model.edit(threadId, commentId, body)) {
      this._editing = null;
      this._drafts.delete(key);
      this._boxes.delete(key);
      this._render();
      this.node.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(`${key}:open`)}"]`)?.focus();
    }
  }

  private _cancelEdit(): void {
    const key = this._editing;
    this._editing = null;
    if (key) {
      this._drafts.delete(`edit:${key}`);
      this._boxes.delete(`edit:${key}`);
    }
    this._closePopup();
    this._render();
    if (key) {
      this.node.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(`edit:${key}:open`)}"]`)?.focus();
    }
  }

  private async _delete(thread: IThread, comment: IComment): Promise<void> {
    const model = this._model;
    if (!model) {
      return;
    }
    const last = thread.comments.length === 1;
    const ok = await this._options.confirm(
      last
        ? this._trans.__('Delete this comment? It is the only one of its thread: the thread goes too.')
        : this._trans.__('Delete this comment?')
    );
    if (ok) {
      await model.remove(thread.id, comment.id);
    }
  }

  // ---- keyboard ----------------------------------------------------------

  private _onBoxKey(event: KeyboardEvent, box: HTMLTextAreaElement, key: string): void {
    const m = this._mention;
    if (m && m.key === key && !this._popup.hidden && this._suggestions.length) {
      const n = this._suggestions.length;
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        this._active = (this._active + (event.key === 'ArrowDown' ? 1 : n - 1)) % n;
        this._drawPopup();
        return;
      }
      if (event.key === 'Enter' || event.key === 'Tab') {
        event.preventDefault();
        event.stopPropagation();
        this._pick(this._suggestions[this._active]);
        return;
      }
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        this._closePopup();
        return;
      }
    }
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      event.stopPropagation();
      if (key === 'new') {
        void this._submitNew();
      } else if (key.startsWith('reply:')) {
        void this._submitReply(key.slice('reply:'.length));
      } else if (key.startsWith('edit:')) {
        const [threadId, commentId] = key.slice('edit:'.length).split('/');
        void this._submitEdit(threadId, commentId);
      }
      return;
    }
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      if (key === 'new') {
        this._cancelNew();
      } else if (key.startsWith('edit:')) {
        this._cancelEdit();
      } else {
        // a reply: leave the box (its draft is kept)
        const threadId = key.slice('reply:'.length);
        this._model?.select(null);
        this.node.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(`thread:${threadId}`)}"]`)?.focus();
      }
    }
    void box;
  }

  private _onKeyDown = (event: KeyboardEvent): void => {
    const target = event.target as HTMLElement;
    if (!target.classList.contains(`${CLASS}-place`)) {
      return;
    }
    const buttons = Array.from(this._list.querySelectorAll<HTMLButtonElement>(`.${CLASS}-place`));
    if (event.key === 'Escape') {
      if (this._model?.selectedId) {
        event.preventDefault();
        this._model.select(null);
      }
      return;
    }
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

  // ---- mention completion ------------------------------------------------

  private _onMentionInput(box: HTMLTextAreaElement, key: string): void {
    const query = mentionAt(box.value, box.selectionStart ?? box.value.length);
    if (!query) {
      if (this._mention?.key === key) {
        this._closePopup();
      }
      return;
    }
    this._mention = { key, box, query };
    // people known here at once, the directory after a pause
    this._suggestions = this._localCandidates(query.query);
    this._active = 0;
    this._drawPopup();
    if (this._searchTimer !== null) {
      window.clearTimeout(this._searchTimer);
    }
    const asked = query.query;
    this._searchTimer = window.setTimeout(() => {
      this._searchTimer = null;
      void this._options
        .searchUsers(asked)
        .then(found => {
          const m = this._mention;
          if (!m || m.key !== key || m.query.query !== asked) {
            return;
          }
          const seen = new Set<string>();
          const merged: IMentionCandidate[] = [];
          for (const c of [...found, ...this._localCandidates(asked)]) {
            if (!seen.has(c.username) && c.username !== this._model?.document.self) {
              seen.add(c.username);
              merged.push(c);
            }
          }
          this._suggestions = merged.slice(0, MAX_SUGGESTIONS);
          this._active = Math.min(this._active, Math.max(0, this._suggestions.length - 1));
          this._drawPopup();
        })
        .catch(() => undefined);
    }, this._options.searchDelay?.() ?? 150);
  }

  private _localCandidates(query: string): IMentionCandidate[] {
    const q = query.toLowerCase();
    const out: IMentionCandidate[] = [];
    for (const [username, user] of this._options.knownUsers()) {
      if (username === this._model?.document.self) {
        continue;
      }
      const badge = userBadge(username, this._options.knownUsers(), '');
      if (
        username.toLowerCase().startsWith(q) ||
        badge.label.toLowerCase().split(/\s+/).some(w => w.startsWith(q))
      ) {
        out.push({ username, label: badge.label, initials: badge.initials, color: user.color ?? null });
      }
    }
    return out.slice(0, MAX_SUGGESTIONS);
  }

  private _drawPopup(): void {
    const m = this._mention;
    const popup = this._popup;
    popup.replaceChildren();
    if (!m || !m.box.isConnected || !this._suggestions.length) {
      popup.hidden = true;
      m?.box.removeAttribute('aria-activedescendant');
      m?.box.setAttribute('aria-expanded', 'false');
      return;
    }
    this._suggestions.forEach((c, i) => {
      const li = el('li', `${CLASS}-mentionItem`);
      li.id = `${popup.id}-${i}`;
      li.setAttribute('role', 'option');
      li.dataset.user = c.username;
      li.setAttribute('aria-selected', i === this._active ? 'true' : 'false');
      const badge = userBadge(c.username, new Map([[c.username, { ...c, display_name: c.label }]]), '');
      li.append(avatar(badge), el('span', `${CLASS}-mentionName`, c.label));
      if (c.label !== c.username) {
        li.append(el('span', `${CLASS}-mentionUser`, `@${c.username}`));
      }
      li.addEventListener('click', () => this._pick(c));
      popup.append(li);
    });
    popup.hidden = false;
    m.box.setAttribute('aria-controls', popup.id);
    m.box.setAttribute('aria-expanded', 'true');
    m.box.setAttribute('aria-activedescendant', `${popup.id}-${this._active}`);
    // under the box
    const box = m.box.getBoundingClientRect();
    const host = this.node.getBoundingClientRect();
    popup.style.top = `${box.bottom - host.top + this.node.scrollTop + 2}px`;
    popup.style.left = `${box.left - host.left}px`;
    popup.style.width = `${Math.max(180, box.width)}px`;
  }

  private _updatePopup(): void {
    const m = this._mention;
    if (!m) {
      return;
    }
    const box = this._boxes.get(m.key);
    if (!box || !box.isConnected) {
      this._closePopup();
      return;
    }
    m.box = box;
    this._drawPopup();
  }

  private _pick(candidate: IMentionCandidate): void {
    const m = this._mention;
    if (!m) {
      return;
    }
    const box = m.box;
    const result = insertMention(box.value, box.selectionStart ?? box.value.length, m.query, candidate.username);
    box.value = result.text;
    this._drafts.set(m.key, result.text);
    box.setSelectionRange(result.caret, result.caret);
    this._closePopup();
    box.focus();
  }

  private _closePopup(): void {
    if (this._searchTimer !== null) {
      window.clearTimeout(this._searchTimer);
      this._searchTimer = null;
    }
    this._mention?.box.setAttribute('aria-expanded', 'false');
    this._mention?.box.removeAttribute('aria-activedescendant');
    this._mention = null;
    this._suggestions = [];
    this._active = 0;
    this._popup.hidden = true;
    this._popup.replaceChildren();
  }

  // ---- labels ------------------------------------------------------------

  private _badge(username: string): IUserBadge {
    return userBadge(username, this._options.knownUsers(), '');
  }

  private _problemText(problem: ICommentsProblem): string {
    const trans = this._trans;
    if (problem.status === null) {
      return trans.__('The server cannot be reached: %1', problem.message);
    }
    if (problem.status === 403) {
      return trans.__('You may not do this: %1', problem.message);
    }
    if (problem.status === 404 && problem.action !== 'list') {
      return trans.__('This thread or comment no longer exists.');
    }
    switch (problem.action) {
      case 'list':
        return trans.__('Could not load the comments: %1', problem.message);
      case 'create':
        return trans.__('Could not post the comment: %1', problem.message);
      case 'reply':
        return trans.__('Could not post the reply: %1', problem.message);
      case 'edit':
        return trans.__('Could not change the comment: %1', problem.message);
      case 'delete':
        return trans.__('Could not delete the comment: %1', problem.message);
      case 'resolve':
        return trans.__('Could not resolve the thread: %1', problem.message);
      case 'reopen':
        return trans.__('Could not reopen the thread: %1', problem.message);
    }
  }

  private _options: CommentsPanel.IOptions;
  private _trans: TranslationBundle;
  private _model: CommentsModel | null = null;
  private _docName: HTMLElement;
  private _filters: HTMLElement;
  private _status: HTMLElement;
  private _offer: HTMLElement;
  private _composer: HTMLElement;
  private _list: HTMLUListElement;
  private _popup: HTMLUListElement;
  private _pending: IPendingThread | null = null;
  private _editing: string | null = null;
  private _drafts = new Map<string, string>();
  private _boxes = new Map<string, HTMLTextAreaElement>();
  private _offerStatus: string | null = null;
  private _sharing = false;
  private _mention: { key: string; box: HTMLTextAreaElement; query: IMentionQuery } | null = null;
  private _suggestions: IMentionCandidate[] = [];
  private _active = 0;
  private _searchTimer: number | null = null;
}

namespace Private {
  export let count = 0;
}
