/**
 * Comments in JupyterLab (docs/comments-api.md): the comments side panel of
 * the current document, inline markers (cell badges, highlighted ranges and
 * a gutter in text editors), "Comment" on the selection or the current cell
 * (context menu, palette, Accel+Alt+M), mention completion and the offer to
 * share with mentioned people who cannot read the document; live through
 * the room's `comments` notice.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog } from '@jupyterlab/apputils';
import {
  EditorExtensionRegistry,
  IEditorExtensionRegistry
} from '@jupyterlab/codemirror';
import { IDocumentWidget } from '@jupyterlab/docregistry';
import { FileEditor } from '@jupyterlab/fileeditor';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import * as Y from 'yjs';

import { IRoom, roomIdOf } from '../contentprovider';
import { HistoryUsers } from '../history/people';
import { IAwarenessUser } from '../presencemodel';
import { canComment } from '../protocol';
import { SharingClient } from '../sharing/api';
import { errorText } from '../sharing/model';
import { DOMAIN, ICollab } from '../tokens';
import { CommentsClient, IThread } from './api';
import { cellAnchor, lineAround, textAnchor } from './anchor';
import { CellCommentBadges, ICellThreads, IMarkerSource, commentMarkers } from './markers';
import { CommentsModel } from './model';
import { CommentsPanel, IPendingThread } from './panel';
import { documentLike, placeOf, rangesIn, threadsByCell } from './places';

export const COMMENT_COMMAND = 'jupyter-collab:comment';
export const SHOW_COMMENTS_COMMAND = 'jupyter-collab:show-comments';
export const OPEN_THREAD_COMMAND = 'jupyter-collab:open-comment-thread';

const COMMENT_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm2 5v2h12V8H6zm0 4v2h8v-2H6z"/>
</svg>`;

export const commentIcon = new LabIcon({ name: 'jupyter-collab:comment', svgstr: COMMENT_SVG });

function isDocumentWidget(widget: Widget | null): widget is IDocumentWidget {
  return !!widget && !!(widget as IDocumentWidget).context?.model;
}

/** Keys of a binding as people read them ("Ctrl+Alt+M", "⌘+⌥+M" on a Mac). */
function shortcutLabel(keys: readonly string[]): string {
  const mac = typeof navigator !== 'undefined' && /Mac/.test(navigator.platform);
  const names: Record<string, string> = mac
    ? { Accel: '⌘', Cmd: '⌘', Alt: '⌥', Shift: '⇧', Ctrl: '⌃' }
    : { Accel: 'Ctrl', Cmd: 'Ctrl' };
  return keys
    .map(stroke =>
      stroke
        .split(/\s+/)
        .filter(Boolean)
        .map(k => names[k] ?? k)
        .join('+')
    )
    .join(', ');
}

export const commentsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:comments',
  description:
    'Comment threads on cells and text: a side panel, inline markers, mentions, resolve and reopen.',
  autoStart: true,
  requires: [ICollab],
  optional: [
    ITranslator,
    ILabShell,
    ICommandPalette,
    INotebookTracker,
    IEditorExtensionRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    collab: ICollab,
    translator: ITranslator | null,
    labShell: ILabShell | null,
    palette: ICommandPalette | null,
    notebookTracker: INotebookTracker | null,
    extensions: IEditorExtensionRegistry | null
  ) => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const { provider } = collab;
    const client = new CommentsClient(provider.serverSettings);
    const sharing = new SharingClient(provider.serverSettings);
    const users = new HistoryUsers();
    const self = () => provider.identity?.username ?? null;

    // ---- one model per open room ------------------------------------------

    const models = new Map<IRoom, CommentsModel>();
    /** Any model changed (markers redraw). */
    const anyChanged = new Signal<object, void>(models);
    const documentOf = (room: IRoom) => ({
      path: room.path,
      room: roomIdOf(room),
      canComment: room.connection.role === null ? false : canComment(room.connection.role),
      isOwner: room.connection.role === 'owner',
      self: self()
    });
    const modelOf = (room: IRoom | null): CommentsModel | null => {
      if (!room || !roomIdOf(room)) {
        return null;
      }
      let model = models.get(room);
      if (!model) {
        const created = new CommentsModel(client, documentOf(room), { users });
        created.changed.connect(() => anyChanged.emit());
        models.set(room, created);
        model = created;
        void created.refresh();
      }
      return model;
    };
    const roomOfDoc = (ydoc: Y.Doc | null): IRoom | null => {
      if (!ydoc) {
        return null;
      }
      for (const room of provider.rooms) {
        if (!room.sharedModel.isDisposed && (room.sharedModel as any).ydoc === ydoc) {
          return room;
        }
      }
      return null;
    };
    const watchRoom = (room: IRoom) => {
      const update = () => {
        const model = models.get(room);
        if (model) {
          model.setDocument(documentOf(room));
        } else {
          modelOf(room);
        }
        if (room === current) {
          showCurrent();
        }
      };
      room.connection.sessionChanged.connect(update);
      room.connection.roleChanged.connect(update);
      if (roomIdOf(room)) {
        update();
      }
    };
    provider.rooms.forEach(watchRoom);
    provider.roomAdded.connect((_, room) => watchRoom(room));
    provider.roomRemoved.connect((_, room) => {
      models.get(room)?.dispose();
      models.delete(room);
      if (room === current) {
        current = null;
        onCurrentChanged();
      }
    });
    provider.noticeReceived.connect((_, { room, notice }) => {
      const model = models.get(room);
      if (!model) {
        return;
      }
      if (notice.type === 'renamed') {
        model.setDocument(documentOf(room));
        if (room === current) {
          showCurrent();
        }
      }
      model.handleNotice(notice);
    });

    // Everybody seen in a room, by username (names and colours).
    const seen = new Map<string, IAwarenessUser>();
    const knownUsers = (): ReadonlyMap<string, IAwarenessUser> => {
      for (const room of provider.rooms) {
        if (room.sharedModel.isDisposed) {
          continue;
        }
        room.sharedModel.awareness.getStates().forEach((state: any) => {
          const user = state?.user as IAwarenessUser | undefined;
          if (user?.username) {
            seen.set(user.username, user);
          }
        });
      }
      const me = provider.identity;
      if (me?.username) {
        seen.set(me.username, me);
      }
      return users.known(seen);
    };

    // ---- the panel ---------------------------------------------------------

    let current: IRoom | null = null;
    const panel: CommentsPanel = new CommentsPanel({
      trans,
      knownUsers,
      placeOf: thread => {
        const room = current;
        if (!room || room.sharedModel.isDisposed) {
          return { label: '', detached: thread.detached, position: null, text: null };
        }
        return placeOf(thread, documentLike(room.sharedModel), trans);
      },
      reveal: thread => {
        if (current) {
          revealThread(current, thread);
        }
      },
      searchUsers: async query => {
        const found = await sharing.searchUsers(query, 8);
        return found.map(u => ({
          username: u.username,
          label: u.display_name || u.name || u.username,
          initials: u.initials,
          color: u.color
        }));
      },
      share: async (people, role): Promise<string | null> => {
        const path: string | undefined = current?.path;
        if (!path) {
          return trans.__('No document to share.');
        }
        try {
          for (const user of people) {
            await sharing.setShare(path, user, role);
          }
          return null;
        } catch (err) {
          return errorText(err, path, trans);
        }
      },
      confirm: async message => {
        const result = await showDialog({
          title: trans.__('Delete the comment?'),
          body: message,
          buttons: [
            Dialog.cancelButton({ label: trans.__('Cancel') }),
            Dialog.warnButton({ label: trans.__('Delete') })
          ]
        });
        return result.button.accept;
      },
      searchDelay: () => collab.settings.get('userSearchDelay'),
      shortcut: () => {
        const binding = app.commands.keyBindings.find(b => b.command === COMMENT_COMMAND);
        return binding ? shortcutLabel(binding.keys) : '';
      }
    });
    panel.title.icon = commentIcon;
    app.shell.add(panel, 'right', { rank: 305 });

    // The places of threads move as the document is edited: redraw the
    // panel a moment after changes to the current document. (A transaction
    // listener: an `update` listener would make Yjs encode every change.)
    let placesPending = 0;
    let watchedDoc: Y.Doc | null = null;
    const schedulePlaces = () => {
      if (!placesPending && panel.isVisible) {
        placesPending = window.setTimeout(() => {
          placesPending = 0;
          panel.refresh();
        }, 300);
      }
    };
    const watchPlaces = (room: IRoom | null) => {
      const ydoc = room && !room.sharedModel.isDisposed ? ((room.sharedModel as any).ydoc as Y.Doc) : null;
      if (ydoc === watchedDoc) {
        return;
      }
      watchedDoc?.off('afterTransaction', schedulePlaces);
      watchedDoc = ydoc;
      watchedDoc?.on('afterTransaction', schedulePlaces);
    };
    const showCurrent = () => {
      watchPlaces(current);
      panel.setModel(modelOf(current));
      panel.refresh();
    };
    const onCurrentChanged = () => {
      const room = collab.roomForWidget(app.shell.currentWidget);
      // Keep the last document while something else (a launcher, a
      // terminal) is in front; forget it when it is closed.
      if (room || !current || current.sharedModel.isDisposed) {
        current = room;
        showCurrent();
      }
    };
    labShell?.currentChanged.connect(onCurrentChanged);
    provider.roomAdded.connect(() => setTimeout(onCurrentChanged, 0));
    onCurrentChanged();

    // ---- widgets: badges, revealing a thread -------------------------------

    const widgetsOf = (room: IRoom): IDocumentWidget[] =>
      Array.from(app.shell.widgets('main')).filter(
        (w): w is IDocumentWidget => isDocumentWidget(w) && collab.roomForWidget(w) === room
      );

    const revealThread = (room: IRoom, thread: IThread) => {
      const widget = widgetsOf(room)[0];
      if (!widget) {
        return;
      }
      const place = placeOf(thread, documentLike(room.sharedModel), trans);
      if (place.detached) {
        return;
      }
      if (widget instanceof NotebookPanel) {
        const notebook = widget.content;
        const index = notebook.widgets.findIndex(c => c.model.id === place.cell);
        if (index < 0) {
          return;
        }
        notebook.activeCellIndex = index;
        void notebook.scrollToItem(index, 'smart').catch(() => undefined);
        const cell = notebook.widgets[index];
        if (place.resolved.kind === 'range') {
          const editor = cell.editor;
          if (editor) {
            editor.setSelection({
              start: editor.getPositionAt(place.resolved.from)!,
              end: editor.getPositionAt(place.resolved.to)!
            });
            editor.revealSelection?.(editor.getSelection());
          }
        }
      } else if (widget.content instanceof FileEditor && place.resolved.kind === 'range') {
        const editor = widget.content.editor;
        const start = editor.getPositionAt(place.resolved.from);
        const end = editor.getPositionAt(place.resolved.to);
        if (start && end) {
          editor.setSelection({ start, end });
          editor.revealSelection?.({ start, end, uuid: '' } as any);
        }
      }
    };

    const openThread = (room: IRoom, threadId: string) => {
      const model = modelOf(room);
      if (!model) {
        return;
      }
      if (room !== current) {
        current = room;
        showCurrent();
      }
      app.shell.activateById(panel.id);
      panel.showThread(threadId);
    };

    const setupNotebook = (widget: NotebookPanel) => {
      let badges: CellCommentBadges | null = null;
      const start = () => {
        const room = collab.roomForWidget(widget);
        if (badges || !room || widget.isDisposed) {
          return;
        }
        badges = new CellCommentBadges({
          notebook: widget.content,
          trans,
          changed: anyChanged,
          open: thread => openThread(room, thread),
          threadsOf: () => {
            const model = models.get(room);
            const result = new Map<string, ICellThreads>();
            if (!model || room.sharedModel.isDisposed) {
              return result;
            }
            const byCell = threadsByCell(model.threads, documentLike(room.sharedModel));
            for (const [cell, ids] of byCell) {
              result.set(cell, {
                count: ids.length,
                first: ids[0],
                label: trans._n(
                  '%1 open comment thread on this cell: show it',
                  '%1 open comment threads on this cell: show them',
                  ids.length
                )
              });
            }
            return result;
          }
        });
        modelOf(room);
      };
      void widget.context.ready.then(start);
      provider.roomAdded.connect(start);
      widget.disposed.connect(() => {
        provider.roomAdded.disconnect(start);
        badges?.dispose();
      });
    };
    notebookTracker?.widgetAdded.connect((_, w) => setupNotebook(w));

    // ---- markers in editors -----------------------------------------------

    const source: IMarkerSource = {
      changed: anyChanged,
      rangesOf: ytext => {
        const room = roomOfDoc(ytext.doc);
        const model = room ? models.get(room) : undefined;
        if (!room || !model || !model.threads.some(t => t.anchor.start && !t.resolved)) {
          return []; // (no range to show: no search for the cell)
        }
        const doc = documentLike(room.sharedModel);
        if (doc.cells) {
          const cell = doc.cells.find(c => c.ysource === ytext);
          return cell ? rangesIn(model.threads, ytext, cell.id) : [];
        }
        return doc.text === ytext ? rangesIn(model.threads, ytext, null) : [];
      },
      open: thread => {
        for (const [room, model] of models) {
          if (model.thread(thread)) {
            openThread(room, thread);
            return;
          }
        }
      },
      describe: threads =>
        trans._n('%1 comment thread: show it', '%1 comment threads: show them', threads.length)
    };
    extensions?.addExtension({
      name: 'jupyter-collab:comment-markers',
      factory: options => {
        const shared = options.model.sharedModel as any;
        const ytext = shared?.ysource;
        if (!(ytext instanceof Y.Text)) {
          return null;
        }
        const isCell = typeof shared.cell_type === 'string';
        return EditorExtensionRegistry.createImmutableExtension(
          commentMarkers(ytext, source, !isCell)
        );
      }
    });

    // ---- commands ----------------------------------------------------------

    /** The thread the command would make in the current document. */
    const pendingThread = (): { room: IRoom; pending: IPendingThread } | null => {
      const widget = app.shell.currentWidget;
      const room = collab.roomForWidget(widget);
      if (!room || !isDocumentWidget(widget)) {
        return null;
      }
      if (widget instanceof NotebookPanel) {
        const notebook = widget.content;
        const cell = notebook.activeCell;
        if (!cell) {
          return null;
        }
        const number = notebook.activeCellIndex + 1;
        const editor = cell.editor;
        const ysource = (cell.model.sharedModel as any).ysource;
        if (editor && notebook.mode === 'edit' && ysource instanceof Y.Text) {
          const sel = editor.getSelection();
          const a = editor.getOffsetAt(sel.start);
          const b = editor.getOffsetAt(sel.end);
          if (a !== b) {
            const anchor = textAnchor(ysource, a, b, cell.model.id);
            const place = placeOf(
              { anchor, id: '', resolved: false, resolvedBy: null, resolvedAt: null, detached: false, room: null, author: '', created: '', comments: [] },
              documentLike(room.sharedModel),
              trans
            );
            return { room, pending: { anchor, label: place.label, quote: anchor.quote } };
          }
        }
        const source = cell.model.sharedModel.getSource();
        return {
          room,
          pending: {
            anchor: cellAnchor(cell.model.id),
            label: trans.__('Cell %1', number),
            quote: source.length > 200 ? source.slice(0, 199) + '…' : source || null
          }
        };
      }
      if (widget.content instanceof FileEditor) {
        const editor = widget.content.editor;
        const ytext = (room.sharedModel as any).ysource;
        if (!(ytext instanceof Y.Text)) {
          return null;
        }
        const sel = editor.getSelection();
        let a = editor.getOffsetAt(sel.start);
        let b = editor.getOffsetAt(sel.end);
        if (a === b) {
          ({ from: a, to: b } = lineAround(ytext.toString(), a));
        }
        if (a === b) {
          // an empty line: a thread on the whole document
          return { room, pending: { anchor: null, label: trans.__('The whole document'), quote: null } };
        }
        const anchor = textAnchor(ytext, a, b, null);
        const place = placeOf(
          { anchor, id: '', resolved: false, resolvedBy: null, resolvedAt: null, detached: false, room: null, author: '', created: '', comments: [] },
          documentLike(room.sharedModel),
          trans
        );
        return { room, pending: { anchor, label: place.label, quote: anchor.quote } };
      }
      return null;
    };

    app.commands.addCommand(COMMENT_COMMAND, {
      label: trans.__('Comment'),
      caption: trans.__('Comment on the selected text, or on the current cell or line'),
      icon: args => (args?.source === 'palette' ? undefined : commentIcon),
      isEnabled: () => {
        const room = collab.roomForWidget(app.shell.currentWidget);
        return !!room && canComment(room.connection.role) && room.connection.role !== null;
      },
      execute: () => {
        const found = pendingThread();
        if (!found) {
          return;
        }
        current = found.room;
        showCurrent();
        app.shell.activateById(panel.id);
        panel.startThread(found.pending);
      }
    });
    app.commands.addCommand(SHOW_COMMENTS_COMMAND, {
      label: trans.__('Show Comments'),
      caption: trans.__('The comment threads of the current document'),
      execute: () => {
        app.shell.activateById(panel.id);
        panel.node.querySelector<HTMLElement>('button[aria-pressed="true"], button')?.focus();
      }
    });
    app.commands.addCommand(OPEN_THREAD_COMMAND, {
      label: trans.__('Open Comment Thread'),
      caption: trans.__('Open a document and show one of its comment threads'),
      execute: async args => {
        const path = typeof args?.path === 'string' ? args.path : null;
        const thread =
          typeof args?.thread === 'string' || typeof args?.thread === 'number'
            ? String(args.thread)
            : null;
        if (!path) {
          return;
        }
        const widget = await app.commands.execute('docmanager:open', { path });
        if (!isDocumentWidget(widget)) {
          return;
        }
        await widget.context.ready;
        const room = collab.roomForWidget(widget);
        if (!room) {
          return;
        }
        await room.connection.synced.catch(() => undefined);
        const model = modelOf(room);
        if (!model) {
          return;
        }
        if (!thread || !model.thread(thread)) {
          await model.refresh();
        }
        current = room;
        showCurrent();
        app.shell.activateById(panel.id);
        if (thread && model.thread(thread)) {
          panel.showThread(thread);
          const t = model.thread(thread)!;
          revealThread(room, t);
        }
      }
    });
    const category = trans.__('Collaboration');
    palette?.addItem({ command: COMMENT_COMMAND, category, args: { source: 'palette' } });
    palette?.addItem({ command: SHOW_COMMENTS_COMMAND, category });
    app.contextMenu.addItem({
      command: COMMENT_COMMAND,
      selector: '.jp-Notebook .jp-Cell',
      rank: 12
    });
    app.contextMenu.addItem({
      command: COMMENT_COMMAND,
      selector: '.jp-FileEditor',
      rank: 12
    });
  }
};
