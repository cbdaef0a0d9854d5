/**
 * The loading indicator of a document: shown over the document while its
 * room connects and the first sync has not arrived (large documents take a
 * while), with an error when the server refuses it.
 */
import { IConnectionState, ITrans, closeKindText } from './connectionstate';

/** What the indicator shows. */
export interface ILoadingView {
  /** Whether the indicator is shown at all. */
  visible: boolean;
  /** Whether something is under way (spinner). */
  busy: boolean;
  /** Whether the server refused the document. */
  error: boolean;
  /** Main line, with the document name. */
  title: string;
  /** What is happening now. */
  detail: string;
}

const HIDDEN: ILoadingView = {
  visible: false,
  busy: false,
  error: false,
  title: '',
  detail: ''
};

/** Human size of a number of bytes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  if (bytes < 1024 * 1024) {
    return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  }
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * The indicator for a document named `name` whose room is in `state`;
 * `revealed` tells whether JupyterLab shows the document's content yet.
 */
export function describeLoading(
  state: IConnectionState,
  name: string,
  revealed: boolean,
  trans: ITrans
): ILoadingView {
  if (state.status === 'closed') {
    if (state.closeKind === 'unavailable' || state.everSynced) {
      // No collaboration server (the document opens as a plain one), or a
      // document that was already shown: other messages cover it.
      return HIDDEN;
    }
    return {
      visible: true,
      busy: false,
      error: true,
      title: trans.__('“%1” could not be opened', name),
      detail:
        closeKindText(state.closeKind, trans) ||
        trans.__('the collaboration server refused the document')
    };
  }
  if (state.everSynced) {
    if (revealed) {
      return HIDDEN;
    }
    return {
      visible: true,
      busy: true,
      error: false,
      title: trans.__('Opening “%1”…', name),
      detail: trans.__('Displaying the document')
    };
  }
  const title = trans.__('Opening “%1”…', name);
  if (state.status === 'offline' || state.attempts > 0) {
    return {
      visible: true,
      busy: true,
      error: false,
      title,
      detail:
        state.status === 'offline' && !state.browserOnline
          ? trans.__('The browser is offline; waiting for the network')
          : trans.__('Cannot reach the collaboration server yet; still trying')
    };
  }
  let detail: string;
  switch (state.phase) {
    case 'session':
      detail = trans.__('Asking the collaboration server for the document');
      break;
    case 'socket':
      detail = trans.__('Connecting to the document’s room');
      break;
    case 'syncing':
      detail = trans.__('Receiving the document');
      break;
    case 'applying':
      detail = state.receivedBytes
        ? trans.__('Displaying the document (%1)', formatBytes(state.receivedBytes))
        : trans.__('Displaying the document');
      break;
    default:
      detail = trans.__('Displaying the document');
  }
  return { visible: true, busy: true, error: false, title, detail };
}

/**
 * The indicator's DOM: a layer over the document (like JupyterLab's own
 * spinner) with a spinner, the document name and what is happening.
 */
export class LoadingOverlay {
  constructor(host: HTMLElement) {
    this.node = document.createElement('div');
    this.node.className = 'jp-collab-LoadingOverlay';
    this.node.setAttribute('role', 'status');
    this.node.setAttribute('aria-live', 'polite');
    const box = document.createElement('div');
    box.className = 'jp-collab-LoadingOverlay-box';
    this._spinner = document.createElement('div');
    this._spinner.className = 'jp-collab-LoadingOverlay-spinner';
    this._spinner.setAttribute('aria-hidden', 'true');
    this._title = document.createElement('div');
    this._title.className = 'jp-collab-LoadingOverlay-title';
    this._detail = document.createElement('div');
    this._detail.className = 'jp-collab-LoadingOverlay-detail';
    box.append(this._spinner, this._title, this._detail);
    this.node.appendChild(box);
    this.node.hidden = true;
    host.appendChild(this.node);
  }

  readonly node: HTMLDivElement;

  /** Show a view (hidden views hide the layer). */
  show(view: ILoadingView): void {
    this.node.hidden = !view.visible;
    this.node.classList.toggle('jp-mod-error', view.error);
    this.node.classList.toggle('jp-mod-busy', view.busy);
    this.node.setAttribute('aria-busy', view.busy ? 'true' : 'false');
    this._spinner.hidden = !view.busy;
    this._title.textContent = view.title;
    this._detail.textContent = view.detail;
  }

  dispose(): void {
    this.node.remove();
  }

  private _spinner: HTMLElement;
  private _title: HTMLElement;
  private _detail: HTMLElement;
}
