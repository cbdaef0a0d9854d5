/**
 * Who is in which open document, and who changes which: the awareness of
 * every room and the authors of the updates that arrive. No DOM, no
 * JupyterLab UI: unit tested.
 */
import { ISignal, Signal } from '@lumino/signaling';
import * as Y from 'yjs';

import { CollabContentProvider, IRoom } from './contentprovider';
import { ICollaborator, IPresenceEntry, groupCollaborators } from './presencemodel';
import { CollabSettings } from './settings';

/** The part of a Yjs transaction used here. */
export interface ITransactionLike {
  /** Changed types, each with the changed keys of a map, or null for a list or a text. */
  changed: Map<unknown, Set<string | null>>;
  beforeState: Map<number, number>;
  afterState: Map<number, number>;
}

/**
 * Who edited in a transaction: the clients whose changes it brought (their
 * clocks advanced), when it changed a text (typing, pasting, outputs) or a
 * list (new, moved or deleted cells, outputs). A transaction that only
 * writes values under keys of maps (notebook metadata such as the kernel's
 * \`language_info\` written when a kernel starts, an execution count, the
 * dirty flag) is JupyterLab's own bookkeeping, not someone editing.
 * Deletions alone advance no clock: Yjs does not say who deleted.
 */
export function editAuthors(transaction: ITransactionLike): number[] {
  let edits = false;
  transaction.changed.forEach(keys => {
    edits = edits || keys.has(null);
  });
  if (!edits) {
    return [];
  }
  const authors: number[] = [];
  transaction.afterState.forEach((clock, client) => {
    if (clock > (transaction.beforeState.get(client) ?? 0)) {
      authors.push(client);
    }
  });
  return authors;
}

/**
 * Watches the awareness of every open room, and who changes which
 * document, and tells when either changes.
 */
export class PresenceTracker {
  constructor(provider: CollabContentProvider, settings?: CollabSettings) {
    this._provider = provider;
    this._settings = settings ?? new CollabSettings();
    provider.roomAdded.connect((_, room) => this._watch(room));
    provider.roomRemoved.connect((_, room) => {
      this._unwatch(room);
      this._schedule();
    });
    provider.identityChanged.connect(() => this._schedule());
    this._settings.changed.connect(() => this._schedule());
    for (const room of provider.rooms) {
      this._watch(room);
    }
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Awareness states of one room (others only). */
  roomCollaborators(room: IRoom, unnamed: string): ICollaborator[] {
    return groupCollaborators(
      this._entries([room]),
      e => this._isSelf(e),
      unnamed,
      this._activityOptions()
    );
  }

  /** Everybody in every open room (others only, unless `includeSelf`). */
  collaborators(unnamed: string, includeSelf = false): ICollaborator[] {
    return groupCollaborators(
      this._entries(this._provider.rooms),
      e => this._isSelf(e),
      unnamed,
      { ...this._activityOptions(), includeSelf }
    );
  }

  /**
   * When a client last changed a document (ms), from the updates that
   * reached us after the first sync (the first sync is history, not
   * activity). Deletions carry no author in Yjs, so only insertions count.
   */
  lastEdit(path: string, clientId: number): number | undefined {
    for (const room of this._provider.rooms) {
      if (room.path === path) {
        const time = this._edits.get(room.id)?.get(clientId);
        if (time !== undefined) {
          return time;
        }
      }
    }
    return undefined;
  }

  private _activityOptions() {
    return {
      lastEdit: (path: string, id: number) => this.lastEdit(path, id),
      now: Date.now(),
      timeout: this._settings.get('activityTimeout')
    };
  }

  /** The awareness states of a collaborator, in every open room. */
  statesOf(c: ICollaborator): any[] {
    const ids = new Set(c.clientIds);
    return this._entries(this._provider.rooms)
      .filter(e => ids.has(e.clientId))
      .map(e => e.state);
  }

  private _entries(rooms: readonly IRoom[]): IPresenceEntry[] {
    const entries: IPresenceEntry[] = [];
    for (const room of rooms) {
      const model = room.sharedModel;
      if (model.isDisposed) {
        continue;
      }
      model.awareness.getStates().forEach((state: any, clientId: number) => {
        entries.push({ roomPath: room.path, clientId, state });
      });
    }
    return entries;
  }

  private _isSelf(entry: IPresenceEntry): boolean {
    for (const room of this._provider.rooms) {
      if (!room.sharedModel.isDisposed && room.sharedModel.ydoc.clientID === entry.clientId) {
        return true;
      }
    }
    // Our own other tabs/windows: same username.
    const me = this._provider.identity?.username;
    return !!me && entry.state.user?.username === me;
  }

  private _watch(room: IRoom): void {
    if (this._listeners.has(room.id)) {
      return;
    }
    const listener = () => this._schedule();
    const onUpdate = (transaction: Y.Transaction) => this._onTransaction(room, transaction);
    room.sharedModel.awareness.on('change', listener);
    room.sharedModel.ydoc.on('afterTransaction', onUpdate);
    this._listeners.set(room.id, { listener, onUpdate });
    room.connection.sessionChanged.connect(listener);
    this._schedule();
  }

  private _unwatch(room: IRoom): void {
    const listeners = this._listeners.get(room.id);
    if (listeners) {
      try {
        room.sharedModel.awareness.off('change', listeners.listener);
        room.sharedModel.ydoc.off('afterTransaction', listeners.onUpdate);
      } catch {
        // the awareness may be destroyed
      }
      this._listeners.delete(room.id);
    }
    this._edits.delete(room.id);
  }

  /** A change to a document: note who made it (their Yjs client ids). */
  private _onTransaction(room: IRoom, transaction: Y.Transaction): void {
    if (!room.connection.state.everSynced && transaction.origin === room.connection) {
      return;
    }
    const clients = editAuthors(transaction as unknown as ITransactionLike);
    if (!clients.length) {
      return;
    }
    const now = Date.now();
    let edits = this._edits.get(room.id);
    if (!edits) {
      edits = new Map();
      this._edits.set(room.id, edits);
    }
    let isNew = false;
    for (const id of clients) {
      const before = edits.get(id);
      isNew = isNew || before === undefined || now - before >= this._settings.get('activityTimeout');
      edits.set(id, now);
    }
    if (isNew) {
      this._schedule();
    }
    this._scheduleExpiry();
  }

  /** Tell again when the last "editing" runs out. */
  private _scheduleExpiry(): void {
    if (this._expiry !== null) {
      clearTimeout(this._expiry);
    }
    this._expiry = setTimeout(() => {
      this._expiry = null;
      this._schedule();
    }, this._settings.get('activityTimeout') + 50);
  }

  private _schedule(): void {
    if (this._pending) {
      return;
    }
    this._pending = true;
    requestAnimationFrame(() => {
      this._pending = false;
      this._changed.emit();
    });
  }

  private _provider: CollabContentProvider;
  private _settings: CollabSettings;
  private _listeners = new Map<
    string,
    { listener: () => void; onUpdate: (transaction: Y.Transaction) => void }
  >();
  private _edits = new Map<string, Map<number, number>>();
  private _expiry: ReturnType<typeof setTimeout> | null = null;
  private _pending = false;
  private _changed = new Signal<this, void>(this);
}

