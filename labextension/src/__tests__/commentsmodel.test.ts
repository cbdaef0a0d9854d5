/**
 * The comments model against an in-memory comments service that behaves
 * like the documented one (ids, authors, mentions, unreachable people,
 * delete of the last comment deleting its thread).
 */
import { describe, expect, it } from 'vitest';

import {
  CommentsError,
  IAnchor,
  IComment,
  ICommentsApi,
  IPostResult,
  IThread,
  IThreadList
} from '../comments/api';
import { mentionsIn } from '../comments/mentions';
import {
  CommentsModel,
  ICommentsDocument,
  filterCounts,
  filterThreads,
  isMine,
  orderThreads
} from '../comments/model';

class MemoryComments implements ICommentsApi {
  constructor(
    public user: string,
    /** Who may read the document (others are unreachable when mentioned). */
    public readers: Set<string>
  ) {}
  threads: IThread[] = [];
  lists = 0;
  private _n = 0;
  /** While set, list() waits for it (to test overlapping refreshes). */
  gate: Promise<void> | null = null;

  async list(path: string): Promise<IThreadList> {
    this.lists++;
    if (this.gate) {
      await this.gate;
    }
    return {
      path,
      threads: structuredClone(this.threads),
      users: { [this.user]: { username: this.user, display_name: this.user.toUpperCase() } },
      canComment: null,
      role: null
    };
  }
  private _comment(body: string): IComment {
    return {
      id: `c${++this._n}`,
      author: this.user,
      body: body.trim(),
      created: new Date(2026, 10, 25, 12, this._n).toISOString(),
      edited: null,
      mentions: mentionsIn(body)
    };
  }
  private _post(thread: IThread, comment: IComment): IPostResult {
    const mentioned = comment.mentions.filter(u => u !== this.user && this.readers.has(u));
    const unreachable = comment.mentions.filter(u => u !== this.user && !this.readers.has(u));
    return { thread: structuredClone(thread), comment, mentioned, unreachable, users: {} };
  }
  async create(path: string, anchor: IAnchor | null, body: string, room?: string | null) {
    const comment = this._comment(body);
    const thread: IThread = {
      id: `t${++this._n}`,
      anchor: anchor ?? { cell: null, start: null, end: null, quote: null },
      resolved: false,
      resolvedBy: null,
      resolvedAt: null,
      detached: false,
      room: room ?? null,
      author: this.user,
      created: comment.created,
      comments: [comment]
    };
    this.threads.push(thread);
    return this._post(thread, comment);
  }
  private _find(id: string): IThread {
    const t = this.threads.find(x => x.id === id);
    if (!t) {
      throw new CommentsError('unknown thread', 404);
    }
    return t;
  }
  async reply(id: string, body: string) {
    const t = this._find(id);
    const comment = this._comment(body);
    t.comments.push(comment);
    return this._post(t, comment);
  }
  async edit(id: string, commentId: string, body: string) {
    const c = this._find(id).comments.find(x => x.id === commentId)!;
    if (c.author !== this.user) {
      throw new CommentsError('not your comment', 403);
    }
    c.body = body;
    c.edited = new Date().toISOString();
    return structuredClone(c);
  }
  async remove(id: string, commentId: string) {
    const t = this._find(id);
    t.comments = t.comments.filter(c => c.id !== commentId);
    if (!t.comments.length) {
      this.threads = this.threads.filter(x => x !== t);
    }
  }
  async setResolved(id: string, resolved: boolean) {
    const t = this._find(id);
    t.resolved = resolved;
    t.resolvedBy = resolved ? this.user : null;
    return structuredClone(t);
  }
}

const CELL: IAnchor = { cell: 'c1', start: null, end: null, quote: null };

function doc(over: Partial<ICommentsDocument> = {}): ICommentsDocument {
  return { path: 'a.ipynb', room: 'json:notebook:f1', canComment: true, isOwner: false, self: 'alice', ...over };
}

describe('CommentsModel', () => {
  it('creates a thread, selects it, and lists it after a refresh', async () => {
    const api = new MemoryComments('alice', new Set(['alice', 'bob']));
    const model = new CommentsModel(api, doc());
    await model.refresh();
    expect(model.loaded).toBe(true);
    const thread = await model.createThread(CELL, 'First look, @bob');
    expect(thread).not.toBeNull();
    expect(model.selectedId).toBe(thread!.id);
    await model.refresh();
    expect(model.threads.map(t => t.comments[0].body)).toEqual(['First look, @bob']);
    expect(model.threads[0].room).toBe('json:notebook:f1'); // the room was sent
    expect(model.shareOffer).toBeNull(); // bob may read
  });

  it('offers a share for mentioned people who cannot read the document', async () => {
    const api = new MemoryComments('alice', new Set(['alice', 'bob']));
    const model = new CommentsModel(api, doc());
    const t = await model.createThread(CELL, 'cc @carol and @bob');
    expect(model.shareOffer).toEqual({ thread: t!.id, users: ['carol'] });
    model.dismissShareOffer();
    expect(model.shareOffer).toBeNull();
  });

  it('replies, edits, resolves, reopens and deletes, as the server then has it', async () => {
    const api = new MemoryComments('alice', new Set(['alice']));
    const model = new CommentsModel(api, doc());
    const t = (await model.createThread(CELL, 'one'))!;
    expect(await model.reply(t.id, 'two')).toBe(true);
    await model.refresh();
    expect(model.thread(t.id)!.comments.map(c => c.body)).toEqual(['one', 'two']);
    const second = model.thread(t.id)!.comments[1];
    expect(model.canEdit(second)).toBe(true);
    expect(await model.edit(t.id, second.id, 'two, edited')).toBe(true);
    await model.refresh();
    expect(model.thread(t.id)!.comments[1]).toMatchObject({ body: 'two, edited' });
    expect(model.thread(t.id)!.comments[1].edited).not.toBeNull();

    expect(await model.setResolved(t.id, true)).toBe(true);
    expect(model.thread(t.id)).toMatchObject({ resolved: true, resolvedBy: 'alice' });
    expect(model.visible).toEqual([]); // the open filter hides it
    model.setFilter('resolved');
    expect(model.visible.map(x => x.id)).toEqual([t.id]);
    expect(await model.setResolved(t.id, false)).toBe(true);
    expect(model.thread(t.id)!.resolved).toBe(false);

    for (const c of [...model.thread(t.id)!.comments]) {
      expect(await model.remove(t.id, c.id)).toBe(true);
    }
    await model.refresh();
    expect(model.thread(t.id)).toBeUndefined(); // the last comment took the thread with it
    expect(api.threads).toEqual([]);
  });

  it('a viewer reads but cannot write: nothing is sent', async () => {
    const api = new MemoryComments('bob', new Set(['bob']));
    api.threads.push({
      id: 't1', anchor: CELL, resolved: false, resolvedBy: null, resolvedAt: null, detached: false,
      room: null, author: 'alice', created: 'x',
      comments: [{ id: 'c1', author: 'alice', body: 'hi', created: 'x', edited: null, mentions: [] }]
    });
    const model = new CommentsModel(api, doc({ canComment: false, self: 'bob' }));
    await model.refresh();
    expect(model.threads).toHaveLength(1);
    expect(await model.reply('t1', 'me too')).toBe(false);
    expect(await model.createThread(CELL, 'new')).toBeNull();
    expect(model.problem).toMatchObject({ action: 'create', status: 403 });
    expect(api.threads[0].comments).toHaveLength(1);
    expect(model.canEdit(api.threads[0].comments[0])).toBe(false);
  });

  it('others may not edit a comment; owners may delete it', async () => {
    const api = new MemoryComments('alice', new Set(['alice']));
    const model = new CommentsModel(api, doc({ self: 'bob' }));
    const owner = new CommentsModel(api, doc({ self: 'carol', isOwner: true }));
    const c: IComment = { id: 'c1', author: 'alice', body: 'x', created: '', edited: null, mentions: [] };
    expect(model.canEdit(c)).toBe(false);
    expect(model.canDelete(c)).toBe(false);
    expect(owner.canEdit(c)).toBe(false);
    expect(owner.canDelete(c)).toBe(true);
  });

  it('keeps a failed action as a problem with its status, and clears it on the next one', async () => {
    const api = new MemoryComments('alice', new Set(['alice']));
    const model = new CommentsModel(api, doc());
    expect(await model.reply('nope', 'hello')).toBe(false);
    expect(model.problem).toMatchObject({ action: 'reply', status: 404, thread: 'nope' });
    await model.createThread(CELL, 'fine');
    expect(model.problem).toBeNull();
  });

  it('shows only the threads of the room open here', async () => {
    const api = new MemoryComments('alice', new Set(['alice']));
    const notebook = new CommentsModel(api, doc());
    const asText = new CommentsModel(api, doc({ room: 'text:file:f1' }));
    await notebook.createThread(CELL, 'on the notebook');
    await asText.createThread(null, 'on the text');
    await notebook.refresh();
    await asText.refresh();
    expect(notebook.threads.map(t => t.comments[0].body)).toEqual(['on the notebook']);
    expect(asText.threads.map(t => t.comments[0].body)).toEqual(['on the text']);
  });

  it('makes one more request for notices that arrive while loading, not one each', async () => {
    const api = new MemoryComments('alice', new Set(['alice']));
    const model = new CommentsModel(api, doc());
    let open!: () => void;
    api.gate = new Promise(resolve => (open = resolve));
    const first = model.refresh();
    for (let i = 0; i < 5; i++) {
      model.handleNotice({ type: 'comments', thread: 't', action: 'created' });
    }
    api.threads.push({
      id: 'late', anchor: CELL, resolved: false, resolvedBy: null, resolvedAt: null, detached: false,
      room: null, author: 'bob', created: 'x', comments: []
    });
    api.gate = null;
    open();
    await first;
    expect(api.lists).toBe(2);
    expect(model.threads.map(t => t.id)).toEqual(['late']);
    expect(model.loading).toBe(false);
  });

  it('selecting a thread hidden by the filter switches to a filter that shows it', async () => {
    const api = new MemoryComments('alice', new Set(['alice']));
    const model = new CommentsModel(api, doc());
    const t = (await model.createThread(CELL, 'x'))!;
    await model.setResolved(t.id, true);
    expect(model.filter).toBe('open');
    model.select(t.id);
    expect(model.filter).toBe('resolved');
    expect(model.visible.map(x => x.id)).toEqual([t.id]);
  });
});

describe('filters and order', () => {
  const thread = (id: string, over: Partial<IThread>): IThread => ({
    id, anchor: CELL, resolved: false, resolvedBy: null, resolvedAt: null, detached: false,
    room: null, author: 'alice', created: id, comments: [], ...over
  });
  const comment = (author: string, body: string): IComment => ({
    id: body, author, body, created: '', edited: null, mentions: []
  });
  const threads = [
    thread('1', { author: 'alice', comments: [comment('alice', 'a')] }),
    thread('2', { author: 'carol', comments: [comment('carol', 'hey @bob')] }),
    thread('3', { author: 'carol', resolved: true, comments: [comment('carol', 'c'), comment('bob', 'ok')] }),
    thread('4', { author: 'carol', resolved: true, comments: [comment('carol', 'd')] })
  ];

  it('open, resolved, and mine (wrote in it or mentioned, open or resolved)', () => {
    expect(filterThreads(threads, 'open', 'bob').map(t => t.id)).toEqual(['1', '2']);
    expect(filterThreads(threads, 'resolved', 'bob').map(t => t.id)).toEqual(['3', '4']);
    expect(filterThreads(threads, 'mine', 'bob').map(t => t.id)).toEqual(['2', '3']);
    expect(filterThreads(threads, 'mine', null)).toEqual([]);
    expect(filterCounts(threads, 'alice')).toEqual({ open: 2, resolved: 2, mine: 1 });
    expect(isMine(threads[0], 'alice')).toBe(true);
  });

  it('orders by place in the document, detached last, then by time', () => {
    const pos: Record<string, number | null> = { '1': 50, '2': null, '3': 10, '4': 50 };
    expect(orderThreads(threads, t => pos[t.id]).map(t => t.id)).toEqual(['3', '1', '4', '2']);
  });
});
