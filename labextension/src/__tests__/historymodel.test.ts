import { describe, expect, it, vi } from 'vitest';

import {
  HistoryError,
  IAttribution,
  IDiff,
  IHistoryApi,
  IRestoreResult,
  IVersion,
  IVersionContent,
  IVersionPage
} from '../history/api';
import { HistoryModel, IHistoryDocument } from '../history/model';
import { parseNotice } from '../protocol';

function version(id: number, extra: Partial<IVersion> = {}): IVersion {
  return {
    id,
    seq: id * 10,
    time: `2026-11-24T20:00:${String(id).padStart(2, '0')}+00:00`,
    name: null,
    kind: 'auto',
    createdBy: null,
    authors: ['alice'],
    changeBytes: 10,
    size: 100,
    restoredFrom: null,
    ...extra
  };
}

/** A fake server: versions of one room, newest first, paged. */
class FakeApi implements IHistoryApi {
  versions: IVersion[] = [];
  calls: string[] = [];
  failNext: HistoryError | null = null;
  /** Resolvers of held calls (to test races). */
  hold = false;
  held: Array<() => void> = [];

  private async _maybe<T>(name: string, fn: () => T): Promise<T> {
    this.calls.push(name);
    if (this.hold) {
      await new Promise<void>(r => this.held.push(r));
    }
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    return fn();
  }

  listVersions(room: string, options: { limit?: number; before?: number | null } = {}): Promise<IVersionPage> {
    return this._maybe(`list ${room} ${options.limit ?? ''} ${options.before ?? ''}`.trim(), () => {
      const sorted = [...this.versions].sort((a, b) => b.id - a.id);
      const start = options.before ? sorted.filter(v => v.id >= options.before!).length : 0;
      const limit = options.limit ?? 50;
      const page = sorted.slice(start, start + limit);
      const more = start + limit < sorted.length;
      return {
        versions: page,
        next: more ? page[page.length - 1].id : null,
        users: { alice: { username: 'alice', display_name: 'Alice A.', color: '#123456' } }
      };
    });
  }
  getVersion(room: string, id: number): Promise<IVersionContent> {
    return this._maybe(`get ${room} ${id}`, () => ({
      version: this.versions.find(v => v.id === id)!,
      type: 'file',
      format: 'text',
      content: `content of ${id}`
    }));
  }
  diff(room: string, from: number, to: number | 'current' = 'current'): Promise<IDiff> {
    return this._maybe(`diff ${room} ${from} ${to}`, () => ({
      type: 'text' as const, from, to, diff: '@@ -1 +1 @@\n-a\n+b\n', added: 1, removed: 1, authors: ['bob']
    }));
  }
  nameVersion(room: string, name: string): Promise<IVersion> {
    return this._maybe(`name ${room} ${name}`, () => {
      const v = version(this.versions.length + 1, { name, kind: 'named', createdBy: 'alice' });
      this.versions.push(v);
      return v;
    });
  }
  restore(room: string, id: number): Promise<IRestoreResult> {
    return this._maybe(`restore ${room} ${id}`, () => {
      const before = version(this.versions.length + 1);
      const after = version(this.versions.length + 2, {
        kind: 'restore',
        createdBy: 'alice',
        restoredFrom: { id, name: null, time: '2026-11-24T20:00:00+00:00', kind: 'auto' }
      });
      this.versions.push(before, after);
      return { restored: id, before, version: after };
    });
  }
  attribution(room: string): Promise<IAttribution> {
    return this._maybe(`attribution ${room}`, () => ({
      type: 'text' as const,
      lines: [{ line: 1, user: 'alice', origin: 'client', time: 't', authors: ['alice'], changed: false }],
      users: { bob: { username: 'bob', display_name: 'Bob B.' } }
    }));
  }
}

const DOC: IHistoryDocument = { room: 'text:file:1', path: 'a.txt', type: 'file', canWrite: true };
const VIEWER: IHistoryDocument = { ...DOC, canWrite: false };

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve();
  }
}

function setup(count = 3, pageSize = 50) {
  const api = new FakeApi();
  for (let i = 1; i <= count; i++) {
    api.versions.push(version(i));
  }
  const model = new HistoryModel(api, { pageSize });
  const changed = vi.fn();
  model.changed.connect(changed);
  return { api, model, changed };
}

describe('HistoryModel', () => {
  it('loads only when the panel is shown', async () => {
    const { api, model } = setup();
    await model.setDocument(DOC);
    expect(api.calls).toEqual([]);
    expect(model.loaded).toBe(false);
    await model.setActive(true);
    expect(api.calls).toEqual(['list text:file:1 50']);
    expect(model.versions.map(v => v.id)).toEqual([3, 2, 1]);
    expect(model.hasMore).toBe(false);
    expect(model.loading).toBe(false);
    // shown again without a change: nothing to load
    await model.setActive(false);
    await model.setActive(true);
    expect(api.calls).toHaveLength(1);
  });

  it('pages with next/before', async () => {
    const { api, model } = setup(5, 2);
    await model.setActive(true);
    await model.setDocument(DOC);
    expect(model.versions.map(v => v.id)).toEqual([5, 4]);
    expect(model.hasMore).toBe(true);
    await model.loadMore();
    expect(api.calls[1]).toBe('list text:file:1 2 4');
    expect(model.versions.map(v => v.id)).toEqual([5, 4, 3, 2]);
    await model.loadMore();
    expect(model.versions.map(v => v.id)).toEqual([5, 4, 3, 2, 1]);
    expect(model.hasMore).toBe(false);
    // a refresh keeps as many listed as before
    api.versions.push(version(6));
    await model.refresh();
    expect(model.versions.map(v => v.id)).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it('treats a 404 (no history yet) as an empty list, other errors as problems', async () => {
    const { api, model } = setup();
    await model.setActive(true);
    api.failNext = new HistoryError('document without history', 404);
    await model.setDocument(DOC);
    expect(model.versions).toEqual([]);
    expect(model.problem).toBeNull();
    expect(model.loaded).toBe(true);
    api.failNext = new HistoryError('boom', 500);
    await model.refresh();
    expect(model.problem).toEqual({ action: 'list', status: 500, message: 'boom' });
    await model.refresh();
    expect(model.problem).toBeNull();
  });

  it('selects a version (shown in the main area), attributes; Escape-like close', async () => {
    const { api, model, changed } = setup();
    await model.setActive(true);
    await model.setDocument(DOC);
    changed.mockClear();
    model.select(2);
    expect(model.selectedId).toBe(2);
    expect(model.selected?.id).toBe(2);
    expect(changed).toHaveBeenCalledTimes(1);
    // selecting loads nothing here: the version's tab loads what it shows
    expect(api.calls.filter(c => c.startsWith('get') || c.startsWith('diff'))).toEqual([]);
    await model.showAttribution();
    expect(model.view.kind).toBe('attribution');
    model.closeView();
    expect(model.view.kind).toBe('none');
  });

  it('keeps the identities the replies give', async () => {
    const { model } = setup();
    await model.setActive(true);
    await model.setDocument(DOC);
    expect(model.users.get('alice')).toMatchObject({ display_name: 'Alice A.', color: '#123456' });
    await model.showAttribution();
    expect(model.users.get('bob')).toMatchObject({ display_name: 'Bob B.' });
    // live awareness completes, replies win
    const known = model.users.known(
      new Map([
        ['alice', { username: 'alice', display_name: 'Alice (live)', initials: 'AL' }],
        ['carol', { username: 'carol', display_name: 'Carol' }]
      ])
    );
    expect(known.get('alice')).toMatchObject({ display_name: 'Alice A.', initials: 'AL' });
    expect(known.get('carol')).toMatchObject({ display_name: 'Carol' });
  });

  it('ignores answers for a document that is no longer current', async () => {
    const { api, model } = setup();
    await model.setActive(true);
    api.hold = true;
    const first = model.setDocument(DOC);
    await flush();
    const second = model.setDocument({ ...DOC, room: 'text:file:2', path: 'b.txt' });
    await flush();
    api.hold = false;
    api.held.forEach(r => r());
    await Promise.all([first, second]);
    expect(model.document?.path).toBe('b.txt');
    expect(api.calls).toEqual(['list text:file:1 50', 'list text:file:2 50']);
    expect(model.loading).toBe(false);
  });

  it('names a version and lists it at once', async () => {
    const { api, model } = setup();
    await model.setActive(true);
    await model.setDocument(DOC);
    const v = await model.nameVersion('Before the refactoring');
    expect(v).toMatchObject({ name: 'Before the refactoring', kind: 'named' });
    expect(model.versions[0].name).toBe('Before the refactoring');
    expect(api.calls).toContain('name text:file:1 Before the refactoring');
  });

  it('restores and refreshes; a failure is a problem and is thrown', async () => {
    const { api, model } = setup();
    await model.setActive(true);
    await model.setDocument(DOC);
    const r = await model.restore(1);
    expect(r.restored).toBe(1);
    await flush();
    expect(model.versions[0]).toMatchObject({ kind: 'restore', restoredFrom: { id: 1 } });
    expect(model.busy).toBe(false);
    api.failNext = new HistoryError('the path is taken', 409);
    await expect(model.restore(2)).rejects.toBeInstanceOf(HistoryError);
    expect(model.problem).toMatchObject({ action: 'restore', status: 409 });
  });

  it('offers no name/restore to viewers and refuses them', async () => {
    const { api, model } = setup();
    await model.setActive(true);
    await model.setDocument(VIEWER);
    expect(model.canWrite).toBe(false);
    await expect(model.nameVersion('x')).rejects.toMatchObject({ status: 403 });
    await expect(model.restore(1)).rejects.toMatchObject({ status: 403 });
    expect(api.calls.filter(c => c.startsWith('name') || c.startsWith('restore'))).toEqual([]);
    // the role changes in the same room: no reload, but a change
    await model.setDocument(DOC);
    expect(model.canWrite).toBe(true);
    expect(api.calls.filter(c => c.startsWith('list'))).toHaveLength(1);
  });

  it('refreshes on version and restored notices; reloads the attribution after a restore', async () => {
    const { api, model } = setup();
    await model.setActive(true);
    await model.setDocument(DOC);
    await model.showAttribution();
    api.calls = [];
    api.versions.push(version(4, { name: 'named elsewhere', kind: 'named' }));
    model.handleNotice(parseNotice(JSON.stringify({ type: 'version', version: { id: 4 } })));
    await flush();
    expect(api.calls).toEqual(['list text:file:1 50']);
    expect(model.versions[0].name).toBe('named elsewhere');
    api.calls = [];
    model.handleNotice(parseNotice(JSON.stringify({ type: 'restored', version: 1, by: { username: 'bob' } })));
    await flush();
    expect(api.calls).toContain('attribution text:file:1');
    // other notices change nothing
    api.calls = [];
    model.handleNotice(parseNotice(JSON.stringify({ type: 'saved', path: 'a.txt' })));
    await flush();
    expect(api.calls).toEqual([]);
  });

  it('merges notices that arrive during a refresh into one more refresh', async () => {
    const { api, model } = setup();
    await model.setActive(true);
    await model.setDocument(DOC);
    api.calls = [];
    api.hold = true;
    const notice = parseNotice(JSON.stringify({ type: 'version', version: {} }));
    model.handleNotice(notice);
    model.handleNotice(notice);
    model.handleNotice(notice);
    await flush();
    api.hold = false;
    while (api.held.length) {
      api.held.shift()!();
      await flush();
    }
    await flush();
    expect(api.calls).toEqual(['list text:file:1 50', 'list text:file:1 50']);
  });

  it('marks the list stale while hidden and loads it when shown', async () => {
    const { api, model } = setup();
    await model.setActive(true);
    await model.setDocument(DOC);
    await model.setActive(false);
    api.calls = [];
    model.handleNotice(parseNotice(JSON.stringify({ type: 'version', version: {} })));
    await flush();
    expect(api.calls).toEqual([]);
    await model.setActive(true);
    expect(api.calls).toEqual(['list text:file:1 50']);
  });

  it('clears everything for no document', async () => {
    const { model } = setup();
    await model.setActive(true);
    await model.setDocument(DOC);
    await model.select(1);
    await model.setDocument(null);
    expect(model.document).toBeNull();
    expect(model.versions).toEqual([]);
    expect(model.view.kind).toBe('none');
    expect(model.selectedId).toBeNull();
  });
});
