import { describe, expect, it } from 'vitest';

import { backoffDelay, setMaxBackoff } from '../protocol';
import { CollabSettings, DEFAULT_SETTINGS, readSettings } from '../settings';

// The schema JupyterLab's setting registry validates against: its defaults
// must be the ones the code uses.
import schema from '../../schema/rooms.json';

describe('settings', () => {
  it('the schema and the code agree on every setting, its default and its bounds', () => {
    const properties = (schema as any).properties as Record<string, any>;
    expect(Object.keys(properties).sort()).toEqual(Object.keys(DEFAULT_SETTINGS).sort());
    for (const [key, value] of Object.entries(DEFAULT_SETTINGS)) {
      expect(properties[key].default).toBe(value);
    }
    const bounded = readSettings(
      Object.fromEntries(
        Object.entries(properties)
          .filter(([, p]) => p.type === 'integer')
          .map(([k, p]) => [k, p.maximum + 1])
      )
    ) as any;
    for (const [key, p] of Object.entries(properties)) {
      if (p.type === 'integer') {
        expect(bounded[key]).toBe(p.maximum);
      }
    }
    expect((schema as any)['additionalProperties']).toBe(false);
    // the choices offered are the ones the code knows
    const choices = (key: string) => properties[key].oneOf.map((o: any) => o.const);
    expect(choices('collaboratorColors')).toEqual(['theme', 'identity']);
    expect(choices('cursorLabels')).toEqual(['activity', 'hover', 'always']);
    for (const key of ['collaboratorColors', 'cursorLabels']) {
      for (const value of choices(key)) {
        expect((readSettings({ [key]: value }) as any)[key]).toBe(value);
      }
    }
  });

  it('reads what the registry gives: defaults for missing or bad values, numbers clamped', () => {
    expect(readSettings(undefined)).toEqual(DEFAULT_SETTINGS);
    const s = readSettings({
      collaboratorColors: 'identity',
      cursorLabels: 'sometimes',
      cursorLabelDuration: 10,
      toolbarAvatars: 3.4,
      saveTimeout: 'soon',
      unknown: 1
    });
    expect(s.collaboratorColors).toBe('identity');
    expect(s.cursorLabels).toBe('activity');
    expect(s.cursorLabelDuration).toBe(500);
    expect(s.toolbarAvatars).toBe(3);
    expect(s.saveTimeout).toBe(10000);
    expect((s as any).unknown).toBeUndefined();
    expect(s.earlySession).toBe(true);
    expect(readSettings({ earlySession: false }).earlySession).toBe(false);
    expect(readSettings({ earlySession: 'no' }).earlySession).toBe(true);
  });

  it('tells which settings changed, and only when something did', () => {
    const settings = new CollabSettings();
    const seen: string[][] = [];
    settings.changed.connect((_, keys) => seen.push(keys));
    settings.update({ ...DEFAULT_SETTINGS });
    expect(seen).toEqual([]);
    settings.update({ cursorLabels: 'always', notificationPollInterval: 60000 });
    expect(seen).toEqual([['cursorLabels', 'notificationPollInterval']]);
    expect(settings.get('cursorLabels')).toBe('always');
    settings.update({});
    expect(seen[1].sort()).toEqual(['cursorLabels', 'notificationPollInterval']);
    expect(settings.values).toEqual(DEFAULT_SETTINGS);
  });

  it('the longest reconnection wait applies to the next attempt', () => {
    expect(backoffDelay(20, 0, 0.999)).toBeLessThanOrEqual(30000);
    setMaxBackoff(5000);
    expect(backoffDelay(20, 0, 0.999)).toBeLessThanOrEqual(5000);
    expect(backoffDelay(20, 0, 0)).toBe(2500);
    expect(backoffDelay(0, 0, 0)).toBe(250); // the first attempts stay quick
    setMaxBackoff(10); // below the schema's minimum: ignored
    expect(backoffDelay(20, 0, 0.999)).toBeLessThanOrEqual(5000);
    setMaxBackoff(30000);
  });
});
