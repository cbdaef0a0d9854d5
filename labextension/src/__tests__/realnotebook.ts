/**
 * A real JupyterLab notebook widget in a DOM (jsdom), on a real YNotebook:
 * what JupyterLab's own notebook tests build (its NBTestUtils, without the
 * test-only service mocks): CodeMirror editors bound to the cells' Yjs texts,
 * windowing off so every cell is in the DOM. For the DOM tests of what we
 * draw on cells (presence markers, comment badges).
 */
import { YNotebook } from '@jupyter/ydoc';
import {
  CodeMirrorEditorFactory,
  CodeMirrorMimeTypeService,
  EditorExtensionRegistry,
  EditorLanguageRegistry,
  ybinding
} from '@jupyterlab/codemirror';
import { Notebook, NotebookModel, StaticNotebook } from '@jupyterlab/notebook';
import { RenderMimeRegistry, standardRendererFactories } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

function editorFactory() {
  const languages = new EditorLanguageRegistry();
  const extensions = new EditorExtensionRegistry();
  extensions.addExtension({
    name: 'binding',
    factory: ({ model }) =>
      EditorExtensionRegistry.createImmutableExtension(
        ybinding({ ytext: (model.sharedModel as any).ysource })
      )
  });
  const factory = new CodeMirrorEditorFactory({ languages, extensions });
  return {
    editorFactory: factory.newInlineEditor.bind(factory),
    mimeTypeService: new CodeMirrorMimeTypeService(languages)
  };
}

/** A notebook of `cells` (id, source), attached to the page. */
export function realNotebook(cells: { id: string; source: string }[]): {
  notebook: Notebook;
  shared: YNotebook;
} {
  const shared = YNotebook.create();
  shared.insertCells(
    0,
    cells.map(c => ({ cell_type: 'code', id: c.id, source: c.source, metadata: {}, outputs: [], execution_count: null }) as any)
  );
  const { editorFactory: factory, mimeTypeService } = editorFactory();
  const notebook = new Notebook({
    rendermime: new RenderMimeRegistry({ initialFactories: standardRendererFactories }),
    contentFactory: new Notebook.ContentFactory({ editorFactory: factory }),
    mimeTypeService,
    notebookConfig: { ...StaticNotebook.defaultNotebookConfig, windowingMode: 'none' }
  });
  notebook.model = new NotebookModel({ sharedModel: shared });
  Widget.attach(notebook, document.body);
  return { notebook, shared };
}

/** What a test built (widgets, views): `disposeAll` after each test. */
export const disposables: { dispose(): void }[] = [];

/** Dispose what the test built, newest first, and empty the page. */
export function disposeAll(): void {
  for (const d of disposables.splice(0).reverse()) {
    d.dispose();
  }
  document.body.replaceChildren();
}

/** Let animation frames (the markers draw once per frame) and promises run. */
export async function frames(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise(r => requestAnimationFrame(() => r(null)));
    await new Promise(r => setTimeout(r, 0));
  }
}
