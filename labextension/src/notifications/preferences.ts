/**
 * The e-mail preferences form (the bell's menu: "E-mail notifications…"):
 * a checkbox per notification kind and the address. The server validates
 * (docs/notifications.md); a refusal is shown in the form and nothing
 * changes.
 */
import { Widget } from '@lumino/widgets';

import { INotificationPreferences } from '../sharing/api';
import { ITrans } from '../sharing/model';
import { preferencesChange, kindLabel } from './text';

/** The form, as a dialog body: `getValue()` gives the request to send. */
export class PreferencesForm extends Widget {
  constructor(
    prefs: INotificationPreferences,
    trans: ITrans,
    /** What the user had typed and checked (asking again after a refusal). */
    initial?: { kinds: string[]; email: string }
  ) {
    super();
    this._prefs = prefs;
    this.addClass('jp-collab-NotificationPreferences');
    const node = this.node;
    if (!prefs.emailEnabled) {
      const off = document.createElement('p');
      off.className = 'jp-collab-NotificationPreferences-off';
      off.textContent = trans.__(
        'This server sends no e-mail (no mail server is configured): your choices are kept for when it does.'
      );
      node.appendChild(off);
    }
    const legend = document.createElement('p');
    legend.textContent = trans.__('Also send me an e-mail when:');
    node.appendChild(legend);
    const list = document.createElement('div');
    list.setAttribute('role', 'group');
    list.setAttribute('aria-label', trans.__('Notifications sent by e-mail'));
    for (const kind of prefs.kinds) {
      const label = document.createElement('label');
      label.className = 'jp-collab-NotificationPreferences-kind';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = kind;
      box.checked = (initial?.kinds ?? prefs.emailKinds).includes(kind);
      this._boxes.push(box);
      label.appendChild(box);
      label.appendChild(document.createTextNode(' ' + kindLabel(kind, trans)));
      list.appendChild(label);
    }
    node.appendChild(list);
    const addressLabel = document.createElement('label');
    addressLabel.className = 'jp-collab-NotificationPreferences-address';
    addressLabel.textContent = trans.__('E-mail address');
    this._email = document.createElement('input');
    this._email.type = 'email';
    this._email.className = 'jp-mod-styled';
    this._email.value = initial?.email ?? prefs.email ?? '';
    this._email.placeholder =
      prefs.addressFrom === 'template' && prefs.address
        ? prefs.address
        : trans.__('name@example.org');
    this._email.maxLength = 254;
    addressLabel.appendChild(this._email);
    node.appendChild(addressLabel);
    const where = document.createElement('p');
    where.className = 'jp-collab-NotificationPreferences-where';
    where.textContent =
      prefs.addressFrom === 'template' && prefs.address
        ? trans.__('Leave it empty to use %1.', prefs.address)
        : prefs.address
          ? ''
          : trans.__('Without an address no e-mail is sent.');
    node.appendChild(where);
    this._error = document.createElement('p');
    this._error.className = 'jp-collab-NotificationPreferences-error';
    this._error.setAttribute('role', 'alert');
    node.appendChild(this._error);
  }

  /** The checked kinds and the address typed. */
  get chosen(): { kinds: string[]; email: string } {
    return {
      kinds: this._boxes.filter(b => b.checked).map(b => b.value),
      email: this._email.value
    };
  }

  getValue(): { email?: string | null; emailKinds?: string[] } {
    return preferencesChange(this._prefs, this.chosen);
  }

  /** Show why the server refused. */
  showError(message: string): void {
    this._error.textContent = message;
  }

  private _prefs: INotificationPreferences;
  private _boxes: HTMLInputElement[] = [];
  private _email: HTMLInputElement;
  private _error: HTMLParagraphElement;
}
