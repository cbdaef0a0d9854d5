/**
 * Read-only code as JupyterLab shows code: CodeMirror editors made by
 * JupyterLab's editor factory (its theme, its languages, chosen by MIME
 * type as the file editor and the notebook choose them), for a version's
 * content and for its changes (added and removed lines marked, with their
 * old and new line numbers).
 *
 * What they show is computed in `codedoc.ts` (unit tested); the editors are
 * checked in Chromium (ui-tests/collab_e2e.py).
 */
import { RangeSetBuilder, StateField } from '@codemirror/state';
import { Decoration, DecorationSet, EditorView, GutterMarker, gutter } from '@codemirror/view';
import { CodeEditor } from '@jupyterlab/codeeditor';

import { IDiffDocument } from './codedoc';

class NumbersMarker extends GutterMarker {
  constructor(
    readonly oldNumber: number | null,
    readonly newNumber: number | null,
    readonly kind: string
  ) {
    super();
  }
  eq(other: GutterMarker): boolean {
    return (
      other instanceof NumbersMarker &&
      other.oldNumber === this.oldNumber &&
      other.newNumber === this.newNumber &&
      other.kind === this.kind
    );
  }
  toDOM(): Node {
    const el = document.createElement('span');
    el.className = `jp-collab-DiffGutter-numbers jp-mod-${this.kind}`;
    const old = document.createElement('span');
    old.className = 'jp-collab-DiffGutter-old';
    old.textContent = this.oldNumber === null ? '' : String(this.oldNumber);
    const now = document.createElement('span');
    now.className = 'jp-collab-DiffGutter-new';
    now.textContent = this.newNumber === null ? '' : String(this.newNumber);
    const sign = document.createElement('span');
    sign.className = 'jp-collab-DiffGutter-sign';
    sign.textContent = this.kind === 'add' ? '+' : this.kind === 'del' ? '−' : ' ';
    el.append(old, now, sign);
    return el;
  }
}

/**
 * What makes an editor show a diff document: a background on added and
 * removed lines, and a gutter with the old and new line numbers.
 */
export function diffExtensions(doc: IDiffDocument, labels: { added: string; removed: string }) {
  const lines = StateField.define<DecorationSet>({
    create(state) {
      const builder = new RangeSetBuilder<Decoration>();
      for (let n = 1; n <= state.doc.lines && n <= doc.kinds.length; n++) {
        const kind = doc.kinds[n - 1];
        if (kind === 'context') {
          continue;
        }
        const line = state.doc.line(n);
        builder.add(
          line.from,
          line.from,
          Decoration.line({
            attributes: {
              class: `jp-collab-DiffLine jp-mod-${kind}`,
              'aria-label': kind === 'add' ? labels.added : labels.removed
            }
          })
        );
      }
      return builder.finish();
    },
    update: value => value,
    provide: f => EditorView.decorations.from(f)
  });
  return [
    lines,
    gutter({
      class: 'jp-collab-DiffGutter',
      lineMarker(view, block) {
        const n = view.state.doc.lineAt(block.from).number - 1;
        return new NumbersMarker(doc.oldNumbers[n] ?? null, doc.newNumbers[n] ?? null, doc.kinds[n] ?? 'context');
      },
      initialSpacer: () => new NumbersMarker(99999, 99999, 'context')
    })
  ];
}

/** A read-only editor, and how to let it go. */
export interface IReadOnlyEditor {
  editor: CodeEditor.IEditor;
  dispose(): void;
}

/**
 * A read-only CodeMirror editor of `text` in `host`, highlighted as
 * `mimeType`, made by JupyterLab's editor factory.
 */
export function readOnlyEditor(
  factory: CodeEditor.Factory,
  host: HTMLElement,
  text: string,
  mimeType: string,
  options: { lineNumbers?: boolean; extensions?: any[] } = {}
): IReadOnlyEditor {
  const model = new CodeEditor.Model({ mimeType });
  model.sharedModel.setSource(text);
  const editor = factory({
    host,
    model,
    config: {
      readOnly: true,
      lineNumbers: options.lineNumbers ?? true,
      lineWrap: false,
      highlightActiveLine: false,
      codeFolding: false
    },
    extensions: [EditorView.editable.of(false), ...(options.extensions ?? [])]
  });
  host.classList.add('jp-collab-ReadOnlyEditor');
  return {
    editor,
    dispose: () => {
      editor.dispose();
      model.dispose();
    }
  };
}

/**
 * Editors made only when they scroll into view: a notebook of a thousand
 * cells shows its text at once (a `pre` in each placeholder) and becomes
 * highlighted editors as the user reaches them.
 */
export class LazyEditors {
  constructor(root: HTMLElement | null = null) {
    this._observer =
      typeof IntersectionObserver === 'undefined'
        ? null
        : new IntersectionObserver(entries => this._visible(entries), {
            root,
            rootMargin: '400px 0px'
          });
  }

  /** Make an editor in `host` (holding a plain-text placeholder) once it is seen. */
  add(host: HTMLElement, make: (host: HTMLElement) => IReadOnlyEditor): void {
    this._pending.set(host, make);
    if (this._observer) {
      this._observer.observe(host);
    } else {
      this._make(host);
    }
  }

  dispose(): void {
    this._observer?.disconnect();
    this._pending.clear();
    for (const editor of this._made) {
      editor.dispose();
    }
    this._made = [];
  }

  private _visible(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      if (entry.isIntersecting) {
        this._observer?.unobserve(entry.target);
        this._make(entry.target as HTMLElement);
      }
    }
  }

  private _make(host: HTMLElement): void {
    const make = this._pending.get(host);
    if (!make) {
      return;
    }
    this._pending.delete(host);
    host.replaceChildren();
    this._made.push(make(host));
  }

  private _observer: IntersectionObserver | null;
  private _pending = new Map<HTMLElement, (host: HTMLElement) => IReadOnlyEditor>();
  private _made: IReadOnlyEditor[] = [];
}
