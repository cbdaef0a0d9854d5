/**
 * What the history panel shows, as plain data (unit tested): unified diffs
 * parsed into lines, notebook diffs into cell rows, previews and
 * attribution into rows with the user's name, initials and colour.
 */
import {
  IAwarenessUser,
  userColor,
  userInitials,
  userName
} from '../presencemodel';
import { IAttribution, ICellDiff, IDiff, IVersion } from './api';

/** One line of a unified diff. */
export interface IDiffLine {
  kind: 'add' | 'del' | 'context' | 'hunk' | 'note';
  /** The line without its +/-/space prefix (hunk headers as they are). */
  text: string;
  /** Line number in the old text (null for added lines and headers). */
  oldLine: number | null;
  /** Line number in the new text (null for removed lines and headers). */
  newLine: number | null;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/**
 * Parse a unified diff (as difflib/git write it) into lines.
 * File headers (`---`/`+++` before the first hunk) are dropped.
 */
export function parseUnifiedDiff(diff: string | null | undefined): IDiffLine[] {
  if (!diff) {
    return [];
  }
  const lines = diff.split('\n');
  if (lines.length && lines[lines.length - 1] === '') {
    lines.pop();
  }
  const result: IDiffLine[] = [];
  let oldLine = 0;
  let newLine = 0;
  let inHunk = false;
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const hunk = HUNK.exec(line);
    if (hunk) {
      inHunk = true;
      oldLine = Number(hunk[1]);
      newLine = Number(hunk[3]);
      result.push({ kind: 'hunk', text: line, oldLine: null, newLine: null });
      continue;
    }
    if (!inHunk) {
      // file headers ("--- a", "+++ b", "diff ...", "index ...")
      continue;
    }
    const prefix = line.charAt(0);
    const text = line.slice(1);
    if (prefix === '+') {
      result.push({ kind: 'add', text, oldLine: null, newLine: newLine++ });
    } else if (prefix === '-') {
      result.push({ kind: 'del', text, oldLine: oldLine++, newLine: null });
    } else if (prefix === '\\') {
      result.push({ kind: 'note', text: line, oldLine: null, newLine: null });
    } else {
      // ' ' (or an empty line where a tool trimmed the space)
      result.push({
        kind: 'context',
        text,
        oldLine: oldLine++,
        newLine: newLine++
      });
    }
  }
  return result;
}

/** Count added and removed lines of a parsed diff. */
export function countChanges(lines: readonly IDiffLine[]): {
  added: number;
  removed: number;
} {
  let added = 0;
  let removed = 0;
  for (const l of lines) {
    if (l.kind === 'add') {
      added++;
    } else if (l.kind === 'del') {
      removed++;
    }
  }
  return { added, removed };
}

/** One cell row of a notebook diff. */
export interface ICellDiffRow {
  key: string;
  status: string;
  cellType: string;
  moved: boolean;
  /** 1-based position shown to the user (new side, else old side). */
  position: number | null;
  oldIndex: number | null;
  newIndex: number | null;
  /** Short labels: 'added', 'removed', 'modified', 'moved', 'outputs', 'metadata'. */
  badges: string[];
  lines: IDiffLine[];
}

/** Summary counts of a notebook diff. */
export interface INotebookDiffSummary {
  added: number;
  removed: number;
  modified: number;
  moved: number;
  unchanged: number;
}

/**
 * Rows of a notebook diff, in the server's order (that of `to`, removed
 * cells where they were). Unchanged cells that did not move are left out
 * unless `showUnchanged`.
 */
export function notebookDiffRows(
  cells: readonly ICellDiff[],
  showUnchanged = false
): ICellDiffRow[] {
  const rows: ICellDiffRow[] = [];
  cells.forEach((cell, i) => {
    const unchanged = cell.status === 'unchanged';
    if (unchanged && !cell.moved && !showUnchanged) {
      return;
    }
    const badges: string[] = [];
    if (!unchanged) {
      badges.push(cell.status);
    }
    if (cell.moved) {
      badges.push('moved');
    }
    if (cell.status === 'modified' || unchanged) {
      if (cell.outputsChanged) {
        badges.push('outputs');
      }
      if (cell.metadataChanged) {
        badges.push('metadata');
      }
    }
    const index = cell.newIndex ?? cell.oldIndex;
    rows.push({
      key: `${cell.id ?? 'cell'}:${i}`,
      status: cell.status,
      cellType: cell.cellType || 'code',
      moved: !!cell.moved,
      position: typeof index === 'number' ? index + 1 : null,
      oldIndex: cell.oldIndex,
      newIndex: cell.newIndex,
      badges,
      lines: parseUnifiedDiff(cell.sourceDiff)
    });
  });
  return rows;
}

export function summarizeNotebookDiff(
  cells: readonly ICellDiff[]
): INotebookDiffSummary {
  const s: INotebookDiffSummary = {
    added: 0,
    removed: 0,
    modified: 0,
    moved: 0,
    unchanged: 0
  };
  for (const c of cells) {
    if (c.status === 'added') {
      s.added++;
    } else if (c.status === 'removed') {
      s.removed++;
    } else if (c.status === 'modified') {
      s.modified++;
    } else {
      s.unchanged++;
    }
    if (c.moved) {
      s.moved++;
    }
  }
  return s;
}

/** Whether a diff has no change at all. */
export function isEmptyDiff(diff: IDiff): boolean {
  switch (diff.type) {
    case 'text':
      return !diff.diff || parseUnifiedDiff(diff.diff).length === 0;
    case 'notebook':
      return (
        !diff.metadataChanged &&
        diff.cells.every(c => c.status === 'unchanged' && !c.moved)
      );
    case 'blob':
      return !diff.changed;
    default:
      return false;
  }
}

/** A cell of a version preview. */
export interface IPreviewCell {
  index: number;
  cellType: string;
  source: string;
  id: string | null;
  outputs: number;
}

/** The cells of an nbformat 4 notebook, for a read-only preview. */
export function previewCells(notebook: any): IPreviewCell[] {
  const cells = Array.isArray(notebook?.cells) ? notebook.cells : [];
  return cells.map((c: any, index: number) => ({
    index,
    cellType: typeof c?.cell_type === 'string' ? c.cell_type : 'code',
    source: joinSource(c?.source),
    id: typeof c?.id === 'string' ? c.id : null,
    outputs: Array.isArray(c?.outputs) ? c.outputs.length : 0
  }));
}

/** nbformat source: a string or a list of lines. */
export function joinSource(source: unknown): string {
  if (Array.isArray(source)) {
    return source.join('');
  }
  return typeof source === 'string' ? source : '';
}

/** How the UI shows a user. */
export interface IUserBadge {
  username: string | null;
  label: string;
  initials: string;
  color: string;
}

/**
 * A user as shown in the panel: their display name and colour from the
 * awareness states we know (people in the room), else from their username.
 */
export function userBadge(
  username: string | null,
  known: ReadonlyMap<string, IAwarenessUser>,
  nobody: string
): IUserBadge {
  if (!username) {
    return {
      username: null,
      label: nobody,
      initials: '–',
      color: 'var(--jp-layout-color3)'
    };
  }
  const user = known.get(username);
  const label = userName(user, username);
  return {
    username,
    label,
    initials: userInitials(user, label),
    color: userColor(user, username)
  };
}

/** One row of the "who wrote this" list. */
export interface IAttributionRow {
  /** 1-based first line (text) or cell index (notebook). */
  from: number;
  /** 1-based last line (text) or cell index (notebook), inclusive. */
  to: number;
  user: string | null;
  origin: string;
  authors: string[];
  changed: boolean;
  /** Who restored the row as it was (it stays credited to `user`). */
  restoredBy: string | null;
  /** What the row is about: the first line's text or the cell's first line. */
  excerpt: string;
  cellType?: string;
}

/**
 * Rows of an attribution. Consecutive text lines of the same user, origin
 * and authors are grouped into one row; notebooks have a row per cell.
 *
 * @param current the current text (for excerpts), or the notebook's cell
 *   sources and types by cell id.
 */
export function attributionRows(
  attribution: IAttribution,
  current?: {
    text?: string;
    cells?: ReadonlyMap<string, { source: string; cellType: string }>;
  }
): IAttributionRow[] {
  const rows: IAttributionRow[] = [];
  if (attribution.type === 'text') {
    const textLines = (current?.text ?? '').split('\n');
    for (const l of attribution.lines ?? []) {
      const last = rows[rows.length - 1];
      const authors = Array.isArray(l.authors) ? l.authors : [];
      if (
        last &&
        last.to === l.line - 1 &&
        last.user === l.user &&
        last.origin === l.origin &&
        last.changed === !!l.changed &&
        last.restoredBy === (l.restoredBy ?? null) &&
        sameSet(last.authors, authors)
      ) {
        last.to = l.line;
        continue;
      }
      rows.push({
        from: l.line,
        to: l.line,
        user: l.user ?? null,
        origin: l.origin,
        authors,
        changed: !!l.changed,
        restoredBy: l.restoredBy ?? null,
        excerpt: firstLine(textLines[l.line - 1] ?? '')
      });
    }
  } else if (attribution.type === 'notebook') {
    for (const c of attribution.cells ?? []) {
      const cell = current?.cells?.get(c.id);
      rows.push({
        from: c.index + 1,
        to: c.index + 1,
        user: c.user ?? null,
        origin: c.origin,
        authors: Array.isArray(c.authors) ? c.authors : [],
        changed: !!c.changed,
        restoredBy: c.restoredBy ?? null,
        excerpt: firstLine(cell?.source ?? ''),
        cellType: cell?.cellType
      });
    }
  }
  return rows;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) {
    return false;
  }
  const s = new Set(a);
  return b.every(x => s.has(x));
}

/** The first non-empty line of a text, shortened. */
export function firstLine(text: string, max = 80): string {
  const line =
    text
      .split('\n')
      .map(l => l.trim())
      .find(l => l.length > 0) ?? '';
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}

/** Every username a list of versions / a diff / an attribution mentions. */
export function mentionedUsers(values: {
  versions?: readonly IVersion[];
  authors?: readonly string[];
  attribution?: readonly IAttributionRow[];
}): string[] {
  const set = new Set<string>();
  for (const v of values.versions ?? []) {
    v.authors.forEach(a => set.add(a));
    if (v.createdBy) {
      set.add(v.createdBy);
    }
  }
  (values.authors ?? []).forEach(a => set.add(a));
  for (const r of values.attribution ?? []) {
    if (r.user) {
      set.add(r.user);
    }
    r.authors.forEach(a => set.add(a));
    if (r.restoredBy) {
      set.add(r.restoredBy);
    }
  }
  return Array.from(set).sort();
}
