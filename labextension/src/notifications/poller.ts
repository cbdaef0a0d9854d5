/**
 * Polls the per-user notification stream (`GET /api/collab/notifications`)
 * while the push socket is down (see push.ts; `pause`/`resume`):
 * every `interval` ms while the page is visible, at once when asked (window
 * focus, a role change), never two requests at a time. New unread entries
 * are handed to `deliver`; they stay unread on the server until the person
 * opens one or marks it read (the feed's `markRead`): showing a pop-up is
 * not reading it.
 *
 * No JupyterLab dependency: timers and visibility are injected for tests.
 */
import { INotificationsApi, IUserNotification, SharingError } from '../sharing/api';

export interface INotificationPollerOptions {
  api: INotificationsApi;
  /**
   * Show the new unread notifications (oldest first), each once. They are
   * not marked read here.
   */
  deliver: (notifications: IUserNotification[]) => void;
  /** A poll was answered (after its `deliver`). */
  polled?: () => void;
  /** ms between polls (default 10 s). */
  interval?: number;
  /** Longest wait after repeated failures (default 5 min). */
  maxInterval?: number;
  /** Page size (default 50). */
  limit?: number;
  /** Whether the page is hidden (no polling then). */
  isHidden?: () => boolean;
  setTimeout?: (fn: () => void, ms: number) => any;
  clearTimeout?: (handle: any) => void;
}

export class NotificationPoller {
  constructor(options: INotificationPollerOptions) {
    this._api = options.api;
    this._deliver = options.deliver;
    this._polled = options.polled ?? (() => undefined);
    this._interval = options.interval ?? 10000;
    this._maxInterval = options.maxInterval ?? 300000;
    this._limit = options.limit ?? 50;
    this._isHidden = options.isHidden ?? (() => false);
    this._setTimeout = options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this._clearTimeout = options.clearTimeout ?? (h => globalThis.clearTimeout(h));
  }

  /** The highest notification id seen. */
  get after(): number {
    return this._after;
  }

  /** The unread count of the last answer. */
  get unread(): number {
    return this._unread;
  }

  /** False once the server said it has no stream for us (404, 403). */
  get enabled(): boolean {
    return !this._stopped;
  }

  get isPolling(): boolean {
    return this._inFlight !== null;
  }

  /** Whether a poll is scheduled. */
  get isScheduled(): boolean {
    return this._timer !== null;
  }

  /** The time between polls (ms). */
  get interval(): number {
    return this._interval;
  }

  /** Change the time between polls; the next poll is rescheduled with it. */
  setInterval(ms: number): void {
    if (!Number.isFinite(ms) || ms <= 0 || ms === this._interval) {
      return;
    }
    this._interval = ms;
    if (this._timer !== null) {
      this._schedule();
    }
  }

  /** Start polling (a first poll right away). */
  start(): void {
    if (this._stopped || this._started) {
      return;
    }
    this._started = true;
    void this.pollNow();
  }

  /** Poll now (unless stopped); resolves when done. */
  pollNow(): Promise<void> {
    if (this._stopped || !this._started || this._paused) {
      return Promise.resolve();
    }
    if (this._inFlight) {
      // One more right after the current one: it may have started before
      // what we are asked about happened.
      this._again = true;
      return this._inFlight;
    }
    this._cancel();
    this._inFlight = this._poll().finally(() => {
      this._inFlight = null;
      if (this._again && !this._stopped) {
        this._again = false;
        void this.pollNow();
      } else {
        this._schedule();
      }
    });
    return this._inFlight;
  }

  /**
   * Stop polling for now (the push socket is up): no poll is scheduled until
   * `resume`. A poll in flight finishes.
   */
  pause(): void {
    this._paused = true;
    this._cancel();
  }

  /** Poll again (the push socket went down): one poll now, then every interval. */
  resume(): void {
    if (!this._paused) {
      return;
    }
    this._paused = false;
    if (this._started && !this._stopped) {
      void this.pollNow();
    }
  }

  get isPaused(): boolean {
    return this._paused;
  }

  /**
   * What the socket delivered: the cursor moves past it and those ids are not
   * delivered again by a later poll.
   */
  advance(after: number, delivered: Iterable<number> = []): void {
    this._after = Math.max(this._after, after);
    for (const id of delivered) {
      this._delivered.add(id);
    }
  }

  /** The page became hidden or visible again. */
  visibilityChanged(): void {
    if (this._isHidden()) {
      this._cancel();
    } else if (this._started && !this._stopped && !this._paused && !this._inFlight) {
      void this.pollNow();
    }
  }

  dispose(): void {
    this._stopped = true;
    this._cancel();
  }

  private async _poll(): Promise<void> {
    const fresh: IUserNotification[] = [];
    let answered = false;
    try {
      for (let page = 0; page < 20; page++) {
        const reply = await this._api.notifications(this._after, this._limit);
        this._unread = reply.unread;
        for (const n of reply.notifications) {
          if (n.id <= this._after) {
            continue;
          }
          this._after = n.id;
          if (!n.read && !this._delivered.has(n.id)) {
            fresh.push(n);
          }
        }
        if (reply.notifications.length < this._limit) {
          break;
        }
      }
      this._failures = 0;
      answered = true;
    } catch (err) {
      if (
        err instanceof SharingError &&
        (err.unavailable || err.status === 403 || err.status === 404)
      ) {
        this._stopped = true; // no stream for us on this server
      } else {
        this._failures += 1;
      }
    }
    for (const n of fresh) {
      this._delivered.add(n.id);
    }
    if (fresh.length) {
      try {
        this._deliver(fresh);
      } catch (err) {
        console.error('jupyter-collab: showing notifications failed', err);
      }
    }
    if (answered) {
      this._polled();
    }
  }

  private _schedule(): void {
    this._cancel();
    if (this._stopped || this._paused || this._isHidden()) {
      return;
    }
    const delay = Math.min(
      this._maxInterval,
      this._interval * Math.pow(2, Math.min(this._failures, 10))
    );
    this._timer = this._setTimeout(() => {
      this._timer = null;
      void this.pollNow();
    }, delay);
  }

  private _cancel(): void {
    if (this._timer !== null) {
      this._clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _api: INotificationsApi;
  private _deliver: (notifications: IUserNotification[]) => void;
  private _polled: () => void;
  private _interval: number;
  private _maxInterval: number;
  private _limit: number;
  private _isHidden: () => boolean;
  private _setTimeout: (fn: () => void, ms: number) => any;
  private _clearTimeout: (handle: any) => void;
  private _after = 0;
  private _unread = 0;
  private _failures = 0;
  private _started = false;
  private _stopped = false;
  private _again = false;
  private _paused = false;
  private _timer: any = null;
  private _inFlight: Promise<void> | null = null;
  private _delivered = new Set<number>();
}
