import { describe, expect, it } from 'vitest';

import { IDirectoryUser, IShares, ISharingApi, SharingError } from '../sharing/api';
import {
  SharingModel,
  changedText,
  errorText,
  ownersText,
  everyoneText,
  ownAccessText,
  roleLabel,
  shareRows
} from '../sharing/model';

const trans = {
  __: (msg: string, ...args: any[]) =>
    msg.replace(/%(\d)/g, (m, i) => String(args[Number(i) - 1] ?? m))
};

const USERS: IDirectoryUser[] = [
  { username: 'alice', name: 'Alice', display_name: 'Alice A.', initials: 'AA', color: '#a00' },
  { username: 'bob', name: 'Bob', display_name: 'Bob B.', initials: 'BB', color: '#0a0' },
  { username: 'carol', name: 'Carol', display_name: 'Carol', initials: 'C', color: null }
];

function shares(over: Partial<IShares> = {}): IShares {
  return {
    path: 'project/a.ipynb',
    shares: [
      { user: 'carol', role: 'viewer', grantedBy: 'alice', time: null, inherited: true, from: 'project', limited: null },
      { user: 'bob', role: 'viewer', grantedBy: 'alice', time: null, inherited: false, from: 'project/a.ipynb', limited: null },
      { user: 'alice', role: 'owner', grantedBy: 'alice', time: null, inherited: false, from: 'project/a.ipynb', limited: null }
    ],
    everyone: null,
    role: 'owner',
    canManage: true,
    owners: [],
    everyoneOwns: false,
    defaultRole: null,
    warning: null,
    ...over
  };
}

/** A fake server keeping the shares of one path. */
class FakeApi implements ISharingApi {
  state = shares();
  calls: string[] = [];
  fail: SharingError | null = null;
  searchDelay: Record<string, Promise<void>> = {};

  async getShares(path: string): Promise<IShares> {
    this.calls.push(`get ${path}`);
    if (this.fail) {
      throw this.fail;
    }
    return structuredClone(this.state);
  }
  async setShare(path: string, user: string, role: any): Promise<IShares> {
    this.calls.push(`put ${path} ${user} ${role}`);
    if (this.fail) {
      throw this.fail;
    }
    if (user === '*') {
      this.state.everyone = role ? { role, inherited: false, from: path } : null;
    } else {
      this.state.shares = this.state.shares.filter(s => s.user !== user || s.inherited);
      if (role) {
        this.state.shares = this.state.shares.filter(s => s.user !== user);
        this.state.shares.push({ user, role, grantedBy: 'alice', time: null, inherited: false, from: path, limited: null });
      }
    }
    return structuredClone(this.state);
  }
  async searchUsers(q: string): Promise<IDirectoryUser[]> {
    this.calls.push(`search ${q}`);
    await this.searchDelay[q];
    return USERS.filter(u => u.username.includes(q) || u.display_name.toLowerCase().includes(q.toLowerCase()));
  }
}

describe('shareRows', () => {
  it('lists own shares before inherited ones, owners first, with names', () => {
    const dir = new Map(USERS.map(u => [u.username, u]));
    const rows = shareRows(shares(), dir, 'alice');
    expect(rows.map(r => [r.user, r.label, r.role, r.inherited, r.isSelf, r.canChange, r.canRemove])).toEqual([
      ['alice', 'Alice A.', 'owner', false, true, true, true],
      ['bob', 'Bob B.', 'viewer', false, false, true, true],
      ['carol', 'Carol', 'viewer', true, false, true, false]
    ]);
    expect(rows[1].detail).toBe('bob');
    expect(rows[2].from).toBe('project');
  });

  it('non-owners may change nothing; unknown users show their username', () => {
    const rows = shareRows(shares({ canManage: false, role: 'viewer' }), new Map(), 'bob');
    expect(rows.every(r => !r.canChange && !r.canRemove)).toBe(true);
    expect(rows.find(r => r.user === 'bob')).toMatchObject({ label: 'bob', detail: null, initials: 'BO', isSelf: true });
  });

  it('lists the owners of the server first, whom no share changes', () => {
    const dir = new Map(USERS.map(u => [u.username, u]));
    const rows = shareRows(shares({ owners: ['dave', 'bob'] }), dir, 'alice');
    expect(rows.map(r => [r.user, r.role, r.serverOwner, r.canChange, r.canRemove])).toEqual([
      ['bob', 'owner', true, false, false],
      ['dave', 'owner', true, false, false],
      ['alice', 'owner', false, true, true],
      ['carol', 'viewer', false, true, false]
    ]);
  });

  it('an owner is always listed: the caller, when the server does not say who owns it', () => {
    const onlyBob = shares({
      shares: [{ user: 'bob', role: 'viewer', grantedBy: 'alice', time: null, inherited: false, from: 'a', limited: null }]
    });
    const rows = shareRows(onlyBob, new Map(), 'alice');
    expect(rows.map(r => [r.user, r.role, r.isSelf, r.canChange])).toEqual([
      ['alice', 'owner', true, false],
      ['bob', 'viewer', false, true]
    ]);
    // not for someone who may not manage it, nor when everyone owns the server
    expect(shareRows({ ...onlyBob, canManage: false }, new Map(), 'carol').map(r => r.user)).toEqual(['bob']);
    expect(shareRows({ ...onlyBob, everyoneOwns: true }, new Map(), 'alice').map(r => r.user)).toEqual(['bob']);
  });

  it('a share the server cannot honour carries its sentence; colours are checked', () => {
    const evil: IDirectoryUser = { username: 'eve', name: 'Eve', display_name: 'Eve', initials: 'EV', color: 'red;background:url(//x)' };
    const rows = shareRows(
      shares({
        shares: [{ user: 'eve', role: 'editor', grantedBy: 'alice', time: null, inherited: false, from: 'a', limited: 'eve may only read files on this server' }]
      }),
      new Map([['eve', evil]]),
      'alice'
    );
    const eve = rows.find(r => r.user === 'eve')!;
    expect(eve.limited).toBe('eve may only read files on this server');
    expect(eve.color).not.toMatch(/url|;/);
  });
});

describe('texts', () => {
  it('says what the caller may do and what everyone else has, in plain words', () => {
    expect(ownAccessText(shares(), trans)).toBe('You are an owner: you can edit this and choose who has access.');
    expect(ownAccessText(shares({ canManage: false, role: 'viewer' }), trans)).toBe(
      'You can view this, but not change it. Only its owners can choose who has access.'
    );
    expect(ownAccessText(shares({ canManage: false, role: 'editor' }), trans)).toMatch(/^You can edit this/);
    expect(everyoneText(shares(), trans)).toBe('Everyone else: what this server allows by default.');
    expect(everyoneText(shares({ defaultRole: 'editor' }), trans)).toBe('Everyone else: Can edit (this server’s default).');
    expect(everyoneText(shares({ everyone: { role: 'viewer', inherited: true, from: 'project' } }), trans)).toBe(
      'Everyone else: Can view (from the folder “project”).'
    );
    expect(everyoneText(shares({ everyone: { role: 'none', inherited: false, from: 'x' } }), trans)).toBe(
      'Everyone else: No access.'
    );
    expect(ownersText(shares(), trans)).toBeNull();
    expect(ownersText(shares({ everyoneOwns: true }), trans)).toMatch(/Everyone who signs in .* is an owner/);
    expect(['owner', 'editor', 'viewer', 'none'].map(r => roleLabel(r as any, trans))).toEqual([
      'Owner',
      'Can edit',
      'Can view',
      'No access'
    ]);
    // no jargon
    const all = [
      ownAccessText(shares(), trans),
      everyoneText(shares(), trans),
      ...['owner', 'editor', 'viewer', 'none', null].map(r => changedText('Bob', r as any, trans))
    ].join(' ');
    expect(all).not.toMatch(/role|inherit|authoriz|share of/i);
  });

  it('turns errors into clear sentences', () => {
    expect(errorText(new SharingError('the last owner', 400), 'a.txt', trans)).toBe('The change was refused: the last owner');
    expect(errorText(new SharingError('nope', 403), 'a.txt', trans)).toMatch(/not allowed .*“a.txt”/);
    expect(errorText(new SharingError('x', 404, true), 'a.txt', trans)).toMatch(/does not support sharing/);
    expect(errorText(new SharingError('Failed to fetch', null), 'a.txt', trans)).toMatch(/could not be reached/);
    expect(errorText(new Error('boom'), 'a.txt', trans)).toMatch(/boom/);
  });
});

describe('SharingModel', () => {
  it('loads, then changes a role and shows the result', async () => {
    const api = new FakeApi();
    const model = new SharingModel({ path: 'project/a.ipynb', api, trans, self: 'alice' });
    model.addUsers(USERS);
    let changes = 0;
    model.changed.connect(() => changes++);
    await model.load();
    expect(model.canManage).toBe(true);
    expect(model.roleOf('bob')).toBe('viewer');
    expect(await model.setRole('bob', 'editor')).toBe(true);
    expect(api.calls).toContain('put project/a.ipynb bob editor');
    expect(model.roleOf('bob')).toBe('editor');
    expect(model.status).toBe('Bob B. can now edit this.');
    expect(model.error).toBeNull();
    expect(changes).toBeGreaterThan(2);
    expect(await model.setRole('*', 'viewer')).toBe(true);
    expect(model.shares?.everyone).toEqual({ role: 'viewer', inherited: false, from: 'project/a.ipynb' });
    expect(await model.setRole('bob', null)).toBe(true);
    expect(model.roleOf('bob')).toBeNull();
    expect(model.status).toBe('Bob B. was taken off the list: they keep any access the folders above give them.');
  });

  it('keeps the list and shows the server message when a change is refused', async () => {
    const api = new FakeApi();
    const model = new SharingModel({ path: 'project/a.ipynb', api, trans });
    await model.load();
    api.fail = new SharingError('cannot remove the last owner', 400);
    expect(await model.setRole('alice', 'viewer')).toBe(false);
    expect(model.error).toBe('The change was refused: cannot remove the last owner');
    expect(model.roleOf('alice')).toBe('owner');
    expect(model.isBusy('alice')).toBe(false);
  });

  it('choices made while a change is under way: the last one is applied after it', async () => {
    const api = new FakeApi();
    const model = new SharingModel({ path: 'project/a.ipynb', api, trans });
    await model.load();
    const first = model.setRole('bob', 'editor');
    expect(await model.setRole('bob', 'owner')).toBe(false);
    expect(await model.setRole('bob', 'none')).toBe(false);
    await first;
    await new Promise(r => setTimeout(r, 0));
    expect(api.calls.filter(c => c.startsWith('put'))).toEqual([
      'put project/a.ipynb bob editor',
      'put project/a.ipynb bob none'
    ]);
    expect(model.roleOf('bob')).toBe('none');
    // a queued choice equal to the result: nothing more is sent
    const again = model.setRole('bob', 'viewer');
    await model.setRole('bob', 'viewer');
    await again;
    await new Promise(r => setTimeout(r, 0));
    expect(api.calls.filter(c => c.startsWith('put')).slice(2)).toEqual(['put project/a.ipynb bob viewer']);
  });

  it('does not send changes for a non-owner', async () => {
    const api = new FakeApi();
    api.state = shares({ canManage: false, role: 'viewer' });
    const model = new SharingModel({ path: 'project/a.ipynb', api, trans });
    await model.load();
    expect(await model.setRole('bob', 'owner')).toBe(false);
    expect(api.calls.filter(c => c.startsWith('put'))).toEqual([]);
  });

  it('shows a load error', async () => {
    const api = new FakeApi();
    api.fail = new SharingError('no such file', 404);
    const model = new SharingModel({ path: 'gone.txt', api, trans });
    await model.load();
    expect(model.shares).toBeNull();
    expect(model.error).toBe('Not found: no such file');
    expect(model.loading).toBe(false);
  });

  it('looks up the names of listed users it does not know', async () => {
    const api = new FakeApi();
    const model = new SharingModel({ path: 'project/a.ipynb', api, trans });
    await model.load();
    expect(model.rows.find(r => r.user === 'bob')?.label).toBe('Bob B.');
  });

  it('search: an older answer never replaces a newer one; empty clears', async () => {
    const api = new FakeApi();
    const model = new SharingModel({ path: 'a', api, trans });
    let release!: () => void;
    api.searchDelay['a'] = new Promise<void>(r => (release = r));
    const slow = model.search('a');
    await model.search('bo');
    expect(model.results.map(u => u.username)).toEqual(['bob']);
    release();
    await slow;
    expect(model.results.map(u => u.username)).toEqual(['bob']);
    expect(model.query).toBe('bo');
    await model.search('  ');
    expect(model.results).toEqual([]);
    expect(model.searching).toBe(false);
  });
});
