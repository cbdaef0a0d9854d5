/**
 * Status bar item: the connection state of the current document.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { IConnectionState, describe } from './connectionstate';

export class ConnectionIndicator extends Widget {
  constructor(options: ConnectionIndicator.IOptions) {
    super({ node: document.createElement('button') });
    this._trans = options.trans;
    this._onActivate = options.onActivate;
    this.addClass('jp-collab-ConnectionIndicator');
    const button = this.node as HTMLButtonElement;
    button.type = 'button';
    this._dot = document.createElement('span');
    this._dot.className = 'jp-collab-ConnectionIndicator-dot';
    this._dot.setAttribute('aria-hidden', 'true');
    this._label = document.createElement('span');
    this._label.className = 'jp-collab-ConnectionIndicator-label';
    button.appendChild(this._dot);
    button.appendChild(this._label);
    button.addEventListener('click', () => this._onActivate?.());
    this.update_(null);
  }

  /** Show a state (null hides the item). */
  update_(state: IConnectionState | null): void {
    this._state = state;
    if (!state) {
      this.node.classList.add('jp-mod-hidden');
      this._label.textContent = '';
      return;
    }
    this.node.classList.remove('jp-mod-hidden');
    const { label, title } = describe(state, this._trans);
    this._label.textContent = label;
    this.node.title =
      state.status === 'reconnecting' || state.status === 'offline'
        ? this._trans.__('%1 (click to retry now)', title)
        : title;
    this.node.setAttribute('aria-label', `${label}. ${title}`);
    this.node.dataset.status = state.status;
  }

  get state(): IConnectionState | null {
    return this._state;
  }

  private _trans: TranslationBundle;
  private _dot: HTMLElement;
  private _label: HTMLElement;
  private _state: IConnectionState | null = null;
  private _onActivate?: () => void;
}

export namespace ConnectionIndicator {
  export interface IOptions {
    trans: TranslationBundle;
    /** Called on click / Enter (retry now). */
    onActivate?: () => void;
  }
}
