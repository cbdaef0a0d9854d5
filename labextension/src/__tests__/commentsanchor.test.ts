/**
 * Comment anchors on real Yjs documents: made in one copy, edited
 * concurrently in two, resolved in both; deleted text and deleted cells
 * make detached threads.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';

import {
  cellAnchor,
  fromBase64,
  lineAround,
  lineOf,
  resolveAnchor,
  textAnchor,
  toBase64
} from '../comments/anchor';

/** Two documents that exchange their updates on demand (two clients). */
function pair(initial: string) {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.getText('source').insert(0, initial);
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
  const sync = () => {
    const ua = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b));
    const ub = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a));
    Y.applyUpdate(b, ua);
    Y.applyUpdate(a, ub);
  };
  return { a, b, ta: a.getText('source'), tb: b.getText('source'), sync };
}

/** A small deterministic random generator (no Math.random: reproducible failures). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('textAnchor / resolveAnchor', () => {
  it('encodes both ends with Y.encodeRelativePosition in base64, and the selected text', () => {
    const { ta } = pair('hello brave world');
    const anchor = textAnchor(ta, 6, 11);
    expect(anchor.cell).toBeNull();
    expect(anchor.quote).toBe('brave');
    const start = Y.decodeRelativePosition(fromBase64(anchor.start!)!);
    const expected = Y.createRelativePositionFromTypeIndex(ta, 6, 0);
    expect(toBase64(Y.encodeRelativePosition(start))).toBe(
      toBase64(Y.encodeRelativePosition(expected))
    );
    // standard base64 that atob reads back to the same bytes
    expect(anchor.start).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('follows edits before, after and inside the range', () => {
    const { ta } = pair('hello brave world');
    const anchor = textAnchor(ta, 6, 11, 'cell-1');
    ta.insert(0, '>>> '); // before
    ta.insert(ta.length, '!'); // after
    let r = resolveAnchor(anchor, ta);
    expect(r).toMatchObject({ kind: 'range', text: 'brave' });
    // typing right before or right after the range stays outside it
    const at = ta.toString().indexOf('brave');
    ta.insert(at, 'X');
    ta.insert(at + 1 + 'brave'.length, 'Y');
    r = resolveAnchor(anchor, ta);
    expect(r).toMatchObject({ kind: 'range', text: 'brave' });
    // inside: grows with it
    ta.insert(ta.toString().indexOf('brave') + 2, 'AV');
    r = resolveAnchor(anchor, ta);
    expect(r.kind === 'range' && r.text).toBe('brAVave');
    expect(anchor.cell).toBe('cell-1');
  });

  it('survives concurrent edits in two copies (random, 200 rounds)', () => {
    const random = rng(42);
    for (let round = 0; round < 200; round++) {
      const { ta, tb, sync } = pair('abcdefghij'.repeat(3));
      const from = Math.floor(random() * 20);
      const to = from + 1 + Math.floor(random() * 8);
      const anchor = textAnchor(ta, from, to);
      const quote = anchor.quote!;
      // concurrent inserts and deletions outside the range, in both copies
      for (const [text, side] of [
        [ta, 0],
        [tb, 1]
      ] as const) {
        for (let i = 0; i < 4; i++) {
          const s = text.toString();
          const r = resolveAnchor(anchor, text);
          const lo = r.kind === 'range' ? r.from : 0;
          const hi = r.kind === 'range' ? r.to : s.length;
          const before = random() < 0.5;
          if (random() < 0.6) {
            const pos = before ? Math.floor(random() * (lo + 1)) : hi + Math.floor(random() * (s.length - hi + 1));
            text.insert(pos, side ? 'b' : 'a');
          } else if (before && lo > 0) {
            text.delete(Math.floor(random() * lo), 1);
          } else if (!before && s.length > hi) {
            text.delete(hi + Math.floor(random() * (s.length - hi)), 1);
          }
        }
      }
      sync();
      expect(ta.toString()).toBe(tb.toString());
      const ra = resolveAnchor(anchor, ta);
      const rb = resolveAnchor(anchor, tb);
      // both copies agree, and the range is still exactly the quoted text
      expect(ra).toEqual(rb);
      expect(ra.kind === 'range' && ra.text).toBe(quote);
    }
  });

  it('resolves an anchor made in one copy in the other (after sync)', () => {
    const { ta, tb, sync } = pair('one two three');
    const anchor = textAnchor(ta, 4, 7);
    tb.insert(0, 'zero ');
    sync();
    expect(resolveAnchor(anchor, tb)).toMatchObject({ kind: 'range', text: 'two', from: 9, to: 12 });
  });

  it('is detached when all of its text is deleted, not when part is', () => {
    const { ta } = pair('keep this text here');
    const anchor = textAnchor(ta, 5, 14); // "this text"
    ta.delete(5, 5); // "this "
    expect(resolveAnchor(anchor, ta)).toMatchObject({ kind: 'range', text: 'text' });
    ta.delete(5, 4);
    expect(resolveAnchor(anchor, ta)).toEqual({ kind: 'detached' });
  });

  it('is detached in another text, or when its text is garbage', () => {
    const doc = new Y.Doc();
    const one = doc.getText('one');
    const two = doc.getText('two');
    one.insert(0, 'first text');
    two.insert(0, 'second text');
    const anchor = textAnchor(one, 0, 5);
    expect(resolveAnchor(anchor, one)).toMatchObject({ kind: 'range', text: 'first' });
    expect(resolveAnchor(anchor, two)).toEqual({ kind: 'detached' });
    expect(resolveAnchor({ ...anchor, start: '!!not base64!!' }, one)).toEqual({ kind: 'detached' });
    expect(resolveAnchor({ ...anchor, start: toBase64(new Uint8Array([200, 1])) }, one)).toEqual({
      kind: 'detached'
    });
  });

  it('is detached when its cell (a Y.Text inside a deleted map) is gone', () => {
    const doc = new Y.Doc();
    const cells = doc.getArray<Y.Map<any>>('cells');
    const cell = new Y.Map<any>();
    const source = new Y.Text('print(1)\nprint(2)');
    cell.set('id', 'c1');
    cell.set('source', source);
    cells.push([cell]);
    const anchor = textAnchor(source, 9, 17, 'c1');
    expect(resolveAnchor(anchor, source)).toMatchObject({ kind: 'range', text: 'print(2)' });
    cells.delete(0, 1);
    expect(resolveAnchor(anchor, source)).toEqual({ kind: 'detached' });
  });

  it('a whole-cell anchor has no positions and resolves as a cell', () => {
    const anchor = cellAnchor('c9');
    expect(anchor).toEqual({ cell: 'c9', start: null, end: null, quote: null });
    expect(resolveAnchor(anchor, null)).toEqual({ kind: 'cell' });
  });

  it('clamps and orders the offsets it is given', () => {
    const { ta } = pair('abc');
    const anchor = textAnchor(ta, 10, 1);
    expect(anchor.quote).toBe('bc');
    expect(resolveAnchor(anchor, ta)).toMatchObject({ kind: 'range', from: 1, to: 3 });
  });

  it('counts in UTF-16 units like CodeMirror (astral characters)', () => {
    const { ta } = pair('a😀b😀c');
    const text = ta.toString();
    const from = text.indexOf('b');
    const anchor = textAnchor(ta, from, from + 3);
    expect(anchor.quote).toBe('b😀');
    ta.insert(0, '😀');
    const r = resolveAnchor(anchor, ta);
    expect(r.kind === 'range' && r.text).toBe('b😀');
  });
});

describe('lines', () => {
  it('lineAround finds the line of a position', () => {
    const text = 'first\nsecond line\n\nlast';
    expect(lineAround(text, 8)).toEqual({ from: 6, to: 17 });
    expect(text.slice(6, 17)).toBe('second line');
    expect(lineAround(text, 0)).toEqual({ from: 0, to: 5 });
    expect(lineAround(text, text.length)).toEqual({ from: 19, to: 23 });
    expect(lineAround(text, 18)).toEqual({ from: 18, to: 18 });
  });

  it('lineOf counts line breaks before the offset', () => {
    const text = 'a\nb\nc';
    expect([0, 1, 2, 3, 4, 5].map(p => lineOf(text, p))).toEqual([1, 1, 2, 2, 3, 3]);
  });
});
