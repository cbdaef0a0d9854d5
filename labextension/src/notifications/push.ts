/**
 * The user's notifications as they happen, over the push socket
 * `/api/collab/notifications/ws` (docs/notifications.md): new notifications
 * and the unread count arrive at once; a reconnecting socket says the last
 * id it has (`?after=`) and receives what it missed. No polling while the
 * socket is up; while it is down the poller takes over (every interval) and
 * the socket reconnects with backoff.
 *
 * Showing a notification does not read it: it stays unread (on the server,
 * so in every tab of the user) until the person opens it or marks it read
 * (`markRead`, `markAllRead`); the server then pushes the new count to every
 * socket of the user, so the bells of all their tabs follow.
 *
 * No JupyterLab dependency: the socket factory and timers are injected, so
 * it is unit tested with a fake socket.
 */
import {
  INotificationsApi,
  IUserNotification,
  normalizeNotification
} from '../sharing/api';
import { NotificationPoller } from './poller';

/** The part of a browser WebSocket the feed uses. */
export interface IPushSocketLike {
  readyState: number;
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  close(code?: number, reason?: string): void;
}

export interface INotificationFeedOptions {
  api: INotificationsApi;
  /** Open the push socket, asking for what came after `after`. */
  connect: (after: number) => IPushSocketLike;
  /**
   * Show new unread notifications (oldest first), each once. `earlier`: they
   * were there before this page connected (its first catch-up or poll), so
   * they belong in the list of notifications rather than in a pop-up each.
   * Nothing is marked read by showing it.
   */
  deliver: (notifications: IUserNotification[], earlier: boolean) => void;
  /** The unread count changed (from the socket or a poll). */
  onUnread?: (unread: number) => void;
  /** Whether the socket is up changed. */
  onConnected?: (connected: boolean) => void;
  /** ms between polls while the socket is down (default 10 s). */
  interval?: number;
  /** First reconnection delay (ms, default 1 s), doubled up to `reconnectMax`. */
  reconnectDelay?: number;
  /** Longest wait between reconnection attempts (ms, default 30 s). */
  reconnectMax?: number;
  isHidden?: () => boolean;
  setTimeout?: (fn: () => void, ms: number) => any;
  clearTimeout?: (handle: any) => void;
}

export class NotificationFeed {
  constructor(options: INotificationFeedOptions) {
    this._api = options.api;
    this._connect = options.connect;
    this._deliver = options.deliver;
    this._onUnread = options.onUnread ?? (() => undefined);
    this._onConnected = options.onConnected ?? (() => undefined);
    this._reconnectDelay = options.reconnectDelay ?? 1000;
    this._reconnectMax = options.reconnectMax ?? 30000;
    this._setTimeout = options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this._clearTimeout = options.clearTimeout ?? (h => globalThis.clearTimeout(h));
    this.poller = new NotificationPoller({
      api: options.api,
      interval: options.interval,
      isHidden: options.isHidden,
      setTimeout: this._setTimeout,
      clearTimeout: this._clearTimeout,
      deliver: list => this._show(list, false, !this._primed),
      polled: () => {
        this._primed = true;
      }
    });
  }

  /** The fallback poller (paused while the socket is up). */
  readonly poller: NotificationPoller;

  /** Whether the push socket is up (connected and caught up). */
  get connected(): boolean {
    return this._connected;
  }

  /** The unread count last heard of. */
  get unread(): number {
    return this._unread;
  }

  /** The highest notification id received. */
  get after(): number {
    return Math.max(this._after, this.poller.after);
  }

  /** Connect (and poll until connected). */
  start(): void {
    if (this._started || this._disposed) {
      return;
    }
    this._started = true;
    // The poller only runs while the socket is down (see _down).
    this.poller.pause();
    this.poller.start();
    this._open();
  }

  /**
   * Something may have happened (window focus, a role changed): nothing to
   * do while the socket is up (it would have told us); else poll now.
   */
  check(): Promise<void> {
    return this._connected ? Promise.resolve() : this.poller.pollNow();
  }

  /**
   * The person opened these notifications or marked them read: mark them
   * read on the server (the count it answers, and pushes to the user's other
   * tabs, is the bell's).
   */
  async markRead(ids: number[]): Promise<void> {
    const wanted = ids.filter(id => Number.isInteger(id) && id > 0);
    if (wanted.length) {
      this._setUnread(await this._api.markRead({ ids: wanted }));
    }
  }

  /** Mark everything received so far read. */
  async markAllRead(): Promise<void> {
    const upto = this.after;
    if (upto > 0) {
      this._setUnread(await this._api.markRead({ upto }));
    }
  }

  dispose(): void {
    this._disposed = true;
    this.poller.dispose();
    this._cancelReconnect();
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onclose = socket.onmessage = socket.onerror = socket.onopen = null;
      socket.close(1000, 'page closed');
    }
  }

  private _open(): void {
    if (this._disposed) {
      return;
    }
    let socket: IPushSocketLike;
    try {
      socket = this._connect(this.after);
    } catch {
      this._down();
      return;
    }
    this._socket = socket;
    this._catchingUp = [];
    socket.onmessage = ev => {
      if (this._socket === socket) {
        this._message(ev.data);
      }
    };
    socket.onclose = () => {
      if (this._socket === socket) {
        this._socket = null;
        this._down();
      }
    };
    socket.onerror = () => undefined; // (a close follows)
  }

  private _message(data: any): void {
    let message: any;
    try {
      message = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    if (!message || typeof message !== 'object') {
      return;
    }
    switch (message.type) {
      case 'notification': {
        const n = normalizeNotification(message.notification);
        if (!n) {
          return;
        }
        if (this._catchingUp) {
          this._catchingUp.push(n);
        } else {
          this._show([n], true, false);
        }
        if (typeof message.unread === 'number') {
          this._setUnread(message.unread);
        }
        return;
      }
      case 'ready': {
        const missed = this._catchingUp ?? [];
        this._catchingUp = null;
        if (typeof message.unread === 'number') {
          this._setUnread(message.unread);
        }
        if (!this._connected) {
          this._connected = true;
          this._failures = 0;
          this.poller.pause();
          this._onConnected(true);
        }
        // The page's first catch-up holds what was there before it opened.
        const earlier = !this._primed;
        this._primed = true;
        if (missed.length) {
          this._show(missed, true, earlier);
        }
        if (message.truncated) {
          // More than the socket sends at once was missed: page the rest.
          this.poller.advance(this.after, []);
          void this._pageRest(earlier);
        }
        return;
      }
      case 'unread':
        if (typeof message.unread === 'number') {
          this._setUnread(message.unread);
        }
        return;
      default:
        return; // (a message of a newer server)
    }
  }

  private async _pageRest(earlier: boolean): Promise<void> {
    try {
      for (let page = 0; page < 20; page++) {
        const reply = await this._api.notifications(this.after, 50);
        this._show(reply.notifications, true, earlier);
        this._setUnread(reply.unread);
        if (reply.notifications.length < 50) {
          break;
        }
      }
    } catch {
      // the next reconnection catches up
    }
  }

  /**
   * New notifications from the socket or a poll: show the unread ones once
   * (they stay unread until the person opens them or marks them read).
   */
  private _show(list: IUserNotification[], fromSocket: boolean, earlier: boolean): void {
    const fresh: IUserNotification[] = [];
    for (const n of list) {
      this._after = Math.max(this._after, n.id);
      if (!n.read && !this._delivered.has(n.id)) {
        this._delivered.add(n.id);
        fresh.push(n);
      }
    }
    if (fromSocket) {
      this.poller.advance(this._after, fresh.map(n => n.id));
    } else {
      this._setUnread(this.poller.unread);
    }
    if (!fresh.length) {
      return;
    }
    try {
      this._deliver(fresh, earlier);
    } catch (err) {
      console.error('jupyter-collab: showing notifications failed', err);
    }
  }

  private _setUnread(unread: number): void {
    if (Number.isFinite(unread) && unread !== this._unread) {
      this._unread = unread;
      this._onUnread(unread);
    }
  }

  private _down(): void {
    this._catchingUp = null;
    if (this._connected) {
      this._connected = false;
      this._onConnected(false);
    }
    if (this._disposed) {
      return;
    }
    this.poller.advance(this._after, []);
    this.poller.resume();
    this._cancelReconnect();
    const delay = Math.min(
      this._reconnectMax,
      this._reconnectDelay * Math.pow(2, Math.min(this._failures, 10))
    );
    this._failures += 1;
    this._reconnect = this._setTimeout(() => {
      this._reconnect = null;
      this._open();
    }, delay);
  }

  private _cancelReconnect(): void {
    if (this._reconnect !== null) {
      this._clearTimeout(this._reconnect);
      this._reconnect = null;
    }
  }

  private _api: INotificationsApi;
  private _connect: (after: number) => IPushSocketLike;
  private _deliver: (notifications: IUserNotification[], earlier: boolean) => void;
  private _onUnread: (unread: number) => void;
  private _onConnected: (connected: boolean) => void;
  private _reconnectDelay: number;
  private _reconnectMax: number;
  private _setTimeout: (fn: () => void, ms: number) => any;
  private _clearTimeout: (handle: any) => void;
  private _socket: IPushSocketLike | null = null;
  private _catchingUp: IUserNotification[] | null = null;
  private _connected = false;
  /** Whether the first catch-up (or poll) of this page is done. */
  private _primed = false;
  private _started = false;
  private _disposed = false;
  private _failures = 0;
  private _reconnect: any = null;
  private _after = 0;
  private _unread = 0;
  private _delivered = new Set<number>();
}
