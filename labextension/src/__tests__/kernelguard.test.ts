import { describe, expect, it } from 'vitest';

import {
  KERNEL_COMMANDS,
  KernelGate,
  NO_KERNEL,
  guardKernelCommands,
  notifyKernelCommands
} from '../kernelguard';

/** A command registry with every command enabled, recording what ran. */
function registry() {
  const ran: string[] = [];
  return {
    ran,
    isEnabled(_id: string, _args?: any) {
      return true;
    },
    async execute(id: string, _args?: any) {
      ran.push(id);
      return id;
    }
  };
}

/** A session context double that behaves like JupyterLab's for what the gate uses. */
class FakeSessionContext {
  kernelPreference: Record<string, any> = { name: 'python3', language: 'python' };
  session: { dispose(): void; isDisposed: boolean } | null = null;
  started: string[] = [];
  statuses: string[] = [];
  statusChanged = { emit: (status: string) => this.statuses.push(status) };
  get kernelDisplayStatus(): string {
    return this.session ? 'idle' : 'unknown';
  }
  /** A session of the document already runs on the server (someone else's kernel). */
  constructor(private serverHasSession = false) {}

  async initialize(): Promise<boolean> {
    const p = this.kernelPreference;
    if (this.serverHasSession && p.shouldReuse !== false) {
      this.attach();
      return false;
    }
    if (p.shouldStart === false || p.canStart === false) {
      return false;
    }
    return this.startKernel();
  }
  async changeKernel(options: any = {}): Promise<any> {
    this.started.push(`change:${options.name}`);
    this.attach();
    return {};
  }
  async startKernel(): Promise<boolean> {
    if (!this.kernelPreference.autoStartDefault && this.kernelPreference.shouldStart === false) {
      return true;
    }
    this.started.push('start');
    this.attach();
    return false;
  }
  async restartKernel(): Promise<void> {
    this.started.push('restart');
  }
  private attach() {
    const session = {
      isDisposed: false,
      dispose: () => {
        session.isDisposed = true;
        if (this.session === session) {
          this.session = null;
        }
      }
    };
    this.session = session;
  }
}

describe('guardKernelCommands', () => {
  it('disables the kernel commands where blocked, and running them does nothing', async () => {
    const commands = registry();
    const told: string[] = [];
    let blocked = true;
    const restore = guardKernelCommands(commands, () => blocked, id => told.push(id));
    for (const id of ['notebook:run-cell', 'notebook:restart-kernel', 'notebook:interrupt-kernel',
      'notebook:change-kernel', 'notebook:create-console', 'kernelmenu:restart', 'console:create']) {
      expect(KERNEL_COMMANDS.has(id)).toBe(true);
      expect(commands.isEnabled(id)).toBe(false);
      expect(await commands.execute(id)).toBeUndefined();
    }
    expect(commands.ran).toEqual([]);
    expect(told).toHaveLength(7);
    // other commands are untouched
    expect(commands.isEnabled('notebook:enter-command-mode')).toBe(true);
    expect(await commands.execute('docmanager:save')).toBe('docmanager:save');
    // an editor: everything as before
    blocked = false;
    expect(commands.isEnabled('notebook:run-cell')).toBe(true);
    expect(await commands.execute('notebook:run-cell')).toBe('notebook:run-cell');
    restore();
    blocked = true;
    expect(commands.isEnabled('notebook:run-cell')).toBe(true);
  });

  it('asks with the command and its arguments; a failing check blocks nothing', () => {
    const commands = registry();
    const asked: any[] = [];
    guardKernelCommands(commands, (id, args) => {
      asked.push([id, args]);
      if (id === 'console:create') {
        throw new Error('boom');
      }
      return args.semanticWidget === 'nb-viewer';
    });
    expect(commands.isEnabled('notebook:run-all-cells', { semanticWidget: 'nb-viewer' })).toBe(false);
    expect(commands.isEnabled('notebook:run-all-cells', { semanticWidget: 'nb-editor' })).toBe(true);
    expect(commands.isEnabled('console:create', { path: 'x.ipynb' })).toBe(true);
    expect(asked[0]).toEqual(['notebook:run-all-cells', { semanticWidget: 'nb-viewer' }]);
  });
});

describe('KernelGate', () => {
  it('a viewer: no kernel started and none attached, even when the document has one running', async () => {
    for (const running of [false, true]) {
      const sc = new FakeSessionContext(running);
      const gate = new KernelGate(sc, () => true);
      expect(await sc.initialize()).toBe(false);
      expect(sc.session).toBeNull();
      expect(sc.kernelPreference).toMatchObject({ ...NO_KERNEL, name: 'python3' });
      // the kernel selector, restart: nothing
      expect(await sc.changeKernel({ name: 'python3' })).toBeNull();
      expect(await sc.startKernel()).toBe(false);
      await sc.restartKernel();
      expect(sc.started).toEqual([]);
      expect(gate.blocked).toBe(true);
      // the status bar is told to read the status again: no kernel, not "initializing"
      expect(sc.statuses.length).toBeGreaterThan(0);
      expect(sc.statuses.every(status => status === 'unknown')).toBe(true);
    }
  });

  it('an editor: as JupyterLab does', async () => {
    const sc = new FakeSessionContext(true);
    new KernelGate(sc, () => false);
    await sc.initialize();
    expect(sc.session).not.toBeNull();
    expect(sc.kernelPreference.shouldStart).toBeUndefined();
  });

  it('demoted while attached: the session is let go; promoted again: the kernel comes back', async () => {
    let viewer = false;
    const sc = new FakeSessionContext(false);
    const gate = new KernelGate(sc, () => viewer);
    await sc.initialize();
    expect(sc.started).toEqual(['start']);
    const session = sc.session!;
    viewer = true;
    gate.apply();
    expect(session.isDisposed).toBe(true);
    expect(sc.session).toBeNull();
    expect(gate.detached).toBe(true);
    expect(await sc.changeKernel({ name: 'python3' })).toBeNull();
    viewer = false;
    gate.apply();
    await Promise.resolve();
    expect(sc.kernelPreference).toEqual({
      name: 'python3',
      language: 'python',
      shouldStart: undefined,
      canStart: undefined,
      shouldReuse: undefined,
      autoStartDefault: undefined
    });
    expect(sc.started).toEqual(['start', 'start']);
    expect(sc.session).not.toBeNull();
    expect(gate.detached).toBe(false);
  });

  it('a preference of its own is given back as it was', async () => {
    let viewer = true;
    const sc = new FakeSessionContext(false);
    sc.kernelPreference = { name: 'python3', shouldStart: false, autoStartDefault: true };
    const gate = new KernelGate(sc, () => viewer);
    await sc.initialize();
    viewer = false;
    gate.apply();
    expect(sc.kernelPreference).toMatchObject({ shouldStart: false, autoStartDefault: true });
    expect(sc.kernelPreference.canStart).toBeUndefined();
  });
});

describe('notifyKernelCommands', () => {
  it('notifies each registered kernel command by id, never every command at once', () => {
    const notified: Array<string | undefined> = [];
    const registered = new Set(['notebook:run-cell', 'console:create', 'docmanager:open']);
    notifyKernelCommands({
      hasCommand: id => registered.has(id),
      notifyCommandChanged: id => notified.push(id)
    });
    expect(notified.sort()).toEqual(['console:create', 'notebook:run-cell']);
  });
});
