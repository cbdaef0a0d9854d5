/**
 * The collaboration "bell" in the status bar (a people icon, so that it is not
 * taken for JupyterLab's own notification bell beside it, whose center shows
 * our notifications as toasts): the unread count of the user's notifications
 * (pushed by the server as it changes) and a menu: show the notification
 * center, mark everything read, choose what also goes by e-mail.
 */
import { usersIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { ITrans } from '../sharing/model';
import { bellText } from './text';

export class NotificationBell extends Widget {
  constructor(options: { trans: ITrans; onActivate: (anchor: HTMLElement) => void }) {
    super({ node: document.createElement('button') });
    this._trans = options.trans;
    const button = this.node as HTMLButtonElement;
    button.type = 'button';
    this.addClass('jp-collab-NotificationBell');
    const icon = usersIcon.element({
      tag: 'span',
      className: 'jp-collab-NotificationBell-icon',
      elementPosition: 'center',
      height: '16px',
      width: '16px'
    });
    icon.setAttribute('aria-hidden', 'true');
    this._count = document.createElement('span');
    this._count.className = 'jp-collab-NotificationBell-count';
    button.appendChild(icon);
    button.appendChild(this._count);
    button.addEventListener('click', () => options.onActivate(button));
    this.show_(0, false);
  }

  /** Show an unread count and whether the socket is up. */
  show_(unread: number, connected: boolean): void {
    const { label, title } = bellText(unread, connected, this._trans);
    this._count.textContent = label;
    this.node.title = title;
    this.node.setAttribute('aria-label', title);
    this.node.classList.toggle('jp-mod-unread', unread > 0);
    this.node.classList.toggle('jp-mod-offline', !connected);
  }

  private _trans: ITrans;
  private _count: HTMLSpanElement;
}
