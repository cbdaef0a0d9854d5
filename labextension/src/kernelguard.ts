/**
 * No code for people who may only view: a viewer (or someone whose access
 * was removed) gets no kernel session for the document (none started, none
 * attached), and the commands that would run code in it or control its
 * kernel (run, restart, interrupt, change or shut down the kernel, a
 * console for the notebook) are disabled and do nothing.
 *
 * The server refuses these too (its Authorizer narrows kernels and sessions
 * for viewers); this is what the page offers. JupyterLab's menus, palette,
 * toolbar buttons and keyboard shortcuts ask the command registry whether
 * a command is enabled, and run it through the registry: wrapping those two
 * methods of the application's registry covers every way in. The kernel
 * selector of the toolbar and of the status bar goes to the session context
 * directly: its `changeKernel`/`startKernel`/`restartKernel` are wrapped per
 * document.
 *
 * Nothing here imports JupyterLab, so it is unit tested with fakes.
 */

/** Commands that run code in a document's kernel or control that kernel. */
export const KERNEL_COMMANDS: ReadonlySet<string> = new Set([
  'notebook:run-cell',
  'notebook:run-cell-and-select-next',
  'notebook:run-cell-and-insert-below',
  'notebook:run-all-cells',
  'notebook:run-all-above',
  'notebook:run-all-below',
  'notebook:run-in-console',
  'notebook:restart-kernel',
  'notebook:restart-clear-output',
  'notebook:restart-and-run-to-selected',
  'notebook:restart-run-all',
  'notebook:interrupt-kernel',
  'notebook:shutdown-kernel',
  'notebook:change-kernel',
  'notebook:reconnect-to-kernel',
  'notebook:create-console',
  'notebook:create-subshell-console',
  'kernelmenu:interrupt',
  'kernelmenu:restart',
  'kernelmenu:restart-and-clear',
  'kernelmenu:change',
  'kernelmenu:shutdown',
  'kernelmenu:reconnect-to-kernel',
  'runmenu:run',
  'runmenu:run-all',
  'runmenu:run-above',
  'runmenu:run-below',
  'runmenu:restart-and-run-all',
  'console:create'
]);

/** The part of Lumino's CommandRegistry used here. */
export interface ICommandRegistryLike {
  isEnabled(id: string, args?: any): boolean;
  execute(id: string, args?: any): Promise<any>;
}

/**
 * Make the kernel commands of `commands` disabled, and do nothing, when
 * `blocked(id, args)` says so (the document they would act on is one we
 * may only view); `onBlocked` is told when one is run anyway.
 *
 * Returns a function that restores the registry.
 */
export function guardKernelCommands(
  commands: ICommandRegistryLike,
  blocked: (id: string, args: any) => boolean,
  onBlocked?: (id: string, args: any) => void
): () => void {
  const isEnabled = commands.isEnabled;
  const execute = commands.execute;
  const refuses = (id: string, args: any): boolean => {
    if (!KERNEL_COMMANDS.has(id)) {
      return false;
    }
    try {
      return blocked(id, args ?? {});
    } catch {
      return false;
    }
  };
  commands.isEnabled = function (this: unknown, id: string, args?: any) {
    return !refuses(id, args) && isEnabled.call(this, id, args);
  };
  commands.execute = function (this: unknown, id: string, args?: any) {
    if (refuses(id, args)) {
      onBlocked?.(id, args ?? {});
      return Promise.resolve(undefined);
    }
    return execute.call(this, id, args);
  };
  return () => {
    commands.isEnabled = isEnabled;
    commands.execute = execute;
  };
}

/**
 * Tell the registry that the kernel commands' state may have changed (a
 * role changed): each registered one by id. A change without an id makes
 * every command-bound element of the page (toolbar buttons, menus) render
 * again, for each room that connects.
 */
export function notifyKernelCommands(commands: {
  hasCommand(id: string): boolean;
  notifyCommandChanged(id?: string): void;
}): void {
  for (const id of KERNEL_COMMANDS) {
    if (commands.hasCommand(id)) {
      commands.notifyCommandChanged(id);
    }
  }
}

/** The part of a JupyterLab `ISessionContext` used here. */
export interface ISessionContextLike {
  kernelPreference: Record<string, any>;
  readonly session: { dispose(): void; isDisposed?: boolean } | null;
  readonly isDisposed?: boolean;
  /** JupyterLab's status display (`kernelDisplayStatus`) and its signal. */
  readonly kernelDisplayStatus?: string;
  readonly statusChanged?: { emit(status: any): void };
  initialize(): Promise<boolean>;
  changeKernel(options?: any): Promise<any>;
  startKernel(): Promise<boolean>;
  restartKernel(): Promise<void>;
}

/** What a kernel preference must say for a document that gets no kernel. */
export const NO_KERNEL = Object.freeze({
  shouldStart: false,
  canStart: false,
  shouldReuse: false,
  autoStartDefault: false
});

/**
 * The kernel of one document, for someone who may or may not run code in
 * it. `apply()` after each change of role:
 *
 * - blocked: the session context's preference starts and reuses nothing
 *   (its initialization, which JupyterLab runs once the document is loaded,
 *   then attaches to no session and starts no kernel), a session already
 *   attached is let go (disconnected here, not shut down: the kernel is the
 *   others'), and starting, changing or restarting a kernel does nothing;
 * - allowed again: the preference is what it was, and the kernel is
 *   started or attached as JupyterLab does when a document opens.
 */
export class KernelGate {
  constructor(
    readonly sessionContext: ISessionContextLike,
    private readonly _isBlocked: () => boolean
  ) {
    const sc = sessionContext;
    const initialize = sc.initialize.bind(sc);
    const changeKernel = sc.changeKernel.bind(sc);
    const startKernel = sc.startKernel.bind(sc);
    const restartKernel = sc.restartKernel.bind(sc);
    sc.initialize = async () => {
      this.apply();
      this._initialized = true;
      const result = await initialize();
      if (this.blocked) {
        this._refreshStatus();
      }
      return result;
    };
    sc.changeKernel = (options?: any) =>
      this.blocked ? Promise.resolve(null) : changeKernel(options);
    sc.startKernel = () =>
      this.blocked ? Promise.resolve(false) : startKernel();
    sc.restartKernel = () =>
      this.blocked ? Promise.resolve() : restartKernel();
    this._startKernel = startKernel;
  }

  /** Whether this document gets no kernel now. */
  get blocked(): boolean {
    return this._isBlocked();
  }

  /** Bring the session context in line with the current role. */
  apply(): void {
    const sc = this.sessionContext;
    if (sc.isDisposed) {
      return;
    }
    if (this.blocked) {
      if (this._saved === null) {
        this._saved = { ...sc.kernelPreference };
      }
      sc.kernelPreference = { ...sc.kernelPreference, ...NO_KERNEL };
      const session = sc.session;
      if (session && !session.isDisposed) {
        this._detached = true;
        session.dispose();
      }
      this._refreshStatus();
      return;
    }
    if (this._saved !== null) {
      const saved = this._saved;
      this._saved = null;
      sc.kernelPreference = { ...sc.kernelPreference, ...restored(saved) };
      if (this._initialized && !sc.session) {
        // As when the document opens: the default kernel (attaching to the
        // document's running session, if any).
        void this._startKernel().catch(() => undefined);
      }
      this._detached = false;
    }
  }

  /** Whether a session was let go because the role became read-only. */
  get detached(): boolean {
    return this._detached;
  }

  /**
   * Tell JupyterLab's kernel status displays to read the status again: they
   * read it on this signal only, and would keep showing "Initializing", as
   * they did before the preference said that no kernel comes.
   */
  private _refreshStatus(): void {
    const sc = this.sessionContext;
    try {
      sc.statusChanged?.emit(sc.kernelDisplayStatus ?? 'unknown');
    } catch {
      // a display failing is not ours to handle
    }
  }

  private _saved: Record<string, any> | null = null;
  private _initialized = false;
  private _detached = false;
  private _startKernel: () => Promise<boolean>;
}

/** The fields of NO_KERNEL as they were (absent ones removed again). */
function restored(saved: Record<string, any>): Record<string, any> {
  const result: Record<string, any> = {};
  for (const key of Object.keys(NO_KERNEL)) {
    result[key] = key in saved ? saved[key] : undefined;
  }
  return result;
}
