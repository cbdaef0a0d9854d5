/**
 * Follow mode: the view follows one collaborator (opens the document they
 * look at and scrolls to their cursor or cell as they move).
 *
 * No JupyterLab dependency: the actions (open, reveal) are given, so the
 * logic is unit tested.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ICollaborator, followSignature } from './presencemodel';

export interface IFollowHost {
  /** Everybody in the open documents (others only). */
  collaborators(): ICollaborator[];
  /** The awareness states of a collaborator (all their windows/documents). */
  statesOf(c: ICollaborator): any[];
  /** Changes whenever presence changes. */
  readonly changed: ISignal<any, void>;
  /** The path of the document we are looking at. */
  currentPath(): string | null;
  /** Open a document; resolves once it can be revealed. */
  open(path: string): Promise<void>;
  /** Scroll the current document to the collaborator's cursor or cell. */
  reveal(c: ICollaborator): void;
}

/** Why following stopped. */
export type StopReason = 'user' | 'left';

export class FollowController {
  constructor(host: IFollowHost) {
    this._host = host;
    host.changed.connect(this._onPresence, this);
  }

  /** The key of the person followed, or null. */
  get following(): string | null {
    return this._key;
  }

  /** Following started or stopped. */
  get changed(): ISignal<this, { key: string | null; reason?: StopReason }> {
    return this._changed;
  }

  /** Start following someone (their view comes at once). */
  start(key: string): void {
    if (this._key === key) {
      return;
    }
    this._key = key;
    this._signature = null;
    this._changed.emit({ key });
    this._onPresence();
  }

  /** Stop following. */
  stop(reason: StopReason = 'user'): void {
    if (this._key === null) {
      return;
    }
    this._key = null;
    this._signature = null;
    this._changed.emit({ key: null, reason });
  }

  /** Follow, or stop following, someone. */
  toggle(key: string): void {
    if (this._key === key) {
      this.stop();
    } else {
      this.start(key);
    }
  }

  dispose(): void {
    this._host.changed.disconnect(this._onPresence, this);
    Signal.clearData(this);
  }

  private _onPresence(): void {
    const key = this._key;
    if (key === null) {
      return;
    }
    const c = this._host.collaborators().find(p => p.key === key);
    if (!c) {
      this.stop('left');
      return;
    }
    const signature = followSignature(this._host.statesOf(c));
    if (signature === this._signature) {
      return;
    }
    this._signature = signature;
    const target = c.current ?? (c.documents.length === 1 ? c.documents[0] : null);
    if (target && target !== this._host.currentPath()) {
      const ticket = ++this._ticket;
      void this._host
        .open(target)
        .then(() => {
          if (this._key === key && ticket === this._ticket) {
            const now = this._host.collaborators().find(p => p.key === key);
            if (now) {
              this._host.reveal(now);
            }
          }
        })
        .catch(() => undefined);
      return;
    }
    this._host.reveal(c);
  }

  private _host: IFollowHost;
  private _key: string | null = null;
  private _signature: string | null = null;
  private _ticket = 0;
  private _changed = new Signal<this, { key: string | null; reason?: StopReason }>(this);
}
