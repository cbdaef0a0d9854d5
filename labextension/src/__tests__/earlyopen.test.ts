import { describe, expect, it, vi } from 'vitest';

import { OPEN_COMMAND, openTarget, watchOpens } from '../earlyopen';

const ID = 'jupyter-collab';

/** A document registry shaped like JupyterLab's default one. */
function registry(providerId: string | null = ID) {
  const widgets: Record<string, any> = {
    Notebook: { name: 'Notebook', modelName: 'notebook', contentProviderId: providerId },
    Editor: { name: 'Editor', modelName: 'text', contentProviderId: providerId },
    'JSON Viewer': { name: 'JSON Viewer', modelName: 'text' }
  };
  const models: Record<string, any> = {
    notebook: { fileFormat: 'json', contentType: 'notebook', collaborative: true },
    text: { fileFormat: 'text', contentType: 'file', collaborative: true },
    base64: { fileFormat: 'base64', contentType: 'file', collaborative: false }
  };
  return {
    defaultWidgetFactory: (path: string) =>
      path.endsWith('.ipynb') ? widgets.Notebook : widgets.Editor,
    getWidgetFactory: (name: string) => widgets[name],
    getModelFactory: (name: string) => models[name],
    widgets
  };
}

describe('openTarget', () => {
  it('finds the format and type the document manager will ask for', () => {
    const r = registry();
    expect(openTarget(r, 'a.ipynb', undefined, ID)).toEqual({
      path: 'a.ipynb',
      format: 'json',
      type: 'notebook'
    });
    expect(openTarget(r, 'sub/b.py', 'default', ID)).toEqual({
      path: 'sub/b.py',
      format: 'text',
      type: 'file'
    });
    // a notebook opened with the text editor
    expect(openTarget(r, 'a.ipynb', 'Editor', ID)).toEqual({
      path: 'a.ipynb',
      format: 'text',
      type: 'file'
    });
  });

  it('is null for documents that our provider will not open', () => {
    const r = registry();
    expect(openTarget(r, 'a.json', 'JSON Viewer', ID)).toBeNull(); // another provider
    expect(openTarget(r, 'a.txt', 'No Such Factory', ID)).toBeNull();
    expect(openTarget(r, '', undefined, ID)).toBeNull();
    expect(openTarget(registry(null), 'a.txt', undefined, ID)).toBeNull();
    r.widgets.Editor.modelName = 'base64'; // not collaborative
    expect(openTarget(r, 'a.txt', undefined, ID)).toBeNull();
  });
});

describe('watchOpens', () => {
  it('tells of docmanager:open once the command has started, and only of it', async () => {
    const order: string[] = [];
    const commands = {
      execute: vi.fn(async (id: string, args?: any) => {
        order.push(`run ${id}`);
        return `ran ${id}`;
      })
    };
    const original = commands.execute;
    const restore = watchOpens(commands, (path, factory) =>
      order.push(`open ${path} ${factory}`)
    );
    expect(await commands.execute(OPEN_COMMAND, { path: 'a.txt' })).toBe(
      `ran ${OPEN_COMMAND}`
    );
    await commands.execute(OPEN_COMMAND, { path: 'b.ipynb', factory: 'Editor' });
    await commands.execute('docmanager:save', { path: 'a.txt' });
    await commands.execute(OPEN_COMMAND, {}); // no path: nothing to ask
    expect(order).toEqual([
      `run ${OPEN_COMMAND}`,
      'open a.txt undefined',
      `run ${OPEN_COMMAND}`,
      'open b.ipynb Editor',
      'run docmanager:save',
      `run ${OPEN_COMMAND}`
    ]);
    restore();
    expect(commands.execute).toBe(original);
  });

  it('runs the command even when the early request fails', async () => {
    const commands = { execute: vi.fn(async () => 'ok') };
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    watchOpens(commands, () => {
      throw new Error('boom');
    });
    expect(await commands.execute(OPEN_COMMAND, { path: 'a.txt' })).toBe('ok');
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();
  });
});
