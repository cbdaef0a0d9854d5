/**
 * How the history UI writes times and versions: one date/time format
 * everywhere (the panel, the version tab, dialogs, notifications), in the
 * user's locale and time zone, and versions referred to by their name or
 * their time, never by a database id.
 *
 * No DOM (unit tested with a fixed locale, time zone and "now").
 */
import { IVersion, IVersionReference } from './api';

/** The part of a TranslationBundle used here. */
export interface ITrans {
  __(msg: string, ...args: any[]): string;
}

export interface ITimeOptions {
  /** BCP 47 locale; by default JupyterLab's display language (as JupyterLab's own times). */
  locale?: string;
  /** IANA time zone; by default the browser's. */
  timeZone?: string;
  /** What "today" is (tests). */
  now?: Date;
}

/** A time as the history UI shows it. */
export interface IShownTime {
  /** "Today, 14:02", "Yesterday, 09:10", "25 Nov, 14:02", "25 Nov 2025, 14:02". */
  label: string;
  /** The same inside a sentence ("today, 14:02"). */
  inline: string;
  /** The full date and time, for tooltips ("Wednesday, 25 November 2026 at 14:02:03"). */
  full: string;
}

const EMPTY: IShownTime = { label: '', inline: '', full: '' };

function defaultLocale(): string | undefined {
  if (typeof document !== 'undefined' && document.documentElement?.lang) {
    return document.documentElement.lang;
  }
  return undefined;
}

function dayKey(date: Date, zone: string | undefined, locale: string | undefined): string {
  return new Intl.DateTimeFormat(locale, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    timeZone: zone
  }).format(date);
}

function capitalize(text: string, locale: string | undefined): string {
  return text ? text.charAt(0).toLocaleUpperCase(locale) + text.slice(1) : text;
}

/**
 * The one way the history UI shows a time (ISO 8601 from the server):
 * relative day names for today and yesterday, the day and month otherwise
 * (and the year when it is not this year), always with hours and minutes.
 */
export function shownTime(
  iso: string | null | undefined,
  options: ITimeOptions = {}
): IShownTime {
  if (!iso) {
    return EMPTY;
  }
  const date = new Date(iso);
  if (isNaN(date.getTime())) {
    return { label: iso, inline: iso, full: iso };
  }
  let locale = options.locale ?? defaultLocale();
  try {
    Intl.DateTimeFormat.supportedLocalesOf(locale ? [locale] : []);
  } catch {
    locale = undefined; // not a valid tag: the browser's
  }
  const zone = options.timeZone;
  const now = options.now ?? new Date();
  // 14:02 and 08:30 on a 24-hour clock, 2:02 PM and 8:30 AM on a 12-hour one
  const cycle = (
    new Intl.DateTimeFormat(locale, { hour: 'numeric' }).resolvedOptions() as { hourCycle?: string }
  ).hourCycle;
  const time = new Intl.DateTimeFormat(locale, {
    hour: cycle === 'h23' || cycle === 'h24' ? '2-digit' : 'numeric',
    minute: '2-digit',
    timeZone: zone
  }).format(date);
  const full = new Intl.DateTimeFormat(locale, {
    dateStyle: 'full',
    timeStyle: 'medium',
    timeZone: zone
  }).format(date);
  const day = dayKey(date, zone, locale);
  const yesterday = new Date(now.getTime() - 24 * 3600 * 1000);
  let inlineDay: string;
  if (day === dayKey(now, zone, locale) || day === dayKey(yesterday, zone, locale)) {
    const offset = day === dayKey(now, zone, locale) ? 0 : -1;
    inlineDay = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }).format(
      offset,
      'day'
    );
  } else {
    const sameYear =
      new Intl.DateTimeFormat('en', { year: 'numeric', timeZone: zone }).format(date) ===
      new Intl.DateTimeFormat('en', { year: 'numeric', timeZone: zone }).format(now);
    inlineDay = new Intl.DateTimeFormat(locale, {
      day: 'numeric',
      month: 'short',
      year: sameYear ? undefined : 'numeric',
      timeZone: zone
    }).format(date);
  }
  const inline = `${inlineDay}, ${time}`;
  return { label: capitalize(inline, locale), inline, full };
}

/** A version as a title: its name, what it restored, or its time. */
export function versionTitle(
  v: IVersion,
  trans: ITrans,
  options: ITimeOptions = {}
): string {
  if (v.kind === 'restore' && v.restoredFrom) {
    return restoredTitle(v.restoredFrom, trans, options);
  }
  if (v.name) {
    return v.name;
  }
  switch (v.kind) {
    case 'opened':
      return trans.__('As first opened');
    case 'restore':
      return trans.__('Restored an earlier version');
    default:
      // Automatic and saved versions are known by their time.
      return shownTime(v.time, options).label;
  }
}

function restoredTitle(
  from: IVersionReference,
  trans: ITrans,
  options: ITimeOptions
): string {
  if (from.name) {
    return trans.__('Restored “%1”', from.name);
  }
  if (from.kind === 'opened') {
    return trans.__('Restored the file as first opened');
  }
  return trans.__('Restored the version of %1', shownTime(from.time, options).inline);
}

/**
 * A version inside a sentence: “Before cleanup”, "the version of 25 Nov,
 * 14:02" or "the file as first opened".
 */
export function versionReference(
  v: { name?: string | null; time?: string | null; kind?: string | null },
  trans: ITrans,
  options: ITimeOptions = {}
): string {
  if (v.name) {
    return trans.__('“%1”', v.name);
  }
  if (v.kind === 'opened') {
    return trans.__('the file as first opened');
  }
  if (v.time) {
    return trans.__('the version of %1', shownTime(v.time, options).inline);
  }
  return trans.__('an earlier version');
}

/**
 * Who made a version, as the UI says it ("Named by Alice"); null when
 * nobody did (automatic versions, the file as first opened).
 */
export function madeBy(
  v: IVersion,
  nameOf: (username: string) => string,
  trans: ITrans
): string | null {
  if (!v.createdBy) {
    return null;
  }
  const who = nameOf(v.createdBy);
  switch (v.kind) {
    case 'named':
      return trans.__('Named by %1', who);
    case 'save':
      return trans.__('Saved by %1', who);
    case 'restore':
      return trans.__('Restored by %1', who);
    default:
      return trans.__('Made by %1', who);
  }
}

/** The label of a version's kind (its badge). */
export function kindLabel(kind: string, trans: ITrans): string {
  switch (kind) {
    case 'auto':
      return trans.__('Automatic');
    case 'save':
      return trans.__('Saved');
    case 'named':
      return trans.__('Named');
    case 'restore':
      return trans.__('Restore');
    case 'opened':
      return trans.__('Original');
    default:
      return kind;
  }
}
