/**
 * The content provider that makes documents collaborative through
 * jupyter-collab rooms.
 */
import { YDocument, YFile, YNotebook } from '@jupyter/ydoc';
import { URLExt } from '@jupyterlab/coreutils';
import {
  Contents,
  IContentProvider,
  ServerConnection,
  User
} from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { IAwarenessUser, sameUser, sanitizeUser } from './identity';
import { ISessionModel, Notice } from './protocol';
import { RoomConnection, SessionError } from './roomconnection';
import { EarlySocket, openWebSocketUrl } from './earlysocket';
import { CollabSettings } from './settings';

/** The id under which the provider is registered on the default drive. */
export const CONTENT_PROVIDER_ID = 'jupyter-collab';

/** One open collaborative document. */
export interface IRoom {
  /** Unique id of this client-side room object. */
  readonly id: string;
  /** Current path of the document (follows renames). */
  path: string;
  readonly format: string;
  readonly contentType: string;
  readonly sharedModel: YDocument<any>;
  readonly connection: RoomConnection;
}

/**
 * The server's id of a room (`{format}:{type}:{fileId}`, from the session
 * reply), the id the history API addresses documents by; null until the
 * session is known.
 */
export function roomIdOf(room: IRoom): string | null {
  return room.connection?.session?.room ?? null;
}

/** Ask the server for a session on a document. */
export async function requestSession(
  settings: ServerConnection.ISettings,
  path: string,
  format: string,
  type: string
): Promise<ISessionModel> {
  const url = URLExt.join(
    settings.baseUrl,
    'api/collab/session',
    URLExt.encodeParts(path)
  );
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      url,
      { method: 'PUT', body: JSON.stringify({ format, type }) },
      settings
    );
  } catch (err) {
    throw new SessionError(String((err as Error)?.message ?? err), null);
  }
  if (!response.ok) {
    let message = response.statusText;
    // Our handlers answer JSON; a 404 page that is not JSON means that the
    // endpoint itself is missing (server extension not enabled).
    const isJson = (response.headers.get('Content-Type') ?? '').includes(
      'json'
    );
    if (response.status === 404 && !isJson) {
      throw new SessionError('jupyter-collab is not enabled', 404, true);
    }
    try {
      const body = await response.json();
      message = body.message || body.reason || message;
    } catch {
      // not JSON
    }
    throw new SessionError(message, response.status);
  }
  const data = (await response.json()) as ISessionModel;
  if (!data || typeof data.room !== 'string') {
    throw new SessionError('invalid session reply', 500);
  }
  return data;
}

/** The WebSocket URL of a room. */
export function roomWebSocketUrl(
  settings: ServerConnection.ISettings,
  room: string
): string {
  let url = URLExt.join(
    settings.wsUrl,
    'api/collab/room',
    encodeURIComponent(room)
  );
  if (settings.appendToken && settings.token) {
    url += `?token=${encodeURIComponent(settings.token)}`;
  }
  return url;
}

/**
 * A content provider whose shared models are synced through our rooms.
 */
export class CollabContentProvider implements IContentProvider {
  constructor(options: CollabContentProvider.IOptions) {
    this._serverSettings = options.serverSettings;
    this._rest = options.defaultProvider;
    this._user = options.user ?? null;
    this._settings = options.settings ?? new CollabSettings();
    if (this._user) {
      this._user.userChanged.connect(this._onJupyterUser, this);
    }
    this.sharedModelFactory = {
      collaborative: true,
      createNew: (opts: Contents.ISharedFactoryOptions) => this._createNew(opts)
    };
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this._onOnline);
      window.addEventListener('offline', this._onOffline);
    }
  }

  readonly sharedModelFactory: Contents.ISharedFactory;

  /** The settings used to reach the server (REST and WebSocket). */
  get serverSettings(): ServerConnection.ISettings {
    return this._serverSettings;
  }

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  /** A room was opened. */
  get roomAdded(): ISignal<this, IRoom> {
    return this._roomAdded;
  }

  /** A room was closed. */
  get roomRemoved(): ISignal<this, IRoom> {
    return this._roomRemoved;
  }

  /** A notice arrived in a room. */
  get noticeReceived(): ISignal<this, { room: IRoom; notice: Notice }> {
    return this._noticeReceived;
  }

  /**
   * Who we are, as the others see us: the identity the server stamps into
   * our awareness states (from the session reply), checked; before the
   * first reply (or from an older server), the username and name JupyterLab
   * knows, without the initials and colour it makes up locally.
   */
  get identity(): IAwarenessUser | null {
    return this._identity ?? this._placeholderIdentity();
  }

  /** Our identity changed (the server told it). */
  get identityChanged(): ISignal<this, IAwarenessUser> {
    return this._identityChanged;
  }

  /** The server has no jupyter-collab endpoints. */
  get unavailable(): ISignal<this, void> {
    return this._unavailable;
  }

  /** The open rooms. */
  get rooms(): readonly IRoom[] {
    return Array.from(this._rooms.values());
  }

  /** The room of a shared model, if any. */
  roomForModel(model: unknown): IRoom | null {
    for (const room of this._rooms.values()) {
      if (room.sharedModel === model) {
        return room;
      }
    }
    return null;
  }

  /** The most recent room for a path (and format/type if given). */
  roomForPath(path: string, format?: string | null, type?: string): IRoom | null {
    let found: IRoom | null = null;
    for (const room of this._rooms.values()) {
      if (
        room.path === path &&
        (!format || room.format === format) &&
        (!type || room.contentType === type)
      ) {
        found = room;
      }
    }
    return found;
  }

  /** Update the path of rooms after a rename made in this client. */
  handleRename(oldPath: string, newPath: string): void {
    for (const room of this._rooms.values()) {
      if (room.path === oldPath) {
        room.path = newPath;
      } else if (room.path.startsWith(oldPath + '/')) {
        room.path = newPath + room.path.slice(oldPath.length);
      }
    }
  }

  async get(
    localPath: string,
    options?: Contents.IFetchOptions
  ): Promise<Contents.IModel> {
    const room = this.roomForPath(localPath, options?.format, options?.type);
    if (!room || room.connection.state.status === 'closed') {
      return this._rest.get(localPath, options);
    }
    if (options?.content === false || !options?.format) {
      // Metadata only (e.g. the check before saving). The room owns the
      // content, so whatever the server wrote to disk is ours: keep the
      // document context's idea of the file up to date so that it never
      // shows a "file changed on disk" dialog for our server's saves.
      const model = await this._rest.get(localPath, {
        ...options,
        content: false
      });
      this._announceSaved(room, model);
      return model;
    }
    // Content: it comes through the room. The file's metadata is asked for
    // meanwhile, not after the first sync: a large document would otherwise
    // wait one more round trip (and the server's hashing of the whole file)
    // before it is shown.
    const metadata = this._rest.get(localPath, {
      ...options,
      content: false,
      hash: true
    });
    metadata.catch(() => undefined); // awaited below, after the room's outcome
    try {
      await room.connection.synced;
    } catch (err) {
      if (room.connection.state.closeKind === 'unavailable') {
        // No collaboration server: behave like a plain document.
        this._unavailable.emit();
        return this._rest.get(localPath, options);
      }
      throw new Error(
        this._trans(
          'The collaboration server did not open this document: %1',
          (err as Error)?.message ?? String(err)
        )
      );
    }
    const model = await metadata;
    this._lastSeen.set(room.id, stamp(model));
    return {
      ...model,
      format: options.format as Contents.FileFormat,
      type: options.type ?? model.type,
      content: null
    };
  }

  async save(
    localPath: string,
    options: Partial<Contents.IModel> & Contents.IContentProvisionOptions = {}
  ): Promise<Contents.IModel> {
    const room = this.roomForPath(
      localPath,
      options.format ?? undefined,
      options.type
    );
    if (!room || room.connection.state.status === 'closed') {
      // Not collaborative, or the room is gone (for example the file was
      // deleted): write it the classic way.
      return this._rest.save(localPath, options);
    }
    const timeout = this._settings.get('saveTimeout');
    if (!(await room.connection.whenSynced(timeout))) {
      const status: string = room.connection.state.status;
      if (status === 'closed') {
        // Closed while we waited: write it the classic way.
        return this._rest.save(localPath, options);
      }
      throw new Error(
        this._trans(
          'Not connected to the collaboration server: your changes are kept and will be saved once the connection is back.'
        )
      );
    }
    // Everything we changed has been sent over the open socket: ask the
    // server to write the room to disk now, as Ctrl+S promises.
    const answer = await room.connection.requestSave(timeout);
    if (answer?.type === 'save-error') {
      throw new Error(
        this._trans('The server could not save: %1', answer.message ?? '')
      );
    }
    const model = await this._rest.get(localPath, {
      content: false,
      hash: true
    });
    this._announceSaved(room, model);
    return {
      ...model,
      format: (options.format ?? model.format) as Contents.FileFormat,
      type: options.type ?? model.type
    };
  }

  /**
   * Open the room of a document about to be opened (`path` as the document
   * context will name it, `format` and `type` as it will ask for them),
   * before its context exists: the room created for it next adopts that
   * socket and its session (earlyopen.ts, earlysocket.ts). Does nothing for
   * a document whose room is open already (the manager reuses its context).
   */
  prefetchSession(path: string, format: string, type: string): void {
    if (this.roomForPath(path, format, type)) {
      return;
    }
    const key = sessionKey(path, format, type);
    const now = Date.now();
    for (const [k, early] of this._early) {
      if (now - early.at > EARLY_SESSION_TTL) {
        this._early.delete(k);
        early.socket?.close(1000, 'not used');
      }
    }
    if (this._early.has(key)) {
      return;
    }
    const { reply, socket } = this._openByPath(path, format, type);
    this._early.set(key, { reply, socket, at: now });
  }

  /**
   * The room's socket, opened by path (earlysocket.ts): its first frame is
   * the session, and the document follows, while the page builds the
   * document's widget. Should it fail, the session is asked for as usual and
   * the room opens its own socket (`reply` is then that request, when no
   * socket could be created at all; null otherwise: see `_earlyReply`).
   */
  private _openByPath(
    path: string,
    format: string,
    type: string
  ): { reply: Promise<ISessionModel> | null; socket: EarlySocket | null } {
    const settings = this._serverSettings;
    try {
      const Ctor: typeof WebSocket = settings.WebSocket ?? WebSocket;
      const socket = new EarlySocket(
        new Ctor(openWebSocketUrl(settings, path, format, type)) as any,
        { ttl: EARLY_SESSION_TTL }
      );
      return { reply: null, socket };
    } catch (err) {
      console.warn('jupyter-collab: could not open the room early', err);
    }
    const reply = requestSession(settings, path, format, type);
    reply.catch(() => undefined); // seen by the room that takes it, if any
    return { reply, socket: null };
  }

  /** The early session (and socket) for a document, taken once (or null). */
  private _takeEarlySession(
    path: string,
    format: string,
    type: string
  ): { reply: Promise<ISessionModel>; socket: EarlySocket | null } | null {
    const key = sessionKey(path, format, type);
    const early = this._early.get(key);
    this._early.delete(key);
    if (!early || Date.now() - early.at > EARLY_SESSION_TTL) {
      early?.socket?.close(1000, 'not used');
      return null;
    }
    return { reply: this._earlyReply(early, path, format, type), socket: early.socket };
  }

  /** The session of an early open: its socket's, else a session request. */
  private _earlyReply(
    early: { reply: Promise<ISessionModel> | null; socket: EarlySocket | null },
    path: string,
    format: string,
    type: string
  ): Promise<ISessionModel> {
    return (
      early.reply ??
      early.socket!.session.catch(() =>
        requestSession(this._serverSettings, path, format, type)
      )
    );
  }

  /** Set a translator function for error messages. */
  setTranslator(trans: (msg: string, ...args: any[]) => string): void {
    this._trans = trans;
  }

  /** Set a field of our awareness state in every room. */
  setLocalAwarenessField(field: string, value: unknown): void {
    for (const room of this._rooms.values()) {
      if (!room.sharedModel.isDisposed) {
        room.sharedModel.awareness.setLocalStateField(field, value);
      }
    }
    this._awarenessFields[field] = value;
  }

  dispose(): void {
    for (const room of this._rooms.values()) {
      room.connection.dispose();
    }
    this._rooms.clear();
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this._onOnline);
      window.removeEventListener('offline', this._onOffline);
    }
    Signal.clearData(this);
  }

  private _createNew(
    options: Contents.ISharedFactoryOptions
  ): YDocument<any> | undefined {
    if (options.collaborative === false || !options.format) {
      return undefined;
    }
    let sharedModel: YDocument<any>;
    if (options.contentType === 'notebook') {
      // An empty document: everything comes from the room. (`YNotebook.create`
      // writes a `metadata` map, `nbformat` and `nbformat_minor` of its own;
      // the room's then arrive as a concurrent overwrite of those keys, which
      // fires no `metadataChanged` for `language_info` — cells stayed
      // text/plain and the cell counter kept the count of its first cell —
      // and, with a higher client id, our empty map would even replace the
      // notebook's metadata for everyone.)
      sharedModel = new YNotebook({ disableDocumentWideUndoRedo: true });
    } else if (options.contentType === 'file') {
      sharedModel = new YFile();
    } else {
      return undefined;
    }
    const id = `room-${++Private.counter}`;
    const path = options.path;
    const format = options.format;
    const contentType = options.contentType;
    const settings = this._serverSettings;
    const room: IRoom = {
      id,
      path,
      format,
      contentType,
      sharedModel,
      connection: null as unknown as RoomConnection
    };
    // The room's socket, opened by path when `docmanager:open` ran
    // (earlyopen.ts), else now: this runs when the document's context is
    // created, just before its widget is built in the same long task of the
    // page. Later sessions (renewals after a reconnection) are new requests.
    let taken = this._takeEarlySession(path, format, contentType);
    if (!taken && this._settings.get('earlySession')) {
      const opened = this._openByPath(path, format, contentType);
      taken = {
        reply: this._earlyReply(opened, path, format, contentType),
        socket: opened.socket
      };
    }
    let early = taken?.reply ?? null;
    let earlySocket = taken?.socket ?? null;
    const connection = new RoomConnection({
      doc: sharedModel.ydoc,
      awareness: sharedModel.awareness as any,
      openSession: () => {
        const reply =
          early ?? requestSession(settings, room.path, format, contentType);
        early = null;
        return reply;
      },
      roomUrl: session => roomWebSocketUrl(settings, session.room),
      createSocket: url => {
        // The socket opened with the document (its session is the one this
        // connection got), if it asks for the whole room as that one did.
        const opened = earlySocket;
        earlySocket = null;
        if (opened) {
          if (
            opened.canAdopt() &&
            url.startsWith(roomWebSocketUrl(settings, opened.room!)) &&
            /[?&]fresh=1(&|$)/.test(url)
          ) {
            return opened.adopt();
          }
          opened.close(1000, 'not used');
        }
        const Ctor: typeof WebSocket = settings.WebSocket ?? WebSocket;
        return new Ctor(url) as any;
      },
      isOnline: () =>
        typeof navigator === 'undefined' ? true : navigator.onLine !== false,
      connect: false
    });
    (room as { connection: RoomConnection }).connection = connection;
    connection.noticeReceived.connect((_, notice) =>
      this._onNotice(room, notice)
    );
    connection.sessionChanged.connect((_, session) =>
      this._onSession(session)
    );
    this._rooms.set(id, room);

    // Our identity in the room. The server overwrites `user` with the
    // authenticated one for the others; our own UI shows the same one.
    const awareness = sharedModel.awareness;
    for (const [field, value] of Object.entries(this._awarenessFields)) {
      awareness.setLocalStateField(field, value);
    }
    const identity = this.identity;
    if (identity) {
      awareness.setLocalStateField('user', { ...identity });
    } else if (this._user) {
      void this._user.ready.then(() => this._applyIdentity()).catch(() => undefined);
    }

    sharedModel.disposed.connect(() => {
      connection.dispose();
      this._rooms.delete(id);
      this._lastSeen.delete(id);
      this._roomRemoved.emit(room);
    });
    connection.connect();
    this._roomAdded.emit(room);
    return sharedModel;
  }

  /** A session reply: it may tell who the server says we are. */
  private _onSession(session: ISessionModel): void {
    const user = sanitizeUser(session.user);
    if (!user || sameUser(user, this._identity)) {
      return;
    }
    this._identity = user;
    this._applyIdentity();
    this._identityChanged.emit(user);
  }

  /** JupyterLab's own identity changed (only used until the server tells). */
  private _onJupyterUser(): void {
    if (!this._identity) {
      this._applyIdentity();
    }
  }

  /** Put our identity in our awareness state of every room. */
  private _applyIdentity(): void {
    const identity = this.identity;
    if (!identity) {
      return;
    }
    for (const room of this._rooms.values()) {
      if (!room.sharedModel.isDisposed) {
        room.sharedModel.awareness.setLocalStateField('user', { ...identity });
      }
    }
  }

  /** What JupyterLab knows of us, without what it makes up (initials, colour). */
  private _placeholderIdentity(): IAwarenessUser | null {
    const identity = this._user?.identity;
    if (!identity) {
      return null;
    }
    return sanitizeUser({
      username: identity.username,
      name: identity.name,
      display_name: identity.display_name,
      avatar_url: identity.avatar_url
    });
  }

  private _onNotice(room: IRoom, notice: Notice): void {
    switch (notice.type) {
      case 'saved':
      case 'disk-merged':
        void this._rest
          .get(room.path, { content: false, hash: true })
          .then(model => this._announceSaved(room, model))
          .catch(() => undefined);
        break;
      case 'renamed': {
        const oldPath = room.path;
        if (notice.path && notice.path !== oldPath) {
          room.path = notice.path;
          void this._rest
            .get(notice.path, { content: false, hash: true })
            .then(model => {
              this._lastSeen.set(room.id, stamp(model));
              this._fileChanged.emit({
                type: 'rename',
                oldValue: { path: oldPath },
                newValue: model
              });
            })
            .catch(() => undefined);
        }
        break;
      }
    }
    this._noticeReceived.emit({ room, notice });
  }

  /**
   * Tell the document context the file's new metadata, as a collaborative
   * save; this keeps its hash/last_modified in step with the disk.
   */
  private _announceSaved(room: IRoom, model: Contents.IModel): void {
    const s = stamp(model);
    if (this._lastSeen.get(room.id) === s) {
      return;
    }
    this._lastSeen.set(room.id, s);
    this._fileChanged.emit({
      type: 'save',
      oldValue: null,
      newValue: { ...model, content: undefined } as any
    });
  }

  private _onOnline = () => {
    for (const room of this._rooms.values()) {
      room.connection.setOnline(true);
    }
  };

  private _onOffline = () => {
    for (const room of this._rooms.values()) {
      room.connection.setOnline(false);
    }
  };

  private _serverSettings: ServerConnection.ISettings;
  private _rest: IContentProvider;
  private _user: User.IManager | null;
  private _settings: CollabSettings;
  private _identity: IAwarenessUser | null = null;
  private _identityChanged = new Signal<this, IAwarenessUser>(this);
  private _trans: (msg: string, ...args: any[]) => string = (msg, ...args) =>
    msg.replace(/%(\d)/g, (m, i) => String(args[Number(i) - 1] ?? m));
  private _rooms = new Map<string, IRoom>();
  private _lastSeen = new Map<string, string>();
  private _early = new Map<
    string,
    {
      reply: Promise<ISessionModel> | null;
      socket: EarlySocket | null;
      at: number;
    }
  >();
  private _awarenessFields: Record<string, unknown> = {};
  private _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
  private _roomAdded = new Signal<this, IRoom>(this);
  private _unavailable = new Signal<this, void>(this);
  private _roomRemoved = new Signal<this, IRoom>(this);
  private _noticeReceived = new Signal<this, { room: IRoom; notice: Notice }>(
    this
  );
}

export namespace CollabContentProvider {
  export interface IOptions {
    serverSettings: ServerConnection.ISettings;
    /** The drive's REST provider, used for metadata and non-collaborative files. */
    defaultProvider: IContentProvider;
    user?: User.IManager;
    /** The extension's settings (defaults when not given). */
    settings?: CollabSettings;
  }
}

/**
 * How long (ms) an early session reply waits for its room: the document
 * manager creates the context within a round trip of the open.
 */
export const EARLY_SESSION_TTL = 10_000;

function sessionKey(path: string, format: string, type: string): string {
  return JSON.stringify([path, format, type]);
}

function stamp(model: Contents.IModel): string {
  return `${model.path}|${model.last_modified}|${model.hash ?? ''}`;
}

namespace Private {
  export let counter = 0;
}
