"""What the page *does* while a large document opens, counted: ``benchmarks/browser_counts.py``.

``browser_open.py`` measures wall time, which a loaded machine distorts (a function that runs
while the page waits for a core collects that wait in a profile too). This script counts
instead, and counts do not depend on the load: for each target (plain JupyterLab, ours,
jupyter-collaboration) a first and a second opener open the same generated document, as in
``browser_open.py``, and the page records, from ``docmanager:open`` until the document is shown
whole, then until every cell is rendered (or the text is editable):

* calls of every method of JupyterLab's classes on the open path (cell widgets and models,
  output areas and models, renderers, the notebook widget and its model, the editors, the
  shared models, Lumino widgets): the prototypes are wrapped with a counter, found from the
  instances of a tiny document opened (and closed) first;
* renderers created and ``renderModel`` calls, per MIME type;
* cells-changed events of the notebook model and Yjs transactions of the document;
* Chromium's own counters (``Performance.getMetrics``: layouts, style recalculations, DOM
  nodes, event listeners) and, with ``--coverage``, the exact call count of every function of
  the page's scripts (``Profiler.startPreciseCoverage``), to find excess calls in code no
  prototype covers.

The output is a table of counters that differ between the targets (``--all`` for all).
Timing is not the point here: run it at any load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_open import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_FLAGS,
    HELPERS_JS,
    NB_BYTES,
    NB_CELLS,
    TEXT_BYTES,
    _ext,
    load_lab,
    log,
    make_docs,
    make_targets,
)
from loads import dump_notebook  # noqa: E402
from servers import BENCH_DIR, install_exit_handlers  # noqa: E402

# A tiny notebook whose instances give the prototypes to wrap (a code cell with a stream and
# an execute_result, a markdown cell).
TINY_NB = {
    "cells": [
        {"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {},
         "outputs": [{"name": "stdout", "output_type": "stream", "text": ["x\n"]},
                     {"data": {"text/plain": ["1"]}, "execution_count": 1, "metadata": {},
                      "output_type": "execute_result"}],
         "source": ["# tiny\n", "x = 1"]},
        {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": ["# Title\n", "text"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"},
                 "language_info": {"name": "python", "version": "3.11"}},
    "nbformat": 4, "nbformat_minor": 5,
}

# Install the counters: open the tiny notebook (and a tiny text file), wrap every method of
# the prototypes its objects are made of, close it.
INSTALL_JS = r"""
async ({tinyNotebook, tinyText}) => {
  if (window.__counts) return Object.keys(window.__counts.labels).length;
  const app = window.jupyterapp;
  const counts = {};
  const labels = new Map();  // prototype -> label
  const bump = (key, n = 1) => { counts[key] = (counts[key] || 0) + n; };
  const wrapProto = (label, proto) => {
    if (!proto || proto === Object.prototype || labels.has(proto)) return;
    labels.set(proto, label);
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue;
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (!d || !d.configurable) continue;
      const key = label + '.' + name;
      if (typeof d.value === 'function') {
        const orig = d.value;
        const wrapped = function (...args) { bump(key); return orig.apply(this, args); };
        Object.defineProperty(proto, name, {...d, value: wrapped});
      } else if (d.set) {
        const orig = d.set;
        Object.defineProperty(proto, name, {...d, set(v) { bump(key + '='); orig.call(this, v); }});
      }
    }
  };
  // The prototype chain of an object, labelled from `label` (Base classes keep the label of
  // the first object that reached them; minified class names are added when they exist).
  const wrapChain = (label, obj) => {
    let proto = obj && Object.getPrototypeOf(obj);
    let depth = 0;
    while (proto && proto !== Object.prototype) {
      const ctor = proto.constructor && proto.constructor.name;
      wrapProto(depth === 0 ? label : `${label}^${depth}(${ctor || '?'})`, proto);
      proto = Object.getPrototypeOf(proto);
      depth++;
    }
  };
  const nbw = await app.commands.execute('docmanager:open', {path: tinyNotebook});
  await nbw.context.ready;
  await nbw.revealed;
  const nb = nbw.content;
  const waitFor = async (cond, what) => {
    const t0 = performance.now();
    while (!cond()) {
      if (performance.now() - t0 > 60000) throw new Error('tiny notebook: ' + what);
      await new Promise(r => setTimeout(r, 20));
    }
  };
  await waitFor(() => nb.widgets.length === 2 && !nb.widgets[0].isPlaceholder()
    && nb.widgets[0].outputArea.widgets.length === 2, 'cells rendered');
  const code = nb.widgets[0];
  const md = nb.widgets[1];
  const rm = nb.rendermime;
  // The renderers, per MIME type: count creations and renders.
  wrapChain('RenderMime', rm);
  for (const mime of ['text/plain', 'application/vnd.jupyter.stdout', 'text/markdown',
                      'text/html']) {
    const r = rm.createRenderer(mime);
    wrapChain('Renderer[' + mime + ']', r);
    r.dispose();
  }
  const origCreate = Object.getPrototypeOf(rm).createRenderer;
  Object.getPrototypeOf(rm).createRenderer = function (mime) {
    bump('createRenderer:' + mime);
    return origCreate.call(this, mime);
  };
  wrapChain('Notebook', nb);
  wrapChain('NotebookModel', nb.model);
  wrapChain('CellList', nb.model.cells);
  wrapChain('NotebookShared', nb.model.sharedModel);
  wrapChain('ContentFactory', nb.contentFactory);
  wrapChain('CodeCell', code);
  wrapChain('MarkdownCell', md);
  wrapChain('CodeCellModel', code.model);
  wrapChain('MarkdownCellModel', md.model);
  wrapChain('CodeCellShared', code.model.sharedModel);
  wrapChain('OutputArea', code.outputArea);
  wrapChain('OutputAreaModel', code.outputArea.model);
  wrapChain('OutputModel', code.outputArea.model.get(0));
  wrapChain('OutputPrompt/Child', code.outputArea.widgets[0]);
  wrapChain('InputArea', code.inputArea);
  wrapChain('Editor', code.editor);
  wrapChain('EditorWrapper', code.editorWidget);
  wrapChain('Layout', nb.layout);
  wrapChain('CellLayout', code.layout);
  if (nb.viewModel) wrapChain('ViewModel', nb.viewModel);
  wrapChain('Signal', nb.model.cells.changed);
  wrapChain('Panel', nbw);
  wrapChain('Context', nbw.context);
  nbw.context.model.dirty = false;
  nbw.dispose();
  const tw = await app.commands.execute('docmanager:open', {path: tinyText});
  await tw.context.ready;
  await tw.revealed;
  wrapChain('FileEditor', tw.content);
  wrapChain('FileEditorModel', tw.content.model);
  wrapChain('YFile', tw.content.model.sharedModel);
  wrapChain('TextEditor', tw.content.editor);
  tw.context.model.dirty = false;
  tw.dispose();
  window.__counts = {counts, labels, bump};
  return labels.size;
}
"""

# Open the big document; snapshot the counters when it is shown whole, and when it is done
# (every cell rendered, or the text's last line reached).
OPEN_COUNT_JS = r"""
async (spec) => {
  const {until, covered} = window.__bench;
  const C = window.__counts;
  const snap = () => JSON.parse(JSON.stringify(C.counts));
  const app = window.jupyterapp;
  const t0 = performance.now();
  const state = {t0, marks: {}, widget: null,
                 since: () => Math.round((performance.now() - t0) * 10) / 10};
  window.__bench.state = state;
  const before = snap();
  const widget = await app.commands.execute('docmanager:open', {path: spec.path});
  state.widget = widget;
  const model = widget.context.model;
  const ydoc = model.sharedModel.ydoc;
  const local = {transactions: 0, remote_transactions: 0, cells_changed_events: 0,
                 cells_added: 0, metadata_changed: 0, content_changed: 0,
                 shared_changed: 0};
  ydoc.on('afterTransaction', tr => {
    local.transactions++;
    if (!tr.local) local.remote_transactions++;
  });
  if (model.cells) {
    model.cells.changed.connect((_, a) => {
      local.cells_changed_events++;
      if (a.type === 'add') local.cells_added += a.newValues.length;
    });
    model.metadataChanged.connect(() => { local.metadata_changed++; });
  }
  model.contentChanged.connect(() => { local.content_changed++; });
  model.sharedModel.changed.connect(() => { local.shared_changed++; });
  const out = {};
  if (spec.kind === 'notebook') {
    const nb = widget.content;
    const n = spec.cells;
    await until(state, 'cells', () => widget.isRevealed && !covered(widget.node)
      && nb.model && nb.model.cells.length === n && nb.widgets.length === n
      && nb.widgets[0].node.querySelector('.cm-content').textContent.includes(spec.first),
      spec.timeout);
    out.shown = {counts: snap(), local: {...local}, t: state.since()};
    // Polled slowly: JupyterLab renders the cells in idle time, which a fast poll takes.
    const t1 = performance.now();
    while (!(nb.widgets.every(c => !c.isPlaceholder())
             && nb.widgets[n - 1].outputArea.widgets.length > 0)
           && performance.now() - t1 < spec.renderTimeout) {
      await new Promise(r => setTimeout(r, 500));
    }
    await new Promise(r => setTimeout(r, spec.settle));
    out.done = {counts: snap(), local: {...local}, t: state.since()};
    out.rendered_cells = nb.widgets.filter(c => !c.isPlaceholder()).length;
  } else {
    const ytext = model.sharedModel.ysource;
    const host = widget.content.node;
    await until(state, 'cells', () => widget.isRevealed && !covered(widget.node)
      && ytext.length >= spec.length
      && host.querySelector('.cm-content').textContent.includes(spec.first), spec.timeout);
    out.shown = {counts: snap(), local: {...local}, t: state.since()};
    const editor = widget.content.editor;
    const end = editor.getPositionAt(ytext.length);
    editor.setCursorPosition(end);
    editor.revealPosition(end);
    await until(state, 'last', () => host.querySelector('.cm-content').textContent
      .includes(spec.last), spec.timeout);
    await new Promise(r => setTimeout(r, spec.settle));
    out.done = {counts: snap(), local: {...local}, t: state.since()};
  }
  out.before = before;
  return out;
}
"""


def diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


METRIC_KEYS = ("LayoutCount", "RecalcStyleCount", "Nodes", "JSEventListeners",
               "LayoutObjects", "TaskDuration", "ScriptDuration", "LayoutDuration",
               "RecalcStyleDuration", "JSHeapUsedSize")


def coverage_counts(cdp: Any) -> dict[str, dict[str, Any]]:
    """Call count of every function since the last take, keyed by script and offset."""
    res = cdp.send("Profiler.takePreciseCoverage")
    out: dict[str, dict[str, Any]] = {}
    for script in res["result"]:
        url = script["url"]
        if not url or "/static/" not in url and "/labextensions/" not in url:
            continue
        short = url.split("?")[0].rsplit("/", 1)[-1]
        for fn in script["functions"]:
            rng = fn["ranges"][0]
            if not rng["count"]:
                continue
            key = f"{short}@{rng['startOffset']}"
            out[key] = {"url": url, "name": fn["functionName"], "count": rng["count"],
                        "start": rng["startOffset"], "end": rng["endOffset"]}
    return out


SNAP_JS = "() => window.__counts ? JSON.parse(JSON.stringify(window.__counts.counts)) : {}"


class _Watched:
    """A page whose work is counted (and, with ``--profile``, sampled) over one open."""

    def __init__(self, page: Any, coverage: bool, profile: bool) -> None:
        self.page, self.coverage, self.profile = page, coverage, profile
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable")
        if coverage or profile:
            self.cdp.send("Profiler.enable")
        if coverage:
            self.cdp.send("Profiler.startPreciseCoverage", {"callCount": True, "detailed": False})
            coverage_counts(self.cdp)  # reset: only the open is counted
        if profile:
            self.cdp.send("Profiler.setSamplingInterval", {"interval": 200})
            self.cdp.send("Profiler.start")
        self.m0 = metrics(self.cdp)

    def finish(self, out: dict[str, Any], profile_path: Path | None) -> dict[str, Any]:
        m1 = metrics(self.cdp)
        out["chromium"] = {k: round(m1.get(k, 0) - self.m0.get(k, 0), 3) for k in METRIC_KEYS}
        if self.profile and profile_path is not None:
            prof = self.cdp.send("Profiler.stop")["profile"]
            profile_path.parent.mkdir(parents=True, exist_ok=True)
            profile_path.write_text(json.dumps(prof))
            out["profile"] = str(profile_path)
            out["profile_top"] = profile_top(prof, 15)
        if self.coverage:
            out["coverage"] = coverage_counts(self.cdp)
            self.cdp.send("Profiler.stopPreciseCoverage")
        self.cdp.detach()
        return out


def profile_top(prof: dict[str, Any], top: int) -> list[tuple[float, str]]:
    """Self time (ms) per function of a CDP CPU profile, the largest first."""
    nodes = {n["id"]: n for n in prof["nodes"]}
    self_us: dict[int, float] = {}
    deltas = prof.get("timeDeltas", [])
    for i, sid in enumerate(prof.get("samples", [])):
        dt = deltas[i + 1] if i + 1 < len(deltas) else 0
        self_us[sid] = self_us.get(sid, 0) + dt
    per: dict[str, float] = {}
    for nid, us in self_us.items():
        cf = nodes[nid]["callFrame"]
        url = cf["url"].split("?")[0].rsplit("/", 1)[-1]
        name = cf["functionName"] or "(anonymous)"
        key = f"{name} [{url}:{cf['lineNumber']}:{cf['columnNumber']}]"
        per[key] = per.get(key, 0) + us / 1000
    return sorted(((round(v, 1), k) for k, v in per.items()), reverse=True)[:top]


def open_counted(page: Any, spec: dict[str, Any], coverage: bool,
                 others: list[Any] = (), profile_dir: Path | None = None,
                 label: str = "") -> dict[str, Any]:
    """Open the document in ``page``; count there, and in ``others`` (pages already in the
    room: the first opener while the second opens) over the same interval."""
    profile = profile_dir is not None
    me = _Watched(page, coverage, profile)
    watched_others = [(o, _Watched(o, coverage, profile), o.evaluate(SNAP_JS)) for o in others]
    page.evaluate(HELPERS_JS)
    res = page.evaluate(OPEN_COUNT_JS, spec)
    out = {
        "shown_ms": res["shown"]["t"], "done_ms": res["done"]["t"],
        "shown": diff(res["shown"]["counts"], res["before"]),
        "done": diff(res["done"]["counts"], res["before"]),
        "local_shown": res["shown"]["local"], "local_done": res["done"]["local"],
        "rendered_cells": res.get("rendered_cells"),
    }
    me.finish(out, profile_dir / f"{label}.cpuprofile" if profile else None)
    out["others"] = []
    for i, (o, w, before) in enumerate(watched_others):
        other = {"done": diff(o.evaluate(SNAP_JS), before)}
        w.finish(other, profile_dir / f"{label}-other{i}.cpuprofile" if profile else None)
        out["others"].append(other)
    return out


def run_target(browser: Any, target: Any, doc: Any, path: str, args: argparse.Namespace
               ) -> dict[str, Any]:
    contexts, pages = [], []
    try:
        for _ in range(2):
            ctx = browser.new_context(viewport={"width": 1280, "height": 900})
            contexts.append(ctx)
            pages.append(ctx.new_page())
        for page in pages:
            load_lab(page, target.server, args.timeout * 1000)
            page.evaluate(INSTALL_JS, {"tinyNotebook": "tiny.ipynb", "tinyText": "tiny.py"})
        spec = {**doc.spec, "path": path, "timeout": args.timeout * 1000,
                "settle": args.settle * 1000, "renderTimeout": args.render_timeout * 1000}
        out = {}
        profile_dir = Path(args.profile) if args.profile else None
        for role, page, others in (("first", pages[0], []), ("second", pages[1], [pages[0]])):
            out[role] = open_counted(page, spec, args.coverage, others, profile_dir,
                                     f"{target.name}-{doc.kind}-{role}")
            log(f"  {target.name:5} {doc.kind:8} {role}: shown {out[role]['shown_ms']:.0f} ms, "
                f"done {out[role]['done_ms']:.0f} ms, rendered cells {out[role]['rendered_cells']}")
        return out
    finally:
        for ctx in contexts:
            with contextlib.suppress(Exception):
                ctx.close()


def fetch_source(url: str) -> str:
    """A script's text (static files need no token), for the snippets of the report."""
    try:
        with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 - our own loopback
            return r.read().decode("utf-8", "replace")
    except OSError:
        return ""


def report(results: dict[str, Any], names: list[str], show_all: bool, phase: str) -> str:
    lines = []
    for doc, per_target in results.items():
        for role in ("first", "second"):
            rows: dict[str, dict[str, Any]] = {}
            for name in names:
                r = per_target.get(name, {}).get(role)
                if not r:
                    continue
                for k, v in r[phase].items():
                    rows.setdefault(k, {})[name] = v
                for k, v in r[f"local_{phase}"].items():
                    rows.setdefault("page." + k, {})[name] = v
                for k, v in r["chromium"].items():
                    rows.setdefault("chromium." + k, {})[name] = v
            lines.append(f"\n### {doc}, {role} opener, until {phase}\n")
            lines.append("| counter | " + " | ".join(names) + " |")
            lines.append("|---|" + "---|" * len(names))
            for k in sorted(rows):
                vals = [rows[k].get(n, 0) for n in names]
                if not show_all and len({round(float(v), 1) for v in vals}) <= 1:
                    continue
                if not show_all and max(abs(float(v)) for v in vals) < 5 \
                        and not k.startswith(("page.", "chromium.")):
                    continue
                lines.append(f"| {k} | " + " | ".join(
                    f"{v:.3f}" if isinstance(v, float) and v != int(v) else f"{int(v)}"
                    for v in vals) + " |")
        if phase == "done":
            lines.append(other_page_report(doc, per_target, names, show_all))
    return "\n".join(lines)


def other_page_report(doc: str, per_target: dict[str, Any], names: list[str],
                      show_all: bool) -> str:
    """The page already in the room (the first opener, A), from B's open until B is done."""
    rows: dict[str, dict[str, Any]] = {}
    tops: list[str] = []
    for name in names:
        others = per_target.get(name, {}).get("second", {}).get("others") or []
        if not others:
            continue
        o = others[0]
        for k, v in o["done"].items():
            rows.setdefault(k, {})[name] = v
        for k, v in o["chromium"].items():
            rows.setdefault("chromium." + k, {})[name] = v
        for ms, fn in o.get("profile_top", []):
            tops.append(f"| {name} | {ms} | {fn} |")
    if not rows:
        return ""
    lines = [f"\n### {doc}, the first opener's page (A) while the second opens, until done\n",
             "| counter | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for k in sorted(rows):
        vals = [rows[k].get(n, 0) for n in names]
        # (one target: list what A did at all; several: what differs)
        if not show_all and len(names) > 1 and len({round(float(v), 1) for v in vals}) <= 1:
            continue
        lines.append(f"| {k} | " + " | ".join(
            f"{v:.3f}" if isinstance(v, float) and v != int(v) else f"{int(v)}"
            for v in vals) + " |")
    if tops:
        lines += ["\nPage A, CPU profile self time (ms):\n", "| target | ms | function |",
                  "|---|---|---|", *tops]
    return "\n".join(lines)


def coverage_report(results: dict[str, Any], names: list[str], sources: dict[str, str],
                    top: int) -> str:
    lines = []
    for doc, per_target in results.items():
        for role in ("first", "second", "second-A"):
            if role == "second-A":
                cov = {n: ((per_target.get(n, {}).get("second", {}).get("others") or [{}])[0]
                           .get("coverage")) for n in names}
            else:
                cov = {n: per_target.get(n, {}).get(role, {}).get("coverage") for n in names}
            if not cov.get("plain") or not any(cov.get(n) for n in names if n != "plain"):
                continue
            for other in names:
                if other == "plain" or not cov.get(other):
                    continue
                rows = []
                for key, fn in cov[other].items():
                    base = cov["plain"].get(key, {}).get("count", 0)
                    rows.append((fn["count"] - base, fn["count"], base, key, fn))
                rows.sort(key=lambda r: -r[0])
                lines.append(f"\n### {doc}, {role} opener: functions called more in {other} "
                             "than in plain (precise coverage)\n")
                lines.append(f"| extra | {other} | plain | function | source |")
                lines.append("|---|---|---|---|---|")
                for extra, n, base, key, fn in rows[:top]:
                    src = sources.get(fn["url"], "")
                    snippet = src[fn["start"]:fn["start"] + 90].replace("\n", " ").replace(
                        "|", "¦")
                    lines.append(f"| {extra} | {n} | {base} | {fn['name'] or '?'} "
                                 f"({key}) | `{snippet}` |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", default="plain,ours,jc")
    p.add_argument("--docs", default="notebook")
    p.add_argument("--cells", type=int, default=NB_CELLS)
    p.add_argument("--text-bytes", type=int, default=TEXT_BYTES)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--settle", type=float, default=1.0,
                   help="seconds to wait after the document is done before the last snapshot")
    p.add_argument("--render-timeout", type=float, default=120.0,
                   help="seconds to wait for every cell to be rendered (then counted as is)")
    p.add_argument("--coverage", action="store_true",
                   help="also count every function's calls (CDP precise coverage)")
    p.add_argument("--profile", default="",
                   help="folder: write a CDP CPU profile of each page (the opener, and the "
                        "page already in the room) per open, and list their top functions")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--all", action="store_true", help="list counters that do not differ too")
    p.add_argument("--ports", default="")
    p.add_argument("--json", default=str(BENCH_DIR / "results" / "browser-counts.json"))
    args = p.parse_args(argv)
    install_exit_handlers()
    from playwright.sync_api import sync_playwright

    names = args.targets.split(",")
    docs = [d for d in make_docs(args.cells, NB_BYTES * args.cells // NB_CELLS,
                                 args.text_bytes) if d.kind in args.docs.split(",")]
    ports = [int(x) for x in args.ports.split(",")] if args.ports else []
    results: dict[str, Any] = {}
    sources: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="browser-counts-") as d:
        tmp = Path(d)
        root = tmp / "root"
        root.mkdir()
        (root / "tiny.ipynb").write_text(dump_notebook(TINY_NB))
        (root / "tiny.py").write_text("# tiny\nx = 1\n")
        for doc in docs:
            for name in names:
                (root / f"{doc.name}-{name}.{_ext(doc)}").write_text(doc.content)
        targets = make_targets(names, root, tmp, 0, ports)
        for t in targets:
            log(f"starting {t.name}: {t.label}")
            t.server.start(timeout=180)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS,
                                             headless=True)
                for doc in docs:
                    for t in targets:
                        try:
                            res = run_target(browser, t, doc, f"{doc.name}-{t.name}.{_ext(doc)}",
                                             args)
                        except Exception as e:  # noqa: BLE001 - recorded, the run goes on
                            log(f"  {t.name} {doc.kind}: FAILED {e}")
                            res = {"error": str(e)[:2000]}
                        results.setdefault(doc.kind, {})[t.name] = res
                if args.coverage:
                    for per in results.values():
                        for r in per.values():
                            for role in ("first", "second"):
                                rr = r.get(role, {})
                                covs = [rr.get("coverage", {})] + [
                                    o.get("coverage", {}) for o in rr.get("others", [])]
                                for cov in covs:
                                    for fn in cov.values():
                                        if fn["url"] not in sources:
                                            sources[fn["url"]] = fetch_source(fn["url"])
                browser.close()
        finally:
            for t in targets:
                t.server.stop()
    text = "".join(report(results, names, args.all, phase) for phase in ("shown", "done"))
    if args.coverage:
        text += "\n" + coverage_report(results, names, sources, args.top)
    if args.profile:
        for doc, per in results.items():
            for n, r in per.items():
                for role in ("first", "second"):
                    top = r.get(role, {}).get("profile_top")
                    if top:
                        text += f"\n\n{doc} {n} {role} opener, CPU profile self time (ms):\n"
                        text += "\n".join(f"  {ms:8.1f}  {fn}" for ms, fn in top)
    print(text)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    def _slim(r: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in r.items() if k != "coverage"}
        if r.get("coverage"):
            # the calls of our own extension's functions (jupyter-collab's chunks), kept
            out["collab_calls"] = sorted(
                ([fn["count"], fn["name"] or "?", key] for key, fn in r["coverage"].items()
                 if "/jupyter-collab/" in fn["url"]), reverse=True)[:60]
            out["top_calls"] = sorted(
                ([fn["count"], fn["name"] or "?", key] for key, fn in r["coverage"].items()),
                reverse=True)[:40]
        if "others" in out:
            out["others"] = [_slim(o) for o in out["others"]]
        return out

    slim = {doc: {n: {role: _slim(r.get(role, {}))
                          for role in ("first", "second")} if "error" not in r else r
                  for n, r in per.items()} for doc, per in results.items()}
    out.write_text(json.dumps({"args": vars(args), "results": slim, "report": text},
                              indent=1, default=str))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
