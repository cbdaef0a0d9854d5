/**
 * "Who wrote this" in a text editor: a gutter with the initials of whoever
 * last wrote each run of lines, and a bar in their colour beside the lines.
 * Shown while the history panel shows the attribution of the document.
 */
import {
  Extension,
  RangeSet,
  RangeSetBuilder,
  StateEffect,
  StateField
} from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  GutterMarker,
  gutter
} from '@codemirror/view';

/** One run of lines written last by one person (1-based, inclusive). */
export interface IGutterRun {
  from: number;
  to: number;
  initials: string;
  color: string;
  label: string;
}

const setRuns = StateEffect.define<readonly IGutterRun[] | null>();

class InitialsMarker extends GutterMarker {
  constructor(
    readonly run: IGutterRun,
    readonly first: boolean
  ) {
    super();
  }
  eq(other: GutterMarker): boolean {
    return (
      other instanceof InitialsMarker &&
      other.first === this.first &&
      other.run.initials === this.run.initials &&
      other.run.color === this.run.color &&
      other.run.label === this.run.label
    );
  }
  toDOM(): Node {
    const el = document.createElement('span');
    el.className = 'jp-collab-AttributionGutter-marker';
    el.style.setProperty('--jp-collab-user-color', this.run.color);
    el.textContent = this.first ? this.run.initials : '';
    el.title = this.run.label;
    return el;
  }
}

interface IState {
  markers: RangeSet<GutterMarker>;
  lines: DecorationSet;
}

const EMPTY: IState = { markers: RangeSet.empty, lines: Decoration.none };

function build(view: { doc: any }, runs: readonly IGutterRun[]): IState {
  const markers = new RangeSetBuilder<GutterMarker>();
  const lines = new RangeSetBuilder<Decoration>();
  const count = view.doc.lines as number;
  for (const run of runs) {
    for (let n = Math.max(1, run.from); n <= Math.min(run.to, count); n++) {
      const line = view.doc.line(n);
      markers.add(line.from, line.from, new InitialsMarker(run, n === run.from));
      lines.add(
        line.from,
        line.from,
        Decoration.line({
          attributes: {
            class: 'jp-collab-AttributionLine',
            style: `--jp-collab-user-color: ${run.color}`
          }
        })
      );
    }
  }
  return { markers: markers.finish(), lines: lines.finish() };
}

const field = StateField.define<IState>({
  create: () => EMPTY,
  update(value, tr) {
    let next = value;
    if (tr.docChanged && value !== EMPTY) {
      next = {
        markers: value.markers.map(tr.changes),
        lines: value.lines.map(tr.changes)
      };
    }
    for (const effect of tr.effects) {
      if (effect.is(setRuns)) {
        next = effect.value ? build(tr.state, effect.value) : EMPTY;
      }
    }
    return next;
  },
  provide: f => EditorView.decorations.from(f, v => v.lines)
});

const extension: Extension = [
  field,
  gutter({
    class: 'jp-collab-AttributionGutter',
    markers: view => view.state.field(field).markers
  })
];

const installed = new WeakSet<EditorView>();

/** Show (runs) or hide (null) the attribution in an editor view. */
export function showAttributionInEditor(
  view: EditorView,
  runs: readonly IGutterRun[] | null
): void {
  if (!installed.has(view)) {
    if (!runs) {
      return;
    }
    installed.add(view);
    view.dispatch({ effects: StateEffect.appendConfig.of(extension) });
  }
  view.dispatch({ effects: setRuns.of(runs) });
}
