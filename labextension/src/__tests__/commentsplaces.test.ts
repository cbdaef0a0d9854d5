/**
 * Places of threads in real shared models (@jupyter/ydoc's YNotebook and
 * YFile, the ones JupyterLab edits): labels, detached threads, highlight
 * ranges and the threads of each cell, as the document changes.
 */
import { YFile, YNotebook } from '@jupyter/ydoc';
import { describe, expect, it } from 'vitest';

import { IThread } from '../comments/api';
import { cellAnchor, textAnchor } from '../comments/anchor';
import { documentLike, placeOf, rangesIn, threadsByCell } from '../comments/places';

const trans = {
  __: (msg: string, ...args: any[]) =>
    msg.replace(/%(\d)/g, (_, n) => String(args[Number(n) - 1]))
};

function thread(id: string, anchor: IThread['anchor'], over: Partial<IThread> = {}): IThread {
  return {
    id, anchor, resolved: false, resolvedBy: null, resolvedAt: null, detached: false,
    room: null, author: 'alice', created: '', comments: [], ...over
  };
}

function notebook(): YNotebook {
  const nb = YNotebook.create();
  nb.insertCells(0, [
    { cell_type: 'code', id: 'c1', source: 'import pandas as pd\ndf = pd.read_csv("x")' },
    { cell_type: 'markdown', id: 'c2', source: '# Results' },
    { cell_type: 'code', id: 'c3', source: 'df.groupby("a").sum()\nprint(df)' }
  ] as any);
  return nb;
}

describe('places in a notebook', () => {
  it('labels cells and ranges by cell and line, in document order', () => {
    const nb = notebook();
    const doc = documentLike(nb);
    const c3 = nb.cells[2];
    const from = c3.getSource().indexOf('print');
    const onRange = thread('r', textAnchor((c3 as any).ysource, from, from + 9, 'c3'));
    const onCell = thread('c', cellAnchor('c2'));
    const p1 = placeOf(onRange, doc, trans);
    const p2 = placeOf(onCell, doc, trans);
    expect(p1).toMatchObject({ label: 'Cell 3, line 2', detached: false, text: 'print(df)', cell: 'c3' });
    expect(p2).toMatchObject({ label: 'Cell 2', detached: false, cell: 'c2' });
    expect(p2.position!).toBeLessThan(p1.position!);
    // a cell inserted above renumbers
    nb.insertCell(0, { cell_type: 'code', id: 'c0', source: '' } as any);
    expect(placeOf(onRange, documentLike(nb), trans).label).toBe('Cell 4, line 2');
  });

  it('a deleted cell, or deleted text, makes a detached thread', () => {
    const nb = notebook();
    const c1 = nb.cells[0] as any;
    const onText = thread('t', textAnchor(c1.ysource, 0, 6, 'c1'));
    const onCell = thread('c', cellAnchor('c2'));
    c1.setSource(c1.getSource().slice(6));
    expect(placeOf(onText, documentLike(nb), trans)).toMatchObject({ detached: true, label: 'Cell 1', position: null });
    nb.deleteCell(1); // c2
    expect(placeOf(onCell, documentLike(nb), trans)).toMatchObject({ detached: true, label: 'A deleted cell' });
  });

  it('cell badges count open threads on a cell or its text; ranges highlight in their cell only', () => {
    const nb = notebook();
    const c1 = nb.cells[0] as any;
    const c3 = nb.cells[2] as any;
    const threads = [
      thread('a', cellAnchor('c1')),
      thread('b', textAnchor(c1.ysource, 0, 6, 'c1')),
      thread('c', textAnchor(c3.ysource, 0, 2, 'c3'), { resolved: true }),
      thread('d', cellAnchor('gone'))
    ];
    const byCell = threadsByCell(threads, documentLike(nb));
    expect([...byCell]).toEqual([['c1', ['a', 'b']]]);
    expect(rangesIn(threads, c1.ysource, 'c1')).toEqual([{ from: 0, to: 6, threads: ['b'] }]);
    expect(rangesIn(threads, c3.ysource, 'c3')).toEqual([]); // resolved: not highlighted
    // edits before the range move the highlight
    c1.ysource.insert(0, '# setup\n');
    expect(rangesIn(threads, c1.ysource, 'c1')).toEqual([{ from: 8, to: 14, threads: ['b'] }]);
  });
});

describe('places in a text file', () => {
  it('labels lines, follows edits, and detaches when the text goes', () => {
    const file = YFile.create();
    file.setSource('alpha\nbeta\ngamma\n');
    const ytext = (file as any).ysource;
    const from = 6;
    const t = thread('x', textAnchor(ytext, from, from + 11)); // "beta\ngamma\n"... up to before last \n
    expect(placeOf(t, documentLike(file), trans)).toMatchObject({ label: 'Lines 2–3', detached: false });
    const one = thread('y', textAnchor(ytext, 0, 5));
    expect(placeOf(one, documentLike(file), trans).label).toBe('Line 1');
    ytext.insert(0, 'zero\n');
    expect(placeOf(one, documentLike(file), trans)).toMatchObject({ label: 'Line 2', text: 'alpha' });
    ytext.delete(5, 5);
    expect(placeOf(one, documentLike(file), trans)).toMatchObject({ detached: true });
    // a notebook's cell anchor shown in a text view of the file: not placeable
    expect(placeOf(thread('z', cellAnchor('c1')), documentLike(file), trans).detached).toBe(true);
    // a thread on the whole document
    expect(
      placeOf(thread('w', { cell: null, start: null, end: null, quote: null }), documentLike(file), trans)
    ).toMatchObject({ label: 'The whole document', detached: false });
  });
});
