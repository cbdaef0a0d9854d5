// @vitest-environment jsdom
/**
 * The inline comment markers in a DOM (jsdom): the badge on a real JupyterLab
 * notebook's cells, and the highlight and gutter marker in a real CodeMirror
 * editor bound to a Yjs text (JupyterLab's ybinding), following edits.
 */
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { ybinding } from '@jupyterlab/codemirror';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';

import { CellCommentBadges, ICellThreads, IMarkedRange, IMarkerSource, commentMarkers } from '../comments/markers';
import { disposables, disposeAll, frames, realNotebook } from './realnotebook';

const trans = nullTranslator.load('jupyter-collab') as TranslationBundle;

afterEach(disposeAll);

describe('CellCommentBadges (DOM, real notebook widget)', () => {
  function setup() {
    const { notebook } = realNotebook([
      { id: 'c1', source: 'import os' },
      { id: 'c2', source: 'total = 41 + 1' }
    ]);
    let threads = new Map<string, ICellThreads>([
      ['c2', { count: 2, first: 't7', label: '2 comment threads: show them' }]
    ]);
    const changed = new Signal<object, void>({});
    const opened: string[] = [];
    const badges = new CellCommentBadges({
      notebook,
      threadsOf: () => threads,
      open: t => opened.push(t),
      trans,
      changed
    });
    disposables.push(notebook, badges);
    const badge = (i: number) =>
      notebook.widgets[i].node.querySelector<HTMLButtonElement>(':scope > .jp-collab-CommentBadge');
    return { notebook, badges, badge, opened, changed, set: (m: Map<string, ICellThreads>) => (threads = m) };
  }

  it('a badge with the count on each cell that has open threads; a click opens the first', async () => {
    const { notebook, badge, opened } = setup();
    await frames();
    expect(badge(0)).toBeNull();
    expect(badge(1)?.textContent).toBe('2');
    expect(badge(1)?.getAttribute('aria-label')).toBe('2 comment threads: show them');
    expect(notebook.widgets[1].hasClass('jp-collab-mod-commented')).toBe(true);
    badge(1)!.click();
    expect(opened).toEqual(['t7']);
  });

  it('follows the threads: a new one, a count that changes, the last one resolved', async () => {
    const { notebook, badge, changed, set } = setup();
    await frames();
    set(
      new Map([
        ['c1', { count: 1, first: 't9', label: '1 comment thread: show it' }],
        ['c2', { count: 1, first: 't8', label: '1 comment thread: show it' }]
      ])
    );
    changed.emit();
    await frames();
    expect([badge(0)?.textContent, badge(1)?.textContent]).toEqual(['1', '1']);
    expect(badge(1)?.dataset.thread).toBe('t8');
    set(new Map([['c1', { count: 1, first: 't9', label: '1 comment thread: show it' }]]));
    changed.emit();
    await frames();
    expect(badge(1)).toBeNull();
    expect(notebook.widgets[1].hasClass('jp-collab-mod-commented')).toBe(false);
  });

  it('a cell added later gets its badge; dispose takes them all off', async () => {
    const { notebook, badge, badges, set } = setup();
    set(new Map([['c3', { count: 1, first: 't1', label: 'x' }]]));
    notebook.model!.sharedModel.insertCell(2, { cell_type: 'code', id: 'c3', source: '' } as any);
    await frames();
    expect(notebook.widgets.map(c => c.model.id)).toEqual(['c1', 'c2', 'c3']);
    expect(badge(2)?.textContent).toBe('1');
    badges.dispose();
    expect(notebook.node.querySelectorAll('.jp-collab-CommentBadge').length).toBe(0);
  });
});

describe('commentMarkers (DOM, real CodeMirror bound to Yjs)', () => {
  /** Threads anchored by Yjs relative positions, as the comments plugin's source does. */
  class Source implements IMarkerSource {
    constructor(readonly ytext: Y.Text) {}
    anchors = new Map<string, { start: Y.RelativePosition; end: Y.RelativePosition }>();
    readonly changed = new Signal<this, void>(this);
    opened: string[] = [];
    add(id: string, text: string): void {
      const i = this.ytext.toString().indexOf(text);
      this.anchors.set(id, {
        start: Y.createRelativePositionFromTypeIndex(this.ytext, i),
        end: Y.createRelativePositionFromTypeIndex(this.ytext, i + text.length, -1)
      });
      this.changed.emit();
    }
    rangesOf(ytext: Y.Text): IMarkedRange[] {
      const doc = ytext.doc!;
      const out: IMarkedRange[] = [];
      for (const [id, a] of this.anchors) {
        const s = Y.createAbsolutePositionFromRelativePosition(a.start, doc);
        const e = Y.createAbsolutePositionFromRelativePosition(a.end, doc);
        if (s && e && e.index > s.index) {
          out.push({ from: s.index, to: e.index, threads: [id] });
        }
      }
      return out;
    }
    open(thread: string): void {
      this.opened.push(thread);
    }
    describe(threads: string[]): string {
      return `${threads.length} comment(s)`;
    }
  }

  function setup(withGutter = true) {
    const ydoc = new Y.Doc();
    const ytext = ydoc.getText('source');
    ytext.insert(0, 'Plan\nThis step is important for the release\nThe end\n');
    const source = new Source(ytext);
    const parent = document.createElement('div');
    document.body.appendChild(parent);
    const view = new EditorView({
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [ybinding({ ytext }), commentMarkers(ytext, source, withGutter)]
      }),
      parent
    });
    disposables.push({ dispose: () => view.destroy() });
    const highlighted = () =>
      Array.from(view.dom.querySelectorAll('.jp-collab-CommentRange')).map(e => e.textContent).join('|');
    const markers = () => Array.from(view.dom.querySelectorAll<HTMLButtonElement>('.jp-collab-CommentGutter-marker'));
    return { ydoc, ytext, source, view, highlighted, markers };
  }

  it('highlights the anchored text and puts a marker in the gutter; a click opens the thread', async () => {
    const { source, highlighted, markers } = setup();
    await frames();
    expect(highlighted()).toBe('');
    source.add('t1', 'important');
    await frames();
    expect(highlighted()).toBe('important');
    const m = markers();
    expect(m.length).toBe(1);
    expect(m[0].dataset.threads).toBe('t1');
    expect(m[0].getAttribute('aria-label')).toBe('1 comment(s)');
    m[0].click();
    expect(source.opened).toEqual(['t1']);
  });

  it('follows edits made to the Yjs text (another person typing), and goes with the text', async () => {
    const { ytext, source, highlighted, markers } = setup();
    source.add('t1', 'important');
    await frames();
    ytext.insert(0, 'Draft\n'); // remote edits, through the binding
    const i = ytext.toString().indexOf('important');
    ytext.insert(i, 'very ');
    await frames();
    expect(highlighted()).toBe('important');
    expect(markers().length).toBe(1);
    const j = ytext.toString().indexOf('very important');
    ytext.delete(j, 'very important'.length);
    await frames();
    expect(highlighted()).toBe('');
    expect(markers()).toEqual([]);
  });

  it('two threads on one line: one marker that counts both', async () => {
    const { source, markers, highlighted } = setup();
    source.add('t1', 'step');
    source.add('t2', 'release');
    await frames();
    expect(highlighted()).toBe('step|release');
    expect(markers().map(m => [m.textContent, m.dataset.threads])).toEqual([['2', 't1 t2']]);
  });

  it('without the gutter (notebook cells): the highlight only', async () => {
    const { source, markers, highlighted, view } = setup(false);
    source.add('t1', 'important');
    await frames();
    expect(highlighted()).toBe('important');
    expect(markers()).toEqual([]);
    expect(view.dom.querySelector('.jp-collab-CommentGutter')).toBeNull();
  });
});

describe('the open-time cost of markers and badges on many cells (issue 8)', () => {
  it('many editors of one source: one connection to its signal, each editor still redraws, a destroyed one stops', async () => {
    const ydoc = new Y.Doc();
    const cells = ydoc.getArray<Y.Text>('cells');
    for (let i = 0; i < 40; i++) {
      cells.push([new Y.Text(`cell ${i} important`)]);
    }
    const texts = cells.toArray();
    const anchors = new Map<Y.Text, string>();
    const changed = new Signal<object, void>({});
    let connects = 0;
    const connect = changed.connect.bind(changed);
    changed.connect = ((slot: any, thisArg?: any) => {
      connects++;
      return connect(slot, thisArg);
    }) as any;
    const source: IMarkerSource = {
      changed,
      rangesOf: (t: Y.Text) => {
        if (!anchors.has(t)) {
          return [];
        }
        const i = t.toString().indexOf('important');
        return [{ from: i, to: i + 'important'.length, threads: [anchors.get(t)!] }];
      },
      open: () => undefined,
      describe: threads => `${threads.length}`
    };
    const views = texts.map(ytext => {
      const parent = document.createElement('div');
      document.body.appendChild(parent);
      const view = new EditorView({
        state: EditorState.create({ doc: ytext.toString(), extensions: [ybinding({ ytext }), commentMarkers(ytext, source, false)] }),
        parent
      });
      disposables.push({ dispose: () => view.destroy() });
      return view;
    });
    // (on main: one connection per editor, each a search of all the others)
    expect(connects).toBe(1);
    const highlighted = (v: EditorView) => v.dom.querySelectorAll('.jp-collab-CommentRange').length;
    anchors.set(texts[3], 't3');
    anchors.set(texts[30], 't30');
    changed.emit();
    await frames();
    expect(views.map(highlighted)).toEqual(views.map((_, i) => (i === 3 || i === 30 ? 1 : 0)));
    views[30].destroy();
    anchors.delete(texts[3]);
    changed.emit();
    await frames();
    expect(highlighted(views[3])).toBe(0);
  }, 60000);

  it('badges: cells without threads are not touched when the cells change', async () => {
    const cellsSpec = Array.from({ length: 30 }, (_, i) => ({ id: `c${i}`, source: `x = ${i}` }));
    const { notebook } = realNotebook(cellsSpec);
    let threads = new Map<string, ICellThreads>();
    const changed = new Signal<object, void>({});
    const badges = new CellCommentBadges({ notebook, threadsOf: () => threads, open: () => undefined, trans, changed });
    disposables.push(notebook, badges);
    await frames();
    let touched = 0;
    for (const cell of notebook.widgets) {
      const remove = cell.removeClass.bind(cell);
      cell.removeClass = (name: string) => {
        touched += name === 'jp-collab-mod-commented' ? 1 : 0;
        remove(name);
      };
    }
    notebook.model!.sharedModel.insertCell(30, { cell_type: 'code', id: 'c30', source: '' } as any);
    await frames();
    // (on main: a query and a class removal on every cell, each time)
    expect(touched).toBe(0);
    threads = new Map([['c5', { count: 1, first: 't1', label: 'one' }]]);
    changed.emit();
    await frames();
    expect(notebook.widgets[5].hasClass('jp-collab-mod-commented')).toBe(true);
    threads = new Map();
    changed.emit();
    await frames();
    expect(notebook.widgets[5].hasClass('jp-collab-mod-commented')).toBe(false);
    expect(notebook.node.querySelectorAll('.jp-collab-CommentBadge').length).toBe(0);
  }, 60000);
});
