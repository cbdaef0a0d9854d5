"""Where the page's main thread spent an open: ``python benchmarks/trace_summary.py TRACE.json...``.

Reads the Chromium performance traces ``browser_open.py --trace DIR`` writes (one per open)
and prints, for the renderer's main thread of the page:

* busy time per kind of work: JavaScript, style recalculation, layout, paint, garbage
  collection, parsing/compiling scripts, and idle time, over the traced open;
* JavaScript self time per function (from the V8 sampling profiler in the trace), the top
  ``--top`` functions, with the script they come from, and per script.

Several traces given at once are summarised side by side (e.g. plain, ours and jc of the same
document and opener), so a difference shows which work it is made of.

``--timeline`` prints, per trace, what happened when (ms after ``bench:open``): each request
sent, its response headers and end as the network saw them (``timing``/``finishTime``, which
a busy main thread does not delay) and as the page's main thread handled them; when each
WebSocket was *created* (by the page's JavaScript), its handshake, its frames; the page's
long tasks with the functions that used them. It tells "created late" from "created early
but its events handled late".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

# Trace event names grouped into kinds of work (top-level slices of the main thread).
KINDS = {
    "script": {"FunctionCall", "EvaluateScript", "TimerFire", "FireAnimationFrame",
               "RunMicrotasks", "EventDispatch", "v8.callFunction", "V8.Execute",
               "FireIdleCallback", "XHRReadyStateChange", "XHRLoad", "v8.run"},
    "compile": {"v8.compile", "V8.CompileCode", "v8.compileModule", "CompileScript",
                "v8.produceCache", "V8.ScriptCompiler"},
    "style": {"UpdateLayoutTree", "RecalculateStyles", "ScheduleStyleRecalculation"},
    "layout": {"Layout", "UpdateLayerTree", "PrePaint", "Layerize"},
    "paint": {"Paint", "PaintImage", "CompositeLayers", "Commit", "RasterTask"},
    "gc": {"MajorGC", "MinorGC", "V8.GCScavenger", "V8.GCCompactor", "BlinkGC.AtomicPhase",
           "V8.GC_MARK_COMPACTOR", "V8.GCIncrementalMarking", "V8.GCFinalizeMC"},
    "parse": {"ParseHTML", "ParseAuthorStyleSheet"},
}
KIND_OF = {name: kind for kind, names in KINDS.items() for name in names}


def load(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    return data["traceEvents"] if isinstance(data, dict) else data


def main_thread(events: list[dict[str, Any]]) -> tuple[int, int] | None:
    """(pid, tid) of the busiest CrRendererMain thread (the page, not an extension)."""
    names = {(e["pid"], e["tid"]) for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"
             and e.get("args", {}).get("name") == "CrRendererMain"}
    busy: Counter[tuple[int, int]] = Counter()
    for e in events:
        key = (e.get("pid"), e.get("tid"))
        if key in names and e.get("ph") == "X" and e.get("name") == "RunTask":
            busy[key] += e.get("dur", 0)
    return busy.most_common(1)[0][0] if busy else None


def work_kinds(events: list[dict[str, Any]], thread: tuple[int, int]) -> dict[str, float]:
    """ms per kind of work on ``thread``: each slice's self time (its duration minus its
    children's) goes to its own kind, or to the kind of its nearest enclosing slice that has
    one (a compile inside a function call counts as compile, JS inside layout as JS)."""
    slices = sorted((e for e in events if (e.get("pid"), e.get("tid")) == thread
                     and e.get("ph") == "X" and "dur" in e),
                    key=lambda e: (e["ts"], -e["dur"]))
    out: dict[str, float] = defaultdict(float)
    stack: list[dict[str, Any]] = []

    def pop() -> None:
        s = stack.pop()
        out[s["kind"]] += max(0.0, s["dur"] - s["children"])

    tops = 0.0
    for e in slices:
        while stack and stack[-1]["end"] <= e["ts"]:
            pop()
        kind = KIND_OF.get(e["name"]) or (stack[-1]["kind"] if stack else "other")
        if stack:
            stack[-1]["children"] += e["dur"]
        else:
            tops += e["dur"]
        stack.append({"end": e["ts"] + e["dur"], "kind": kind, "dur": e["dur"], "children": 0})
    while stack:
        pop()
    start = slices[0]["ts"] if slices else 0
    end = max((e["ts"] + e["dur"] for e in slices), default=0)
    result = {k: v / 1000 for k, v in out.items()}
    result["idle"] = max(0.0, (end - start - tops) / 1000)
    result["traced"] = (end - start) / 1000
    return result


def js_profile(events: list[dict[str, Any]], thread: tuple[int, int],
               t0: float = float("-inf"), t1: float = float("inf")) -> Counter[tuple[str, str]]:
    """JS self time (ms) per (function, script:line) from the trace's CPU profile, counting
    the samples taken between ``t0`` and ``t1`` (trace clock, µs)."""
    nodes: dict[tuple[Any, int], tuple[str, str]] = {}
    clock: dict[Any, float] = {}
    self_us: Counter[tuple[str, str]] = Counter()
    pid = thread[0]
    for e in sorted((e for e in events if e.get("pid") == pid
                     and e.get("name") in ("Profile", "ProfileChunk")), key=lambda e: e["ts"]):
        data = e.get("args", {}).get("data", {})
        pid_key = e.get("id")
        if e["name"] == "Profile":
            clock[pid_key] = float(data.get("startTime", e["ts"]))
            continue
        profile = data.get("cpuProfile", {})
        for node in profile.get("nodes", []):
            frame = node.get("callFrame", {})
            url = frame.get("url", "")
            script = url.rsplit("/", 1)[-1].split("?")[0] or "(native)"
            if url:
                script += f":{frame.get('lineNumber', 0) + 1}:{frame.get('columnNumber', 0) + 1}"
            nodes[(pid_key, node["id"])] = (frame.get("functionName") or "(anonymous)", script)
        t = clock.get(pid_key, e["ts"])
        for node_id, delta in zip(profile.get("samples", []), data.get("timeDeltas", []),
                                  strict=False):
            t += delta
            if t0 <= t <= t1:
                self_us[nodes.get((pid_key, node_id), ("?", "?"))] += max(0, delta)
        clock[pid_key] = t
    return Counter({k: v / 1000 for k, v in self_us.items()})


def marks_of(events: list[dict[str, Any]]) -> dict[str, float]:
    """Trace time (µs) of each ``performance.mark`` (browser_open.py marks its steps:
    ``bench:open``, ``bench:cells``, ..., ``bench:editable``)."""
    return {e["name"]: e["ts"] for e in events
            if "user_timing" in e.get("cat", "") and e.get("name", "").startswith("bench:")}


def clip(events: list[dict[str, Any]], t0: float, t1: float) -> list[dict[str, Any]]:
    """Complete events cut to the window; metadata kept."""
    out = []
    for e in events:
        if e.get("ph") == "M":
            out.append(e)
        elif e.get("ph") == "X" and "dur" in e:
            start, end = e["ts"], e["ts"] + e["dur"]
            if end > t0 and start < t1:
                clipped = dict(e)
                clipped["ts"] = max(start, t0)
                clipped["dur"] = min(end, t1) - clipped["ts"]
                out.append(clipped)
    return out


def summarize(path: Path, top: int, start: str = "", end: str = "") -> dict[str, Any]:
    events = load(path)
    thread = main_thread(events)
    if thread is None:
        return {"trace": path.name, "error": "no renderer main thread"}
    marks = marks_of(events)
    t0, t1 = marks.get(start, float("-inf")), marks.get(end, float("inf"))
    profile = js_profile(events, thread, t0, t1)
    kinds = work_kinds(clip(events, t0, t1) if marks else events, thread)
    per_script: Counter[str] = Counter()
    for (_, script), ms in profile.items():
        per_script[script.split(":")[0]] += ms
    steps = {name[6:]: round((ts - t0) / 1000) for name, ts in sorted(marks.items(),
                                                                          key=lambda kv: kv[1])}
    return {"trace": path.name, "kinds": kinds, "steps": steps,
            "functions": profile.most_common(top), "scripts": per_script.most_common(top)}


NETWORK = {"ResourceSendRequest", "ResourceReceiveResponse", "ResourceFinish", "WebSocketCreate",
           "WebSocketSendHandshakeRequest", "WebSocketReceiveHandshakeResponse",
           "WebSocketDestroy"}


def timeline(path: Path, long_task_ms: float = 15.0, until_ms: float = 3000.0,
             frames_over: int = 1024) -> list[str]:
    """The open's network events and long main-thread tasks, in order (see ``--timeline``)."""
    events = load(path)
    thread = main_thread(events)
    marks = marks_of(events)
    if thread is None or "bench:open" not in marks:
        return [f"{path.name}: no renderer main thread or no bench:open mark"]
    t0 = marks["bench:open"]

    def rel(ts: float) -> float:
        return (ts - t0) / 1000

    rows: list[tuple[float, str, str]] = [(rel(ts), "mark", name) for name, ts in marks.items()]
    sockets: set[Any] = set()
    for e in events:
        name = e.get("name")
        data = (e.get("args") or {}).get("data") or {}
        if not isinstance(data, dict) or e.get("ts", 0) < t0 - 1000:
            continue
        where = "" if (e.get("pid"), e.get("tid")) == thread else " (off the main thread)"
        if name in NETWORK:
            what = str(data.get("url", ""))[-80:]
            if name == "WebSocketCreate":
                sockets.add(data.get("identifier"))
            if name == "ResourceReceiveResponse" and data.get("timing"):
                t = data["timing"]
                net = (t.get("requestTime", 0) * 1e6 + t.get("receiveHeadersEnd", 0) * 1000)
                what += (f" status {data.get('statusCode')}, headers on the network at "
                         f"{rel(net):.1f}")
            if name == "ResourceFinish" and data.get("finishTime"):
                what += f" finished on the network at {rel(data['finishTime'] * 1e6):.1f}"
            rid = data.get("requestId") or data.get("identifier") or ""
            rows.append((rel(e["ts"]), name + where, f"{rid} {what}".strip()))
        elif name in ("WebSocketReceive", "WebSocketSend") and data.get("identifier") in sockets:
            if data.get("dataLength", 0) >= frames_over:
                rows.append((rel(e["ts"]), name + where,
                             f"{data.get('identifier')} {data.get('dataLength')} bytes"))
        elif (name == "RunTask" and where == "" and e.get("ph") == "X"
              and e.get("dur", 0) >= long_task_ms * 1000):
            top = js_profile(events, thread, e["ts"], e["ts"] + e["dur"]).most_common(4)
            fns = "; ".join(f"{fn} [{script.split(':')[0]}] {ms:.0f}" for (fn, script), ms in top)
            rows.append((rel(e["ts"]), "task", f"{e['dur'] / 1000:.0f} ms: {fns}"))
    out = [f"{path.name}: ms after bench:open"]
    for t, kind, what in sorted(rows, key=lambda r: r[0]):
        if t > until_ms:
            break
        if t >= -1:
            out.append(f"{t:9.1f}  {kind:45} {what}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("traces", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--start", default="bench:open", help="mark starting the window")
    p.add_argument("--end", default="bench:editable", help="mark ending the window ('' = all)")
    p.add_argument("--timeline", action="store_true",
                   help="print each trace's network events and long tasks in order instead")
    p.add_argument("--until", type=float, default=3000.0, help="--timeline: up to this ms")
    p.add_argument("--long-task", type=float, default=15.0,
                   help="--timeline: tasks at least this long (ms)")
    args = p.parse_args(argv)
    if args.timeline:
        for t in args.traces:
            print("\n".join(timeline(t, args.long_task, args.until)) + "\n")
        return 0
    results = [summarize(t, args.top, args.start, args.end) for t in args.traces]
    kinds = sorted({k for r in results for k in r.get("kinds", {})},
                   key=lambda k: (k in ("idle", "traced"), k))
    print("| work (ms) | " + " | ".join(r["trace"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for k in kinds:
        print(f"| {k} | " + " | ".join(f"{r.get('kinds', {}).get(k, 0):.0f}" for r in results)
              + " |")
    for r in results:
        print(f"\n{r['trace']}: steps (ms after bench:open): {r.get('steps')}")
        print(f"{r['trace']}: JS self time by function (ms)")
        for (fn, script), ms in r.get("functions", []):
            print(f"  {ms:8.1f}  {fn}  [{script}]")
        print(f"{r['trace']}: JS self time by script (ms)")
        for script, ms in r.get("scripts", []):
            print(f"  {ms:8.1f}  {script}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
