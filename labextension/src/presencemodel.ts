/**
 * Who is where: pure functions over awareness states (unit tested).
 */
import { IAwarenessUser, safeColor, safeInitials, safeText } from './identity';

export { IAwarenessUser } from './identity';

/** One awareness state of one room. */
export interface IPresenceEntry {
  /** Path of the room's document. */
  roomPath: string;
  /** Yjs client id. */
  clientId: number;
  /** The awareness state. */
  state: { user?: IAwarenessUser; current?: string | null; [k: string]: any };
}

/** What a person is doing in a document. */
export type Activity = 'editing' | 'viewing' | 'open';

/** A person, with the documents they have open. */
export interface ICollaborator {
  key: string;
  user: IAwarenessUser;
  displayName: string;
  initials: string;
  color: string;
  /** This is us (this window, or our other windows). */
  isSelf: boolean;
  /** Documents they have open (that we share with them), sorted. */
  documents: string[];
  /** The document they are looking at, if they tell. */
  current: string | null;
  /** Documents whose changes they made recently (see `activityOf`). */
  editing: string[];
  /** Their awareness client ids (one per window and document). */
  clientIds: number[];
}

/**
 * What a person is doing in one of their documents: `editing` when their
 * changes to it arrived recently (only people who may write can change a
 * document: the server refuses a viewer's changes), `viewing` when it is the
 * document in front of them, else just `open`.
 */
export function activityOf(c: ICollaborator, path: string): Activity {
  if (c.editing.includes(path)) {
    return 'editing';
  }
  return c.current === path ? 'viewing' : 'open';
}

/** Where collaborator colours come from (setting `collaboratorColors`). */
export type ColorSource = 'theme' | 'identity';

/** Colours used where the theme has no `--jp-collaborator-color*` variables. */
export const FALLBACK_HEX = [
  '#ffad8e',
  '#dac83d',
  '#72dd76',
  '#00e4d0',
  '#45d4ff',
  '#e2b1ff',
  '#ff9de6'
];

/** A palette of theme variables for users without a colour. */
export const FALLBACK_COLORS = FALLBACK_HEX.map(
  (hex, i) => `var(--jp-collaborator-color${i + 1}, ${hex})`
);

let colorSource: ColorSource = 'theme';

/**
 * Choose where collaborator colours come from (applied by the next render).
 * `theme`: the theme's collaborator colours (`--jp-collaborator-color1`…`7`,
 * as JupyterLab's own user colours), the slot chosen from the username, so
 * that everyone sees a person in the same slot; the colour of their identity
 * is the fallback where the theme does not define the variable (and an
 * identity colour that is itself a theme variable is kept).
 * `identity`: the colour of each person's identity, the same whatever the
 * theme.
 */
export function setColorSource(source: ColorSource): void {
  colorSource = source === 'identity' ? 'identity' : 'theme';
}

export function getColorSource(): ColorSource {
  return colorSource;
}

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) {
    h = (h * 31 + text.charCodeAt(i)) | 0;
  }
  return Math.abs(h);
}

/** A stable key for a user. */
export function userKey(user: IAwarenessUser | undefined, clientId: number): string {
  return (
    safeText(user?.username) || safeText(user?.name) || `client-${clientId}`
  );
}

/**
 * Colour of a user, always safe to put in a `style` (see `identity.ts`):
 * per `setColorSource`, from the theme or from their identity.
 */
export function userColor(user: IAwarenessUser | undefined, key: string): string {
  const own = safeColor(user?.color);
  const slot = hash(key) % FALLBACK_HEX.length;
  if (own && (colorSource === 'identity' || own.startsWith('var('))) {
    return own;
  }
  if (colorSource === 'identity') {
    return FALLBACK_COLORS[slot];
  }
  return `var(--jp-collaborator-color${slot + 1}, ${own ?? FALLBACK_HEX[slot]})`;
}

/** The relative luminance of an sRGB colour (0 black … 1 white). */
function luminance(r: number, g: number, b: number): number {
  const lin = (c: number) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Red, green and blue of a `#hex` or `rgb()` colour, else null. */
function rgbOf(color: string): [number, number, number] | null {
  const hex = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(color);
  if (hex) {
    let h = hex[1];
    if (h.length <= 4) {
      h = Array.from(h.slice(0, 3))
        .map(c => c + c)
        .join('');
    }
    return [0, 2, 4].map(i => parseInt(h.slice(i, i + 2), 16)) as [number, number, number];
  }
  const rgb = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(color);
  return rgb ? [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])] : null;
}

/**
 * A text colour that reads on `color` (initials on an avatar, a name on a
 * cursor label). The theme's collaborator colours are made for the theme's
 * own text colour (light colours in light themes, dark ones in dark themes);
 * for other colours, black or white, whichever contrasts more.
 */
export function textColorOn(color: string): string {
  if (color.startsWith('var(--jp-collaborator-color')) {
    return 'var(--jp-ui-font-color0)';
  }
  const rgb = rgbOf(color);
  if (!rgb) {
    return 'var(--jp-ui-inverse-font-color0)';
  }
  // contrast with black (L + 0.05) / 0.05 against white 1.05 / (L + 0.05)
  const l = luminance(...rgb);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000000' : '#ffffff';
}

/**
 * Give an element a person's colour: `--jp-collab-user-color` and a text
 * colour that reads on it, `--jp-collab-user-text-color` (only colours from
 * `userColor`, which are checked).
 */
export function applyUserColor(
  el: { style: { setProperty(name: string, value: string): void } },
  color: string
): void {
  el.style.setProperty('--jp-collab-user-color', color);
  el.style.setProperty('--jp-collab-user-text-color', textColorOn(color));
}

/** Display name of a user. */
export function userName(user: IAwarenessUser | undefined, fallback: string): string {
  return (
    safeText(user?.display_name) ||
    safeText(user?.name) ||
    safeText(user?.username) ||
    fallback
  );
}

/**
 * Initials of a user: theirs, or as the server makes them
 * (`gateway/identity.py`): the first letters of the first two words, or the
 * first two letters of a one-word name.
 */
export function userInitials(user: IAwarenessUser | undefined, name: string): string {
  const own = safeInitials(user?.initials);
  if (own) {
    return own;
  }
  const words = name
    .replace(/[_.]/g, ' ')
    .split(/\s+/)
    .filter(w => w.length > 0);
  const letters =
    words.length > 1
      ? words
          .slice(0, 2)
          .map(w => Array.from(w)[0])
          .join('')
      : Array.from(name.trim()).slice(0, 2).join('');
  return letters.toUpperCase() || '?';
}

/** How recent changes count as "editing" (setting `activityTimeout`). */
export interface IActivityOptions {
  /** When `clientId` last changed the document at `roomPath` (ms), if known. */
  lastEdit?: (roomPath: string, clientId: number) => number | undefined;
  /** Now (ms). */
  now?: number;
  /** How long a change counts as editing (ms). */
  timeout?: number;
}

/**
 * Group awareness entries into collaborators: us first (marked `isSelf`,
 * when `includeSelf`), then the others by name.
 *
 * @param entries states of all rooms.
 * @param isSelf whether an entry is ourselves (our client ids, or our username).
 */
export function groupCollaborators(
  entries: readonly IPresenceEntry[],
  isSelf: (entry: IPresenceEntry) => boolean,
  unnamed = 'Anonymous',
  options: IActivityOptions & { includeSelf?: boolean } = {}
): ICollaborator[] {
  const byKey = new Map<string, ICollaborator>();
  const now = options.now ?? Date.now();
  const timeout = options.timeout ?? 10000;
  for (const entry of entries) {
    if (!entry.state) {
      continue;
    }
    const self = isSelf(entry);
    if (self && !options.includeSelf) {
      continue;
    }
    const user = entry.state.user;
    if (!user || typeof user !== 'object') {
      // A client that did not tell who it is yet.
      continue;
    }
    const key = self ? `self:${userKey(user, entry.clientId)}` : userKey(user, entry.clientId);
    let c = byKey.get(key);
    if (!c) {
      const displayName = userName(user, unnamed);
      c = {
        key,
        user,
        displayName,
        initials: userInitials(user, displayName),
        color: userColor(user, userKey(user, entry.clientId)),
        isSelf: self,
        documents: [],
        current: null,
        editing: [],
        clientIds: []
      };
      byKey.set(key, c);
    }
    c.clientIds.push(entry.clientId);
    if (!c.documents.includes(entry.roomPath)) {
      c.documents.push(entry.roomPath);
    }
    const current = entry.state.current;
    if (typeof current === 'string' && current) {
      c.current = current;
      if (!c.documents.includes(current)) {
        c.documents.push(current);
      }
    }
    const edited = options.lastEdit?.(entry.roomPath, entry.clientId);
    if (
      edited !== undefined &&
      now - edited < timeout &&
      !c.editing.includes(entry.roomPath)
    ) {
      c.editing.push(entry.roomPath);
    }
  }
  const result = Array.from(byKey.values());
  for (const c of result) {
    c.documents.sort();
    c.editing.sort();
  }
  result.sort(
    (a, b) =>
      Number(b.isSelf) - Number(a.isSelf) || a.displayName.localeCompare(b.displayName)
  );
  return result;
}

/** A person shown on a notebook cell. */
export interface ICellMark {
  key: string;
  displayName: string;
  initials: string;
  color: string;
  clientId: number;
}

/**
 * Which cell each person is in, from the awareness states of one notebook:
 * the `cell` field (the id of their active cell, published by this
 * extension) or else the cell of their primary cursor.
 *
 * @param cursorCell the id of the cell a cursor (JSON relative position) is in.
 * @returns cell id → people in it (one entry per person, sorted by name).
 */
export function cellMarks(
  entries: readonly { clientId: number; state: IPresenceEntry['state'] }[],
  isSelf: (clientId: number, state: IPresenceEntry['state']) => boolean,
  cursorCell: (position: any) => string | null,
  unnamed = 'Anonymous'
): Map<string, ICellMark[]> {
  const result = new Map<string, ICellMark[]>();
  for (const { clientId, state } of entries) {
    if (!state || !state.user || isSelf(clientId, state)) {
      continue;
    }
    let cellId: string | null =
      typeof state.cell === 'string' && state.cell ? state.cell : null;
    if (!cellId && Array.isArray(state.cursors) && state.cursors.length) {
      const cursor =
        state.cursors.find((c: any) => c?.primary) ?? state.cursors[0];
      cellId = cursor ? cursorCell(cursor.head) : null;
    }
    if (!cellId) {
      continue;
    }
    const key = userKey(state.user, clientId);
    const displayName = userName(state.user, unnamed);
    const marks = result.get(cellId) ?? [];
    if (!marks.some(m => m.key === key)) {
      marks.push({
        key,
        displayName,
        initials: userInitials(state.user, displayName),
        color: userColor(state.user, key),
        clientId
      });
      marks.sort((a, b) => a.displayName.localeCompare(b.displayName));
    }
    result.set(cellId, marks);
  }
  return result;
}

/**
 * What following a person looks at: a string that changes when they move
 * (document, cell or cursor), so that the view only follows real moves.
 */
export function followSignature(states: readonly any[]): string {
  const parts = states.map(s => {
    const cursors = Array.isArray(s?.cursors)
      ? s.cursors.map((c: any) => c?.head)
      : null;
    return [s?.current ?? null, s?.cell ?? null, cursors];
  });
  return JSON.stringify(parts);
}
