import { describe, expect, it, vi } from 'vitest';

import {
  BLOCKED_ACTIONS,
  ICellLike,
  INotebookLike,
  guardNotebookActions,
  isReadOnlyNotebook
} from '../readonlyguard';

function notebook(readOnly: boolean, types = ['code', 'markdown', 'markdown']) {
  const cells: ICellLike[] = types.map(type => ({
    model: { type },
    rendered: type === 'markdown' ? false : undefined
  }));
  const nb: INotebookLike & { cells: ICellLike[] } = {
    model: { readOnly },
    widgets: cells,
    cells,
    activeCellIndex: 0,
    isSelectedOrActive: c => cells.indexOf(c) === nb.activeCellIndex
  };
  return nb;
}

/** A fake NotebookActions: every action records its call on the notebook. */
function fakeActions() {
  const calls: string[] = [];
  const actions: Record<string, any> = {};
  for (const name of [
    ...BLOCKED_ACTIONS,
    'run',
    'runAndAdvance',
    'runAll',
    'runCells',
    'cut',
    'cutToSystemClipboard',
    'copy',
    'selectAll',
    'copyToSystemClipboard'
  ]) {
    actions[name] = (nb: any) => {
      calls.push(name);
      return name === 'run' ? Promise.resolve(true) : name;
    };
  }
  return { actions, calls };
}

describe('guardNotebookActions', () => {
  it('leaves editable notebooks alone', async () => {
    const { actions, calls } = fakeActions();
    const blocked = vi.fn();
    guardNotebookActions(actions, blocked);
    const nb = notebook(false);
    expect(actions.insertBelow(nb)).toBe('insertBelow');
    actions.deleteCells(nb);
    actions.moveCells(nb, 0, 1, 1);
    expect(await actions.run(nb)).toBe(true);
    actions.cut(nb);
    expect(calls).toEqual(['insertBelow', 'deleteCells', 'moveCells', 'run', 'cut']);
    expect(blocked).not.toHaveBeenCalled();
  });

  it('blocks structural changes in read-only notebooks', () => {
    const { actions, calls } = fakeActions();
    const blocked = vi.fn();
    guardNotebookActions(actions, blocked);
    const nb = notebook(true);
    for (const name of [
      'insertAbove',
      'insertBelow',
      'deleteCells',
      'moveUp',
      'moveDown',
      'moveCells',
      'paste',
      'pasteFromSystemClipboard',
      'duplicate',
      'changeCellType',
      'mergeCells',
      'splitCell',
      'undo',
      'redo',
      'clearAllOutputs'
    ]) {
      expect(actions[name](nb)).toBeUndefined();
    }
    expect(calls).toEqual([]);
    expect(blocked).toHaveBeenCalledTimes(15);
    expect(blocked.mock.calls[0]).toEqual([nb, 'insertAbove']);
    // actions that do not change the notebook still work
    actions.selectAll(nb);
    expect(calls).toEqual(['selectAll']);
  });

  it('copies instead of cutting', () => {
    const { actions, calls } = fakeActions();
    guardNotebookActions(actions, () => undefined);
    actions.cut(notebook(true));
    actions.cutToSystemClipboard(notebook(true));
    expect(calls).toEqual(['copy', 'copyToSystemClipboard']);
  });

  it('runs no code, but renders Markdown and moves on', async () => {
    const { actions, calls } = fakeActions();
    guardNotebookActions(actions, () => undefined);
    const nb = notebook(true);
    nb.activeCellIndex = 1;
    expect(await actions.runAndAdvance(nb)).toBe(false);
    expect(nb.cells[1].rendered).toBe(true);
    expect(nb.cells[2].rendered).toBe(false);
    expect(nb.activeCellIndex).toBe(2);
    expect(await actions.runAll(nb)).toBe(false);
    expect(nb.cells[2].rendered).toBe(true);
    expect(calls).toEqual([]);
  });

  it('follows the read-only state as it changes, and can be undone', () => {
    const { actions, calls } = fakeActions();
    const restore = guardNotebookActions(actions, () => undefined);
    const nb = notebook(true);
    actions.insertBelow(nb);
    nb.model!.readOnly = false;
    actions.insertBelow(nb);
    expect(calls).toEqual(['insertBelow']);
    nb.model!.readOnly = true;
    restore();
    actions.insertBelow(nb);
    expect(calls).toEqual(['insertBelow', 'insertBelow']);
  });

  it('a second guard can be removed on its own', () => {
    const { actions, calls } = fakeActions();
    const blocked = vi.fn();
    guardNotebookActions(actions, blocked);
    const again = guardNotebookActions(actions, blocked);
    again();
    actions.deleteCells(notebook(true));
    expect(calls).toEqual([]);
  });
});

describe('isReadOnlyNotebook', () => {
  it('reads the model', () => {
    expect(isReadOnlyNotebook(null)).toBe(false);
    expect(isReadOnlyNotebook({ model: null })).toBe(false);
    expect(isReadOnlyNotebook(notebook(true))).toBe(true);
    expect(isReadOnlyNotebook(notebook(false))).toBe(false);
  });
});
