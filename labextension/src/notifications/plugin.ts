/**
 * The per-user notification stream (docs/sharing-api.md): polled every 10 s
 * while the page is visible, at once on window focus and when the role in
 * an open document changes; shown in JupyterLab's notification center with
 * an "Open" action, then marked read on the server.
 *
 * Restores of documents that are open here arrive as room notices (shown by
 * the history plugin's notifications): the stream's copy is not shown again.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { IRoom, roomIdOf } from '../contentprovider';
import { SharingClient } from '../sharing/api';
import { DOMAIN, ICollab } from '../tokens';
import { RestoreNoticeLog, pickShown, streamNotification } from './mapping';
import { NotificationPoller } from './poller';

export const userNotificationsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:user-notifications',
  description:
    'Shows your notifications (documents shared with you, restores) in the notification center.',
  autoStart: true,
  requires: [ICollab],
  optional: [ITranslator],
  activate: (app: JupyterFrontEnd, collab: ICollab, translator: ITranslator | null) => {
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

    const poller = new NotificationPoller({
      api: client,
      interval: collab.settings.get('notificationPollInterval'),
      isHidden: () => document.visibilityState === 'hidden',
      deliver: list => {
        const open_ = openDocuments();
        const specs = list
          .filter(n => !restores.isDuplicate(n, open_))
          .map(n => ({ id: n.id, spec: streamNotification(n, trans) }))
          .filter(x => x.spec !== null);
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
        for (const { spec: s } of shown) {
          const spec = s!;
          const path = spec.open;
          Notification.emit(spec.message, spec.type, {
            autoClose: spec.autoClose,
            actions: path
              ? [
                  {
                    label: trans.__('Open'),
                    caption: trans.__('Open “%1”', path),
                    callback: () => void open(path)
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
        if (before !== null && before !== role) {
          void poller.pollNow();
          // The notification may be stored just after the notice.
          setTimeout(() => void poller.pollNow(), 1500);
        }
      });
    };
    provider.rooms.forEach(watch);
    provider.roomAdded.connect((_, room) => watch(room));

    collab.settings.changed.connect((_, keys) => {
      if (keys.includes('notificationPollInterval')) {
        poller.setInterval(collab.settings.get('notificationPollInterval'));
      }
    });
    window.addEventListener('focus', () => void poller.pollNow());
    document.addEventListener('visibilitychange', () => poller.visibilityChanged());
    void app.restored.then(() => poller.start());
  }
};
