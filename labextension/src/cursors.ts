/**
 * Remote cursors and selections in CodeMirror editors.
 *
 * Our own cursor is published in the awareness field `cursors` as a list of
 * `{anchor, head, primary, empty}` where anchor/head are Yjs relative
 * positions (JSON) in the editor's Y.Text, the same layout as
 * jupyter-collaboration, so both show each other's cursors. The cursors of
 * the others are drawn with their colour and name.
 */
import {
  Annotation,
  EditorState,
  Extension,
  Range,
  StateEffect,
  StateField
} from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  Tooltip,
  TooltipView,
  ViewPlugin,
  ViewUpdate,
  WidgetType,
  hoverTooltip,
  showTooltip
} from '@codemirror/view';
import * as Y from 'yjs';

import { applyUserColor, userColor, userKey, userName } from './presencemodel';

/** The part of a y-protocols Awareness used here. */
export interface IAwarenessLike {
  clientID: number;
  getStates(): Map<number, any>;
  getLocalState(): any;
  setLocalStateField(field: string, value: any): void;
  on(event: 'change', fn: (change: IChange, origin: any) => void): void;
  off(event: 'change', fn: (change: IChange, origin: any) => void): void;
}

interface IChange {
  added: number[];
  updated: number[];
  removed: number[];
}

/** A cursor as published in the awareness. */
export interface ICursor {
  anchor: any;
  head: any;
  primary?: boolean;
  empty?: boolean;
}

/** When names show beside the others' cursors (setting `cursorLabels`). */
export type LabelMode = 'activity' | 'hover' | 'always';

/** How names of remote cursors show (settings `cursorLabels`, `cursorLabelDuration`). */
export interface ILabelOptions {
  mode: LabelMode;
  /** How long a name stays after its cursor moved (ms), in `activity` mode. */
  duration: number;
}

let labelOptions: ILabelOptions = { mode: 'activity', duration: 3000 };
/** Every live editor's refresh (to apply new options and colours at once). */
const liveEditors = new Set<() => void>();

/** Change how names show, in every open editor at once. */
export function setLabelOptions(options: Partial<ILabelOptions>): void {
  labelOptions = { ...labelOptions, ...options };
  refreshRemoteCursors();
}

/** Draw every editor's remote cursors again (new colours, new options). */
export function refreshRemoteCursors(): void {
  for (const refresh of liveEditors) {
    refresh();
  }
}

/**
 * Whether a cursor's name shows now (besides on hover): always, never, or
 * for `duration` ms after it moved.
 */
export function labelVisible(
  options: ILabelOptions,
  lastMove: number | undefined,
  now: number
): boolean {
  switch (options.mode) {
    case 'always':
      return true;
    case 'hover':
      return false;
    default:
      return lastMove !== undefined && now - lastMove < options.duration;
  }
}

/**
 * The clients whose changes a transaction brought (their clocks advanced):
 * who typed, when a text changed. (Deletions alone advance no clock.)
 */
export function transactionAuthors(transaction: {
  beforeState: Map<number, number>;
  afterState: Map<number, number>;
}): number[] {
  const authors: number[] = [];
  transaction.afterState.forEach((clock, client) => {
    if (clock > (transaction.beforeState.get(client) ?? 0)) {
      authors.push(client);
    }
  });
  return authors;
}

/**
 * Of a text change's authors, those whose typing moved a cursor this editor
 * draws (everyone else's edits move nothing here).
 *
 * A document's first sync is authored by whoever wrote its content before
 * (the server's client that loaded the file, people long gone): counting
 * them as "moved" redrew the whole editor twice for nothing (once at once,
 * once when the name would hide), on a 4 MiB file a full CodeMirror update
 * each (issue 8, time to editable).
 */
export function typingAuthors(
  authors: readonly number[],
  drawn: ReadonlyMap<number, unknown>,
  me: number
): number[] {
  return authors.filter(id => id !== me && drawn.has(id));
}

/** The cursor a name goes with: the primary one (else the first). */
export function primaryCursor(cursors: unknown): ICursor | null {
  if (!Array.isArray(cursors) || cursors.length === 0) {
    return null;
  }
  return (cursors.find((c: any) => c?.primary) ?? cursors[0]) || null;
}

const remoteChange = Annotation.define<boolean>();

class CaretWidget extends WidgetType {
  constructor(readonly color: string) {
    super();
  }

  toDOM(): HTMLElement {
    const caret = document.createElement('span');
    caret.className = 'jp-collab-RemoteCaret';
    applyUserColor(caret, this.color);
    caret.setAttribute('aria-hidden', 'true');
    // zero-width joiners keep the caret on the line
    caret.appendChild(document.createTextNode('\u2060'));
    const bar = document.createElement('span');
    bar.className = 'jp-collab-RemoteCaret-bar';
    caret.appendChild(bar);
    caret.appendChild(document.createTextNode('\u2060'));
    return caret;
  }

  eq(other: CaretWidget): boolean {
    return other.color === this.color;
  }

  ignoreEvent(): boolean {
    return true;
  }
}

/** A name shown beside a remote cursor. */
interface ILabel {
  clientId: number;
  pos: number;
  name: string;
  color: string;
}

/**
 * The label's tooltip: above the cursor's line, below it when there is no
 * room above (CodeMirror flips it), outside the line's text either way.
 * JupyterLab mounts tooltips on the page body, so a label on a cell's first
 * line is not cut off by the editor. One `create` per person and look, so
 * that a moving label keeps its element.
 */
function labelTooltip(label: ILabel, creators: Map<string, () => TooltipView>): Tooltip {
  const key = `${label.clientId}|${label.name}|${label.color}`;
  let create = creators.get(key);
  if (!create) {
    create = () => {
      const dom = document.createElement('div');
      dom.className = 'jp-collab-RemoteCaret-label';
      dom.textContent = label.name;
      applyUserColor(dom, label.color);
      dom.setAttribute('aria-hidden', 'true');
      dom.dataset.clientId = String(label.clientId);
      return { dom, offset: { x: -1, y: 2 } };
    };
    creators.set(key, create);
  }
  return { pos: label.pos, above: true, strictSide: false, arrow: false, create };
}

const setLabels = StateEffect.define<ILabel[]>();

/** Resolve a relative position (JSON) to an index in `ytext`. */
export function resolvePosition(
  ytext: Y.Text,
  relative: any
): number | null {
  const doc = ytext.doc;
  if (!doc || relative === null || relative === undefined) {
    return null;
  }
  try {
    const rel = Y.createRelativePositionFromJSON(relative);
    const abs = Y.createAbsolutePositionFromRelativePosition(rel, doc);
    if (!abs || abs.type !== ytext) {
      return null;
    }
    return abs.index;
  } catch {
    return null;
  }
}

/**
 * Whether a relative position (JSON) may point into `ytext`: false when it
 * names another type (a position records its type, by id for a nested type
 * such as a notebook cell's source, by name for a root type). A cheap test,
 * for the many editors of a notebook that each hear every awareness change.
 */
export function mayPointInto(ytext: Y.Text, relative: any): boolean {
  if (!relative || typeof relative !== 'object') {
    return false;
  }
  const item = ytext._item;
  const type = relative.type;
  if (type && typeof type === 'object') {
    return !!item && item.id.client === type.client && item.id.clock === type.clock;
  }
  if (typeof relative.tname === 'string') {
    return item === null;
  }
  return true;
}

/**
 * What of a client's awareness state shows in the editor of `ytext` (its
 * cursors there, name and colour), as a string to compare; null when none
 * of its cursors is in this text. An awareness change that leaves it equal
 * (the person moved in another cell, or changed another field) needs no
 * redraw of this editor.
 */
export function cursorSignature(ytext: Y.Text, state: any, clientId: number): string | null {
  if (!state || !Array.isArray(state.cursors)) {
    return null;
  }
  const here = (state.cursors as ICursor[]).some(
    c => mayPointInto(ytext, c?.head) && resolvePosition(ytext, c?.head) !== null
  );
  if (!here) {
    return null;
  }
  const key = userKey(state.user, clientId);
  return `${JSON.stringify(state.cursors)}|${userName(state.user, key)}|${userColor(state.user, key)}`;
}

/**
 * Which text a relative position (JSON) is in, as a key that `textKey`
 * gives the text too: the id of a nested type (a notebook cell's source),
 * `root` for a root type, or, for a position naming only an item (what
 * Yjs writes for a position inside a text), the key of the text that item
 * is in. `undefined`: this copy cannot tell (the item has not arrived, or
 * the position is not one), so the position may be anywhere.
 */
export function positionTextKey(doc: Y.Doc | null, relative: any): string | null | undefined {
  if (!relative || typeof relative !== 'object') {
    return null;
  }
  const type = relative.type;
  if (type && typeof type === 'object') {
    return `${type.client}:${type.clock}`;
  }
  if (typeof relative.tname === 'string') {
    return 'root';
  }
  if (!doc) {
    return undefined;
  }
  try {
    const abs = Y.createAbsolutePositionFromRelativePosition(
      Y.createRelativePositionFromJSON(relative),
      doc
    );
    return abs ? textKey(abs.type as Y.AbstractType<any>) : undefined;
  } catch {
    return undefined;
  }
}

/** The key of a text (see positionTextKey). */
export function textKey(ytext: Y.AbstractType<any>): string {
  const item = ytext._item;
  return item ? `${item.id.client}:${item.id.clock}` : 'root';
}

/** The keys of the texts a client's cursors are in; `null`: possibly any. */
function cursorTextKeys(doc: Y.Doc | null, state: any): Set<string> | null {
  const keys = new Set<string>();
  if (!state || !Array.isArray(state.cursors)) {
    return keys;
  }
  for (const c of state.cursors as ICursor[]) {
    for (const rel of [c?.head, c?.anchor]) {
      const key = positionTextKey(doc, rel);
      if (key === undefined) {
        return null;
      }
      if (key !== null) {
        keys.add(key);
      }
    }
  }
  return keys;
}

type CursorListener = (ids: number[]) => void;

/**
 * One awareness listener for all the editors of a document. A notebook has
 * one editor per cell; with a listener each, every awareness change (a
 * person joining, moving, typing) ran in all of them, a thousand times per
 * change in a 1,000-cell notebook, which the page already in the room paid
 * while a second person opened it. Here each change is sorted once: every
 * editor hears only of the clients whose cursors are, or were, in its text.
 */
export class CursorHub {
  /** The hub of an awareness (made on first use, dropped with its last editor). */
  static of(awareness: IAwarenessLike): CursorHub {
    let hub = Private.hubs.get(awareness);
    if (!hub) {
      hub = new CursorHub(awareness);
      Private.hubs.set(awareness, hub);
    }
    return hub;
  }

  constructor(awareness: IAwarenessLike) {
    this._awareness = awareness;
  }

  /** Hear of the clients whose cursors are or were in `ytext`; returns the unsubscribe. */
  subscribe(ytext: Y.Text, listener: CursorListener): () => void {
    const key = textKey(ytext);
    this._doc = ytext.doc ?? this._doc;
    let set = this._byText.get(key);
    if (!set) {
      set = new Set();
      this._byText.set(key, set);
    }
    set.add(listener);
    if (this._count++ === 0) {
      this._awareness.on('change', this._onChange);
    }
    return () => {
      const s = this._byText.get(key);
      if (!s || !s.delete(listener)) {
        return;
      }
      if (s.size === 0) {
        this._byText.delete(key);
      }
      if (--this._count === 0) {
        try {
          this._awareness.off('change', this._onChange);
        } catch {
          // awareness destroyed
        }
        this._last.clear();
        Private.hubs.delete(this._awareness);
      }
    };
  }

  /** How many editors listen (for tests). */
  get size(): number {
    return this._count;
  }

  private _onChange = (change: IChange): void => {
    const states = this._awareness.getStates();
    const me = this._awareness.clientID;
    const perListener = new Map<CursorListener, number[]>();
    const tell = (listener: CursorListener, id: number) => {
      const ids = perListener.get(listener);
      if (ids) {
        ids.push(id);
      } else {
        perListener.set(listener, [id]);
      }
    };
    for (const id of change.added.concat(change.updated, change.removed)) {
      if (id === me) {
        continue;
      }
      const now = states.has(id) ? cursorTextKeys(this._doc, states.get(id)) : new Set<string>();
      const before = this._last.get(id);
      if (now && now.size) {
        this._last.set(id, now);
      } else if (now) {
        this._last.delete(id);
      } else {
        this._last.set(id, null);
      }
      if (now === null || before === null) {
        this._byText.forEach(set => set.forEach(l => tell(l, id)));
        continue;
      }
      const keys = new Set([...now, ...(before ?? [])]);
      keys.forEach(key => this._byText.get(key)?.forEach(l => tell(l, id)));
    }
    perListener.forEach((ids, listener) => listener(ids));
  };

  private _awareness: IAwarenessLike;
  private _doc: Y.Doc | null = null;
  private _byText = new Map<string, Set<CursorListener>>();
  /** Per client, the texts its cursors were in at its last change (null: unknown). */
  private _last = new Map<number, Set<string> | null>();
  private _count = 0;
}

/** Our cursors in relative positions. */
export function encodeCursors(
  ytext: Y.Text,
  ranges: readonly { anchor: number; head: number; empty: boolean }[],
  mainIndex: number
): ICursor[] {
  return ranges.map((r, i) => ({
    anchor: Y.relativePositionToJSON(
      Y.createRelativePositionFromTypeIndex(ytext, r.anchor)
    ),
    head: Y.relativePositionToJSON(
      Y.createRelativePositionFromTypeIndex(ytext, r.head)
    ),
    primary: i === mainIndex,
    empty: r.empty
  }));
}

/**
 * The CodeMirror extension showing the others' cursors in `ytext` and
 * publishing ours.
 */
export function remoteCursors(options: {
  ytext: Y.Text;
  awareness: IAwarenessLike;
}): Extension {
  const { ytext, awareness } = options;
  const creators = new Map<string, () => TooltipView>();

  /** The names shown now (not counting hover), with their positions. */
  const labels = StateField.define<ILabel[]>({
    create: () => [],
    update(value, tr) {
      let next = value;
      if (tr.docChanged && value.length) {
        next = value.map(l => ({ ...l, pos: tr.changes.mapPos(l.pos) }));
      }
      for (const effect of tr.effects) {
        if (effect.is(setLabels)) {
          next = effect.value;
        }
      }
      return next;
    },
    provide: field =>
      showTooltip.computeN([field], state =>
        state.field(field).map(l => labelTooltip(l, creators))
      )
  });

  /** The remote cursors' names and where they are. */
  const cursorLabels = (state: EditorState, clientIds?: Set<number>): ILabel[] => {
    const result: ILabel[] = [];
    const docLength = state.doc.length;
    awareness.getStates().forEach((s: any, clientId: number) => {
      if (clientId === awareness.clientID || !s || (clientIds && !clientIds.has(clientId))) {
        return;
      }
      const cursor = primaryCursor(s.cursors);
      const head = cursor ? resolvePosition(ytext, cursor.head) : null;
      if (head === null) {
        return;
      }
      const key = userKey(s.user, clientId);
      result.push({
        clientId,
        pos: Math.min(head, docLength),
        name: userName(s.user, key),
        color: userColor(s.user, key)
      });
    });
    return result;
  };

  // Hovering a remote cursor or selection shows its name (in every mode).
  const hover = hoverTooltip(
    (view, pos) => {
      const shown = new Set(view.state.field(labels).map(l => l.clientId));
      const docLength = view.state.doc.length;
      const found: ILabel[] = [];
      awareness.getStates().forEach((s: any, clientId: number) => {
        if (clientId === awareness.clientID || !s || shown.has(clientId) || !Array.isArray(s.cursors)) {
          return;
        }
        for (const cursor of s.cursors as ICursor[]) {
          const a = resolvePosition(ytext, cursor?.anchor);
          const h = resolvePosition(ytext, cursor?.head);
          if (a === null || h === null) {
            continue;
          }
          const from = Math.min(a, h, docLength);
          const to = Math.min(Math.max(a, h), docLength);
          if (pos >= from - 1 && pos <= to + 1) {
            const key = userKey(s.user, clientId);
            found.push({
              clientId,
              pos: Math.min(h, docLength),
              name: userName(s.user, key),
              color: userColor(s.user, key)
            });
            break;
          }
        }
      });
      return found.length ? labelTooltip(found[0], creators) : null;
    },
    { hoverTime: 150 }
  );

  const plugin = ViewPlugin.fromClass(
    class {
      decorations: DecorationSet;
      private _view: EditorView;
      private _lastMove = new Map<number, number>();
      private _timer: any = null;
      private _pending = false;
      private _refreshQueued = false;
      /** What `_build` drew last, per client (see cursorSignature). */
      private _drawn = new Map<number, string>();
      private _unsubscribe: () => void;

      constructor(view: EditorView) {
        this._view = view;
        this._unsubscribe = CursorHub.of(awareness).subscribe(ytext, this._onChange);
        ytext.observe(this._onText);
        liveEditors.add(this._refreshSoon);
        this.decorations = this._build(view);
        this._syncLabels();
      }

      update(update: ViewUpdate): void {
        const remote = update.transactions.some(tr =>
          tr.annotation(remoteChange)
        );
        if (remote || update.docChanged || update.viewportChanged) {
          this.decorations = this._build(update.view);
        }
        if (remote) {
          this._syncLabels();
        }
        if (
          update.view.hasFocus &&
          (update.selectionSet || update.focusChanged || update.docChanged)
        ) {
          this._publish(update.view);
        }
      }

      destroy(): void {
        this._unsubscribe();
        ytext.unobserve(this._onText);
        liveEditors.delete(this._refreshSoon);
        if (this._timer !== null) {
          clearTimeout(this._timer);
        }
      }

      private _publish(view: EditorView): void {
        // Deferred: changing the awareness emits events that may dispatch
        // to editors, which is not allowed during an update.
        if (this._pending) {
          return;
        }
        this._pending = true;
        queueMicrotask(() => {
          this._pending = false;
          if (!view.hasFocus || ytext.doc === null) {
            return;
          }
          const sel = view.state.selection;
          const len = ytext.length;
          const ranges = sel.ranges.map(r => ({
            anchor: Math.min(r.anchor, len),
            head: Math.min(r.head, len),
            empty: r.empty
          }));
          try {
            awareness.setLocalStateField(
              'cursors',
              encodeCursors(ytext, ranges, sel.mainIndex)
            );
          } catch {
            // awareness destroyed
          }
        });
      }

      /** Which names show now; dispatched (later: not during an update) if that changed. */
      private _syncLabels(): void {
        const next = this._changedLabels();
        if (next === null) {
          return;
        }
        queueMicrotask(() => {
          try {
            this._view.dispatch({ effects: setLabels.of(next) });
          } catch {
            // view destroyed
          }
        });
      }

      /** The names that should show now, or null if those shown are right. */
      private _changedLabels(): ILabel[] | null {
        const now = Date.now();
        const visible = new Set<number>();
        awareness.getStates().forEach((_s: any, clientId: number) => {
          if (labelVisible(labelOptions, this._lastMove.get(clientId), now)) {
            visible.add(clientId);
          }
        });
        const next = visible.size ? cursorLabels(this._view.state, visible) : [];
        const current = this._view.state.field(labels, false) ?? [];
        const same =
          next.length === current.length &&
          next.every(
            (l, i) =>
              l.clientId === current[i].clientId &&
              l.pos === current[i].pos &&
              l.name === current[i].name &&
              l.color === current[i].color
          );
        return same ? null : next;
      }

      /**
       * The awareness of clients whose cursors are or were in this text
       * changed (CursorHub sorts each change for all the editors): redraw
       * only when what shows here changed (each redraw is a dispatch, and
       * CodeMirror measures the editor after it).
       */
      private _onChange = (ids: number[]): void => {
        const states = awareness.getStates();
        const moved: number[] = [];
        for (const id of ids) {
          if (id === awareness.clientID) {
            continue;
          }
          const next = cursorSignature(ytext, states.get(id), id);
          if (next !== (this._drawn.get(id) ?? null)) {
            moved.push(id);
          }
        }
        this._moved(moved);
      };

      /**
       * Someone typed here. Typing moves their cursor without changing its
       * relative position (it sticks to the next character), so their
       * awareness does not change: the text's authors whose cursor shows
       * here count as moves.
       */
      private _onText = (event: Y.YTextEvent): void => {
        this._moved(
          typingAuthors(
            transactionAuthors(event.transaction),
            this._drawn,
            awareness.clientID
          )
        );
      };

      private _moved(ids: number[]): void {
        const me = awareness.clientID;
        const others = ids.filter(id => id !== me);
        if (others.length === 0) {
          return;
        }
        const now = Date.now();
        for (const id of others) {
          this._lastMove.set(id, now);
        }
        this._refreshSoon();
        if (labelOptions.mode !== 'activity') {
          return;
        }
        if (this._timer !== null) {
          clearTimeout(this._timer);
        }
        this._timer = setTimeout(() => {
          this._timer = null;
          this._refreshSoon();
        }, labelOptions.duration + 50);
      }

      private _refreshSoon = (): void => {
        if (this._refreshQueued) {
          return;
        }
        this._refreshQueued = true;
        queueMicrotask(() => {
          this._refreshQueued = false;
          try {
            // The names that show change in the same update as the cursors
            // (one CodeMirror update, not two: each measures the editor).
            const next = this._changedLabels();
            this._view.dispatch({
              annotations: [remoteChange.of(true)],
              effects: next === null ? [] : [setLabels.of(next)]
            });
          } catch {
            // view destroyed
          }
        });
      };

      private _build(view: EditorView): DecorationSet {
        const decorations: Range<Decoration>[] = [];
        const docLength = view.state.doc.length;
        const me = awareness.clientID;
        this._drawn.clear();
        awareness.getStates().forEach((state: any, clientId: number) => {
          if (clientId === me || !state || !Array.isArray(state.cursors)) {
            return;
          }
          const signature = cursorSignature(ytext, state, clientId);
          if (signature === null) {
            return;
          }
          this._drawn.set(clientId, signature);
          const user = state.user;
          const key = userKey(user, clientId);
          const color = userColor(user, key);
          for (const cursor of state.cursors as ICursor[]) {
            const anchor = resolvePosition(ytext, cursor?.anchor);
            const head = resolvePosition(ytext, cursor?.head);
            if (anchor === null || head === null) {
              continue;
            }
            const a = Math.min(anchor, docLength);
            const h = Math.min(head, docLength);
            if (a !== h) {
              decorations.push(
                Decoration.mark({
                  class: 'jp-collab-RemoteSelection',
                  attributes: {
                    // (a colour from userColor: checked, see identity.ts)
                    style: `--jp-collab-user-color: ${color}`
                  }
                }).range(Math.min(a, h), Math.max(a, h))
              );
            }
            decorations.push(
              Decoration.widget({
                widget: new CaretWidget(color),
                side: h > a ? -1 : 1
              }).range(h)
            );
          }
        });
        return Decoration.set(decorations, true);
      }
    },
    { decorations: v => v.decorations }
  );

  return [labels, plugin, hover, Private.theme];
}

namespace Private {
  /** The cursor hub of each awareness. */
  export const hubs = new WeakMap<IAwarenessLike, CursorHub>();

  export const theme = EditorView.baseTheme({
    '.jp-collab-RemoteSelection': {
      backgroundColor:
        'color-mix(in srgb, var(--jp-collab-user-color) 30%, transparent)'
    },
    '.jp-collab-RemoteCaret': {
      position: 'relative',
      display: 'inline'
    },
    '.jp-collab-RemoteCaret-bar': {
      position: 'absolute',
      top: '0',
      bottom: '0',
      left: '-1px',
      width: '0',
      borderLeft: '2px solid var(--jp-collab-user-color)',
      height: '1.2em',
      boxSizing: 'border-box',
      pointerEvents: 'none'
    },
    // The name: a tooltip above the line (below when there is no room).
    '.cm-tooltip.jp-collab-RemoteCaret-label, .jp-collab-RemoteCaret-label': {
      fontSize: 'var(--jp-ui-font-size0, 10px)',
      fontFamily: 'var(--jp-ui-font-family)',
      lineHeight: '1.4',
      padding: '0 4px',
      whiteSpace: 'nowrap',
      userSelect: 'none',
      pointerEvents: 'none',
      color: 'var(--jp-collab-user-text-color, var(--jp-ui-inverse-font-color0))',
      backgroundColor: 'var(--jp-collab-user-color)',
      border: 'none',
      borderRadius: '3px',
      maxWidth: '20em',
      overflow: 'hidden',
      textOverflow: 'ellipsis',
      zIndex: '10'
    }
  });
}
