/**
 * Open a document's room as soon as `docmanager:open` is run, in parallel
 * with the document manager's own first request.
 *
 * `docmanager:open` first asks the server for the file's metadata, and only
 * when that reply is in does the document manager build the context (which
 * asks our content provider for the shared model) and the widget, in one
 * long task of the page's main thread (~150-250 ms). The room's socket is
 * opened by path (earlysocket.ts) when the command runs, so its handshake,
 * its session and the server's first sync travel while the metadata request
 * and the widget build go on; the room built in that task adopts it. (Opens
 * that do not run the command, such as the file browser's, open the socket
 * when the context is created: `CollabContentProvider._createNew`.)
 */

/** The part of JupyterLab's document registry used here. */
export interface IRegistryLike {
  defaultWidgetFactory(
    path: string
  ): { name: string; modelName?: string; contentProviderId?: string } | undefined;
  getWidgetFactory(
    name: string
  ): { name: string; modelName?: string; contentProviderId?: string } | undefined;
  getModelFactory(
    name: string
  ): { fileFormat: string | null; contentType: string; collaborative?: boolean } | undefined;
}

/** What the document context will ask our provider for. */
export interface IOpenTarget {
  path: string;
  format: string;
  type: string;
}

/**
 * The format and type the document manager will open `path` with (widget
 * factory `factory`, or the default one), as `DocumentManager` picks them;
 * null when the document will not be opened through `providerId`. `path`
 * is the normalized path the context will use (on the default drive).
 */
export function openTarget(
  registry: IRegistryLike,
  path: string,
  factory: string | undefined,
  providerId: string
): IOpenTarget | null {
  if (!path) {
    return null;
  }
  let widgetFactory =
    !factory || factory === 'default'
      ? registry.defaultWidgetFactory(path)
      : registry.getWidgetFactory(factory);
  if (widgetFactory && (!factory || factory === 'default')) {
    // DocumentManager looks the default one up again by name.
    widgetFactory = registry.getWidgetFactory(widgetFactory.name);
  }
  if (!widgetFactory || widgetFactory.contentProviderId !== providerId) {
    return null;
  }
  const model = registry.getModelFactory(widgetFactory.modelName || 'text');
  if (!model || !model.fileFormat || model.collaborative === false) {
    return null;
  }
  return { path, format: model.fileFormat, type: model.contentType };
}

/** The part of Lumino's CommandRegistry used here. */
export interface ICommandsLike {
  execute(id: string, args?: any): Promise<any>;
}

/** The command whose runs are watched. */
export const OPEN_COMMAND = 'docmanager:open';

/**
 * Call `onOpen(path, factory)` when `docmanager:open` is run, just after
 * the command has started (its own first request, the file's metadata, is
 * then on its way first; errors of `onOpen` are ignored). Returns a
 * function that restores the registry.
 */
export function watchOpens(
  commands: ICommandsLike,
  onOpen: (path: string, factory: string | undefined) => void
): () => void {
  const execute = commands.execute;
  commands.execute = function (this: unknown, id: string, args?: any) {
    const running = execute.call(this, id, args);
    if (id === OPEN_COMMAND && typeof args?.path === 'string') {
      try {
        onOpen(
          args.path,
          typeof args.factory === 'string' ? args.factory : undefined
        );
      } catch (err) {
        console.warn('jupyter-collab: could not ask for the session early', err);
      }
    }
    return running;
  };
  return () => {
    commands.execute = execute;
  };
}
