/**
 * The extension's settings (schema: `schema/rooms.json`, edited in
 * JupyterLab's Settings Editor under "Collaboration"), as one typed object
 * that every part reads and that tells when something changed, so that
 * changes apply at once.
 *
 * No JupyterLab dependency: unit tested.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ColorSource } from './presencemodel';

/** When the names beside the others' cursors show. */
export type CursorLabels = 'activity' | 'hover' | 'always';

/** Every setting, with its value. */
export interface ICollabSettings {
  /** Where collaborator colours come from. */
  collaboratorColors: ColorSource;
  /** When a name shows beside a remote cursor. */
  cursorLabels: CursorLabels;
  /** How long a name stays after its cursor moved (ms), for `activity`. */
  cursorLabelDuration: number;
  /** How long after their last change someone counts as editing (ms). */
  activityTimeout: number;
  /** How many avatars a document's toolbar shows before "+N". */
  toolbarAvatars: number;
  /** How often the notification stream is asked for news (ms). */
  notificationPollInterval: number;
  /** How long saving waits for the connection to catch up (ms). */
  saveTimeout: number;
  /** Longest wait between two reconnection attempts (ms). */
  reconnectMaxDelay: number;
  /** Pause after typing before the Share dialog searches for people (ms). */
  userSearchDelay: number;
  /**
   * Open the document's room socket by path (its first frame is the session,
   * earlysocket.ts) together with `docmanager:open`'s first request rather
   * than once its context exists (earlyopen.ts).
   */
  earlySession: boolean;
}

/** The defaults (the same as in the schema). */
export const DEFAULT_SETTINGS: Readonly<ICollabSettings> = Object.freeze({
  collaboratorColors: 'theme',
  cursorLabels: 'activity',
  cursorLabelDuration: 3000,
  activityTimeout: 10000,
  toolbarAvatars: 5,
  notificationPollInterval: 10000,
  saveTimeout: 10000,
  reconnectMaxDelay: 30000,
  userSearchDelay: 200,
  earlySession: true
});

/** Bounds of the numeric settings (the schema's minimum and maximum). */
export const LIMITS: Readonly<Record<string, [number, number]>> = Object.freeze({
  cursorLabelDuration: [500, 60000],
  activityTimeout: [1000, 600000],
  toolbarAvatars: [0, 50],
  notificationPollInterval: [2000, 3600000],
  saveTimeout: [1000, 600000],
  reconnectMaxDelay: [1000, 600000],
  userSearchDelay: [0, 5000]
});

const CHOICES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  collaboratorColors: ['theme', 'identity'],
  cursorLabels: ['activity', 'hover', 'always']
});

/**
 * Settings from what the setting registry gives (the composite): unknown
 * keys ignored, out-of-range numbers clamped, anything else the default.
 */
export function readSettings(raw: unknown): ICollabSettings {
  const source = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const result: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const [key, fallback] of Object.entries(DEFAULT_SETTINGS)) {
    const value = source[key];
    if (typeof fallback === 'number') {
      if (typeof value === 'number' && Number.isFinite(value)) {
        const [min, max] = LIMITS[key];
        result[key] = Math.round(Math.min(max, Math.max(min, value)));
      }
    } else if (typeof fallback === 'boolean') {
      if (typeof value === 'boolean') {
        result[key] = value;
      }
    } else if (typeof value === 'string' && CHOICES[key]?.includes(value)) {
      result[key] = value;
    }
  }
  return result as unknown as ICollabSettings;
}

/**
 * The current settings; `changed` tells which keys changed.
 */
export class CollabSettings {
  constructor(initial: Partial<ICollabSettings> = {}) {
    this._values = readSettings(initial);
  }

  /** The current values (do not modify). */
  get values(): Readonly<ICollabSettings> {
    return this._values;
  }

  get<K extends keyof ICollabSettings>(key: K): ICollabSettings[K] {
    return this._values[key];
  }

  /** The keys that changed, after an `update`. */
  get changed(): ISignal<this, (keyof ICollabSettings)[]> {
    return this._changed;
  }

  /** Take new values (a composite from the setting registry). */
  update(raw: unknown): void {
    const next = readSettings(raw);
    const keys = (Object.keys(next) as (keyof ICollabSettings)[]).filter(
      key => next[key] !== this._values[key]
    );
    this._values = next;
    if (keys.length) {
      this._changed.emit(keys);
    }
  }

  private _values: ICollabSettings;
  private _changed = new Signal<this, (keyof ICollabSettings)[]>(this);
}
