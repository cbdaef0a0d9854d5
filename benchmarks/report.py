"""Turn the per-target figures into the side-by-side table (and keep it as JSON/Markdown)."""

from __future__ import annotations

import json
import os
import platform
import re
from collections.abc import Callable
from pathlib import Path

Row = tuple[str, Callable[[dict], float | None], str, bool]


def _get(d: dict, *keys: str) -> float | None:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d if isinstance(d, (int, float)) else None


def rows(fanout_names: list[str]) -> list[Row]:
    """(label, getter, unit, lower-is-better) for every figure in the table."""
    out: list[Row] = [
        ("open 1000-cell notebook, cold (median)",
         lambda r: _get(r, "open_notebook", "cold_median_s"), "s", True),
        ("open 1000-cell notebook, cold (first)",
         lambda r: _get(r, "open_notebook", "cold_first_s"), "s", True),
        ("open 1000-cell notebook, warm (median)",
         lambda r: _get(r, "open_notebook", "warm_median_s"), "s", True),
        ("open 4 MB text file, cold (median)",
         lambda r: _get(r, "open_text", "cold_median_s"), "s", True),
        ("open 4 MB text file, warm (median)",
         lambda r: _get(r, "open_text", "warm_median_s"), "s", True),
        ("  notebook cold: sync step 2 arrives (median)",
         lambda r: _get(r, "open_notebook", "cold_step2_median_s"), "s", True),
        ("  client-side apply, notebook (equal work)",
         lambda r: _get(r, "open_notebook", "client_apply_median_s"), "s", True),
    ]
    for name in fanout_names:
        out += fanout_rows(name)
    out += [
        ("RSS at start (after warm-up)",
         lambda r: _mb(_get(r, "memory", "rss_before_bytes")), "MB", True),
        ("RSS per open small-notebook room",
         lambda r: _kb(_get(r, "memory", "per_room_bytes")), "KB", True),
        ("RSS with 1000-cell notebook open",
         lambda r: _mb(_get(r, "open_notebook", "rss_with_doc_open_bytes")), "MB", True),
        ("  of which the notebook (delta)", lambda r: _mb(_delta(r)), "MB", True),
    ]
    return out


def fanout_rows(name: str, prefix: str | None = None) -> list[Row]:
    """The rows of one fan-out case (``results[target]["fanout"][name]``), labelled with
    ``prefix`` (the case name by default)."""
    label = f"{name}: " if prefix is None else prefix

    def g(key: str) -> Callable[[dict], float | None]:
        return lambda r: _get(r, "fanout", name, key)

    return [
        (f"{label}latency p50", g("latency_p50_ms"), "ms", True),
        (f"{label}latency p99", g("latency_p99_ms"), "ms", True),
        (f"{label}latency max", g("latency_max_ms"), "ms", True),
        (f"{label}edit reaches all clients, p99", g("all_receivers_p99_ms"), "ms", True),
        (f"{label}server CPU per delivered update", g("server_cpu_us_per_received"), "µs",
         True),
        (f"{label}server CPU", g("server_cpu_pct"), "%", True),
        (f"{label}deliveries missing", g("deliveries_missing"), "", True),
        (f"{label}deliveries expected", g("deliveries_expected"), "", False),
    ]


def _delta(r: dict) -> float | None:
    a = _get(r, "open_notebook", "rss_with_doc_open_bytes")
    b = _get(r, "open_notebook", "rss_before_bytes")
    return None if a is None or b is None else a - b


def _mb(x: float | None) -> float | None:
    return None if x is None else x / 2**20


def _kb(x: float | None) -> float | None:
    return None if x is None else x / 2**10


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def table(results: dict[str, dict], fanout_names: list[str],
          row_list: list[Row] | None = None) -> str:
    """Markdown table: one column per target, plus jc/ours when both ran (the rows of
    :func:`rows` unless ``row_list`` is given)."""
    targets = list(results)
    both = "ours" in results and "jc" in results
    head = ["figure", "unit", *targets] + (["jc/ours"] if both else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, getter, unit, _lower in row_list if row_list is not None else rows(fanout_names):
        vals = [getter(results[t]) for t in targets]
        cells = [label, unit, *(_fmt(v) for v in vals)]
        if both:
            o, j = getter(results["ours"]), getter(results["jc"])
            cells.append(f"{j / o:.2f}×" if o and j is not None else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def notes(results: dict[str, dict], fanout_names: list[str]) -> str:
    """Caveats that belong next to the numbers: failures, lost frames, saturated clients."""
    out = []
    for t, r in results.items():
        for key in ("open_notebook", "open_text"):
            for f in (r.get(key) or {}).get("failures", []):
                out.append(f"- {t}: {key} failure: {f.get('error')}")
        for name in fanout_names:
            f = (r.get("fanout") or {}).get(name)
            if not f:
                continue
            if "error" in f:
                out.append(f"- {t}: {name} did not run to the end: {f['error']}")
                continue
            out.append(
                f"- {t} {name}: {f.get('connected')}/{f.get('clients')} connected, "
                f"{f.get('edits')} edits, {f.get('deliveries_received')}/"
                f"{f.get('deliveries_expected')} deliveries, content converged: "
                f"{f.get('content_converged')} ({f.get('doc_clients_checked')} doc clients), "
                f"server CPU {_fmt(f.get('server_cpu_pct'))}% over {_fmt(f.get('window_s'))}s "
                f"(idle {_fmt(f.get('server_idle_cpu_pct'))}%), other processes on the machine "
                f"{_fmt(f.get('other_load_cpu_pct'))}% CPU (attempt {f.get('attempt')}), "
                f"client CPU % per process "
                f"{f.get('client_cpu_pct')}, client loop lag p99 ms "
                f"{[_fmt(x) for x in f.get('client_loop_lag_p99_ms') or []]}"
                + (f", closes {f['closes']}" if f.get("closes") else "")
                + (f", notices {f['notices']}" if f.get("notices") else ""))
        logs = [("open", r.get("open_server_log")), ("memory", (r.get("memory") or {}).get(
            "server_log"))] + [(n, f.get("server_log")) for n, f in (r.get("fanout") or {}).items()]
        for phase, lp in logs:
            if lp and lp.get("errors"):
                out.append(f"- {t} {phase}: the server logged {lp['errors']} error line(s), "
                           f"e.g. {lp['first_errors'][:2]}")
        if r.get("open_other_load_cpu_pct") is not None:
            out.append(f"- {t}: other processes used {_fmt(r['open_other_load_cpu_pct'])}% CPU "
                       "during the open phase")
        for err in r.get("errors", []):
            out.append(f"- {t}: error: {err}")
    return "\n".join(out)


def issue_targets(results: dict[str, dict], fanout_names: list[str]) -> str:
    """The issue's goals (ours ≥5× better p99 and CPU per delivery, ≥3× faster cold open of
    the large notebook), checked against this run's jc/ours ratios."""
    if "ours" not in results or "jc" not in results:
        return "(needs --target both)"
    checks: list[tuple[str, Callable[[dict], float | None], float]] = [
        ("cold open of the 1000-cell notebook ≥3× faster",
         lambda r: _get(r, "open_notebook", "cold_median_s"), 3.0)]
    for name in fanout_names:
        checks.append((f"{name}: p99 latency ≥5× lower",
                       lambda r, n=name: _get(r, "fanout", n, "latency_p99_ms"), 5.0))
        checks.append((f"{name}: server CPU per delivered update ≥5× lower",
                       lambda r, n=name: _get(r, "fanout", n, "server_cpu_us_per_received"),
                       5.0))
    out = []
    for label, getter, goal in checks:
        o, j = getter(results["ours"]), getter(results["jc"])
        if not o or j is None:
            out.append(f"- {label}: no figure")
            continue
        ratio = j / o
        out.append(f"- {label}: jc/ours = {ratio:.2f}× → {'met' if ratio >= goal else 'NOT met'}")
    return "\n".join(out)


def machine_info() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem"] = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    return info


def _marks(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


_SECTION_RE = re.compile(r"<!-- ([\w.-]+):begin -->.*?<!-- \1:end -->", re.S)


def marked_sections(text: str) -> list[str]:
    """The blocks of ``text`` between ``<!-- x:begin -->`` and ``<!-- x:end -->`` markers."""
    return [m.group(0) for m in _SECTION_RE.finditer(text)]


def write_section(path: Path, name: str, body: str) -> None:
    """Put ``body`` between the ``name`` markers of ``path``, replacing what was there (or
    appending it), and keep the rest of the file: several tools write one results file."""
    begin, end = _marks(name)
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    i = text.find(begin)
    j = text.find(end, i) if i >= 0 else -1
    if i >= 0 and j >= 0:
        text = text[:i] + block + text[j + len(end):]
    else:
        text = text.rstrip() + ("\n\n" if text.strip() else "") + block + "\n"
    path.write_text(text)


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))
