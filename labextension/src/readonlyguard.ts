/**
 * Read-only notebooks for viewers: the notebook actions that change a
 * notebook (add, delete, move, paste, change type, run, undo...) do nothing
 * in a notebook whose model is read-only.
 *
 * JupyterLab's commands, keyboard shortcuts, menus, toolbars and drag and
 * drop all go through `NotebookActions`, whose functions are looked up on
 * the shared namespace object at each call; wrapping them there blocks every
 * way in. Nothing here imports JupyterLab, so it is unit tested with fakes.
 */

/** The part of a notebook widget used here. */
export interface INotebookLike {
  model: { readOnly: boolean } | null;
  widgets: readonly ICellLike[];
  activeCellIndex: number;
  isSelectedOrActive(cell: ICellLike): boolean;
}

/** The part of a cell widget used here. */
export interface ICellLike {
  model: { type: string };
  rendered?: boolean;
}

/** Actions that change the notebook: blocked when it is read-only. */
export const BLOCKED_ACTIONS = [
  'splitCell',
  'mergeCells',
  'deleteCells',
  'insertAbove',
  'insertBelow',
  'insertSameLevelHeadingAbove',
  'insertSameLevelHeadingBelow',
  'moveCells',
  'moveDown',
  'moveUp',
  'changeCellType',
  'replaceSelection',
  'paste',
  'pasteFromSystemClipboard',
  'duplicate',
  'undo',
  'redo',
  'clearOutputs',
  'clearAllOutputs',
  'setMarkdownHeader',
  'trust',
  'accessPreviousHistory',
  'accessNextHistory'
] as const;

/**
 * Running cells changes their outputs: in a read-only notebook, running
 * only renders the Markdown cells (a view change) and runs no code.
 */
export const RUN_ACTIONS = [
  'run',
  'runCells',
  'runAndAdvance',
  'runAndInsert',
  'runAll',
  'runAllAbove',
  'runAllBelow'
] as const;

/** Cutting becomes copying. */
export const CUT_ACTIONS: Record<string, string> = {
  cut: 'copy',
  cutToSystemClipboard: 'copyToSystemClipboard'
};

/** Whether a notebook may not be changed. */
export function isReadOnlyNotebook(notebook: unknown): boolean {
  const model = (notebook as INotebookLike | null)?.model;
  return !!model && model.readOnly === true;
}

/** What a blocked run does: render the Markdown cells it would have run. */
export function renderInsteadOfRun(
  action: string,
  notebook: INotebookLike,
  args: unknown[]
): void {
  let cells: readonly ICellLike[];
  if (action === 'runCells' && Array.isArray(args[0])) {
    cells = args[0] as ICellLike[];
  } else if (action === 'runAll') {
    cells = notebook.widgets;
  } else if (action === 'runAllAbove') {
    cells = notebook.widgets.slice(0, notebook.activeCellIndex);
  } else if (action === 'runAllBelow') {
    cells = notebook.widgets.slice(notebook.activeCellIndex);
  } else {
    cells = notebook.widgets.filter(c => notebook.isSelectedOrActive(c));
  }
  for (const cell of cells) {
    if (cell.model.type === 'markdown' && cell.rendered === false) {
      cell.rendered = true;
    }
  }
  if (
    action === 'runAndAdvance' &&
    notebook.activeCellIndex < notebook.widgets.length - 1
  ) {
    // Moving on is a view change: reading goes on with Shift+Enter.
    notebook.activeCellIndex = notebook.activeCellIndex + 1;
  }
}

/**
 * Wrap the actions of `actions` (JupyterLab's `NotebookActions`) so that
 * they do nothing in read-only notebooks; `onBlocked` is told each time.
 *
 * Returns a function that restores the original actions.
 */
export function guardNotebookActions(
  actions: Record<string, any>,
  onBlocked: (notebook: INotebookLike, action: string) => void
): () => void {
  const originals = new Map<string, (...args: any[]) => any>();
  const wrap = (
    name: string,
    blocked: (notebook: INotebookLike, args: unknown[]) => unknown
  ) => {
    const original = actions[name];
    if (typeof original !== 'function' || originals.has(name)) {
      return;
    }
    originals.set(name, original);
    actions[name] = function (this: unknown, notebook: any, ...args: any[]) {
      if (isReadOnlyNotebook(notebook)) {
        onBlocked(notebook, name);
        return blocked(notebook, args);
      }
      return original.call(this, notebook, ...args);
    };
  };
  for (const name of BLOCKED_ACTIONS) {
    wrap(name, () => undefined);
  }
  for (const name of RUN_ACTIONS) {
    wrap(name, (notebook, args) => {
      renderInsteadOfRun(name, notebook, args);
      return Promise.resolve(false);
    });
  }
  for (const [name, instead] of Object.entries(CUT_ACTIONS)) {
    wrap(name, notebook => {
      const copy = actions[instead];
      return typeof copy === 'function' ? copy(notebook) : undefined;
    });
  }
  return () => {
    for (const [name, original] of originals) {
      actions[name] = original;
    }
    originals.clear();
  };
}

/**
 * Stop cells from being dropped into a read-only notebook (Lumino drag
 * events, caught before the notebook sees them).
 */
export function blockDropsWhenReadOnly(
  node: HTMLElement,
  notebook: unknown
): () => void {
  const listener = (event: Event) => {
    if (isReadOnlyNotebook(notebook)) {
      event.stopPropagation();
      (event as Event & { dropAction?: string }).dropAction = 'none';
    }
  };
  const types = ['lm-dragenter', 'lm-dragover', 'lm-drop'];
  for (const type of types) {
    node.addEventListener(type, listener, true);
  }
  return () => {
    for (const type of types) {
      node.removeEventListener(type, listener, true);
    }
  };
}
