/**
 * Where a thread is in an open document (its room's shared model): the
 * label the panel shows ("Cell 3, line 2"), whether it is detached, the
 * document order, and the ranges the editors highlight. Works on the Yjs
 * shared model only (unit tested with real Yjs documents).
 */
import * as Y from 'yjs';

import { IThread } from './api';
import { IResolved, lineOf, resolveAnchor } from './anchor';
import type { IMarkedRange } from './markers';

/** The part of a TranslationBundle used here. */
export interface ITrans {
  __(msg: string, ...args: any[]): string;
}

/** What is needed of a shared cell. */
export interface ICellLike {
  readonly id: string;
  readonly ysource: Y.Text;
}

/** What is needed of a room's shared model: a text file's text, or a notebook's cells. */
export interface IDocumentLike {
  /** A text file's Y.Text (null for a notebook). */
  text: Y.Text | null;
  /** A notebook's cells (null for a text file). */
  cells: readonly ICellLike[] | null;
}

/** The shared model of a room, as places need it. */
export function documentLike(shared: any): IDocumentLike {
  if (shared && Array.isArray(shared.cells)) {
    return { text: null, cells: shared.cells as ICellLike[] };
  }
  const text = shared?.ysource;
  return { text: text instanceof Y.Text ? text : null, cells: null };
}

export interface IPlace {
  label: string;
  detached: boolean;
  position: number | null;
  text: string | null;
  /** The cell it is on (notebooks). */
  cell: string | null;
  resolved: IResolved;
}

/** Room for the offsets of one cell in the document order key. */
const CELL_SPAN = 1e9;

/** Where `thread` is in `doc`. */
export function placeOf(thread: IThread, doc: IDocumentLike, trans: ITrans): IPlace {
  const anchor = thread.anchor;
  const detached = (label: string): IPlace => ({
    label,
    detached: true,
    position: null,
    text: null,
    cell: anchor.cell,
    resolved: { kind: 'detached' }
  });
  if (!anchor.cell && !anchor.start && !anchor.end) {
    return {
      label: trans.__('The whole document'),
      detached: false,
      position: -1,
      text: null,
      cell: null,
      resolved: { kind: 'cell' }
    };
  }
  if (doc.cells) {
    const index = anchor.cell ? doc.cells.findIndex(c => c.id === anchor.cell) : -1;
    if (index < 0) {
      return detached(trans.__('A deleted cell'));
    }
    const cell = doc.cells[index];
    const resolved = resolveAnchor(anchor, cell.ysource);
    if (resolved.kind === 'cell') {
      return {
        label: trans.__('Cell %1', index + 1),
        detached: false,
        position: index * CELL_SPAN,
        text: null,
        cell: cell.id,
        resolved
      };
    }
    if (resolved.kind === 'detached') {
      return { ...detached(trans.__('Cell %1', index + 1)), cell: cell.id };
    }
    const source = cell.ysource.toString();
    return {
      label: lineLabel(source, resolved.from, resolved.to, trans, index + 1),
      detached: false,
      position: index * CELL_SPAN + resolved.from,
      text: resolved.text,
      cell: cell.id,
      resolved
    };
  }
  if (anchor.cell || !doc.text) {
    return detached(trans.__('Another view of this file'));
  }
  const resolved = resolveAnchor(anchor, doc.text);
  if (resolved.kind !== 'range') {
    return detached(trans.__('Deleted text'));
  }
  return {
    label: lineLabel(doc.text.toString(), resolved.from, resolved.to, trans, null),
    detached: false,
    position: resolved.from,
    text: resolved.text,
    cell: null,
    resolved
  };
}

function lineLabel(
  text: string,
  from: number,
  to: number,
  trans: ITrans,
  cell: number | null
): string {
  const first = lineOf(text, from);
  // (a range ending at a line break ends on the line before)
  const last = Math.max(first, lineOf(text, Math.max(from, to - 1)));
  if (cell === null) {
    return first === last ? trans.__('Line %1', first) : trans.__('Lines %1–%2', first, last);
  }
  return first === last
    ? trans.__('Cell %1, line %2', cell, first)
    : trans.__('Cell %1, lines %2–%3', cell, first, last);
}

/**
 * The ranges to highlight in `ytext` (a text file's, or a cell's source):
 * open threads anchored there, not detached.
 */
export function rangesIn(
  threads: readonly IThread[],
  ytext: Y.Text,
  cellId: string | null
): IMarkedRange[] {
  const ranges: IMarkedRange[] = [];
  for (const t of threads) {
    if (t.resolved || t.detached || !t.anchor.start || !t.anchor.end) {
      continue;
    }
    if ((t.anchor.cell ?? null) !== cellId) {
      continue;
    }
    const r = resolveAnchor(t.anchor, ytext);
    if (r.kind === 'range' && r.to > r.from) {
      ranges.push({ from: r.from, to: r.to, threads: [t.id] });
    }
  }
  return ranges;
}

/** Open threads by cell id (for the cell badges): on the cell or a range of it. */
export function threadsByCell(
  threads: readonly IThread[],
  doc: IDocumentLike
): Map<string, string[]> {
  const byCell = new Map<string, string[]>();
  if (!doc.cells) {
    return byCell;
  }
  const cells = new Map(doc.cells.map(c => [c.id, c]));
  for (const t of threads) {
    const cell = t.anchor.cell ? cells.get(t.anchor.cell) : undefined;
    if (t.resolved || t.detached || !cell) {
      continue;
    }
    if (t.anchor.start && resolveAnchor(t.anchor, cell.ysource).kind === 'detached') {
      continue;
    }
    const list = byCell.get(cell.id) ?? [];
    list.push(t.id);
    byCell.set(cell.id, list);
  }
  return byCell;
}
