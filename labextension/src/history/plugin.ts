/**
 * The history panel and the notifications plugins.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { PathExt } from '@jupyterlab/coreutils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { historyIcon } from '@jupyterlab/ui-components';

import { IRoom, roomIdOf } from '../contentprovider';
import { IAwarenessUser } from '../presencemodel';
import { canWrite } from '../protocol';
import { DOMAIN, ICollab } from '../tokens';
import { HistoryClient, IVersion, MAX_NAME_LENGTH } from './api';
import { attributionRows, userBadge } from './diffmodel';
import { versionReference } from './format';
import { IGutterRun, showAttributionInEditor } from './gutter';
import { HistoryModel, IHistoryDocument } from './model';
import { NotificationDeduper, noticeNotification } from './notices';
import { HistoryPanel } from './panel';
import { HistoryUsers } from './people';
import { VersionView } from './viewer';
import { VersionMode, VersionViewModel } from './viewmodel';

/** The document of a room, once its session is known. */
function documentOf(room: IRoom | null): IHistoryDocument | null {
  const id = room ? roomIdOf(room) : null;
  if (!room || !id) {
    return null;
  }
  return {
    room: id,
    path: room.path,
    type: room.contentType,
    canWrite: canWrite(room.connection.role)
  };
}

/**
 * The history side panel of the current document.
 */
export const historyPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:history',
  description:
    'Versions of the current document: preview, diff, name, restore, and who wrote what.',
  autoStart: true,
  requires: [ICollab, IEditorServices],
  optional: [ITranslator, ILabShell, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    collab: ICollab,
    editorServices: IEditorServices,
    translator: ITranslator | null,
    labShell: ILabShell | null,
    palette: ICommandPalette | null
  ) => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const { provider } = collab;
    const client = new HistoryClient(provider.serverSettings);
    // Identities from the replies: also people who are not in any room here.
    const users = new HistoryUsers();
    const model = new HistoryModel(client, { users });

    // Everybody seen in a room, by username (colours and names of authors).
    const seenUsers = new Map<string, IAwarenessUser>();
    const knownUsers = (): ReadonlyMap<string, IAwarenessUser> =>
      users.known(liveUsers());
    const liveUsers = (): ReadonlyMap<string, IAwarenessUser> => {
      for (const room of provider.rooms) {
        if (room.sharedModel.isDisposed) {
          continue;
        }
        room.sharedModel.awareness.getStates().forEach((state: any) => {
          const user = state?.user as IAwarenessUser | undefined;
          if (user?.username) {
            seenUsers.set(user.username, user);
          }
        });
      }
      return seenUsers;
    };

    let current: IRoom | null = null;
    const currentContent = () => {
      const shared = current?.sharedModel as any;
      if (!shared || shared.isDisposed) {
        return {};
      }
      if (current!.contentType === 'notebook' && Array.isArray(shared.cells)) {
        const cells = new Map<string, { source: string; cellType: string }>();
        for (const cell of shared.cells) {
          cells.set(cell.id, {
            source: cell.getSource(),
            cellType: cell.cell_type
          });
        }
        return { cells };
      }
      return { text: typeof shared.getSource === 'function' ? shared.getSource() : '' };
    };

    const panel = new HistoryPanel({
      model,
      trans,
      knownUsers,
      currentContent,
      askName: async () => {
        const result = await InputDialog.getText({
          title: trans.__('Name this version'),
          label: trans.__('A name for the current content of “%1”', current ? PathExt.basename(current.path) : ''),
          placeholder: trans.__('for example: Before the refactoring'),
          okLabel: trans.__('Name'),
          cancelLabel: trans.__('Cancel'),
          required: true,
          pattern: `.{1,${MAX_NAME_LENGTH}}`
        });
        return result.button.accept ? (result.value ?? '').slice(0, MAX_NAME_LENGTH) : null;
      },
      confirmRestore: version => confirmRestore(version, model.document?.path ?? ''),
      reportError,
      openVersion: (version, mode) => {
        const doc = model.document;
        if (doc) {
          openVersion(doc, version, mode);
        }
      }
    });
    app.shell.add(panel, 'right', { rank: 310 });

    // ---- versions in the main area ---------------------------------------

    /** One tab per document, showing one of its versions at a time. */
    const viewers = new Map<string, MainAreaWidget<VersionView>>();
    let viewerCount = 0;
    const openVersion = (
      doc: IHistoryDocument,
      version: IVersion,
      mode: VersionMode
    ): void => {
      let widget = viewers.get(doc.room);
      if (!widget || widget.isDisposed) {
        const viewModel = new VersionViewModel(client, doc, { users });
        const view = new VersionView({
          model: viewModel,
          trans,
          inlineEditor: editorServices.factoryService.newInlineEditor,
          documentEditor: editorServices.factoryService.newDocumentEditor,
          mimeTypes: editorServices.mimeTypeService,
          knownUsers,
          restore: v => restoreFrom(viewModel.document, v)
        });
        const created = new MainAreaWidget({ content: view });
        created.id = `jp-collab-version-${++viewerCount}`;
        created.addClass('jp-collab-VersionViewer');
        created.title.icon = historyIcon;
        created.title.closable = true;
        const sync = () => {
          created.title.label = view.title.label;
          created.title.caption = view.title.caption;
        };
        view.title.changed.connect(sync);
        sync();
        viewers.set(doc.room, created);
        created.disposed.connect(() => {
          if (viewers.get(doc.room) === created) {
            viewers.delete(doc.room);
          }
        });
        const beside = documentWidgetOf(doc.room);
        app.shell.add(
          created,
          'main',
          beside ? { ref: beside.id, mode: 'tab-after' } : undefined
        );
        widget = created;
      }
      void widget.content.model.show(version, mode);
      app.shell.activateById(widget.id);
    };

    /** The open document tab of a room, if any. */
    const documentWidgetOf = (roomId: string) => {
      for (const w of app.shell.widgets('main')) {
        const room = collab.roomForWidget(w);
        if (room && roomIdOf(room) === roomId) {
          return w;
        }
      }
      return null;
    };

    const confirmRestore = async (version: IVersion, path: string): Promise<boolean> => {
      const what = versionReference(version, trans);
      const result = await showDialog({
        title: trans.__('Restore this version?'),
        body: trans.__(
          '“%1” will go back to %2, for everyone working on it. Its current content is kept as a version, so you can undo this by restoring that one.',
          PathExt.basename(path),
          what
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.warnButton({ label: trans.__('Restore') })
        ]
      });
      return result.button.accept;
    };

    function reportError(message: string): void {
      Notification.error(message, { autoClose: 8000 });
    }

    /** Restore from a version tab (its document may not be the panel's). */
    const restoreFrom = async (doc: IHistoryDocument, version: IVersion) => {
      if (model.document?.room === doc.room) {
        await panel.restoreVersion(version);
        return;
      }
      if (!doc.canWrite || !(await confirmRestore(version, doc.path))) {
        return;
      }
      try {
        await client.restore(doc.room, version.id);
      } catch (err) {
        reportError(
          trans.__('Could not restore the version: %1', String((err as Error)?.message ?? err))
        );
      }
    };

    // "Who wrote this" in the text editors of the document, too (a gutter).
    let decorated = new Set<any>();
    const editorViewsOf = (room: IRoom | null): any[] => {
      const views: any[] = [];
      if (!room) {
        return views;
      }
      for (const w of app.shell.widgets('main')) {
        if (collab.roomForWidget(w) !== room) {
          continue;
        }
        const view = (w as any).content?.editor?.editor;
        if (view && typeof view.dispatch === 'function' && view.state) {
          views.push(view);
        }
      }
      return views;
    };
    const updateGutter = () => {
      const view = model.view;
      let runs: IGutterRun[] | null = null;
      let views: any[] = [];
      if (view.kind === 'attribution' && view.attribution.type === 'text') {
        const known = knownUsers();
        const nobody = trans.__('not written here (the file as opened, from disk or older history)');
        runs = attributionRows(view.attribution).map(row => {
          const badge = userBadge(row.user, known, nobody);
          return {
            from: row.from,
            to: row.to,
            initials: badge.initials,
            color: badge.color,
            label: row.user ? trans.__('Last written by %1', badge.label) : badge.label
          };
        });
        views = editorViewsOf(current);
      }
      const next = new Set(views);
      for (const v of decorated) {
        if (!next.has(v)) {
          try {
            showAttributionInEditor(v, null);
          } catch {
            // the editor is gone
          }
        }
      }
      for (const v of views) {
        showAttributionInEditor(v, runs);
      }
      decorated = next;
    };
    let lastView: unknown = null;
    model.changed.connect(() => {
      if (model.view !== lastView) {
        lastView = model.view;
        updateGutter();
      }
    });

    // Follow the current document.
    const onRoomChange = () => void model.setDocument(documentOf(current));
    const track = (room: IRoom | null) => {
      if (room === current) {
        onRoomChange();
        return;
      }
      if (current) {
        current.connection.sessionChanged.disconnect(onRoomChange);
        current.connection.roleChanged.disconnect(onRoomChange);
      }
      current = room;
      if (room) {
        room.connection.sessionChanged.connect(onRoomChange);
        room.connection.roleChanged.connect(onRoomChange);
      }
      onRoomChange();
    };
    const onCurrentChanged = () => {
      const widget = app.shell.currentWidget;
      let room = collab.roomForWidget(widget);
      if (!room && widget && widget.hasClass('jp-collab-VersionViewer')) {
        // A version tab: the history of its document, if it is open.
        const doc = (widget as MainAreaWidget<VersionView>).content.model.document;
        room = provider.rooms.find(r => roomIdOf(r) === doc.room) ?? null;
      }
      // Keep the last document while something else (a launcher, a
      // terminal) is in front; forget it when it is closed.
      if (room || !current || current.sharedModel.isDisposed) {
        track(room);
      }
    };
    labShell?.currentChanged.connect(onCurrentChanged);
    provider.roomAdded.connect(() => setTimeout(onCurrentChanged, 0));
    provider.roomRemoved.connect((_, room) => {
      if (room === current) {
        track(collab.roomForWidget(app.shell.currentWidget));
      }
    });
    provider.noticeReceived.connect((_, { room, notice }) => {
      if (room === current) {
        if (notice.type === 'renamed') {
          onRoomChange(); // the path shown
        }
        model.handleNotice(notice);
      }
      const id = roomIdOf(room);
      const viewer = id ? viewers.get(id) : undefined;
      if (viewer && !viewer.isDisposed) {
        const doc = documentOf(room);
        if (doc && (notice.type === 'renamed' || notice.type === 'role')) {
          viewer.content.model.setDocument(doc);
        }
        viewer.content.model.handleNotice(notice);
      }
    });
    onCurrentChanged();

    const showCommand = 'jupyter-collab:show-history';
    app.commands.addCommand(showCommand, {
      label: trans.__('Show Document History'),
      caption: trans.__('Versions of the current document: preview, compare, name and restore'),
      execute: () => {
        app.shell.activateById(panel.id);
        const first = panel.node.querySelector<HTMLElement>(
          '.jp-collab-HistoryPanel-versionButton, button'
        );
        first?.focus();
      }
    });
    const nameCommand = 'jupyter-collab:name-version';
    app.commands.addCommand(nameCommand, {
      label: trans.__('Name This Version…'),
      caption: trans.__('Give the current content of the document a name in its history'),
      isEnabled: () => model.canWrite,
      execute: async () => {
        app.shell.activateById(panel.id);
        await panel.nameCurrent();
      }
    });
    const category = trans.__('Collaboration');
    palette?.addItem({ command: showCommand, category });
    palette?.addItem({ command: nameCommand, category });
  }
};

/**
 * Notifications for server notices: restores, merges of changes made on
 * disk, save and store errors.
 */
export const notificationsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:notifications',
  description:
    'Tells about restores, changes merged from disk, and save or store errors.',
  autoStart: true,
  requires: [ICollab],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    collab: ICollab,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const deduper = new NotificationDeduper({
      emit: (message, type, options) =>
        Notification.emit(message, type, options),
      update: args => Notification.update(args)
    });
    collab.provider.noticeReceived.connect((_, { room, notice }) => {
      const local = room.sharedModel.isDisposed
        ? null
        : (room.sharedModel.awareness.getLocalState() as any);
      const spec = noticeNotification(
        notice,
        room.id,
        PathExt.basename(room.path),
        trans,
        local?.user?.username ?? null
      );
      if (spec) {
        deduper.notify(spec);
      }
    });
    collab.provider.roomRemoved.connect((_, room) =>
      deduper.forget(`${room.id}:`)
    );
  }
};
