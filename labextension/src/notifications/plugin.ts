/**
 * The per-user notification stream (docs/notifications.md): pushed by the
 * server over `/api/collab/notifications/ws` as it happens (no polling while
 * that socket is up; polled every `notificationPollInterval` ms while it is
 * down); shown in JupyterLab's notification center with "Open" and "Mark
 * Read" actions. A notification stays unread until the person opens it or
 * marks it read (one, or all from the bell's menu), not when its pop-up
 * shows; the bell in the status bar shows the unread count, which the
 * server pushes to every tab of the user, and its menu leads to the e-mail
 * preferences.
 *
 * Notifications that were there before the page opened go to the
 * notification center without a pop-up each (JupyterLab's `autoClose: 0`).
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

/** At most this many notifications from before the page opened are listed. */
const MAX_EARLIER = 20;

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
    /** Our notifications in JupyterLab's notification center: stream id -> its id there. */
    const listed = new Map<number, string>();
    const feed = new NotificationFeed({
      api: client,
      connect: after => new WebSocket(client.pushUrl(after)) as unknown as IPushSocketLike,
      interval: collab.settings.get('notificationPollInterval'),
      isHidden: () => document.visibilityState === 'hidden',
      onUnread: unread => {
        bell.show_(unread, feed.connected);
        if (unread === 0) {
          // all read (here, in another tab, on another server): the
          // notification center keeps none of ours
          for (const entry of listed.values()) {
            Notification.dismiss(entry);
          }
          listed.clear();
        }
      },
      onConnected: connected => bell.show_(feed.unread, connected),
      deliver: (list, earlier) => {
        const open_ = openDocuments();
        const duplicates = list.filter(n => restores.isDuplicate(n, open_));
        if (duplicates.length) {
          // shown as notices of the open document: they were read there
          void feed.markRead(duplicates.map(n => n.id)).catch(() => undefined);
        }
        const specs = list
          .filter(n => !duplicates.includes(n))
          .map(n => ({ id: n.id, spec: streamNotification(n, trans) }));
        const { shown, more } = pickShown(specs, earlier ? MAX_EARLIER : undefined);
        if (more > 0) {
          Notification.info(
            earlier
              ? trans._n(
                  '%1 more unread notification is not listed: “Mark All Notifications Read” in the collaboration menu of the status bar clears it.',
                  '%1 more unread notifications are not listed: “Mark All Notifications Read” in the collaboration menu of the status bar clears them.',
                  more
                )
              : trans._n(
                  '%1 earlier notification about shared documents was not shown.',
                  '%1 earlier notifications about shared documents were not shown.',
                  more
                ),
            { autoClose: earlier ? 0 : 10000 }
          );
        }
        for (const { id, spec } of shown) {
          const path = spec.open;
          const markRead = () =>
            feed.markRead([id]).then(() => {
              const entry = listed.get(id);
              listed.delete(id);
              if (entry) {
                Notification.dismiss(entry);
              }
            }, err =>
              Notification.error(
                trans.__('The notification could not be marked read: %1', String((err as Error)?.message ?? err)),
                { autoClose: 8000 }
              )
            );
          const actions: Notification.IAction[] = [];
          if (path) {
            actions.push({
              label: trans.__('Open'),
              caption: trans.__('Open “%1” (marks the notification read)', path),
              callback: () => {
                void markRead();
                void (spec.thread && app.commands.hasCommand(OPEN_THREAD)
                  ? app.commands.execute(OPEN_THREAD, { path, thread: spec.thread })
                  : open(path));
              }
            });
          }
          actions.push({
            label: trans.__('Mark Read'),
            caption: trans.__('Mark this notification read'),
            displayType: 'link',
            callback: () => void markRead()
          });
          const entry = Notification.emit(spec.message, spec.type, {
            // (0: into the notification center, without a pop-up)
            autoClose: earlier ? 0 : spec.autoClose,
            actions
          });
          listed.set(id, entry);
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
