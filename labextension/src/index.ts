/**
 * jupyter-collab: real-time collaboration for JupyterLab through the
 * jupyter-collab server rooms.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification, Toolbar } from '@jupyterlab/apputils';
import {
  EditorExtensionRegistry,
  IEditorExtensionRegistry
} from '@jupyterlab/codemirror';
import { PathExt } from '@jupyterlab/coreutils';
import { IDocumentWidget } from '@jupyterlab/docregistry';
import {
  FileEditor,
  FileEditorFactory,
  IEditorTracker,
  IEditorWidgetFactory
} from '@jupyterlab/fileeditor';
import {
  INotebookTracker,
  INotebookWidgetFactory,
  NotebookActions,
  NotebookPanel,
  NotebookWidgetFactory
} from '@jupyterlab/notebook';
import { Contents, RestContentProvider } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import {
  ITranslator,
  TranslationBundle,
  nullTranslator
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { CellPresence } from './cellpresence';
import { cellOfPosition } from './cellposition';
import { combine, closeKindText } from './connectionstate';
import {
  CONTENT_PROVIDER_ID,
  CollabContentProvider,
  IRoom
} from './contentprovider';
import {
  refreshRemoteCursors,
  remoteCursors,
  resolvePosition,
  setLabelOptions
} from './cursors';
import {
  KernelGate,
  guardKernelCommands,
  notifyKernelCommands
} from './kernelguard';
import { openTarget, watchOpens } from './earlyopen';
import { LoadingOverlay, describeLoading } from './loading';
import { FollowController } from './follow';
import { CollaboratorsPanel, DocumentAvatars, PresenceTracker } from './presence';
import { setColorSource } from './presencemodel';
import { CloseKind, canComment, canWrite, setMaxBackoff } from './protocol';
import { applyReadOnly } from './readonly';
import { blockDropsWhenReadOnly, guardNotebookActions } from './readonlyguard';
import { CollabSettings } from './settings';
import { ConnectionIndicator } from './statusbar';
import { DOMAIN, ICollab } from './tokens';
import { historyPlugin, notificationsPlugin } from './history/plugin';
import { userNotificationsPlugin } from './notifications/plugin';
import { commentsPlugin } from './comments/plugin';
import { sharingPlugin } from './sharing/plugin';

export { CONTENT_PROVIDER_ID, CollabContentProvider } from './contentprovider';
export { RoomConnection } from './roomconnection';

export { ICollab } from './tokens';

function isDocumentWidget(widget: Widget | null): widget is IDocumentWidget {
  return !!widget && !!(widget as IDocumentWidget).context?.model;
}

/** Human text for a room that the server closed for good. */
function refusalMessage(
  kind: CloseKind,
  path: string,
  reason: string,
  trans: TranslationBundle
): string {
  const name = PathExt.basename(path);
  switch (kind) {
    case 'forbidden':
      return trans.__('You are not allowed to open “%1”.', name);
    case 'deleted':
      return trans.__(
        '“%1” was deleted. Your copy stays open but is no longer shared; saving it creates the file again.',
        name
      );
    case 'unknown-room':
      return trans.__(
        'The collaboration server no longer knows “%1”. Close and reopen it to continue.',
        name
      );
    case 'too-large':
      return trans.__(
        'A change to “%1” is too large for the collaboration server. The document is no longer shared; reopen it to continue.',
        name
      );
    case 'unloadable':
      return trans.__(
        '“%1” cannot be opened for collaboration: the server cannot read it as this kind of document.',
        name
      );
    case 'server-reset':
      return trans.__(
        'The collaboration server restarted and lost the shared state of “%1”. This window keeps your version, which is no longer shared: save it to write it to disk, or reopen the document to continue with the server’s version.',
        name
      );
    case 'malformed':
      return trans.__(
        'The collaboration server rejected a message for “%1” and closed the connection. Reopen the document to continue.',
        name
      );
    case 'diverged':
      return trans.__(
        'This window’s copy of “%1” has changes that were made while you could only view it, or that the server refused. They cannot be shared. Reopen the document to continue with the shared version (the changes in this window are dropped).',
        name
      );
    default:
      return trans.__('“%1” was disconnected: %2', name, reason || closeKindText(kind, trans));
  }
}

/**
 * The core plugin: document sync through our rooms, notifications and
 * read-only mode.
 */
/** Resolves once `node` is in the page (or after `timeout` ms). */
async function whenAttached(node: HTMLElement, timeout = 20000): Promise<void> {
  const start = Date.now();
  while (!node.isConnected && Date.now() - start < timeout) {
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

/**
 * Scroll a document to where one of the given awareness clients is: their
 * cursor, or (notebooks) their active cell.
 */
function revealCollaborator(widget: IDocumentWidget, clientIds: number[]): void {
  const shared = widget.context.model.sharedModel as any;
  const awareness = shared?.awareness;
  if (!awareness || widget.isDisposed) {
    return;
  }
  const cursors: any[] = [];
  let cellId: string | null = null;
  for (const id of clientIds) {
    const state = awareness.getStates().get(id);
    if (Array.isArray(state?.cursors)) {
      cursors.push(...state.cursors);
    }
    if (!cellId && typeof state?.cell === 'string') {
      cellId = state.cell;
    }
  }
  const cursor = cursors.find(c => c?.primary) ?? cursors[0];
  if (widget instanceof NotebookPanel) {
    const notebook = widget.content;
    const cursorCell = cursor ? cellOfPosition(shared.ydoc, cursor.head) : null;
    // Their active cell wins over a cursor left in another cell.
    const targetId = cellId ?? cursorCell;
    const cell = notebook.widgets.find(c => c.model.id === targetId);
    if (!cell) {
      return;
    }
    // Large notebooks attach their cells little by little: wait for it.
    // (scrollToItem, unlike scrollToCell, leaves our active cell alone.)
    void whenAttached(cell.node)
      .then(() =>
        notebook.scrollToItem(notebook.widgets.indexOf(cell), 'smart').catch(
          () => undefined
        )
      )
      .then(() => {
      if (cursorCell !== targetId || !cursor) {
        return;
      }
      const ytext = (cell.model.sharedModel as any).ysource;
      const index = ytext ? resolvePosition(ytext, cursor.head) : null;
      const pos = index !== null ? cell.editor?.getPositionAt(index) : undefined;
      if (pos) {
        cell.editor?.revealPosition(pos);
      }
    });
  } else if (widget.content instanceof FileEditor && cursor) {
    const editor = widget.content.editor;
    const ytext = shared.ysource;
    const index = ytext ? resolvePosition(ytext, cursor.head) : null;
    const pos = index !== null ? editor.getPositionAt(index) : undefined;
    if (pos) {
      editor.revealPosition(pos);
    }
  }
}

/** The id of the core plugin, which carries the settings (schema/rooms.json). */
const roomsPluginId = 'jupyter-collab:rooms';

const roomsPlugin: JupyterFrontEndPlugin<ICollab> = {
  id: roomsPluginId,
  description:
    'Syncs notebooks and files through jupyter-collab rooms (a content provider on the default drive).',
  autoStart: true,
  provides: ICollab,
  requires: [INotebookWidgetFactory, IEditorWidgetFactory],
  optional: [ITranslator, INotebookTracker, IEditorTracker, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    notebookFactory: NotebookWidgetFactory.IFactory,
    editorFactory: FileEditorFactory.IFactory,
    translator: ITranslator | null,
    notebookTracker: INotebookTracker | null,
    editorTracker: IEditorTracker | null,
    settingRegistry: ISettingRegistry | null
  ): ICollab => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const settings = new CollabSettings();
    const applySettings = () => {
      setColorSource(settings.get('collaboratorColors'));
      setLabelOptions({
        mode: settings.get('cursorLabels'),
        duration: settings.get('cursorLabelDuration')
      });
      setMaxBackoff(settings.get('reconnectMaxDelay'));
      document.body.dataset.collabColors = settings.get('collaboratorColors');
    };
    applySettings();
    settings.changed.connect(() => {
      applySettings();
      refreshRemoteCursors();
    });
    if (settingRegistry) {
      void settingRegistry
        .load(roomsPluginId)
        .then(loaded => {
          settings.update(loaded.composite);
          loaded.changed.connect(() => settings.update(loaded.composite));
        })
        .catch(err =>
          console.warn('jupyter-collab: the settings could not be loaded; using the defaults.', err)
        );
    }
    const contents = app.serviceManager.contents;
    const drive: Contents.IDrive | undefined = (
      contents as unknown as { defaultDrive?: Contents.IDrive }
    ).defaultDrive;
    const serverSettings = drive?.serverSettings ?? contents.serverSettings;
    const provider = new CollabContentProvider({
      serverSettings,
      defaultProvider: new RestContentProvider({
        apiEndpoint: 'api/contents',
        serverSettings
      }),
      user: app.serviceManager.user,
      settings
    });
    provider.setTranslator((msg, ...args) => trans.__(msg, ...args));
    const presence = new PresenceTracker(provider, settings);

    if (drive?.contentProviderRegistry) {
      drive.contentProviderRegistry.register(CONTENT_PROVIDER_ID, provider);
      notebookFactory.contentProviderId = CONTENT_PROVIDER_ID;
      editorFactory.contentProviderId = CONTENT_PROVIDER_ID;
      // Open a document's room with `docmanager:open`'s first request, not
      // after it (see earlyopen.ts, earlysocket.ts; setting `earlySession`).
      watchOpens(app.commands, (path, factory) => {
        if (!settings.get('earlySession')) {
          return;
        }
        const normalized = contents.normalize(path);
        if (contents.driveName(normalized)) {
          return; // another drive
        }
        const target = openTarget(
          app.docRegistry,
          normalized,
          factory,
          CONTENT_PROVIDER_ID
        );
        if (target) {
          provider.prefetchSession(target.path, target.format, target.type);
        }
      });
    } else {
      console.warn(
        'jupyter-collab: the default drive has no content provider registry (JupyterLab < 4.4?); collaboration is disabled.'
      );
    }

    // Keep room paths in step with renames made from this client.
    contents.fileChanged.connect((_, change) => {
      if (
        change.type === 'rename' &&
        change.oldValue?.path &&
        change.newValue?.path
      ) {
        provider.handleRename(change.oldValue.path, change.newValue.path);
      }
    });

    const widgetsOfRoom = (room: IRoom): IDocumentWidget[] => {
      const result: IDocumentWidget[] = [];
      const visit = (w: Widget) => {
        if (isDocumentWidget(w) && w.context.model.sharedModel === room.sharedModel) {
          result.push(w);
        }
      };
      notebookTracker?.forEach(visit);
      editorTracker?.forEach(visit);
      return result;
    };

    const roomForWidget = (widget: Widget | null): IRoom | null => {
      if (!isDocumentWidget(widget)) {
        return null;
      }
      return provider.roomForModel(widget.context.model.sharedModel);
    };

    // Read-only notebooks (viewers): no structural change, no run.
    const lastBlockedNotice = new WeakMap<object, number>();
    guardNotebookActions(
      NotebookActions as unknown as Record<string, any>,
      notebook => {
        const now = Date.now();
        if (now - (lastBlockedNotice.get(notebook) ?? 0) < 10000) {
          return;
        }
        lastBlockedNotice.set(notebook, now);
        const panel = notebookTracker?.find(w => w.content === (notebook as any));
        const name = panel ? PathExt.basename(panel.context.path) : '';
        Notification.info(
          name
            ? trans.__('“%1” is read-only: you can view it, but not change it or run its cells.', name)
            : trans.__('This notebook is read-only: you can view it, but not change it or run its cells.'),
          { autoClose: 4000 }
        );
      }
    );

    // People who may only view run no code: no kernel session for the
    // document, and no command that would run code in it or control its
    // kernel (see kernelguard.ts).
    const kernelBlocked = (room: IRoom | null): boolean =>
      !!room &&
      ((room.connection.role !== null && !canWrite(room.connection.role)) ||
        room.connection.state.closeKind === 'forbidden');
    const notebookOf = (id: string, args: any): NotebookPanel | null => {
      if (id.startsWith('notebook:')) {
        const target = args?.semanticWidget;
        return (
          (target
            ? notebookTracker?.find(w => w.id === target)
            : notebookTracker?.currentWidget) ?? null
        );
      }
      const current = app.shell.currentWidget;
      return current instanceof NotebookPanel ? current : null;
    };
    const lastKernelNotice = new Map<string, number>();
    guardKernelCommands(
      app.commands as any,
      (id, args) => {
        if (id === 'console:create') {
          const path = typeof args?.path === 'string' ? args.path : null;
          const ref = typeof args?.ref === 'string' ? args.ref : null;
          return provider.rooms.some(
            room =>
              kernelBlocked(room) &&
              ((path !== null && contents.localPath(path) === room.path) ||
                (ref !== null && widgetsOfRoom(room).some(w => w.id === ref)))
          );
        }
        const panel = notebookOf(id, args);
        return !!panel && kernelBlocked(roomForWidget(panel));
      },
      id => {
        const now = Date.now();
        if (now - (lastKernelNotice.get(id) ?? 0) < 10000) {
          return;
        }
        lastKernelNotice.set(id, now);
        Notification.info(
          trans.__('You may only view this notebook: its code does not run for you, and its kernel is not yours to control.'),
          { autoClose: 5000 }
        );
      }
    );
    /** Apply the kernel rule to a notebook (and consoles on it) after a role change. */
    const kernelGates = new WeakMap<Widget, KernelGate>();
    const applyKernelRule = (room: IRoom) => {
      const blocked = kernelBlocked(room);
      for (const w of widgetsOfRoom(room)) {
        kernelGates.get(w)?.apply();
        w.toggleClass('jp-collab-mod-noKernel', blocked);
      }
      if (blocked) {
        // Consoles attached to the document's kernel let it go too.
        for (const w of app.shell.widgets('main')) {
          const sc = (w as any).sessionContext;
          if (
            !isDocumentWidget(w) &&
            sc &&
            typeof sc.path === 'string' &&
            contents.localPath(sc.path) === room.path &&
            sc.session &&
            !sc.session.isDisposed
          ) {
            sc.session.dispose();
          }
        }
      }
      notifyKernelCommands(app.commands);
    };

    // Notices from the server.
    const refusedOnce = new Set<string>();
    const lastInput = new WeakMap<Widget, number>();
    provider.noticeReceived.connect((_, { room, notice }) => {
      const name = PathExt.basename(room.path);
      switch (notice.type) {
        case 'saved':
          for (const w of widgetsOfRoom(room)) {
            w.context.model.dirty = false;
          }
          break;
        case 'renamed':
          Notification.info(
            trans.__('The document was renamed to “%1”.', notice.path),
            { autoClose: 4000 }
          );
          break;
        case 'history-reset':
          // The undo history holds this copy's old items, which the server
          // deleted: undoing would bring the old copy back.
          (room.sharedModel as { clearUndoHistory?: () => void }).clearUndoHistory?.();
          Notification.info(
            notice.kept
              ? trans.__(
                  'The collaboration server lost the history of “%1” and started again from the file. Your copy was merged into it: the lines you added while disconnected were kept; what you deleted meanwhile may have come back.',
                  name
                )
              : trans.__(
                  'The collaboration server lost the history of “%1” and started again from the file; this window now shows the shared version.',
                  name
                ),
            { autoClose: 10000 }
          );
          break;
        case 'refused':
          if (!refusedOnce.has(room.id)) {
            refusedOnce.add(room.id);
            Notification.warning(
              trans.__(
                'Your change to “%1” was not accepted: you may only view this document.',
                name
              ),
              { autoClose: 6000 }
            );
          }
          break;
      }
    });

    // Rooms the server closed for good; role and read-only mode.
    const setupRoom = (room: IRoom) => {
      room.connection.refused.connect((_, { kind, reason }) => {
        if (kind === 'unavailable') {
          return; // one warning for all documents, below
        }
        const actions: Notification.IAction[] = [];
        const reopen: Notification.IAction = {
          label: trans.__('Reopen'),
          caption: trans.__('Close the document and open it again from the server (unsaved changes in this window are lost)'),
          callback: () => {
            const path = room.path;
            for (const w of widgetsOfRoom(room)) {
              w.context.model.dirty = false;
              w.dispose();
            }
            void app.commands.execute('docmanager:open', { path });
          }
        };
        if (kind === 'server-reset' || kind === 'unknown-room' || kind === 'too-large' || kind === 'malformed') {
          actions.push({
            label: trans.__('Save my version'),
            caption: trans.__('Write this window’s version of the document to disk'),
            callback: () => {
              for (const w of widgetsOfRoom(room)) {
                void w.context.save();
              }
            }
          });
          actions.push(reopen);
        } else if (kind === 'diverged') {
          // Never "save my version": this copy holds edits the room refused.
          actions.push(reopen);
        }
        Notification.error(refusalMessage(kind, room.path, reason, trans), {
          autoClose: false,
          actions
        });
      });
      room.connection.localChangeDropped.connect(() => {
        // Only when the person did something: automatic changes (such as
        // the kernel's metadata) are dropped silently.
        const recent = widgetsOfRoom(room).some(
          w => Date.now() - (lastInput.get(w) ?? 0) < 2000
        );
        if (recent && !refusedOnce.has(room.id)) {
          refusedOnce.add(room.id);
          Notification.warning(
            trans.__(
              'You may only view “%1”: your changes are not shared and are lost when you reopen it.',
              PathExt.basename(room.path)
            ),
            { autoClose: 8000 }
          );
        }
      });
      room.connection.changesDiscarded.connect(() => {
        // Told only if the person had tried to edit (automatic changes, such
        // as the kernel's metadata, are undone silently).
        if (refusedOnce.has(room.id)) {
          Notification.info(
            trans.__(
              'You may edit “%1” now. The changes you tried to make while you could only view it were discarded: they were never shared.',
              PathExt.basename(room.path)
            ),
            { autoClose: 8000 }
          );
        }
      });
      room.connection.roleChanged.connect((_, role) => {
        for (const w of widgetsOfRoom(room)) {
          applyReadOnly(w, !canWrite(role), trans, canComment(role));
        }
        applyKernelRule(room);
      });
      room.connection.refused.connect((_, { kind }) => {
        if (kind === 'forbidden') {
          applyKernelRule(room);
        }
      });
    };
    let warnedUnavailable = false;
    provider.unavailable.connect(() => {
      if (!warnedUnavailable) {
        warnedUnavailable = true;
        Notification.warning(
          trans.__(
            'The jupyter-collab server extension is not enabled on this server: documents open normally but are not shared.'
          ),
          { autoClose: false }
        );
      }
    });
    provider.roomAdded.connect((_, room) => setupRoom(room));
    provider.rooms.forEach(setupRoom);

    /** A loading indicator over a document until its first sync. */
    const showLoading = (widget: IDocumentWidget, room: IRoom) => {
      if (room.connection.state.everSynced) {
        return;
      }
      const overlay = new LoadingOverlay(widget.node);
      widget.addClass('jp-collab-mod-loading');
      let revealed = false;
      const update = () => {
        if (widget.isDisposed) {
          return;
        }
        const view = describeLoading(
          room.connection.state,
          PathExt.basename(room.path),
          revealed,
          trans
        );
        overlay.show(view);
        if (!view.visible && (revealed || room.connection.state.status === 'closed')) {
          done();
        }
      };
      const done = () => {
        room.connection.stateChanged.disconnect(update);
        widget.disposed.disconnect(done);
        widget.removeClass('jp-collab-mod-loading');
        overlay.dispose();
      };
      room.connection.stateChanged.connect(update);
      widget.disposed.connect(done);
      widget.revealed
        .then(() => {
          revealed = true;
          update();
        })
        .catch(() => {
          revealed = true;
          update();
        });
      update();
    };

    const onWidget = (widget: IDocumentWidget) => {
      const room = roomForWidget(widget);
      if (!room) {
        return;
      }
      const markInput = () => lastInput.set(widget, Date.now());
      widget.node.addEventListener('keydown', markInput, true);
      widget.node.addEventListener('pointerdown', markInput, true);
      widget.node.addEventListener('paste', markInput, true);
      widget.node.addEventListener('drop', markInput, true);
      widget.addClass('jp-collab-mod-collaborative');
      showLoading(widget, room);
      if (widget instanceof NotebookPanel) {
        const unblock = blockDropsWhenReadOnly(widget.content.node, widget.content);
        const cells = new CellPresence({
          notebook: widget.content,
          room,
          trans,
          onSelect: person => revealCollaborator(widget, [person.clientId]),
          refresh: presence.changed
        });
        kernelGates.set(
          widget,
          new KernelGate(widget.context.sessionContext as any, () =>
            kernelBlocked(roomForWidget(widget))
          )
        );
        widget.toggleClass('jp-collab-mod-noKernel', kernelBlocked(room));
        widget.disposed.connect(() => {
          unblock();
          cells.dispose();
        });
      }
      if (room.connection.role !== null) {
        applyReadOnly(
          widget,
          !canWrite(room.connection.role),
          trans,
          canComment(room.connection.role)
        );
      }
      const avatars = new DocumentAvatars({
        tracker: presence,
        room: () => roomForWidget(widget),
        trans,
        onSelect: c => revealCollaborator(widget, c.clientIds),
        max: () => settings.get('toolbarAvatars')
      });
      if (!widget.toolbar.insertAfter('spacer', 'jupyter-collab-avatars', avatars)) {
        widget.toolbar.addItem('jupyter-collab-spacer', Toolbar.createSpacerItem());
        widget.toolbar.addItem('jupyter-collab-avatars', avatars);
      }
    };
    notebookTracker?.widgetAdded.connect((_, w) => onWidget(w));
    editorTracker?.widgetAdded.connect((_, w) => onWidget(w));

    return { provider, presence, settings, roomForWidget };
  }
};

/**
 * Remote cursors and selections in editors.
 */
const cursorsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:cursors',
  description: 'Shows the cursors and selections of the other people.',
  autoStart: true,
  requires: [IEditorExtensionRegistry],
  activate: (app: JupyterFrontEnd, extensions: IEditorExtensionRegistry) => {
    extensions.addExtension({
      name: 'jupyter-collab:remote-cursors',
      factory: options => {
        const shared = options.model.sharedModel as any;
        const ytext = shared?.ysource;
        const awareness = shared?.awareness;
        if (!ytext || !awareness || typeof awareness.getStates !== 'function') {
          return null;
        }
        return EditorExtensionRegistry.createImmutableExtension(
          remoteCursors({ ytext, awareness })
        );
      }
    });
  }
};

/**
 * The connection indicator in the status bar.
 */
const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:status',
  description: 'Shows whether the current document is connected.',
  autoStart: true,
  requires: [ICollab, IStatusBar],
  optional: [ITranslator, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    collab: ICollab,
    statusBar: IStatusBar,
    translator: ITranslator | null,
    labShell: ILabShell | null
  ) => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const { provider } = collab;
    const currentRooms = (): IRoom[] => {
      const room = collab.roomForWidget(app.shell.currentWidget);
      if (room) {
        return [room];
      }
      return [...provider.rooms];
    };
    const indicator = new ConnectionIndicator({
      trans,
      onActivate: () => {
        for (const room of currentRooms()) {
          room.connection.reconnectNow();
        }
      }
    });
    const refresh = () => {
      indicator.update_(combine(currentRooms().map(r => r.connection.state)));
    };
    const watch = (room: IRoom) => {
      room.connection.stateChanged.connect(refresh);
    };
    provider.rooms.forEach(watch);
    provider.roomAdded.connect((_, room) => {
      watch(room);
      refresh();
    });
    provider.roomRemoved.connect(refresh);
    labShell?.currentChanged.connect(refresh);
    statusBar.registerStatusItem('jupyter-collab:connection', {
      item: indicator,
      align: 'left',
      rank: 5,
      isActive: () => provider.rooms.length > 0
    });
    refresh();
  }
};

/**
 * The collaborators side panel.
 */
const collaboratorsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:collaborators',
  description: 'Lists the people in your documents; click to open theirs.',
  autoStart: true,
  requires: [ICollab],
  optional: [ITranslator, ILabShell, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    collab: ICollab,
    translator: ITranslator | null,
    labShell: ILabShell | null,
    palette: ICommandPalette | null
  ) => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const unnamed = trans.__('Anonymous');
    const currentDocument = (): IDocumentWidget | null => {
      const widget = app.shell.currentWidget;
      return isDocumentWidget(widget) ? widget : null;
    };
    /** Open a document and resolve with its widget once it shows content. */
    const openDocument = async (path: string): Promise<IDocumentWidget | null> => {
      const widget = await app.commands.execute('docmanager:open', { path });
      if (isDocumentWidget(widget)) {
        await widget.context.ready;
        await widget.revealed;
        return widget;
      }
      return null;
    };
    const follow = new FollowController({
      collaborators: () => collab.presence.collaborators(unnamed),
      statesOf: c => collab.presence.statesOf(c),
      changed: collab.presence.changed,
      currentPath: () => currentDocument()?.context.path ?? null,
      open: async path => {
        await openDocument(path);
      },
      reveal: c => {
        const widget = currentDocument();
        if (widget) {
          revealCollaborator(widget, c.clientIds);
        }
      }
    });
    const onEscape = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && follow.following !== null) {
        follow.stop();
      }
    };
    follow.changed.connect((_, { key, reason }) => {
      const body = document.body;
      if (key === null) {
        body.classList.remove('jp-collab-mod-following');
        body.style.removeProperty('--jp-collab-follow-color');
        document.removeEventListener('keydown', onEscape, true);
        if (reason === 'left') {
          Notification.info(
            trans.__('The person you followed closed the shared documents; following stopped.'),
            { autoClose: 5000 }
          );
        }
        return;
      }
      const person = collab.presence.collaborators(unnamed).find(p => p.key === key);
      body.classList.add('jp-collab-mod-following');
      if (person) {
        body.style.setProperty('--jp-collab-follow-color', person.color);
      }
      document.addEventListener('keydown', onEscape, true);
    });
    const panel = new CollaboratorsPanel({
      tracker: collab.presence,
      trans,
      follow,
      open: (path, c) => {
        void openDocument(path)
          .then(widget => {
            if (widget) {
              revealCollaborator(widget, c.clientIds);
            }
          })
          .catch(() => undefined);
      }
    });
    app.shell.add(panel, 'right', { rank: 300 });

    // Tell the others which document we are looking at.
    const publishCurrent = () => {
      const widget = app.shell.currentWidget;
      const path = isDocumentWidget(widget) ? widget.context.path : null;
      collab.provider.setLocalAwarenessField('current', path);
    };
    labShell?.currentChanged.connect(publishCurrent);
    collab.provider.roomAdded.connect(publishCurrent);

    const command = 'jupyter-collab:show-collaborators';
    app.commands.addCommand(command, {
      label: trans.__('Show Collaborators'),
      caption: trans.__('Show the people working on your open documents'),
      execute: () => {
        app.shell.activateById(panel.id);
        const first = panel.node.querySelector('button');
        (first as HTMLElement | null)?.focus();
      }
    });
    palette?.addItem({ command, category: trans.__('Collaboration') });

    const stopCommand = 'jupyter-collab:stop-following';
    app.commands.addCommand(stopCommand, {
      label: trans.__('Stop Following'),
      caption: trans.__('Stop following a collaborator'),
      isEnabled: () => follow.following !== null,
      execute: () => follow.stop()
    });
    palette?.addItem({ command: stopCommand, category: trans.__('Collaboration') });
  }
};

const plugins: JupyterFrontEndPlugin<any>[] = [
  roomsPlugin,
  cursorsPlugin,
  statusPlugin,
  collaboratorsPlugin,
  historyPlugin,
  notificationsPlugin,
  sharingPlugin,
  userNotificationsPlugin,
  commentsPlugin
];

export default plugins;
