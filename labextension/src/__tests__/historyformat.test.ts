import { describe, expect, it } from 'vitest';

import { IVersion } from '../history/api';
import { kindLabel, madeBy, shownTime, versionReference, versionTitle } from '../history/format';

const trans = {
  __: (msg: string, ...args: any[]) =>
    args.reduce((text, arg, i) => text.replace(`%${i + 1}`, String(arg)), msg)
};
const GB = { locale: 'en-GB', timeZone: 'Europe/London', now: new Date('2026-11-28T09:00:00Z') };
const US = { locale: 'en-US', timeZone: 'America/New_York', now: new Date('2026-11-28T09:00:00Z') };

function version(extra: Partial<IVersion>): IVersion {
  return {
    id: 41,
    seq: 10,
    time: '2026-11-25T14:02:03+00:00',
    name: null,
    kind: 'auto',
    createdBy: null,
    authors: [],
    changeBytes: 0,
    size: 0,
    restoredFrom: null,
    ...extra
  };
}

describe('shownTime: one date and time format for all of history', () => {
  it('writes the day and month with hours and minutes, in the locale and time zone', () => {
    expect(shownTime('2026-11-25T14:02:03+00:00', GB)).toEqual({
      label: '25 Nov, 14:02',
      inline: '25 Nov, 14:02',
      full: 'Wednesday, 25 November 2026 at 14:02:03'
    });
    // the same moment in New York, written the American way
    expect(shownTime('2026-11-25T14:02:03+00:00', US).label).toBe('Nov 25, 9:02 AM');
  });

  it('says today and yesterday for recent times, and the year for other years', () => {
    expect(shownTime('2026-11-28T08:30:00Z', GB)).toMatchObject({ label: 'Today, 08:30', inline: 'today, 08:30' });
    expect(shownTime('2026-11-27T23:59:00Z', GB).label).toBe('Yesterday, 23:59');
    expect(shownTime('2025-12-31T10:00:00Z', GB).label).toBe('31 Dec 2025, 10:00');
    // "today" is the day in the user's time zone (midnight passed in London, not in New York)
    expect(shownTime('2026-11-28T03:00:00Z', US).label).toBe('Yesterday, 10:00 PM');
    expect(shownTime('2026-11-28T03:00:00Z', { ...GB, locale: 'fr' }).label).toBe("Aujourd’hui, 03:00");
  });

  it('keeps what it cannot read, and nothing for nothing', () => {
    expect(shownTime('yesterday-ish', GB)).toEqual({ label: 'yesterday-ish', inline: 'yesterday-ish', full: 'yesterday-ish' });
    expect(shownTime(null, GB).label).toBe('');
    expect(shownTime('2026-11-25T14:02:03Z', { ...GB, locale: 'not a locale!' }).label).toMatch(/14:02|2:02/);
  });
});

describe('versions are named by their name or their time, never their id', () => {
  it('titles', () => {
    expect(versionTitle(version({ kind: 'named', name: 'Before cleanup' }), trans, GB)).toBe('Before cleanup');
    expect(versionTitle(version({ kind: 'auto' }), trans, GB)).toBe('25 Nov, 14:02');
    expect(versionTitle(version({ kind: 'save', createdBy: 'bob' }), trans, GB)).toBe('25 Nov, 14:02');
    expect(versionTitle(version({ kind: 'opened', seq: 1 }), trans, GB)).toBe('As first opened');
    const restoredNamed = version({
      kind: 'restore',
      restoredFrom: { id: 3, name: 'Draft', time: '2026-11-20T10:00:00Z', kind: 'named' }
    });
    expect(versionTitle(restoredNamed, trans, GB)).toBe('Restored “Draft”');
    const restoredAuto = version({
      kind: 'restore',
      restoredFrom: { id: 3, name: null, time: '2026-11-28T08:00:00Z', kind: 'auto' }
    });
    expect(versionTitle(restoredAuto, trans, GB)).toBe('Restored the version of today, 08:00');
    const restoredOriginal = version({
      kind: 'restore',
      restoredFrom: { id: 1, name: null, time: '2026-11-20T10:00:00Z', kind: 'opened' }
    });
    expect(versionTitle(restoredOriginal, trans, GB)).toBe('Restored the file as first opened');
    // a restore made by an older server kept its name
    expect(versionTitle(version({ kind: 'restore', name: 'Restored “x”' }), trans, GB)).toBe('Restored “x”');
    for (const v of [restoredNamed, restoredAuto, version({})]) {
      expect(versionTitle(v, trans, GB)).not.toContain('41'); // (the versions' id)
    }
  });

  it('references in sentences', () => {
    expect(versionReference({ name: 'Draft' }, trans, GB)).toBe('“Draft”');
    expect(versionReference({ time: '2026-11-25T14:02:03Z' }, trans, GB)).toBe('the version of 25 Nov, 14:02');
    expect(versionReference({ time: '2026-11-25T14:02:03Z', kind: 'opened' }, trans, GB)).toBe('the file as first opened');
    expect(versionReference({}, trans, GB)).toBe('an earlier version');
  });
});

describe('who made a version, apart from who wrote it', () => {
  const name = (u: string) => ({ alice: 'Alice', bob: 'Bob' })[u] ?? u;
  it('says how it was made and by whom', () => {
    expect(madeBy(version({ kind: 'named', name: 'x', createdBy: 'alice', authors: ['bob'] }), name, trans)).toBe('Named by Alice');
    expect(madeBy(version({ kind: 'save', createdBy: 'bob' }), name, trans)).toBe('Saved by Bob');
    expect(madeBy(version({ kind: 'restore', createdBy: 'alice' }), name, trans)).toBe('Restored by Alice');
    expect(madeBy(version({ kind: 'auto', authors: ['bob'] }), name, trans)).toBeNull();
    expect(madeBy(version({ kind: 'opened' }), name, trans)).toBeNull();
  });

  it('labels kinds', () => {
    expect(['opened', 'auto', 'save', 'named', 'restore', 'new'].map(k => kindLabel(k, trans))).toEqual([
      'Original', 'Automatic', 'Saved', 'Named', 'Restore', 'new'
    ]);
  });
});
