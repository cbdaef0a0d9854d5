import { ServerConnection } from '@jupyterlab/services';
import { describe, expect, it } from 'vitest';

import { SharingClient, SharingError, normalizeShares } from '../sharing/api';
import { IReply, IRequest, fakeServer } from './fakeserver';

/** A client whose fetch answers with `reply(request)`. */
function setup(reply: (req: IRequest) => IReply) {
  const { settings, requests } = fakeServer(reply);
  return { client: new SharingClient(settings), requests };
}

const SHARES = {
  path: 'project/analysis.ipynb',
  shares: [
    { user: 'bob', role: 'editor', grantedBy: 'alice', time: '2026-11-24T20:00:00Z', inherited: false, from: 'project/analysis.ipynb' },
    { user: 'carol', role: 'viewer', grantedBy: 'alice', time: null, inherited: true, from: 'project' }
  ],
  everyone: { role: 'viewer', inherited: true, from: 'project' },
  role: 'owner',
  canManage: true
};

describe('SharingClient', () => {
  it('gets the shares of a path, each part of the path escaped', async () => {
    const { client, requests } = setup(() => ({ body: SHARES }));
    const shares = await client.getShares('project/my analysis#1.ipynb');
    expect(requests[0].method).toBe('GET');
    expect(new URL(requests[0].url).pathname).toBe(
      '/base/api/collab/shares/project/my%20analysis%231.ipynb'
    );
    expect(shares.canManage).toBe(true);
    expect(shares.role).toBe('owner');
    expect(shares.shares.map(s => [s.user, s.role, s.inherited, s.from])).toEqual([
      ['bob', 'editor', false, 'project/analysis.ipynb'],
      ['carol', 'viewer', true, 'project']
    ]);
    expect(shares.everyone).toEqual({ role: 'viewer', inherited: true, from: 'project' });
  });

  it('sets and removes a role with PUT {user, role}', async () => {
    const { client, requests } = setup(() => ({ body: SHARES }));
    await client.setShare('a.txt', 'bob', 'viewer');
    await client.setShare('a.txt', '*', null);
    expect(requests.map(r => [r.method, new URL(r.url).pathname, r.body])).toEqual([
      ['PUT', '/base/api/collab/shares/a.txt', { user: 'bob', role: 'viewer' }],
      ['PUT', '/base/api/collab/shares/a.txt', { user: '*', role: null }]
    ]);
  });

  it('refuses an empty user or unknown role without asking the server', async () => {
    const { client, requests } = setup(() => ({ body: SHARES }));
    await expect(client.setShare('a.txt', '', 'viewer')).rejects.toBeInstanceOf(SharingError);
    await expect(client.setShare('a.txt', 'bob', 'admin' as any)).rejects.toMatchObject({ status: 400 });
    expect(requests).toHaveLength(0);
  });

  it('carries the server message and status of an error', async () => {
    const { client } = setup(() => ({
      status: 400,
      body: { message: 'the last owner cannot be removed' }
    }));
    const err = await client.setShare('a.txt', 'alice', 'viewer').catch(e => e);
    expect(err).toBeInstanceOf(SharingError);
    expect(err.status).toBe(400);
    expect(err.message).toBe('the last owner cannot be removed');
    expect(err.unavailable).toBe(false);
  });

  it('a 404 that is not JSON means the server has no sharing API', async () => {
    const { client } = setup(() => ({ status: 404, text: '<html>404</html>', json: false }));
    const err = await client.getShares('a.txt').catch(e => e);
    expect(err.unavailable).toBe(true);
    const json404 = setup(() => ({ status: 404, body: { message: 'no such file' } }));
    const err2 = await json404.client.getShares('a.txt').catch(e => e);
    expect(err2.unavailable).toBe(false);
    expect(err2.message).toBe('no such file');
  });

  it('searches users with q and limit, dropping malformed entries', async () => {
    const { client, requests } = setup(() => ({
      body: {
        users: [
          { username: 'bob', name: 'Bob', display_name: 'Bob B.', initials: 'BB', color: '#f00' },
          { username: 'dan' },
          { name: 'no username' }
        ]
      }
    }));
    const users = await client.searchUsers('b o', 5);
    const url = new URL(requests[0].url);
    expect(url.pathname).toBe('/base/api/collab/users');
    expect(url.searchParams.get('q')).toBe('b o');
    expect(url.searchParams.get('limit')).toBe('5');
    expect(users).toEqual([
      { username: 'bob', name: 'Bob', display_name: 'Bob B.', initials: 'BB', color: '#f00' },
      { username: 'dan', name: 'dan', display_name: 'dan', initials: 'D', color: null }
    ]);
  });

  it('lists notifications after an id, oldest first, and marks them read', async () => {
    const { client, requests } = setup(req =>
      req.method === 'GET'
        ? {
            body: {
              notifications: [
                { id: 8, type: 'restored', time: 't', read: false, actor: { username: 'alice' }, path: 'a.txt', room: 'r', message: 'm', details: { version: 3 } },
                { id: 7, type: 'shared', time: 't', read: true, actor: null, path: 'b.txt', room: null, message: 'm', details: { role: 'editor' } },
                { type: 'broken' }
              ],
              unread: 1
            }
          }
        : { body: { unread: 0 } }
    );
    const page = await client.notifications(6, 50);
    const url = new URL(requests[0].url);
    expect(url.pathname).toBe('/base/api/collab/notifications');
    expect(url.searchParams.get('after')).toBe('6');
    expect(url.searchParams.get('limit')).toBe('50');
    expect(page.unread).toBe(1);
    expect(page.notifications.map(n => n.id)).toEqual([7, 8]);
    expect(page.notifications[1].actor).toEqual({ username: 'alice', display_name: 'alice' });
    expect(await client.markRead({ ids: [7, 8] })).toBe(0);
    expect(await client.markRead({ upto: 8 })).toBe(0);
    expect(requests.slice(1).map(r => [r.method, new URL(r.url).pathname, r.body])).toEqual([
      ['POST', '/base/api/collab/notifications/read', { ids: [7, 8] }],
      ['POST', '/base/api/collab/notifications/read', { upto: 8 }]
    ]);
  });

  it('network failures are errors without a status', async () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://server/',
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as any
    });
    const err = await new SharingClient(settings).getShares('a').catch(e => e);
    expect(err).toBeInstanceOf(SharingError);
    expect(err.status).toBeNull();
  });
});

describe('normalizeShares', () => {
  it('keeps only valid shares and defaults the rest', () => {
    const s = normalizeShares(
      { shares: [{ user: 'x', role: 'admin' }, { user: 'y', role: 'none' }, null], everyone: { role: 'bad' } },
      'p.txt'
    );
    expect(s).toEqual({
      path: 'p.txt',
      shares: [{ user: 'y', role: 'none', grantedBy: null, time: null, inherited: false, from: 'p.txt', limited: null }],
      everyone: null,
      role: 'viewer',
      canManage: false,
      owners: [],
      everyoneOwns: false,
      defaultRole: null,
      warning: null
    });
    // what newer servers add: the owners of the server, the default role, shares that do not apply in full
    const t = normalizeShares(
      {
        shares: [{ user: 'v', role: 'editor', limited: true, message: 'v may only read' }],
        owners: ['alice', 3, ''],
        everyoneOwns: true,
        defaultRole: 'editor',
        warning: 'v may only read'
      },
      'p.txt'
    );
    expect(t.shares[0].limited).toBe('v may only read');
    expect(t).toMatchObject({ owners: ['alice'], everyoneOwns: true, defaultRole: 'editor', warning: 'v may only read' });
    expect(() => normalizeShares({}, 'p')).toThrow(SharingError);
  });
});
