/**
 * Comment anchors: where a thread is in a document, as Yjs relative
 * positions of the shared model's Y.Text (they follow every edit made
 * around them, by anyone), and back to offsets in the current text.
 *
 * The bytes are `Y.encodeRelativePosition` (v1), the encoding pycrdt's
 * `StickyIndex.encode()` reads and writes too, in base64 (docs/comments-api.md).
 * No DOM: unit tested on real Yjs documents.
 */
import * as Y from 'yjs';

import { IAnchor } from './api';

/** Longest quote kept in an anchor (the selected text, for detached threads). */
export const MAX_QUOTE_LENGTH = 500;

/** Base64 of bytes (no Buffer in the browser). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) {
    binary += String.fromCharCode(bytes[i]);
  }
  return btoa(binary);
}

/** Bytes of base64 (null when it is not base64). */
export function fromBase64(text: string): Uint8Array | null {
  try {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  } catch {
    return null;
  }
}

/** The anchor of a whole notebook cell. */
export function cellAnchor(cellId: string): IAnchor {
  return { cell: cellId, start: null, end: null, quote: null };
}

/**
 * The anchor of the range [from, to) of a Y.Text (a text file's, with
 * `cell` null, or a cell's source). The start sticks to the first character
 * of the range and the end to its last one, so text typed just before or
 * just after the range stays outside it.
 */
export function textAnchor(
  ytext: Y.Text,
  from: number,
  to: number,
  cell: string | null = null
): IAnchor {
  const length = ytext.length;
  const a = Math.max(0, Math.min(from, to, length));
  const b = Math.max(0, Math.min(Math.max(from, to), length));
  const start = Y.createRelativePositionFromTypeIndex(ytext, a, 0);
  const end = Y.createRelativePositionFromTypeIndex(ytext, b, -1);
  const quote = ytext.toString().slice(a, b);
  return {
    cell,
    start: toBase64(Y.encodeRelativePosition(start)),
    end: toBase64(Y.encodeRelativePosition(end)),
    quote: quote.length > MAX_QUOTE_LENGTH ? quote.slice(0, MAX_QUOTE_LENGTH - 1) + '…' : quote
  };
}

/** Where an anchor is now in its Y.Text. */
export type IResolved =
  /** A whole cell (no range). */
  | { kind: 'cell' }
  /** The range [from, to) of the text, with its current content. */
  | { kind: 'range'; from: number; to: number; text: string }
  /** The anchored text was deleted (or the anchor cannot be read here). */
  | { kind: 'detached' };

function decode(text: string | null): Y.RelativePosition | null {
  if (!text) {
    return null;
  }
  const bytes = fromBase64(text);
  if (!bytes || !bytes.length) {
    return null;
  }
  try {
    return Y.decodeRelativePosition(bytes);
  } catch {
    return null;
  }
}

/**
 * Where `anchor` is in `ytext` (the text it was made in: the file's, or its
 * cell's source). A range whose text was deleted, or whose positions name
 * another type, is detached.
 */
export function resolveAnchor(anchor: IAnchor, ytext: Y.Text | null): IResolved {
  if (!anchor.start && !anchor.end) {
    return anchor.cell ? { kind: 'cell' } : { kind: 'detached' };
  }
  const doc = ytext?.doc;
  const start = decode(anchor.start);
  const end = decode(anchor.end);
  if (!ytext || !doc || !start || !end) {
    return { kind: 'detached' };
  }
  let a: Y.AbsolutePosition | null;
  let b: Y.AbsolutePosition | null;
  try {
    // (positions naming items this document never had throw)
    a = Y.createAbsolutePositionFromRelativePosition(start, doc);
    b = Y.createAbsolutePositionFromRelativePosition(end, doc);
  } catch {
    return { kind: 'detached' };
  }
  if (!a || !b || a.type !== ytext || b.type !== ytext) {
    return { kind: 'detached' };
  }
  const from = Math.min(a.index, ytext.length);
  const to = Math.min(b.index, ytext.length);
  if (to <= from && (anchor.quote ?? '') !== '') {
    // Everything between the two positions is gone.
    return { kind: 'detached' };
  }
  return { kind: 'range', from, to: Math.max(from, to), text: ytext.toString().slice(from, to) };
}

/** The range of the line around `pos` in `text` (without its line break). */
export function lineAround(text: string, pos: number): { from: number; to: number } {
  const p = Math.max(0, Math.min(pos, text.length));
  const before = text.lastIndexOf('\n', p - 1);
  const after = text.indexOf('\n', p);
  return { from: before + 1, to: after < 0 ? text.length : after };
}

/** 1-based line number of an offset of `text`. */
export function lineOf(text: string, pos: number): number {
  let line = 1;
  const end = Math.max(0, Math.min(pos, text.length));
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
    }
  }
  return line;
}
