import { ServerConnection } from '@jupyterlab/services';
import { describe, expect, it } from 'vitest';

import { HistoryClient, HistoryError } from '../history/api';
import { IReply, IRequest, fakeServer } from './fakeserver';

/** A client whose fetch answers with `reply(request)`. */
function setup(reply: (req: IRequest) => IReply) {
  const { settings, requests } = fakeServer(reply);
  return { client: new HistoryClient(settings), requests };
}

const VERSION = {
  id: 12,
  seq: 340,
  time: '2026-11-24T20:01:02.345678+00:00',
  name: 'Before the refactoring',
  kind: 'named',
  createdBy: 'alice',
  authors: ['alice', 'bob'],
  changeBytes: 1234,
  size: 5678,
  restoredFrom: null
};
const ROOM = 'json:notebook:5c1e-ab';

describe('HistoryClient', () => {
  it('lists versions with limit and before, room id escaped', async () => {
    const { client, requests } = setup(() => ({ body: { versions: [VERSION], next: 7 } }));
    const page = await client.listVersions(ROOM, { limit: 50, before: 20 });
    expect(requests[0].method).toBe('GET');
    const url = new URL(requests[0].url);
    expect(url.pathname).toBe('/base/api/collab/documents/json%3Anotebook%3A5c1e-ab/versions');
    expect(url.searchParams.get('limit')).toBe('50');
    expect(url.searchParams.get('before')).toBe('20');
    expect(page.next).toBe(7);
    expect(page.versions[0]).toEqual(VERSION);
  });

  it('leaves out parameters that are not set', async () => {
    const { client, requests } = setup(() => ({ body: { versions: [], next: null } }));
    const page = await client.listVersions(ROOM);
    // (ServerConnection may add a cache-busting number of its own)
    const params = new URL(requests[0].url).searchParams;
    expect(params.has('limit')).toBe(false);
    expect(params.has('before')).toBe(false);
    expect(page).toEqual({ versions: [], next: null, users: {} });
  });

  it('fills in missing version fields', async () => {
    const { client } = setup(() => ({
      body: { versions: [{ id: 3, time: 't', kind: 'auto' }] }
    }));
    const page = await client.listVersions(ROOM);
    expect(page.versions[0]).toEqual({
      id: 3,
      seq: 0,
      time: 't',
      name: null,
      kind: 'auto',
      createdBy: null,
      authors: [],
      changeBytes: 0,
      size: 0,
      restoredFrom: null
    });
    expect(page.next).toBeNull();
  });

  it('reads what a restore restored, and the users map (plain colours only)', async () => {
    const { client } = setup(() => ({
      body: {
        versions: [
          {
            id: 9, time: 't', kind: 'restore', createdBy: 'bob', authors: ['alice'],
            restoredFrom: { id: 3, name: 'Draft', time: '2026-11-25T14:02:00+00:00', kind: 'named' }
          }
        ],
        next: null,
        users: {
          alice: { username: 'alice', name: 'Alice L.', display_name: 'Alice', initials: 'AL', color: '#1f77b4' },
          bob: { display_name: 'Bob', color: 'red; background: url(x)' },
          eve: 'not an identity'
        }
      }
    }));
    const page = await client.listVersions(ROOM);
    expect(page.versions[0].restoredFrom).toEqual({
      id: 3, name: 'Draft', time: '2026-11-25T14:02:00+00:00', kind: 'named'
    });
    expect(page.users.alice).toEqual({
      username: 'alice', name: 'Alice L.', display_name: 'Alice', initials: 'AL', color: '#1f77b4'
    });
    expect(page.users.bob).toMatchObject({ username: 'bob', display_name: 'Bob', color: null });
    expect(page.users.eve).toBeUndefined();
  });

  it('gets the content of a version', async () => {
    const { client, requests } = setup(() => ({
      body: { version: VERSION, type: 'file', format: 'text', content: 'hello\n' }
    }));
    const content = await client.getVersion(ROOM, 12);
    expect(new URL(requests[0].url).pathname).toBe(
      '/base/api/collab/documents/json%3Anotebook%3A5c1e-ab/versions/12'
    );
    expect(content.content).toBe('hello\n');
    expect(content.version.name).toBe('Before the refactoring');
  });

  it('asks for a diff against current by default', async () => {
    const { client, requests } = setup(() => ({
      body: { type: 'text', from: 12, to: 'current', diff: '', added: 0, removed: 0, authors: [] }
    }));
    await client.diff(ROOM, 12);
    await client.diff(ROOM, 12, 15);
    const first = new URL(requests[0].url);
    expect(first.pathname.endsWith('/diff')).toBe(true);
    expect(first.searchParams.get('from')).toBe('12');
    expect(first.searchParams.get('to')).toBe('current');
    expect(new URL(requests[1].url).searchParams.get('to')).toBe('15');
  });

  it('names a version with POST {name}', async () => {
    const { client, requests } = setup(() => ({ status: 201, body: { version: VERSION } }));
    const v = await client.nameVersion(ROOM, '  Before the refactoring ');
    expect(requests[0].method).toBe('POST');
    expect(new URL(requests[0].url).pathname.endsWith('/versions')).toBe(true);
    expect(requests[0].body).toEqual({ name: 'Before the refactoring' });
    expect(v.id).toBe(12);
  });

  it('refuses empty and too long names without asking the server', async () => {
    const { client, requests } = setup(() => ({ body: {} }));
    await expect(client.nameVersion(ROOM, '   ')).rejects.toBeInstanceOf(HistoryError);
    await expect(client.nameVersion(ROOM, 'x'.repeat(201))).rejects.toMatchObject({ status: 400 });
    expect(requests).toHaveLength(0);
  });

  it('restores with POST {version}', async () => {
    const { client, requests } = setup(() => ({
      body: { restored: 12, before: { ...VERSION, id: 13, kind: 'auto', name: null }, version: { ...VERSION, id: 14, kind: 'restore', name: 'Restored version 12' } }
    }));
    const r = await client.restore(ROOM, 12);
    expect(requests[0].method).toBe('POST');
    expect(new URL(requests[0].url).pathname.endsWith('/restore')).toBe(true);
    expect(requests[0].body).toEqual({ version: 12 });
    expect(r.restored).toBe(12);
    expect(r.before.id).toBe(13);
    expect(r.version.kind).toBe('restore');
  });

  it('asks for attribution at current, with since when given', async () => {
    const { client, requests } = setup(() => ({ body: { type: 'text', lines: [] } }));
    await client.attribution(ROOM);
    await client.attribution(ROOM, { at: 5, since: 3 });
    const a = new URL(requests[0].url);
    expect(a.pathname.endsWith('/attribution')).toBe(true);
    expect(a.searchParams.get('at')).toBe('current');
    expect(a.searchParams.has('since')).toBe(false);
    const b = new URL(requests[1].url);
    expect(b.searchParams.get('at')).toBe('5');
    expect(b.searchParams.get('since')).toBe('3');
  });

  it.each([
    [400, 'bad cursor'],
    [403, 'forbidden'],
    [404, 'unknown version 99'],
    [409, 'version compacted']
  ])('turns a %i into a HistoryError with the server message', async (status, message) => {
    const { client } = setup(() => ({ status, body: { message, reason: null } }));
    const err = await client.getVersion(ROOM, 99).catch(e => e);
    expect(err).toBeInstanceOf(HistoryError);
    expect(err.status).toBe(status);
    expect(err.message).toBe(message);
    expect(err.isGone).toBe(status === 409);
    expect(err.isForbidden).toBe(status === 403);
    expect(err.isNotFound).toBe(status === 404);
  });

  it('keeps the status text when the error is not JSON', async () => {
    const { client } = setup(() => ({ status: 500, text: '<html>oops</html>', json: false }));
    const err = await client.listVersions(ROOM).catch(e => e);
    expect(err).toBeInstanceOf(HistoryError);
    expect(err.status).toBe(500);
  });

  it('reports a network failure with status null', async () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://server/',
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as any
    });
    const err = await new HistoryClient(settings).listVersions(ROOM).catch(e => e);
    expect(err).toBeInstanceOf(HistoryError);
    expect(err.status).toBeNull();
    expect(err.message).toContain('Failed to fetch');
  });

  it('rejects a reply without versions', async () => {
    const { client } = setup(() => ({ body: { nope: true } }));
    await expect(client.listVersions(ROOM)).rejects.toBeInstanceOf(HistoryError);
  });
});
