// @vitest-environment jsdom
/**
 * The comments panel in a DOM (jsdom): what it lists, its filters, that its
 * buttons reach the server (the real REST client and model, answered by a
 * fake fetch that keeps threads the way docs/comments-api.md describes), and
 * its keyboard use. The Chromium scripts check the same in a real JupyterLab;
 * these run in a second and name the broken part.
 */
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { afterEach, describe, expect, it } from 'vitest';

import { CommentsClient, IThread } from '../comments/api';
import { CommentsModel, ICommentsDocument } from '../comments/model';
import { CommentsPanel, IThreadPlace } from '../comments/panel';
import { IRequest, fakeServer } from './fakeserver';

const trans = nullTranslator.load('jupyter-collab');

const USERS = {
  alice: { username: 'alice', display_name: 'Alice Archer', initials: 'AA', color: '#aa0000' },
  bob: { username: 'bob', display_name: 'Bob Baker', initials: 'BB', color: '#0000bb' }
};

/** The comments service as docs/comments-api.md has it, kept in memory by the fake fetch. */
class DocumentedComments {
  constructor(public user: string) {}
  threads: any[] = [];
  canComment = true;
  private _n = 100;

  thread(id: string, cell: string, author: string, body: string, resolved = false): any {
    const t = {
      id,
      fileId: 'f1',
      room: 'json:notebook:f1',
      path: 'review.ipynb',
      anchor: { cell, start: null, end: null, quote: null },
      detached: false,
      resolved,
      resolvedBy: resolved ? author : null,
      resolvedAt: resolved ? '2026-11-25T21:10:00+00:00' : null,
      createdBy: author,
      created: '2026-11-25T21:00:00+00:00',
      comments: [this._comment(id, author, body)]
    };
    this.threads.push(t);
    return t;
  }

  private _comment(thread: string, author: string, body: string): any {
    return {
      id: `c${++this._n}`,
      thread,
      author,
      body,
      created: '2026-11-25T21:01:02+00:00',
      edited: null,
      mentions: (body.match(/@(\w+)/g) ?? []).map(m => m.slice(1))
    };
  }

  answer = (req: IRequest) => {
    const url = new URL(req.url);
    const parts = url.pathname.replace('/base/api/collab/comments', '').split('/').filter(Boolean);
    if (req.method === 'GET' && !parts.length) {
      return {
        body: {
          path: url.searchParams.get('path'),
          fileId: 'f1',
          role: this.canComment ? 'commenter' : 'viewer',
          canComment: this.canComment,
          threads: this.threads,
          users: USERS
        }
      };
    }
    const t = this.threads.find(x => x.id === decodeURIComponent(parts[0]));
    if (!t) {
      return { status: 404, body: { message: 'unknown thread' } };
    }
    if (req.method === 'POST' && parts[1] === 'comments') {
      const comment = this._comment(t.id, this.user, req.body.body);
      t.comments.push(comment);
      // carol may not read the document: her mention reaches nobody
      const unreachable = comment.mentions.filter((u: string) => u === 'carol');
      const mentioned = comment.mentions.filter((u: string) => u !== 'carol');
      return { status: 201, body: { thread: t, comment, mentioned, unreachable, users: USERS } };
    }
    if (req.method === 'PATCH' && parts.length === 1) {
      t.resolved = req.body.resolved;
      t.resolvedBy = t.resolved ? this.user : null;
      t.resolvedAt = t.resolved ? '2026-11-25T22:00:00+00:00' : null;
      return { body: { thread: t, users: USERS } };
    }
    return { status: 400, body: { message: 'not in this test' } };
  };
}

/** Cell ids of the document, in order ("Cell 1", "Cell 2", ...). */
const CELLS = ['c-a', 'c-b', 'c-c'];

function placeOf(thread: IThread): IThreadPlace {
  const i = CELLS.indexOf(thread.anchor.cell ?? '');
  return i < 0
    ? { label: 'Detached', detached: true, position: null, text: null }
    : { label: `Cell ${i + 1}`, detached: false, position: i, text: null };
}

const attached: Widget[] = [];

afterEach(() => {
  for (const w of attached.splice(0)) {
    w.dispose();
  }
});

async function setup(
  options: {
    self?: string;
    canComment?: boolean;
    share?: (users: string[], role: 'commenter' | 'viewer') => Promise<string | null>;
  } = {}
) {
  const self = options.self ?? 'bob';
  const service = new DocumentedComments(self);
  service.canComment = options.canComment ?? true;
  service.thread('t1', 'c-b', 'alice', 'Why 41 + 1, @bob?');
  service.thread('t2', 'c-a', 'alice', 'Imports first');
  service.thread('t3', 'c-c', 'carol', 'Fixed already', true);
  const { settings, requests } = fakeServer(service.answer);
  const doc: ICommentsDocument = {
    path: 'review.ipynb',
    room: 'json:notebook:f1',
    canComment: service.canComment,
    isOwner: false,
    self
  };
  const model = new CommentsModel(new CommentsClient(settings), doc);
  const revealed: string[] = [];
  const panel = new CommentsPanel({
    trans,
    knownUsers: () => model.users.known(),
    placeOf,
    reveal: t => revealed.push(t.id),
    searchUsers: async () => [],
    share: options.share ?? (async () => null),
    confirm: async () => true,
    searchDelay: () => 0,
    shortcut: () => 'Ctrl+Alt+M',
    time: { locale: 'en-GB', timeZone: 'UTC' }
  });
  Widget.attach(panel, document.body);
  attached.push(panel);
  panel.setModel(model);
  await until(() => model.loaded);
  return { panel, model, service, requests, revealed };
}

/** Wait for the model's requests to settle (their promises run on the microtask queue). */
async function until(cond: () => boolean, rounds = 200): Promise<void> {
  for (let i = 0; i < rounds && !cond(); i++) {
    await new Promise(r => setTimeout(r, 0));
  }
  expect(cond()).toBe(true);
}

const q = (panel: Widget, sel: string) => panel.node.querySelector<HTMLElement>(sel);
const qa = (panel: Widget, sel: string) => Array.from(panel.node.querySelectorAll<HTMLElement>(sel));

function listed(panel: Widget) {
  return qa(panel, '.jp-collab-CommentsPanel-thread').map(li => ({
    id: li.dataset.threadId,
    place: li.querySelector('.jp-collab-CommentsPanel-placeLabel')?.textContent,
    bodies: Array.from(li.querySelectorAll('.jp-collab-CommentsPanel-body')).map(b => b.textContent),
    authors: Array.from(li.querySelectorAll('.jp-collab-CommentsPanel-author')).map(b => b.textContent),
    buttons: Array.from(li.querySelectorAll(':scope > .jp-collab-CommentsPanel-actions button')).map(
      b => b.textContent
    )
  }));
}

function filterButton(panel: Widget, name: string): HTMLButtonElement {
  return q(panel, `.jp-collab-CommentsPanel-filter[data-filter="${name}"]`) as HTMLButtonElement;
}

function type(box: HTMLTextAreaElement, text: string): void {
  box.value = text;
  box.setSelectionRange(text.length, text.length);
  box.dispatchEvent(new Event('input', { bubbles: true }));
}

function key(target: HTMLElement, k: string, extra: KeyboardEventInit = {}): KeyboardEvent {
  const ev = new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...extra });
  target.dispatchEvent(ev);
  return ev;
}

describe('CommentsPanel (DOM)', () => {
  it('lists the open threads in document order, with their places, comments and people', async () => {
    const { panel } = await setup();
    expect(q(panel, '.jp-collab-CommentsPanel-document')?.textContent).toBe('review.ipynb');
    expect(listed(panel)).toEqual([
      { id: 't2', place: 'Cell 1', bodies: ['Imports first'], authors: ['Alice Archer'], buttons: ['Reply', 'Resolve'] },
      { id: 't1', place: 'Cell 2', bodies: ['Why 41 + 1, @bob?'], authors: ['Alice Archer'], buttons: ['Reply', 'Resolve'] }
    ]);
    // the mention is its own element (highlighted), and never HTML
    const mention = q(panel, '[data-thread-id="t1"] .jp-collab-CommentsPanel-mention');
    expect(mention?.textContent).toBe('@bob');
  });

  it('filters open / resolved / mine, with their counts and the pressed state', async () => {
    const { panel, model } = await setup();
    expect(qa(panel, '.jp-collab-CommentsPanel-filter').map(b => b.textContent)).toEqual([
      'Open (2)',
      'Resolved (1)',
      'Mine (1)' // bob is mentioned in t1
    ]);
    expect(filterButton(panel, 'open').getAttribute('aria-pressed')).toBe('true');

    filterButton(panel, 'resolved').click();
    expect(model.filter).toBe('resolved');
    expect(filterButton(panel, 'resolved').getAttribute('aria-pressed')).toBe('true');
    expect(filterButton(panel, 'open').getAttribute('aria-pressed')).toBe('false');
    expect(listed(panel).map(t => [t.id, t.buttons])).toEqual([['t3', ['Reply', 'Reopen']]]);
    expect(q(panel, '[data-thread-id="t3"] .jp-collab-CommentsPanel-resolvedNote')?.textContent).toMatch(
      /^Resolved by carol/
    );

    filterButton(panel, 'mine').click();
    expect(listed(panel).map(t => t.id)).toEqual(['t1']);
  });

  it('an empty filter says so (and how to start a thread)', async () => {
    const { panel, service, model } = await setup();
    service.threads = [];
    await model.refresh();
    expect(q(panel, '.jp-collab-CommentsPanel-empty')?.textContent).toBe(
      'No open threads. Select some text or a cell and choose “Comment” (Ctrl+Alt+M) to start one.'
    );
  });

  it('Reply posts the reply to the thread through the REST API, and shows it', async () => {
    const { panel, requests, revealed } = await setup();
    const place = q(panel, '[data-thread-id="t1"] .jp-collab-CommentsPanel-place') as HTMLButtonElement;
    place.click();
    expect(revealed).toEqual(['t1']); // shown in the document
    const box = q(panel, '[data-thread-id="t1"] textarea') as HTMLTextAreaElement;
    expect(box).not.toBeNull();
    type(box, 'It is the answer.');
    const before = requests.length;
    (q(panel, '[data-thread-id="t1"] .jp-collab-CommentsPanel-submit') as HTMLButtonElement).click();
    await until(() => listed(panel).find(t => t.id === 't1')!.bodies.length === 2);
    const post = requests.slice(before).find(r => r.method === 'POST')!;
    expect(new URL(post.url).pathname).toBe('/base/api/collab/comments/t1/comments');
    expect(post.body).toEqual({ body: 'It is the answer.' });
    expect(listed(panel).find(t => t.id === 't1')!.bodies).toEqual(['Why 41 + 1, @bob?', 'It is the answer.']);
    // the box is emptied for the next reply
    expect((q(panel, '[data-thread-id="t1"] textarea') as HTMLTextAreaElement).value).toBe('');
  });

  it('Enter in the reply box posts too; Shift+Enter does not', async () => {
    const { panel, requests } = await setup();
    (q(panel, '[data-thread-id="t2"] .jp-collab-CommentsPanel-replyOpen') as HTMLButtonElement).click();
    const box = q(panel, '[data-thread-id="t2"] textarea') as HTMLTextAreaElement;
    expect(document.activeElement).toBe(box); // "Reply" puts the keyboard in the box
    type(box, 'first line');
    expect(key(box, 'Enter', { shiftKey: true }).defaultPrevented).toBe(false);
    expect(requests.filter(r => r.method === 'POST')).toEqual([]);
    expect(key(box, 'Enter').defaultPrevented).toBe(true);
    await until(() => requests.some(r => r.method === 'POST'));
    expect(requests.find(r => r.method === 'POST')!.body).toEqual({ body: 'first line' });
  });

  it('Resolve and Reopen PATCH the thread and move it between the filters', async () => {
    const { panel, requests, model } = await setup();
    (q(panel, '[data-thread-id="t2"] .jp-collab-CommentsPanel-resolve') as HTMLButtonElement).click();
    await until(() => filterButton(panel, 'resolved').textContent === 'Resolved (2)');
    const patch = requests.find(r => r.method === 'PATCH')!;
    expect(new URL(patch.url).pathname).toBe('/base/api/collab/comments/t2');
    expect(patch.body).toEqual({ resolved: true });
    expect(listed(panel).map(t => t.id)).toEqual(['t1']);
    expect(filterButton(panel, 'open').textContent).toBe('Open (1)');

    filterButton(panel, 'resolved').click();
    (q(panel, '[data-thread-id="t3"] .jp-collab-CommentsPanel-reopen') as HTMLButtonElement).click();
    await until(() => filterButton(panel, 'open').textContent === 'Open (2)' && !model.loading);
    const reopen = requests.filter(r => r.method === 'PATCH')[1];
    expect(new URL(reopen.url).pathname).toBe('/base/api/collab/comments/t3');
    expect(reopen.body).toEqual({ resolved: false });
    expect(listed(panel).map(t => t.id)).toEqual(['t2']);
  });

  it('a mention of someone who cannot read the document offers to share it, naming them', async () => {
    const shared: [string[], string][] = [];
    const { panel, requests } = await setup({ share: async (users, role) => (shared.push([users, role]), null) });
    (q(panel, '[data-thread-id="t1"] .jp-collab-CommentsPanel-replyOpen') as HTMLButtonElement).click();
    const box = q(panel, '[data-thread-id="t1"] textarea') as HTMLTextAreaElement;
    type(box, '@carol what do you think?');
    key(box, 'Enter');
    await until(() => !!q(panel, '.jp-collab-CommentsPanel-offer') && !q(panel, '.jp-collab-CommentsPanel-offer')!.hidden);
    expect(requests.find(r => r.method === 'POST')!.body).toEqual({ body: '@carol what do you think?' });
    // (before: "1 cannot open this document": the count where the names go)
    expect(q(panel, '.jp-collab-CommentsPanel-offerText')?.textContent).toBe(
      'carol cannot open this document, so they were not notified. Share it with them?'
    );
    (q(panel, '.jp-collab-CommentsPanel-shareComment') as HTMLButtonElement).click();
    await until(() => shared.length === 1);
    expect(shared).toEqual([[['carol'], 'commenter']]);
  });

  it('a viewer reads the threads without any control to write, and is told why', async () => {
    const { panel } = await setup({ canComment: false });
    expect(listed(panel).map(t => [t.id, t.buttons])).toEqual([
      ['t2', []],
      ['t1', []]
    ]);
    expect(qa(panel, 'textarea')).toEqual([]);
    expect(q(panel, '.jp-collab-CommentsPanel-status')?.textContent).toMatch(/^You can read the comments/);
    expect(panel.hasClass('jp-mod-readonly')).toBe(true);
  });

  it('keyboard: arrows, Home and End move between threads; Escape unselects', async () => {
    const { panel, model } = await setup();
    const places = () => qa(panel, '.jp-collab-CommentsPanel-place');
    places()[0].focus();
    key(places()[0], 'ArrowDown');
    expect(document.activeElement).toBe(places()[1]);
    key(places()[1], 'ArrowDown'); // (stays on the last)
    key(places()[1], 'Home');
    expect(document.activeElement).toBe(places()[0]);
    key(places()[0], 'End');
    expect(document.activeElement).toBe(places()[1]);
    key(places()[1], 'ArrowUp');
    expect(document.activeElement).toBe(places()[0]);

    places()[0].click();
    expect(model.selectedId).toBe('t2');
    // the focus survives the redraw the selection makes
    expect((document.activeElement as HTMLElement).dataset.focusKey).toBe('thread:t2');
    key(document.activeElement as HTMLElement, 'Escape');
    expect(model.selectedId).toBeNull();
  });

  it('a new thread from the command palette: the box gets the focus back when the palette gives it away', async () => {
    const { panel } = await setup();
    const notebook = document.createElement('div');
    notebook.tabIndex = 0;
    document.body.appendChild(notebook);
    panel.startThread({ anchor: { cell: 'c-b', start: null, end: null, quote: null }, label: 'Cell 2', quote: null });
    // the palette closes after the command ran and focuses where the person was (the notebook,
    // whose command mode would take the typed comment as commands)
    notebook.focus();
    await new Promise(r => requestAnimationFrame(() => r(null)));
    expect(document.activeElement).toBe(q(panel, '.jp-collab-CommentsPanel-composer textarea'));
    notebook.remove();
  });

  it('a new thread: the box is focused, Escape cancels it and the focus stays in the panel', async () => {
    const { panel, requests } = await setup();
    panel.startThread({ anchor: { cell: 'c-c', start: null, end: null, quote: null }, label: 'Cell 3', quote: null });
    const composer = q(panel, '.jp-collab-CommentsPanel-composer')!;
    expect(composer.hidden).toBe(false);
    expect(composer.querySelector('.jp-collab-CommentsPanel-composerTitle')?.textContent).toBe('New comment on Cell 3');
    const box = composer.querySelector('textarea') as HTMLTextAreaElement;
    expect(document.activeElement).toBe(box);
    type(box, 'never mind');
    key(box, 'Escape');
    expect(composer.hidden).toBe(true);
    expect((document.activeElement as HTMLElement).dataset.focusKey).toBe('filter:open');
    expect(requests.filter(r => r.method === 'POST')).toEqual([]);
  });
});
