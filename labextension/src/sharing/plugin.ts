/**
 * The "Share" command: a dialog to see and change who has which role on a
 * document or folder (docs/sharing-api.md). From the toolbar of notebooks
 * and text editors, the file browser's context menu and the palette.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDocumentWidget } from '@jupyterlab/docregistry';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { IEditorTracker } from '@jupyterlab/fileeditor';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { ToolbarButton, shareIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { IRoom } from '../contentprovider';
import { applyReadOnly } from '../readonly';
import { DOMAIN, ICollab } from '../tokens';
import { IDirectoryUser, SharingClient, normalizeUser } from './api';
import { showSharingDialog } from './dialog';

export const SHARE_COMMAND = 'jupyter-collab:share';

function isDocumentWidget(widget: Widget | null): widget is IDocumentWidget {
  return !!widget && !!(widget as IDocumentWidget).context?.model;
}

/** Users seen in the open rooms (names and colours for the dialog). */
function awarenessUsers(collab: ICollab | null): IDirectoryUser[] {
  const users = new Map<string, IDirectoryUser>();
  for (const room of collab?.provider.rooms ?? []) {
    if (room.sharedModel.isDisposed) {
      continue;
    }
    room.sharedModel.awareness.getStates().forEach((state: any) => {
      const u = normalizeUser(state?.user);
      if (u) {
        users.set(u.username, u);
      }
    });
  }
  return Array.from(users.values());
}

export const sharingPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:sharing',
  description: 'Share documents and folders: who may own, edit or view them.',
  autoStart: true,
  optional: [
    ITranslator,
    ICommandPalette,
    INotebookTracker,
    IEditorTracker,
    IFileBrowserFactory,
    ICollab
  ],
  activate: (
    app: JupyterFrontEnd,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    notebookTracker: INotebookTracker | null,
    editorTracker: IEditorTracker | null,
    browserFactory: IFileBrowserFactory | null,
    collab: ICollab | null
  ) => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const contents = app.serviceManager.contents;
    const settings = collab?.provider.serverSettings ?? contents.serverSettings;
    const client = new SharingClient(settings);
    const self = () =>
      collab?.provider.identity?.username ??
      app.serviceManager.user?.identity?.username ??
      null;

    /** The local path (no drive prefix) of a contents path. */
    const local = (path: string) => contents.localPath(path);

    /** What the command applies to: args, the file browser's selection, or the current document. */
    const target = (args: any): { path: string; isDir: boolean } | null => {
      if (typeof args?.path === 'string') {
        return { path: local(args.path), isDir: args.isDir === true };
      }
      if (args?.source === 'filebrowser') {
        const browser = browserFactory?.tracker.currentWidget;
        const first = browser?.selectedItems().next();
        const model = first && !first.done ? first.value : undefined;
        if (model?.path !== undefined) {
          return { path: local(model.path), isDir: model.type === 'directory' };
        }
        return null;
      }
      const widget = app.shell.currentWidget;
      if (isDocumentWidget(widget)) {
        return { path: local(widget.context.path), isDir: false };
      }
      return null;
    };

    app.commands.addCommand(SHARE_COMMAND, {
      label: args =>
        args?.source === 'filebrowser' ? trans.__('Share…') : trans.__('Share Document…'),
      caption: trans.__('See and change who may own, edit or view this'),
      icon: args => (args?.source === 'toolbar' ? undefined : shareIcon),
      isEnabled: args => target(args) !== null,
      execute: async args => {
        const t = target(args);
        if (!t) {
          return;
        }
        const name = PathExt.basename(t.path) || t.path;
        try {
          await showSharingDialog({
            path: t.path,
            title: t.isDir
              ? trans.__('Share the folder “%1”', name)
              : trans.__('Share “%1”', name),
            api: client,
            trans,
            self: self(),
            knownUsers: awarenessUsers(collab),
            searchDelay: collab?.settings.get('userSearchDelay')
          });
        } catch (err) {
          Notification.error(
            trans.__('The sharing dialog failed: %1', String((err as Error)?.message ?? err)),
            { autoClose: 8000 }
          );
        }
      }
    });

    palette?.addItem({ command: SHARE_COMMAND, category: trans.__('Collaboration') });
    app.contextMenu.addItem({
      command: SHARE_COMMAND,
      selector: '.jp-DirListing-item[data-isdir]',
      rank: 11,
      args: { source: 'filebrowser' }
    });

    const addButton = (widget: IDocumentWidget) => {
      const button = new ToolbarButton({
        icon: shareIcon,
        label: trans.__('Share'),
        tooltip: trans.__('Share this document: see and change who may edit or view it'),
        className: 'jp-collab-ShareButton',
        onClick: () => {
          void app.commands.execute(SHARE_COMMAND, { path: widget.context.path });
        }
      });
      widget.toolbar.addItem('jupyter-collab-share', button);
    };
    notebookTracker?.widgetAdded.connect((_, w) => addButton(w));
    editorTracker?.widgetAdded.connect((_, w) => addButton(w));

    // Access taken away (role `none`, close code 4403): the copy left open
    // becomes read-only. Otherwise saving it (or autosave) would write it
    // over the shared file through the contents API, which does not know
    // about shares.
    if (collab) {
      const lockOnForbidden = (room: IRoom) => {
        room.connection.refused.connect((_, { kind }) => {
          if (kind !== 'forbidden') {
            return;
          }
          for (const w of app.shell.widgets('main')) {
            if (isDocumentWidget(w) && collab.roomForWidget(w) === room) {
              applyReadOnly(w, true, trans);
            }
          }
        });
      };
      collab.provider.rooms.forEach(lockOnForbidden);
      collab.provider.roomAdded.connect((_, room) => lockOnForbidden(room));
    }
  }
};
