/**
 * The per-user notification stream (docs/notifications.md): pushed by the
 * server over `/api/collab/notifications/ws` as it happens (no polling while
 * that socket is up; polled every `notificationPollInterval` ms while it is
 * down); shown in JupyterLab's notification center with an "Open" action,
 * then marked read on the server. The bell in the status bar shows the
 * unread count, and its menu leads to the e-mail preferences.
 *
 * Restores of documents that are open here arrive as room notices (shown by
 * the history plugin's notifications): the stream's copy is not shown again.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, Notification, showDialog } from '@jupyterlab/apputils';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Menu } from '@lumino/widgets';

import { IRoom, roomIdOf } from '../contentprovider';
import { SharingClient, SharingError } from '../sharing/api';
import { DOMAIN, ICollab } from '../tokens';
import { NotificationBell } from './bell';
import { RestoreNoticeLog, pickShown, streamNotification } from './mapping';
import { PreferencesForm } from './preferences';
import { IPushSocketLike, NotificationFeed } from './push';

const CMD_SHOW = 'jupyter-collab:show-notifications';
const CMD_READ = 'jupyter-collab:mark-notifications-read';
const CMD_PREFS = 'jupyter-collab:notification-preferences';

/** The comments plugin's command that opens a document on one of its threads. */
const OPEN_THREAD = 'jupyter-collab:open-comment-thread';

export const userNotificationsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:user-notifications',
  description:
    'Shows your notifications (documents shared with you, restores) in the notification center.',
  autoStart: true,
  requires: [ICollab],
  optional: [ITranslator, IStatusBar, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    collab: ICollab,
    translator: ITranslator | null,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null
  ) => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const { provider } = collab;
    const contents = app.serviceManager.contents;
    const client = new SharingClient(provider.serverSettings);
    const restores = new RestoreNoticeLog();

    const openDocuments = () => {
      const rooms = new Set<string>();
      const paths = new Set<string>();
      for (const room of provider.rooms) {
        const id = roomIdOf(room);
        if (id) {
          rooms.add(id);
        }
        paths.add(room.path);
      }
      return { rooms, paths };
    };

    const open = async (path: string) => {
      try {
        const model = await contents.get(path, { content: false });
        if (model.type === 'directory') {
          await app.commands.execute('filebrowser:go-to-path', { path: `/${path}` });
        } else {
          await app.commands.execute('docmanager:open', { path });
        }
      } catch (err) {
        Notification.error(
          trans.__('“%1” cannot be opened: %2', path, String((err as Error)?.message ?? err)),
          { autoClose: 8000 }
        );
      }
    };

    const bell = new NotificationBell({
      trans,
      onActivate: anchor => {
        const box = anchor.getBoundingClientRect();
        menu.open(box.left, box.top - 4, { forceY: false });
      }
    });
    const feed = new NotificationFeed({
      api: client,
      connect: after => new WebSocket(client.pushUrl(after)) as unknown as IPushSocketLike,
      interval: collab.settings.get('notificationPollInterval'),
      isHidden: () => document.visibilityState === 'hidden',
      onUnread: unread => bell.show_(unread, feed.connected),
      onConnected: connected => bell.show_(feed.unread, connected),
      deliver: list => {
        const open_ = openDocuments();
        const specs = list
          .filter(n => !restores.isDuplicate(n, open_))
          .map(n => ({ id: n.id, spec: streamNotification(n, trans) }));
        const { shown, more } = pickShown(specs);
        if (more > 0) {
          Notification.info(
            trans._n(
              '%1 earlier notification about shared documents was not shown.',
              '%1 earlier notifications about shared documents were not shown.',
              more
            ),
            { autoClose: 10000 }
          );
        }
        for (const { spec } of shown) {
          const path = spec.open;
          Notification.emit(spec.message, spec.type, {
            autoClose: spec.autoClose,
            actions: path
              ? [
                  {
                    label: trans.__('Open'),
                    caption: trans.__('Open “%1”', path),
                    callback: () =>
                      void (spec.thread && app.commands.hasCommand(OPEN_THREAD)
                        ? app.commands.execute(OPEN_THREAD, { path, thread: spec.thread })
                        : open(path))
                  }
                ]
              : []
          });
        }
      }
    });

    // Room notices: remember restores; a role changed live means a share
    // changed: fetch its notification now.
    provider.noticeReceived.connect((_, { room, notice }) => {
      if (notice.type === 'restored') {
        restores.add(roomIdOf(room), notice.path ?? room.path, notice.version);
      }
    });
    const roles = new WeakMap<IRoom, string | null>();
    const watch = (room: IRoom) => {
      roles.set(room, room.connection.role);
      room.connection.roleChanged.connect((_, role) => {
        const before = roles.get(room) ?? null;
        roles.set(room, role);
        if (before !== null && before !== role && !feed.connected) {
          // (with the socket up, its notification is pushed)
          void feed.check();
          // The notification may be stored just after the notice.
          setTimeout(() => void feed.check(), 1500);
        }
      });
    };
    provider.rooms.forEach(watch);
    provider.roomAdded.connect((_, room) => watch(room));

    collab.settings.changed.connect((_, keys) => {
      if (keys.includes('notificationPollInterval')) {
        feed.poller.setInterval(collab.settings.get('notificationPollInterval'));
      }
    });
    window.addEventListener('focus', () => void feed.check());
    document.addEventListener('visibilitychange', () => feed.poller.visibilityChanged());

    // The bell's menu and its commands.
    app.commands.addCommand(CMD_SHOW, {
      label: trans.__('Show Notifications'),
      isEnabled: () => app.commands.hasCommand('apputils:display-notifications'),
      execute: () => app.commands.execute('apputils:display-notifications')
    });
    app.commands.addCommand(CMD_READ, {
      label: trans.__('Mark All Notifications Read'),
      isEnabled: () => feed.unread > 0,
      execute: async () => {
        try {
          await feed.markAllRead();
        } catch (err) {
          Notification.error(
            trans.__('Notifications could not be marked read: %1', String((err as Error)?.message ?? err)),
            { autoClose: 8000 }
          );
        }
      }
    });
    app.commands.addCommand(CMD_PREFS, {
      label: trans.__('E-mail Notifications…'),
      caption: trans.__('Choose which notifications also reach you by e-mail'),
      execute: () => editPreferences()
    });
    const menu = new Menu({ commands: app.commands });
    menu.addClass('jp-collab-NotificationMenu');
    menu.addItem({ command: CMD_SHOW });
    menu.addItem({ command: CMD_READ });
    menu.addItem({ type: 'separator' });
    menu.addItem({ command: CMD_PREFS });
    if (palette) {
      const category = trans.__('Collaboration');
      palette.addItem({ command: CMD_PREFS, category });
      palette.addItem({ command: CMD_READ, category });
    }
    if (statusBar) {
      statusBar.registerStatusItem('jupyter-collab:notifications', {
        item: bell,
        align: 'right',
        rank: -1
      });
    }

    const editPreferences = async (): Promise<void> => {
      let prefs;
      try {
        prefs = await client.preferences();
      } catch (err) {
        Notification.error(
          trans.__('Your e-mail preferences cannot be read: %1', String((err as Error)?.message ?? err)),
          { autoClose: 8000 }
        );
        return;
      }
      let error = '';
      let typed: { kinds: string[]; email: string } | undefined;
      // Ask again with the server's reason until it accepts or the user cancels.
      for (;;) {
        const form = new PreferencesForm(prefs, trans, typed);
        form.showError(error);
        const result = await showDialog({
          title: trans.__('E-mail Notifications'),
          body: form,
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: trans.__('Save') })]
        });
        if (!result.button.accept || !result.value) {
          return;
        }
        const change = result.value;
        typed = form.chosen;
        if (!Object.keys(change).length) {
          return;
        }
        try {
          await client.setPreferences(change);
          Notification.success(trans.__('E-mail preferences saved.'), { autoClose: 4000 });
          return;
        } catch (err) {
          if (err instanceof SharingError && err.status === 400) {
            error = err.message;
            continue;
          }
          Notification.error(
            trans.__('Your e-mail preferences could not be saved: %1', String((err as Error)?.message ?? err)),
            { autoClose: 8000 }
          );
          return;
        }
      }
    };

    void app.restored.then(() => feed.start());
  }
};
