/**
 * Remote cursors and selections in CodeMirror editors.
 *
 * Our own cursor is published in the awareness field `cursors` as a list of
 * `{anchor, head, primary, empty}` where anchor/head are Yjs relative
 * positions (JSON) in the editor's Y.Text, the same layout as
 * jupyter-collaboration, so both show each other's cursors. The cursors of
 * the others are drawn with their colour and name.
 */
import { Annotation, Extension, Range } from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  ViewPlugin,
  ViewUpdate,
  WidgetType
} from '@codemirror/view';
import * as Y from 'yjs';

import { userColor, userKey, userName } from './presencemodel';

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

const remoteChange = Annotation.define<boolean>();

/** How long a name label stays visible after its cursor moved (ms). */
const LABEL_VISIBLE_MS = 3000;

class CaretWidget extends WidgetType {
  constructor(
    readonly color: string,
    readonly name: string,
    readonly recent: boolean,
    /** Show the name beside the caret (first line: above would be clipped). */
    readonly below: boolean
  ) {
    super();
  }

  toDOM(): HTMLElement {
    const caret = document.createElement('span');
    caret.className = 'jp-collab-RemoteCaret';
    if (this.recent) {
      caret.classList.add('jp-mod-recent');
    }
    if (this.below) {
      caret.classList.add('jp-mod-below');
    }
    caret.style.setProperty('--jp-collab-user-color', this.color);
    caret.setAttribute('aria-hidden', 'true');
    // zero-width joiners keep the caret on the line
    caret.appendChild(document.createTextNode('\u2060'));
    const bar = document.createElement('span');
    bar.className = 'jp-collab-RemoteCaret-bar';
    caret.appendChild(bar);
    caret.appendChild(document.createTextNode('\u2060'));
    const label = document.createElement('span');
    label.className = 'jp-collab-RemoteCaret-label';
    label.textContent = this.name;
    caret.appendChild(label);
    return caret;
  }

  eq(other: CaretWidget): boolean {
    return (
      other.color === this.color &&
      other.name === this.name &&
      other.recent === this.recent &&
      other.below === this.below
    );
  }

  ignoreEvent(): boolean {
    return true;
  }
}

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

  const plugin = ViewPlugin.fromClass(
    class {
      decorations: DecorationSet;
      private _view: EditorView;
      private _lastMove = new Map<number, number>();
      private _timer: any = null;
      private _pending = false;

      constructor(view: EditorView) {
        this._view = view;
        awareness.on('change', this._onChange);
        this.decorations = this._build(view);
      }

      update(update: ViewUpdate): void {
        const remote = update.transactions.some(tr =>
          tr.annotation(remoteChange)
        );
        if (remote || update.docChanged || update.viewportChanged) {
          this.decorations = this._build(update.view);
        }
        if (
          update.view.hasFocus &&
          (update.selectionSet || update.focusChanged || update.docChanged)
        ) {
          this._publish(update.view);
        }
      }

      destroy(): void {
        awareness.off('change', this._onChange);
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

      private _onChange = (change: IChange): void => {
        const me = awareness.clientID;
        const others = change.added
          .concat(change.updated, change.removed)
          .filter(id => id !== me);
        if (others.length === 0) {
          return;
        }
        const now = Date.now();
        for (const id of others) {
          this._lastMove.set(id, now);
        }
        this._refreshSoon();
        if (this._timer !== null) {
          clearTimeout(this._timer);
        }
        this._timer = setTimeout(() => {
          this._timer = null;
          this._refreshSoon();
        }, LABEL_VISIBLE_MS + 50);
      };

      private _refreshSoon(): void {
        queueMicrotask(() => {
          try {
            this._view.dispatch({ annotations: [remoteChange.of(true)] });
          } catch {
            // view destroyed
          }
        });
      }

      private _build(view: EditorView): DecorationSet {
        const decorations: Range<Decoration>[] = [];
        const docLength = view.state.doc.length;
        const me = awareness.clientID;
        const now = Date.now();
        awareness.getStates().forEach((state: any, clientId: number) => {
          if (clientId === me || !state || !Array.isArray(state.cursors)) {
            return;
          }
          const user = state.user;
          const key = userKey(user, clientId);
          const color = userColor(user, key);
          const name = userName(user, key);
          const recent =
            now - (this._lastMove.get(clientId) ?? 0) < LABEL_VISIBLE_MS;
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
                    style: `--jp-collab-user-color: ${color}`
                  }
                }).range(Math.min(a, h), Math.max(a, h))
              );
            }
            decorations.push(
              Decoration.widget({
                widget: new CaretWidget(
                  color,
                  name,
                  recent,
                  view.state.doc.lineAt(h).number === 1
                ),
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

  return [plugin, Private.theme];
}

namespace Private {
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
      boxSizing: 'border-box'
    },
    '.jp-collab-RemoteCaret-label': {
      position: 'absolute',
      left: '-1px',
      top: '-1.3em',
      fontSize: 'var(--jp-ui-font-size0, 10px)',
      fontFamily: 'var(--jp-ui-font-family)',
      lineHeight: 'normal',
      padding: '0 3px',
      whiteSpace: 'nowrap',
      userSelect: 'none',
      pointerEvents: 'none',
      color: 'var(--jp-ui-inverse-font-color0, #fff)',
      backgroundColor: 'var(--jp-collab-user-color)',
      borderRadius: '2px 2px 2px 0',
      opacity: '0',
      transition: 'opacity 0.3s',
      zIndex: '10'
    },
    // On the first line a label above would be clipped, and one below
    // could make the editor scroll: show it beside the caret instead.
    '.jp-collab-RemoteCaret.jp-mod-below .jp-collab-RemoteCaret-label': {
      top: '0',
      left: '3px',
      borderRadius: '2px'
    },
    '.jp-collab-RemoteCaret.jp-mod-recent .jp-collab-RemoteCaret-label, .jp-collab-RemoteCaret:hover .jp-collab-RemoteCaret-label':
      {
        opacity: '1'
      }
  });
}
