"""Time until a large document is *editable* in a real browser: ``benchmarks/browser_open.py``.

Three JupyterLab servers run side by side on the same generated files:

* **plain**: JupyterLab without collaboration (this environment's JupyterLab with our server
  extension and our labextension disabled): the document comes over ``/api/contents``;
* **ours**: JupyterLab with this checkout's server extension and built labextension
  (``jupyter_collab/labextension``; build it with ``jlpm build:prod`` for figures);
* **jc**: jupyter-collaboration 5.0.4 in ``benchmarks/.venv-jc`` (installed by the harness).

For each repeat and target (the order rotates every repeat, so no target always goes first on
a machine whose load drifts), two fresh browser contexts load JupyterLab (``/lab?reset``, no
document open); then browser A opens the document (*first opener*: the room was never loaded)
and, while A keeps it open, browser B opens it (*second opener*: the room is loaded). Every
repeat uses a fresh copy of the file, so each first opener finds the room cold.

**Editable** means, measured in the page from the moment ``docmanager:open`` is called:

1. *cells*: the document panel is revealed (no loading overlay or spinner over it), holds
   the whole document (notebook: every cell in the model and as a widget; text: the full
   length in the editor's model), and the first cell's (line's) text is in the editor's DOM;
2. *first highlighted*: the first cell's (line's) comment is rendered as a syntax-highlighted
   token (a CodeMirror span with a highlight class), i.e. the editor has its language;
3. *last highlighted*: after scrolling to the last cell (the end of the file), its comment is
   rendered highlighted too: the document arrived whole and renders at both ends;
4. *editable*: a click into the last cell (line) and a few keys typed through Chromium's input
   pipeline (CDP key events) show up in the editor's DOM and in the document's shared model.

The figure is step 4 (``editable``); the others are kept to see where time goes. The time
between the steps includes a few ms of this harness's round trips (equal for every target).
Each open also records which collaboration WebSocket the page opened (none for plain), the
CPU the machine spent on other people's processes meanwhile, and with ``--trace DIR`` a
Chromium performance trace of the last repeat's opens (``trace_summary.py`` reads them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loads import dump_notebook, executed_notebook, make_python  # noqa: E402
from report import machine_info  # noqa: E402
from servers import (  # noqa: E402
    BENCH_DIR,
    REPO_DIR,
    ServerProcess,
    Target,
    boost,
    install_exit_handlers,
    jc_target,
    machine_busy_seconds,
    ours_target,
    reset_autogroup,
    wait_until_quiet,
)

CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--no-first-run"]
NB_CELLS = 1000
NB_BYTES = 3_000_000
TEXT_BYTES = 4 * 2**20
LAB_ARGS = ("--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- the three servers -------------------------------------------------------------------------

@dataclass
class LabTarget:
    """A JupyterLab server set up as one of the compared configurations."""

    name: str  # plain, ours, jc
    label: str
    server: ServerProcess
    collab_ws: str | None  # the room WebSocket paths ("|"-separated) a collaborative open uses


def _lab_server(target: Target, root: Path, work: Path, nice: int, port: int,
                extra: tuple[str, ...] = ()) -> ServerProcess:
    args = (*target.extra_args, *LAB_ARGS, f"--LabApp.workspaces_dir={work / 'workspaces'}",
            *extra)
    lab = Target(target.name, target.label, target.python, target.api, args, target.pythonpath)
    return ServerProcess(lab, root, work, nice=nice, module="jupyterlab", port_wanted=port)


def make_targets(names: list[str], root: Path, tmp: Path, nice: int,
                 ports: list[int]) -> list[LabTarget]:
    out = []
    for i, full_name in enumerate(names):
        # "ours+earlySession": ours with boolean settings of jupyter-collab:rooms turned on
        # (a variant to compare with ours in the same run)
        name, *flags = full_name.split("+")
        work = tmp / f"{full_name}-work"
        port = ports[i] if ports else 0
        if flags and name != "ours":
            raise SystemExit(f"settings variants exist for ours only, not {full_name}")
        if name == "ours":
            base = ours_target()
            built = REPO_DIR / "jupyter_collab" / "labextension"
            if not (built / "package.json").exists():
                raise SystemExit(f"build the labextension first: {built} is missing "
                                 "(cd labextension && jlpm install && jlpm build:prod)")
            extdir = work / "labextensions"
            extdir.mkdir(parents=True)
            if flags:
                labconfig = work / "config" / "labconfig"
                labconfig.mkdir(parents=True)
                (labconfig / "default_setting_overrides.json").write_text(json.dumps(
                    {"jupyter-collab:rooms": {flag: True for flag in flags}}))
            (extdir / "jupyter-collab").symlink_to(built, target_is_directory=True)
            server = _lab_server(base, root, work, nice, port,
                                 (f"--LabApp.extra_labextensions_path={extdir}",))
            out.append(LabTarget(full_name, f"{base.label} (labextension {_built_label(built)})"
                                 + "".join(f", {flag} on" for flag in flags),
                                 server, "api/collab/room/|api/collab/open/"))
        elif name == "plain":
            base = ours_target()
            plain = Target("plain", "JupyterLab without collaboration", base.python, "contents",
                           ("--ServerApp.jpserver_extensions=jupyter_collab=False",))
            labconfig = work / "config" / "labconfig"
            labconfig.mkdir(parents=True)
            (labconfig / "page_config.json").write_text(
                json.dumps({"disabledExtensions": {"jupyter-collab": True}}))
            out.append(LabTarget(name, plain.label, _lab_server(plain, root, work, nice, port),
                                 None))
        elif name == "jc":
            base = jc_target(log)
            out.append(LabTarget(name, base.label, _lab_server(base, root, work, nice, port),
                                 "api/collaboration/room/"))
        else:
            raise SystemExit(f"unknown target {name}")
    return out


def _built_label(built: Path) -> str:
    try:
        pkg = json.loads((built / "package.json").read_text())
        build = pkg.get("jupyterlab", {}).get("_build", {})
        return f"{pkg.get('version', '?')}, {Path(build.get('load', '?')).name}"
    except (OSError, ValueError):
        return "?"


# -- CPU of this benchmark's own processes -----------------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU of this process and every descendant (servers, playwright, Chromium), reaped
    children included, so ``machine busy - own`` is what other people's processes used."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        ticks[pid] = sum(int(fields[i]) for i in (11, 12, 13, 14))
    me = os.getpid()
    total = 0
    for pid, t in ticks.items():
        p = pid
        while p > 1:
            if p == me:
                total += t
                break
            p = parent.get(p, 0)
    return total / _CLK_TCK


# -- the page side -----------------------------------------------------------------------------

# Page-side helpers, installed once per page: a poller and the checks of each step.
HELPERS_JS = r"""
() => {
  if (window.__bench) return;
  // jupyter-collaboration asks "The document is taking some time to load" when its first
  // sync takes long (on a busy machine): answer "Continue waiting", as a user would; the
  // dialog would otherwise stay over the page, and the time is counted.
  const answerLoadDialog = (state) => {
    for (const dialog of document.querySelectorAll('.jp-Dialog')) {
      if (!dialog.textContent.includes('taking some time to load')) continue;
      const button = Array.from(dialog.querySelectorAll('button'))
        .find(b => b.textContent.includes('Continue waiting'));
      if (button) {
        button.click();
        state.marks.load_dialogs = (state.marks.load_dialogs || 0) + 1;
      }
    }
  };
  const until = (state, name, cond, timeout, onTick) => new Promise((resolve, reject) => {
    const tick = () => {
      answerLoadDialog(state);
      let ok = false;
      try { ok = cond(); } catch (e) { ok = false; }
      if (ok) {
        state.marks[name] = state.since();
        performance.mark('bench:' + name);  // for trace_summary.py's window
        resolve();
        return;
      }
      if (performance.now() - state.t0 > timeout) {
        let view = '';
        try { view = JSON.stringify(diagnose(state.widget)); } catch (e) { view = String(e); }
        reject(new Error('timed out waiting for ' + name + ' ' + JSON.stringify(state.marks)
                         + ' state: ' + view));
        return;
      }
      if (onTick) { try { onTick(); } catch (e) { /* retried next tick */ } }
      setTimeout(tick, 10);
    };
    tick();
  });
  // A highlighted token: a span with a class inside a CodeMirror line, holding `text`.
  const highlighted = (root, text) => {
    if (!root) return false;
    for (const span of root.querySelectorAll('.cm-line span[class]')) {
      if (span.textContent.startsWith(text)) return true;
    }
    return false;
  };
  // Anything covering the document: our loading overlay, JupyterLab's spinner.
  const covered = (node) => {
    for (const el of node.querySelectorAll('.jp-collab-LoadingOverlay, .jp-Spinner')) {
      if (!el.hidden && el.offsetParent !== null) return true;
    }
    return false;
  };
  // What the page shows when a step never comes (for the failure message).
  const diagnose = (widget) => {
    if (!widget) return {widget: null};
    const model = widget.content.model;
    const cm = widget.node.querySelector('.cm-content');
    const shared = model && model.sharedModel;
    return {
      revealed: widget.isRevealed, covered: covered(widget.node),
      cells: model && model.cells ? model.cells.length : undefined,
      widgets: widget.content.widgets ? widget.content.widgets.length : undefined,
      attached: widget.content.widgets
        ? widget.content.widgets.filter(c => c.isAttached).length : undefined,
      length: shared && shared.ysource ? shared.ysource.length : undefined,
      mimetype: widget.content.codeMimetype || (model && model.mimeType),
      firstLine: cm ? cm.textContent.slice(0, 80) : null,
      spans: Array.from(widget.node.querySelectorAll('.cm-line span[class]')).slice(0, 4)
        .map(s => s.className + ':' + s.textContent.slice(0, 20)),
    };
  };
  const target = (node) => {
    for (const el of document.querySelectorAll('[data-bench-target]')) {
      el.removeAttribute('data-bench-target');
    }
    node.setAttribute('data-bench-target', '1');
  };
  window.__bench = {until, highlighted, covered, diagnose, target, state: null};
}
"""

# Installed in every page before JupyterLab loads: when the page's WebSockets open and when
# each large frame (>= 1 KiB: a document's sync) arrives, for the phases of an open.
WS_LOG_JS = r"""
(() => {
  const Native = window.WebSocket;
  window.__wsLog = [];
  class Logged extends Native {
    constructor(...args) {
      super(...args);
      const url = String(args[0]).split('?')[0];
      this.addEventListener('open', () => window.__wsLog.push(
        {t: performance.now(), url, kind: 'open'}));
      this.addEventListener('message', ev => {
        const n = typeof ev.data === 'string' ? ev.data.length : ev.data.byteLength;
        if (n >= 1024) window.__wsLog.push({t: performance.now(), url, kind: 'message', bytes: n});
      });
    }
  }
  window.WebSocket = Logged;
})();
"""

# What happened on the network during an open, in ms from its start: the session request
# (ours, jc), the contents requests (plain: the document; ours: its metadata), the room's
# socket opening and the first large frame arriving (the document's sync).
PHASES_JS = r"""
(t0) => {
  const out = {};
  const rel = (t) => Math.round((t - t0) * 10) / 10;
  for (const e of performance.getEntriesByType('resource')) {
    if (e.startTime < t0) continue;
    const name = e.name.split('?')[0];
    let key = null;
    if (name.includes('/session/')) key = 'session';
    else if (name.includes('/api/contents/') && !name.includes('/checkpoints')) {
      key = e.name.includes('content=0') ? 'metadata' : 'contents';
    }
    if (!key || out[key + '_start'] !== undefined) continue;
    out[key + '_start'] = rel(e.startTime);
    out[key + '_end'] = rel(e.responseEnd);
  }
  for (const w of (window.__wsLog || [])) {
    // (ours opens the room by path, /api/collab/open/..., with its early session)
    if (w.t < t0 || !(w.url.includes('/room/') || w.url.includes('/collab/open/'))) continue;
    if (w.kind === 'open' && out.socket_open === undefined) out.socket_open = rel(w.t);
    // the document's frame: the first large one (the small ones before it: a session or
    // role notice, the server's step 1, awareness)
    if (w.kind === 'message' && w.bytes >= 4096 && out.sync_received === undefined) {
      out.sync_received = rel(w.t);
      out.sync_bytes = w.bytes;
    }
  }
  return out;
}
"""

# Steps 1-2: open the document, wait until it shows whole with its first cell (line)
# highlighted; mark the first cell's editor for the keys of step 3.
OPEN_JS = r"""
async (spec) => {
  const {until, highlighted, covered, target} = window.__bench;
  const app = window.jupyterapp;
  performance.setResourceTimingBufferSize(5000);
  performance.clearResourceTimings();
  performance.mark('bench:open');
  const t0 = performance.now();
  const state = {t0, marks: {}, widget: null,
                 since: () => Math.round((performance.now() - t0) * 10) / 10};
  window.__bench.state = state;
  const marks = state.marks;
  const widget = await app.commands.execute('docmanager:open', {path: spec.path});
  state.widget = widget;
  marks.widget = state.since();
  widget.context.ready.then(() => { marks.context_ready = state.since(); });
  widget.revealed.then(() => { marks.revealed = state.since(); });
  const timeout = spec.timeout;
  if (spec.kind === 'notebook') {
    const nb = widget.content;
    const n = spec.cells;
    await until(state, 'cells', () => widget.isRevealed && !covered(widget.node)
      && nb.model && nb.model.cells.length === n && nb.widgets.length === n
      && nb.widgets[0].node.querySelector('.cm-content').textContent.includes(spec.first),
      timeout);
    await until(state, 'first_highlighted',
                () => highlighted(nb.widgets[0].node, spec.first), timeout);
    target(nb.widgets[0].node.querySelector('.cm-content'));
  } else {
    const ytext = widget.content.model.sharedModel.ysource;
    const host = widget.content.node;
    await until(state, 'cells', () => widget.isRevealed && !covered(widget.node)
      && ytext.length === spec.length
      && host.querySelector('.cm-content').textContent.includes(spec.first), timeout);
    await until(state, 'first_highlighted', () => highlighted(host, spec.first), timeout);
    target(host.querySelector('.cm-content'));
  }
  return marks;
}
"""

# Step 3, after the keys were sent: the typed text is in the editor's DOM and in the shared
# model. Then step 4: go to the end of the document and wait for its last cell (line)
# rendered with highlighting.
TYPED_AND_END_JS = r"""
async (spec) => {
  const {until, highlighted} = window.__bench;
  const state = window.__bench.state;
  const {marks, widget} = state;
  const timeout = spec.timeout;
  const typedNode = document.querySelector('[data-bench-target]');
  // In the shared model too (cheap checks while polling; the text's content checked once).
  const inModel = () => spec.kind === 'notebook'
    ? widget.content.model.cells.get(0).sharedModel.getSource().includes(spec.marker)
    : widget.content.model.sharedModel.ysource.length >= spec.length + spec.marker.length;
  await until(state, 'typed', () => typedNode && typedNode.textContent.includes(spec.marker)
    && inModel(), timeout);
  if (spec.kind !== 'notebook' && !widget.content.model.sharedModel.ysource.toString()
      .slice(0, 4096).includes(spec.marker)) {
    throw new Error('the typed text is not at the start of the shared text');
  }
  marks.end_requested = state.since();
  if (spec.kind === 'notebook') {
    // The last cell arrived whole, in the highlighted language (JupyterLab renders it when
    // its idle-time rendering of the cells before it reaches it: see --render-last).
    const nb = widget.content;
    const n = spec.cells;
    const last = nb.widgets[n - 1];
    await until(state, 'last_cell', () => last.model.mimeType === spec.mimetype
      && last.model.sharedModel.getSource().startsWith(spec.last), timeout);
    if (spec.render_last) {
      let scrolled = false;
      await until(state, 'last_highlighted', () => highlighted(last.node, spec.last),
        spec.timeout, () => {
          if (last.isAttached && !scrolled) {
            scrolled = true;
            marks.last_attached = state.since();
            nb.scrollToItem(n - 1, 'center').catch(() => { scrolled = false; });
          }
        });
    }
  } else {
    // Jump to the end: the last line is rendered (CodeMirror highlights that far into a
    // large file once its incremental parser gets there: see --render-last).
    const editor = widget.content.editor;
    const end = editor.getPositionAt(widget.content.model.sharedModel.ysource.length);
    editor.setCursorPosition(end);
    editor.revealPosition(end);
    const host = widget.content.node;
    await until(state, 'last_cell',
                () => host.querySelector('.cm-content').textContent.includes(spec.last),
                timeout);
    if (spec.render_last) {
      await until(state, 'last_highlighted', () => highlighted(host, spec.last), timeout);
    }
  }
  marks.editable = Math.max(marks.typed, marks.last_cell);
  marks.t0 = state.t0;
  performance.mark('bench:editable');
  return marks;
}
"""

CLOSE_JS = r"""
async () => {
  const w = window.__bench && window.__bench.state && window.__bench.state.widget;
  if (w && !w.isDisposed) {
    w.context.model.dirty = false;
    w.dispose();
  }
}
"""

PLUGINS_JS = r"""
() => {
  const app = window.jupyterapp;
  const has = (id) => app.hasPlugin(id)
    && (app.isPluginActivated ? app.isPluginActivated(id) : true);
  return {ours: has('jupyter-collab:rooms'),
          jc: has('@jupyter/docprovider-extension:notebook-cell-executor')
              || Array.from(app.listPlugins ? app.listPlugins() : []).some(
                   id => id.startsWith('@jupyter/docprovider-extension')),
          version: app.version};
}
"""


@dataclass
class Doc:
    kind: str  # notebook | text
    name: str  # file name stem (copies get a suffix)
    content: str
    spec: dict[str, Any] = field(default_factory=dict)


def make_docs(cells: int, nb_bytes: int, text_bytes: int) -> list[Doc]:
    nb = executed_notebook(cells, nb_bytes)
    first = nb["cells"][0]["source"][0].rstrip("\n")
    last = nb["cells"][-1]["source"][0].rstrip("\n")
    text = make_python(text_bytes)
    lines = text.splitlines()
    return [
        Doc("notebook", "big", dump_notebook(nb),
            {"kind": "notebook", "cells": cells, "first": first, "last": last,
             "mimetype": "text/x-ipython"}),
        Doc("text", "big", text,
            {"kind": "text", "length": len(text), "first": lines[0], "last": lines[-1]}),
    ]


def _ext(doc: Doc) -> str:
    return "ipynb" if doc.kind == "notebook" else "py"


# -- one open ------------------------------------------------------------------------------------

def open_once(page: Any, spec: dict[str, Any], sockets: list[str], collab_ws: str | None,
              timeout_ms: float, marker: str, render_last: bool = False) -> dict[str, Any]:
    """One timed open in ``page``: steps 1-2 in the page, the keys from here (step 3), then
    the typed text and the end of the document in the page (steps 3-4)."""
    busy0, own0, wall0 = machine_busy_seconds(), own_cpu_seconds(), time.monotonic()
    n_sockets = len(sockets)
    page.evaluate(HELPERS_JS)
    page.evaluate(OPEN_JS, {**spec, "timeout": timeout_ms})
    # on the first line of the editor (its top left corner), then to the end of that line
    page.locator("[data-bench-target]").click(position={"x": 12, "y": 8})
    page.keyboard.press("End")
    page.keyboard.type(marker)
    marks = page.evaluate(TYPED_AND_END_JS, {**spec, "marker": marker, "timeout": timeout_ms,
                                             "render_last": render_last})
    marks["phases"] = page.evaluate(PHASES_JS, marks.pop("t0"))
    wall = time.monotonic() - wall0
    other = (machine_busy_seconds() - busy0) - (own_cpu_seconds() - own0)
    opened = sockets[n_sockets:]
    res = {"marks": marks, "editable_ms": marks["editable"],
           "other_load_pct": max(0.0, other / wall * 100), "sockets": opened,
           "loadavg_1m": os.getloadavg()[0]}
    if collab_ws is not None:
        res["collaborative"] = any(p in url for url in opened for p in collab_ws.split("|"))
    else:
        res["collaborative"] = any("/room/" in url for url in opened)
    return res


def load_lab(page: Any, server: ServerProcess, timeout_ms: float) -> None:
    page.goto(f"{server.base_url}/lab?reset&token={server.token}", timeout=timeout_ms)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started",
                           timeout=timeout_ms)
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    # the file browser and the launcher settle; nothing is open
    page.wait_for_timeout(500)


def run_pair(browser: Any, target: LabTarget, doc: Doc, path: str, timeout_ms: float,
             trace_dir: Path | None, rep: int, render_last: bool = False) -> dict[str, Any]:
    """First opener (browser context A), then second opener (B) while A keeps it open."""
    server = target.server
    contexts, pages, sockets = [], [], []
    try:
        for _ in range(2):
            ctx = browser.new_context(viewport={"width": 1280, "height": 900})
            page = ctx.new_page()
            page.add_init_script(WS_LOG_JS)
            urls: list[str] = []
            page.on("websocket", lambda ws, urls=urls: urls.append(ws.url))
            contexts.append(ctx)
            pages.append(page)
            sockets.append(urls)
        for page in pages:
            load_lab(page, server, timeout_ms)
        plugins = pages[0].evaluate(PLUGINS_JS)
        spec = {**doc.spec, "path": path}
        out: dict[str, Any] = {"plugins": plugins}
        for role, page, urls in (("first", pages[0], sockets[0]),
                                 ("second", pages[1], sockets[1])):
            marker = f"zq{rep}{role[0]}x"
            if trace_dir is not None:
                trace_dir.mkdir(parents=True, exist_ok=True)
                browser.start_tracing(page=page, path=str(
                    trace_dir / f"{target.name}-{doc.kind}-{role}.json"), screenshots=False)
            try:
                out[role] = open_once(page, spec, urls, target.collab_ws, timeout_ms, marker,
                                      render_last)
            finally:
                if trace_dir is not None:
                    browser.stop_tracing()
            if doc.kind == "text" and target.collab_ws is not None:
                # the second opener gets what the first one typed
                spec = {**spec, "length": spec["length"] + len(marker)}
            page.wait_for_timeout(300)  # let the other browser receive the typed keys
        return out
    finally:
        for page in pages:
            with contextlib.suppress(Exception):  # closing anyway
                page.evaluate(CLOSE_JS)
        for ctx in contexts:
            ctx.close()


# -- the run -----------------------------------------------------------------------------------

def summarize(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    names = args.targets.split(",")
    docs = make_docs(args.cells, NB_BYTES * args.cells // NB_CELLS, args.text_bytes)
    docs = [d for d in docs if d.kind in args.docs.split(",")]
    ports = [int(p) for p in args.ports.split(",")] if args.ports else []
    results: dict[str, Any] = {"opens": []}
    with tempfile.TemporaryDirectory(prefix="browser-open-") as d:
        tmp = Path(d)
        root = tmp / "root"
        root.mkdir()
        for doc in docs:
            for rep in range(args.repeats + 1):  # +1: an unmeasured warm-up round
                for name in names:
                    (root / f"{doc.name}-{name}-{rep}.{_ext(doc)}").write_text(doc.content)
        targets = make_targets(names, root, tmp, args.nice, ports)
        for t in targets:
            log(f"starting {t.name}: {t.label}")
            t.server.start(timeout=180)
        results["targets"] = {t.name: t.label for t in targets}
        timeout_ms = args.timeout * 1000
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS,
                                             headless=True)
                results["chromium"] = browser.version
                for rep in range(args.repeats + 1):
                    order = names[rep % len(names):] + names[:rep % len(names)]
                    for doc in docs:
                        for t in (targets[names.index(n)] for n in order):
                            busy = wait_until_quiet(args.wait_quiet, log=log)
                            path = f"{doc.name}-{t.name}-{rep}.{_ext(doc)}"
                            trace = (Path(args.trace) if args.trace and rep == args.repeats
                                     else None)
                            try:
                                res = run_pair(browser, t, doc, path, timeout_ms, trace, rep,
                                               args.render_last)
                            except Exception as e:  # noqa: BLE001 - recorded, run goes on
                                log(f"  {t.name} {doc.kind} rep {rep}: FAILED {e}")
                                res = {"error": f"{type(e).__name__}: {e}"[:800]}
                            res.update({"target": t.name, "doc": doc.kind, "rep": rep,
                                        "warmup": rep == 0, "busy_before_pct": busy})
                            results["opens"].append(res)
                            if "error" not in res:
                                log(f"  {t.name:5} {doc.kind:8} rep {rep}: first "
                                    f"{res['first']['editable_ms']:7.0f} ms, second "
                                    f"{res['second']['editable_ms']:7.0f} ms  (other load "
                                    f"{res['first']['other_load_pct']:.0f}%/"
                                    f"{res['second']['other_load_pct']:.0f}%)")
                browser.close()
        finally:
            for t in targets:
                t.server.stop()
                problems = t.server.log_problems()
                results.setdefault("server_log", {})[t.name] = problems
                if args.keep_logs:
                    dest = Path(args.keep_logs)
                    dest.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(t.server.log_path, dest / f"{t.name}-server.log")
    return results


STEPS = ("cells", "first_highlighted", "typed", "last_cell", "editable", "last_attached",
         "last_highlighted")
# The network phases of an open (PHASES_JS), listed before the steps.
PHASES = ("session_end", "socket_open", "contents_end", "metadata_end", "sync_received")
ORDER = PHASES + STEPS


def tabulate(results: dict[str, Any], names: list[str]) -> tuple[str, dict[str, Any]]:
    """Medians and spread per target, document, opener and step; ratios against plain."""
    summary: dict[str, Any] = {}
    for o in results["opens"]:
        if o.get("warmup") or "error" in o:
            continue
        for role in ("first", "second"):
            marks = o[role]["marks"]
            found = {**{p: v for p, v in marks.get("phases", {}).items() if p in PHASES},
                     **{step: marks[step] for step in STEPS if step in marks}}
            for step, value in found.items():
                summary.setdefault((o["doc"], role, step), {}).setdefault(
                    o["target"], []).append(value)
    lines = ["| document | opener | step | " + " | ".join(
        f"{n} median (min–max) ms" for n in names) + " | "
        + " | ".join(f"{n}/plain" for n in names if n != "plain") + " |",
        "|---|---|---|" + "---|" * (len(names) + len([n for n in names if n != "plain"]))]
    figures: dict[str, Any] = {}
    for (doc, role, step), per in sorted(summary.items(), key=lambda kv: (
            kv[0][0], kv[0][1], ORDER.index(kv[0][2]))):
        stats = {n: summarize(per.get(n, [])) for n in names}
        figures[f"{doc}/{role}/{step}"] = stats
        cells = []
        for n in names:
            s = stats[n]
            cells.append("—" if s["median"] is None else
                         f"{s['median']:.0f} ({s['min']:.0f}–{s['max']:.0f})")
        ratios = []
        for n in names:
            if n == "plain":
                continue
            a, b = stats[n]["median"], stats.get("plain", {}).get("median")
            ratios.append("—" if a is None or not b else f"{a / b:.2f}")
        label = {"session_end": "(network) session request answered",
                 "socket_open": "(network) room socket open",
                 "contents_end": "(network) document received over /api/contents",
                 "metadata_end": "(network) file metadata received",
                 "sync_received": "(network) document sync frame received",
                 "cells": "whole document shown", "first_highlighted": "first cell highlighted",
                 "typed": "typing works",
                 "last_cell": "last cell arrived (in its language)",
                 "last_attached": "last cell in the page",
                 "last_highlighted": "last cell highlighted",
                 "editable": "**editable** (all of the above)"}[step]
        lines.append(f"| {doc} | {role} | {label} | " + " | ".join(cells) + " | "
                     + " | ".join(ratios) + " |")
    return "\n".join(lines), figures


def notes(results: dict[str, Any]) -> str:
    out = []
    loads = [o[r]["other_load_pct"] for o in results["opens"] if "error" not in o
             and not o.get("warmup") for r in ("first", "second")]
    if loads:
        out.append(f"- other processes on the machine during the measured opens: median "
                   f"{statistics.median(loads):.0f}% of one core (min {min(loads):.0f}%, "
                   f"max {max(loads):.0f}%; 2 cores = 200%)")
    avgs = [o[r]["loadavg_1m"] for o in results["opens"] if "error" not in o
            and not o.get("warmup") for r in ("first", "second") if "loadavg_1m" in o[r]]
    if avgs:
        out.append(f"- 1-minute load average after the measured opens: median "
                   f"{statistics.median(avgs):.1f} (min {min(avgs):.1f}, max {max(avgs):.1f})")
    dialogs: dict[str, int] = {}
    for o in results["opens"]:
        for r in ("first", "second"):
            if "error" not in o and o[r]["marks"].get("load_dialogs"):
                dialogs[o["target"]] = dialogs.get(o["target"], 0) + 1
    for t, n in dialogs.items():
        out.append(f"- {t}: {n} open(s) showed \"The document is taking some time to load\" "
                   "(answered \"Continue waiting\"; the time is counted)")
    errors = [o for o in results["opens"] if "error" in o]
    for o in errors:
        out.append(f"- FAILED {o['target']} {o['doc']} rep {o['rep']}: {o['error'][:300]}")
    collab = {}
    for o in results["opens"]:
        if "error" in o:
            continue
        for r in ("first", "second"):
            collab.setdefault(o["target"], set()).add(o[r]["collaborative"])
    for t, vals in collab.items():
        out.append(f"- {t}: opened through a collaboration room: "
                   + ("always" if vals == {True} else "never" if vals == {False} else "sometimes"))
    for t, p in results.get("server_log", {}).items():
        if p.get("errors"):
            out.append(f"- {t} server logged {p['errors']} error line(s): {p['first_errors']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", default="plain,ours,jc",
                   help="comma list: plain,ours,jc; ours+SETTING: ours with the boolean "
                   "setting SETTING of jupyter-collab:rooms on (e.g. ours+earlySession)")
    p.add_argument("--docs", default="notebook,text", help="comma list: notebook,text")
    p.add_argument("--repeats", type=int, default=5, help="measured repeats (+1 warm-up)")
    p.add_argument("--cells", type=int, default=NB_CELLS)
    p.add_argument("--text-bytes", type=int, default=TEXT_BYTES)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per step")
    p.add_argument("--wait-quiet", type=float, default=20.0,
                   help="before each pair of opens, wait up to this long for a quiet machine")
    p.add_argument("--nice", type=int, default=0, help="as run.py (e.g. -10 as root)")
    p.add_argument("--ports", default="", help="comma list of ports for the servers, in "
                   "--targets order (default: free ports)")
    p.add_argument("--render-last", action="store_true",
                   help="also wait until the last cell (line) is rendered highlighted: "
                        "JupyterLab attaches a large notebook's cells in idle time, and "
                        "CodeMirror parses a large file up to where it is shown: minutes here")
    p.add_argument("--trace", metavar="DIR", help="Chromium traces of the last repeat's opens")
    p.add_argument("--keep-logs", metavar="DIR", help="copy the servers' logs here")
    p.add_argument("--json", default=str(BENCH_DIR / "results" / "browser-latest.json"))
    p.add_argument("--record", action="store_true",
                   help="write the table into benchmarks/RESULTS-open.md")
    args = p.parse_args(argv)
    install_exit_handlers()
    if args.nice:
        boost(os.getpid(), args.nice)
    started = datetime.now(timezone.utc)
    try:
        results = run(args)
    finally:
        if args.nice:
            reset_autogroup()
    names = args.targets.split(",")
    table, figures = tabulate(results, names)
    machine = machine_info()
    header = (f"browser time-to-editable, {started:%Y-%m-%d %H:%M} UTC, {args.repeats} repeats "
              f"(+1 warm-up), niceness {args.nice}, Chromium {results.get('chromium')}\n"
              f"machine: {machine.get('cpu', '?')}, {machine['cpus']} CPUs\n"
              + "\n".join(f"{k}: {v}" for k, v in results.get("targets", {}).items()))
    text = f"```\n{header}\n```\n\n{table}\n\nNotes:\n{notes(results)}\n"
    print("\n" + text)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"started": started.isoformat(), "args": vars(args),
                               "machine": machine, "figures": figures, "results": results,
                               "report": text}, indent=1, default=str))
    print(f"figures written to {out}")
    if args.record:
        cmd = "python benchmarks/browser_open.py " + " ".join(
            sys.argv[1:] if argv is None else argv)
        (BENCH_DIR / "RESULTS-open.md").write_text(
            "# Time to editable in Chromium\n\nProduced by `" + cmd.strip() + "`. See "
            "`benchmarks/README.md` for what each step means.\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
