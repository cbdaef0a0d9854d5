/**
 * Inline comment markers: the anchored ranges of open threads highlighted
 * in CodeMirror (text files and cell sources) with a gutter marker in text
 * files, and a badge on notebook cells that have threads. Clicking one
 * opens its thread in the comments panel.
 */
import { Extension, RangeSet, RangeSetBuilder, StateEffect } from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  GutterMarker,
  ViewPlugin,
  ViewUpdate,
  gutter
} from '@codemirror/view';
import { Notebook } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { ISignal } from '@lumino/signaling';
import * as Y from 'yjs';

/** One highlighted range: [from, to) in the text, and its threads. */
export interface IMarkedRange {
  from: number;
  to: number;
  threads: string[];
}

/** Where the markers come from (the plugin: the comments of the open documents). */
export interface IMarkerSource {
  /** The ranges of open threads anchored in this text, now. */
  rangesOf(ytext: Y.Text): IMarkedRange[];
  /** The threads changed (draw again). */
  readonly changed: ISignal<any, void>;
  /** A marker was clicked. */
  open(thread: string): void;
  /** "2 comments: show them" (a tooltip). */
  describe(threads: string[]): string;
}

/**
 * Merge overlapping ranges for the gutter and the highlight: clamped to the
 * text, sorted, each range once (empty ones dropped).
 */
export function normalizeRanges(ranges: readonly IMarkedRange[], length: number): IMarkedRange[] {
  return ranges
    .map(r => ({
      from: Math.max(0, Math.min(r.from, length)),
      to: Math.max(0, Math.min(r.to, length)),
      threads: r.threads
    }))
    .filter(r => r.to > r.from)
    .sort((a, b) => a.from - b.from || a.to - b.to);
}

/**
 * Whether drawing an editor's markers again can change anything: it shows
 * ranges now, or the source has some for its text now.
 *
 * Each redraw is a full CodeMirror update. Without this check, threads
 * loading (or changing in another document) and every change of the text
 * redrew editors that show no thread: a 4 MiB file paid one more update
 * after its first sync, and each cell editor of a notebook one when the
 * threads loaded (issue 8, time to editable).
 */
export function mayRedraw(
  drawn: readonly IMarkedRange[],
  source: Pick<IMarkerSource, 'rangesOf'>,
  ytext: Y.Text
): boolean {
  return drawn.length > 0 || source.rangesOf(ytext).length > 0;
}

const refresh = StateEffect.define<null>();

/** The listeners of each shared signal (see `listenShared`). */
const sharedListeners = new WeakMap<ISignal<any, void>, Set<() => void>>();

/**
 * Listen to a signal that many editors share, through one connection.
 *
 * A Lumino signal looks for a duplicate among its sender's connections on
 * each `connect` (and `disconnect`): one connection per cell editor of a
 * notebook made opening 1,000 cells cost half a million comparisons (issue
 * 8, counted with `benchmarks/browser_counts.py --coverage`). Returns the
 * way to stop listening.
 */
export function listenShared(signal: ISignal<any, void>, listener: () => void): () => void {
  let listeners = sharedListeners.get(signal);
  if (!listeners) {
    const set = new Set<() => void>();
    listeners = set;
    sharedListeners.set(signal, set);
    signal.connect(() => set.forEach(l => l()));
  }
  listeners.add(listener);
  const set = listeners;
  return () => {
    set.delete(listener);
  };
}

class ThreadMarker extends GutterMarker {
  constructor(
    readonly threads: string[],
    readonly label: string,
    readonly source: IMarkerSource
  ) {
    super();
  }
  eq(other: GutterMarker): boolean {
    return (
      other instanceof ThreadMarker &&
      other.label === this.label &&
      other.threads.join() === this.threads.join()
    );
  }
  toDOM(): Node {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'jp-collab-CommentGutter-marker';
    b.textContent = this.threads.length > 1 ? String(this.threads.length) : '';
    b.title = this.label;
    b.setAttribute('aria-label', this.label);
    b.dataset.threads = this.threads.join(' ');
    b.addEventListener('mousedown', event => event.preventDefault());
    b.addEventListener('click', event => {
      event.preventDefault();
      event.stopPropagation();
      this.source.open(this.threads[0]);
    });
    return b;
  }
}

interface IBuilt {
  ranges: IMarkedRange[];
  marks: DecorationSet;
  markers: RangeSet<GutterMarker>;
}

/**
 * The CodeMirror extension of one editor whose text is `ytext`: highlights
 * (and, with `withGutter`, gutter markers) for the source's ranges, kept in
 * place as the text changes.
 */
export function commentMarkers(
  ytext: Y.Text,
  source: IMarkerSource,
  withGutter: boolean
): Extension {
  const build = (view: EditorView): IBuilt => {
    const doc = view.state.doc;
    const ranges = normalizeRanges(source.rangesOf(ytext), doc.length);
    const marks = new RangeSetBuilder<Decoration>();
    const markers = new RangeSetBuilder<GutterMarker>();
    // decorations must be added in order of their start: split overlaps
    const points = new Set<number>();
    for (const r of ranges) {
      points.add(r.from);
      points.add(r.to);
    }
    const sorted = [...points].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length - 1; i++) {
      const from = sorted[i];
      const to = sorted[i + 1];
      const threads = ranges.filter(r => r.from <= from && r.to >= to).flatMap(r => r.threads);
      if (!threads.length) {
        continue;
      }
      marks.add(
        from,
        to,
        Decoration.mark({
          class: 'jp-collab-CommentRange',
          attributes: { 'data-threads': threads.join(' '), title: source.describe(threads) }
        })
      );
    }
    let line = -1;
    let lineThreads: string[] = [];
    let lineStart = 0;
    const flush = () => {
      if (line >= 0) {
        markers.add(lineStart, lineStart, new ThreadMarker(lineThreads, source.describe(lineThreads), source));
      }
    };
    for (const r of ranges) {
      const l = doc.lineAt(r.from);
      if (l.number !== line) {
        flush();
        line = l.number;
        lineStart = l.from;
        lineThreads = [];
      }
      for (const t of r.threads) {
        if (!lineThreads.includes(t)) {
          lineThreads.push(t);
        }
      }
    }
    flush();
    return { ranges, marks: marks.finish(), markers: markers.finish() };
  };

  const plugin = ViewPlugin.fromClass(
    class {
      built: IBuilt;
      view: EditorView;
      pending = 0;
      constructor(view: EditorView) {
        this.view = view;
        this.built = build(view);
        this.stopListening = listenShared(source.changed, this.schedule);
        ytext.observe(this.onText);
      }
      stopListening: () => void;
      onText = () => this.schedule();
      schedule = (): void => {
        // Never dispatch inside an update: after it, once per frame; and
        // only when it can change what shows.
        if (this.pending || !mayRedraw(this.built.ranges, source, ytext)) {
          return;
        }
        this.pending = requestAnimationFrame(() => {
          this.pending = 0;
          try {
            this.view.dispatch({ effects: refresh.of(null) });
          } catch {
            // the view is gone
          }
        });
      };
      update(update: ViewUpdate): void {
        if (
          update.docChanged ||
          update.transactions.some(tr => tr.effects.some(e => e.is(refresh)))
        ) {
          this.built = build(update.view);
        }
      }
      destroy(): void {
        this.stopListening();
        ytext.unobserve(this.onText);
        if (this.pending) {
          cancelAnimationFrame(this.pending);
        }
      }
    },
    {
      decorations: v => v.built.marks,
      eventHandlers: {
        click(event: MouseEvent, view: EditorView) {
          const target = event.target as HTMLElement | null;
          const mark = target?.closest?.('.jp-collab-CommentRange') as HTMLElement | null;
          if (!mark || !view.state.selection.main.empty) {
            return false;
          }
          const threads = (mark.dataset.threads ?? '').split(' ').filter(Boolean);
          if (threads.length) {
            source.open(threads[0]);
          }
          return false; // the caret goes where clicked, too
        }
      }
    }
  );
  if (!withGutter) {
    return plugin;
  }
  return [
    plugin,
    gutter({
      class: 'jp-collab-CommentGutter',
      markers: view => view.plugin(plugin)?.built.markers ?? RangeSet.empty
    })
  ];
}

/** Per cell: how many open threads, and the first (to open). */
export interface ICellThreads {
  count: number;
  first: string;
  label: string;
}

/**
 * A badge on each notebook cell that has open threads (on the cell or on a
 * range of its source); a click opens the first in the panel.
 */
export class CellCommentBadges implements IDisposable {
  constructor(options: CellCommentBadges.IOptions) {
    this._notebook = options.notebook;
    this._threadsOf = options.threadsOf;
    this._open = options.open;
    this._trans = options.trans;
    this._changed = options.changed;
    this._changed.connect(this._schedule, this);
    this._notebook.model?.cells.changed.connect(this._schedule, this);
    this._schedule();
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._changed.disconnect(this._schedule, this);
    this._notebook.model?.cells.changed.disconnect(this._schedule, this);
    if (!this._notebook.isDisposed) {
      for (const cell of this._notebook.widgets) {
        cell.node.querySelector(`:scope > .${BADGE}`)?.remove();
        cell.removeClass('jp-collab-mod-commented');
      }
    }
  }

  private _schedule(): void {
    if (this._pending || this._isDisposed) {
      return;
    }
    this._pending = true;
    requestAnimationFrame(() => {
      this._pending = false;
      this._render();
    });
  }

  private _render(): void {
    if (this._isDisposed || this._notebook.isDisposed) {
      return;
    }
    const threads = this._threadsOf();
    // Only the cells with a badge, before or now, are touched: this runs
    // when the cells change (all 1,000 arrive at a notebook's open) and a
    // query and a class write per cell each time was work for nothing.
    if (threads.size === 0 && this._badged.size === 0) {
      return;
    }
    const badged = new Set<Notebook['widgets'][number]>();
    for (const cell of this._notebook.widgets) {
      const info = threads.get(cell.model.id);
      if ((!info || !info.count) && !this._badged.has(cell)) {
        continue;
      }
      let badge = cell.node.querySelector(`:scope > .${BADGE}`) as HTMLButtonElement | null;
      if (!info || !info.count) {
        badge?.remove();
        cell.removeClass('jp-collab-mod-commented');
        continue;
      }
      badged.add(cell);
      if (!badge) {
        badge = document.createElement('button');
        badge.type = 'button';
        badge.className = BADGE;
        badge.addEventListener('mousedown', event => event.stopPropagation());
        badge.addEventListener('click', event => {
          event.stopPropagation();
          const first = badge!.dataset.thread;
          if (first) {
            this._open(first);
          }
        });
        cell.node.appendChild(badge);
      }
      badge.dataset.thread = info.first;
      badge.dataset.count = String(info.count);
      badge.textContent = String(info.count);
      badge.title = info.label;
      badge.setAttribute('aria-label', info.label);
      cell.addClass('jp-collab-mod-commented');
    }
    this._badged = badged;
    void this._trans;
  }

  private _notebook: Notebook;
  private _threadsOf: () => ReadonlyMap<string, ICellThreads>;
  private _open: (thread: string) => void;
  private _trans: TranslationBundle;
  private _changed: ISignal<any, void>;
  private _pending = false;
  private _isDisposed = false;
  /** The cells that carry a badge (see _render). */
  private _badged = new Set<Notebook['widgets'][number]>();
}

const BADGE = 'jp-collab-CommentBadge';

export namespace CellCommentBadges {
  export interface IOptions {
    notebook: Notebook;
    /** Open threads by cell id. */
    threadsOf: () => ReadonlyMap<string, ICellThreads>;
    open: (thread: string) => void;
    trans: TranslationBundle;
    /** Draw again when this fires. */
    changed: ISignal<any, void>;
  }
}
