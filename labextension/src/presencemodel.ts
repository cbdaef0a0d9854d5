/**
 * Who is where: pure functions over awareness states (unit tested).
 */

/** The `user` field of an awareness state (set by the server). */
export interface IAwarenessUser {
  username?: string;
  name?: string;
  display_name?: string;
  initials?: string;
  color?: string | null;
  avatar_url?: string | null;
}

/** One awareness state of one room. */
export interface IPresenceEntry {
  /** Path of the room's document. */
  roomPath: string;
  /** Yjs client id. */
  clientId: number;
  /** The awareness state. */
  state: { user?: IAwarenessUser; current?: string | null; [k: string]: any };
}

/** A person, with the documents they have open. */
export interface ICollaborator {
  key: string;
  user: IAwarenessUser;
  displayName: string;
  initials: string;
  color: string;
  /** Documents they have open (that we share with them), sorted. */
  documents: string[];
  /** The document they are looking at, if they tell. */
  current: string | null;
  /** Their awareness client ids (one per window and document). */
  clientIds: number[];
}

/** A palette of theme variables for users without a colour. */
export const FALLBACK_COLORS = [
  'var(--jp-collaborator-color1, #ffad8e)',
  'var(--jp-collaborator-color2, #dac83d)',
  'var(--jp-collaborator-color3, #72dd76)',
  'var(--jp-collaborator-color4, #00e4d0)',
  'var(--jp-collaborator-color5, #45d4ff)',
  'var(--jp-collaborator-color6, #e2b1ff)',
  'var(--jp-collaborator-color7, #ff9de6)'
];

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) {
    h = (h * 31 + text.charCodeAt(i)) | 0;
  }
  return Math.abs(h);
}

/** A stable key for a user. */
export function userKey(user: IAwarenessUser | undefined, clientId: number): string {
  return user?.username || user?.name || `client-${clientId}`;
}

/** Colour of a user: theirs, or one from the palette chosen by name. */
export function userColor(user: IAwarenessUser | undefined, key: string): string {
  const c = user?.color;
  if (typeof c === 'string' && c.trim() !== '') {
    return c;
  }
  return FALLBACK_COLORS[hash(key) % FALLBACK_COLORS.length];
}

/** Display name of a user. */
export function userName(user: IAwarenessUser | undefined, fallback: string): string {
  return (
    user?.display_name || user?.name || user?.username || fallback
  ).toString();
}

/** Initials of a user (one or two letters). */
export function userInitials(user: IAwarenessUser | undefined, name: string): string {
  if (user?.initials) {
    return user.initials.slice(0, 2);
  }
  const parts = name
    .split(/[\s._-]+/)
    .filter(p => p.length > 0);
  if (parts.length === 0) {
    return '?';
  }
  const letters =
    parts.length === 1
      ? parts[0].slice(0, 1)
      : parts[0].slice(0, 1) + parts[parts.length - 1].slice(0, 1);
  return letters.toUpperCase();
}

/**
 * Group awareness entries into collaborators.
 *
 * @param entries states of all rooms.
 * @param isSelf whether an entry is ourselves (our client ids, or our username).
 */
export function groupCollaborators(
  entries: readonly IPresenceEntry[],
  isSelf: (entry: IPresenceEntry) => boolean,
  unnamed = 'Anonymous'
): ICollaborator[] {
  const byKey = new Map<string, ICollaborator>();
  for (const entry of entries) {
    if (!entry.state || isSelf(entry)) {
      continue;
    }
    const user = entry.state.user;
    if (!user) {
      // A client that did not tell who it is yet.
      continue;
    }
    const key = userKey(user, entry.clientId);
    let c = byKey.get(key);
    if (!c) {
      const displayName = userName(user, unnamed);
      c = {
        key,
        user,
        displayName,
        initials: userInitials(user, displayName),
        color: userColor(user, key),
        documents: [],
        current: null,
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
  }
  const result = Array.from(byKey.values());
  for (const c of result) {
    c.documents.sort();
  }
  result.sort((a, b) => a.displayName.localeCompare(b.displayName));
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
