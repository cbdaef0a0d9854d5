import { describe, expect, it } from 'vitest';

import {
  CommentsClient,
  CommentsError,
  MAX_BODY_LENGTH,
  normalizeThread
} from '../comments/api';
import { IReply, IRequest, fakeServer } from './fakeserver';

function setup(reply: (req: IRequest) => IReply) {
  const { settings, requests } = fakeServer(reply);
  return { client: new CommentsClient(settings), requests };
}

/** A thread as docs/comments-api.md shows it. */
const THREAD = {
  id: '7f0c',
  fileId: '5c1e',
  room: 'json:notebook:5c1e',
  path: 'project/analysis.ipynb',
  anchor: { cell: 'c1', start: 'AKmXnraK5JEMCAA=', end: 'AKmXnraK5JEMCkE=', quote: 'df.groupby' },
  detached: false,
  current: { cell: 'c1', start: 10, end: 20, text: 'df.groupby' },
  resolved: false,
  resolvedBy: null,
  resolvedAt: null,
  createdBy: 'alice',
  created: '2026-11-25T21:01:02.345678+00:00',
  updated: '2026-11-25T21:05:00+00:00',
  participants: ['alice', 'bob'],
  comments: [
    {
      id: '9d8e',
      thread: '7f0c',
      author: 'alice',
      body: 'Why group here, @bob?',
      created: '2026-11-25T21:01:02.345678+00:00',
      edited: null,
      mentions: ['bob']
    }
  ]
};
const USERS = { bob: { username: 'bob', display_name: 'Bob Baker', initials: 'BB', color: '#123456' } };

describe('CommentsClient', () => {
  it('lists the threads of a path (escaped in the query) with their people', async () => {
    const { client, requests } = setup(() => ({
      body: { path: 'project/a b.ipynb', role: 'commenter', canComment: true, threads: [THREAD], users: USERS }
    }));
    const list = await client.list('project/a b.ipynb');
    const url = new URL(requests[0].url);
    expect(requests[0].method).toBe('GET');
    expect(url.pathname).toBe('/base/api/collab/comments');
    expect(url.searchParams.get('path')).toBe('project/a b.ipynb');
    expect(list.role).toBe('commenter');
    expect(list.canComment).toBe(true);
    expect(list.users.bob.display_name).toBe('Bob Baker');
    const t = list.threads[0];
    expect(t).toMatchObject({
      id: '7f0c',
      author: 'alice',
      room: 'json:notebook:5c1e',
      resolved: false,
      detached: false,
      anchor: THREAD.anchor
    });
    expect(t.comments.map(c => [c.id, c.author, c.body, c.mentions])).toEqual([
      ['9d8e', 'alice', 'Why group here, @bob?', ['bob']]
    ]);
  });

  it('creates a thread: POST {path, anchor, body, room}, and reads who was told', async () => {
    const { client, requests } = setup(() => ({
      status: 201,
      body: { thread: THREAD, comment: THREAD.comments[0], mentioned: ['bob'], unreachable: ['carol'], users: USERS }
    }));
    const anchor = { cell: 'c1', start: null, end: null, quote: null };
    const result = await client.create('a.ipynb', anchor, '  hello @bob  ', 'json:notebook:5c1e');
    expect(requests.map(r => [r.method, new URL(r.url).pathname, r.body])).toEqual([
      ['POST', '/base/api/collab/comments', { path: 'a.ipynb', anchor, body: 'hello @bob', room: 'json:notebook:5c1e' }]
    ]);
    expect(result.thread?.id).toBe('7f0c');
    expect(result.comment?.id).toBe('9d8e');
    expect(result.mentioned).toEqual(['bob']);
    expect(result.unreachable).toEqual(['carol']);
  });

  it('replies, edits, deletes and resolves at the documented URLs (ids escaped)', async () => {
    const { client, requests } = setup(req =>
      req.method === 'DELETE'
        ? { body: { thread: null, deletedThread: true } }
        : { body: { thread: { ...THREAD, resolved: true, resolvedBy: 'bob' }, comment: THREAD.comments[0] } }
    );
    await client.reply('t/1', 'a reply');
    const edited = await client.edit('t/1', 'c 2', 'new text');
    await client.remove('t/1', 'c 2');
    const resolved = await client.setResolved('t/1', true);
    expect(requests.map(r => [r.method, new URL(r.url).pathname, r.body])).toEqual([
      ['POST', '/base/api/collab/comments/t%2F1/comments', { body: 'a reply' }],
      ['PATCH', '/base/api/collab/comments/t%2F1/comments/c%202', { body: 'new text' }],
      ['DELETE', '/base/api/collab/comments/t%2F1/comments/c%202', null],
      ['PATCH', '/base/api/collab/comments/t%2F1', { resolved: true }]
    ]);
    expect(edited?.id).toBe('9d8e');
    expect(resolved).toMatchObject({ resolved: true, resolvedBy: 'bob' });
  });

  it('refuses an empty or too long body without asking the server', async () => {
    const { client, requests } = setup(() => ({ body: {} }));
    await expect(client.reply('t', '   \n ')).rejects.toBeInstanceOf(CommentsError);
    await expect(client.create('a.txt', null, 'x'.repeat(MAX_BODY_LENGTH + 1))).rejects.toMatchObject({ status: 400 });
    expect(requests).toHaveLength(0);
  });

  it('carries the server message and status; a missing API says so', async () => {
    const forbidden = setup(() => ({ status: 403, body: { message: 'viewers may not comment' } }));
    const err = await forbidden.client.reply('t', 'hi').catch(e => e);
    expect(err).toBeInstanceOf(CommentsError);
    expect(err.status).toBe(403);
    expect(err.message).toBe('viewers may not comment');
    expect(err.unavailable).toBe(false);
    const old = setup(() => ({ status: 404, text: '<html>Not Found</html>', json: false }));
    const gone = await old.client.list('a.txt').catch(e => e);
    expect(gone.unavailable).toBe(true);
  });

  it('rejects a reply without threads', async () => {
    const { client } = setup(() => ({ body: { nothing: true } }));
    await expect(client.list('a.txt')).rejects.toMatchObject({ status: 500 });
  });
});

describe('normalizeThread', () => {
  it('drops malformed comments and keeps well-typed fields only', () => {
    const t = normalizeThread({
      id: 12,
      anchor: { cell: 5, start: 'AA==', end: null, quote: 'q' },
      resolved: 'yes',
      comments: [null, { body: 'no id' }, { id: 3, author: { username: 'carol' }, body: 'ok', created: 'T' }]
    })!;
    expect(t.id).toBe('12');
    expect(t.anchor).toEqual({ cell: null, start: 'AA==', end: null, quote: 'q' });
    expect(t.resolved).toBe(false);
    expect(t.comments).toEqual([
      { id: '3', author: 'carol', body: 'ok', created: 'T', edited: null, mentions: [] }
    ]);
    expect(t.author).toBe('carol'); // the first comment's, when the thread does not say
    expect(normalizeThread({ anchor: {} })).toBeNull();
  });
});
