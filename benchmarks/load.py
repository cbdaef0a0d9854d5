"""Many clients in one document: ``python benchmarks/load.py --clients 1000``.

The load tool of issue 10. It runs the fan-out case of :mod:`fanout` (a few writers at a
fixed aggregate edit rate, every other client a y-websocket receiver) against each server in
turn, on a fresh server per case, and prints one table per client count:

* connect time: per client, from its TCP connect to the first sync step 2 (it holds the
  document); receivers join one after the other from each client process, so the p99 and
  "all joined in" show how the server keeps up with a crowd arriving;
* delivery latency p50/p99/max over every (edit, receiving client), and per edit the time
  until its slowest receiver had it;
* server CPU per delivered update and server CPU %, from ``/proc/<pid>/stat``;
* server memory (VmRSS) before any client, with every client connected, after the edits;
* convergence: every delivery arrived, every client that holds a real document (the writers
  and a few probes per process) ends with the same text, and the file on disk comes to hold
  it;
* the clients' own CPU per process and the machine's load, so a reader can tell whether the
  server or the clients were the bottleneck.

``--curve 10,50,100,250,500,1000`` runs every client count for every server (targets
interleaved per count, so both see the machine in about the same state) and draws the
latency and CPU curves as a PNG (``--png``). ``--record`` writes the tables and the image link
into the "1,000 clients" section of ``RESULTS.md``. See README.md ("Load tool").
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402 - shares its fan-out phase (fresh server, retries on a busy machine)
from report import (  # noqa: E402
    Row,
    _fmt,
    _get,
    fanout_rows,
    machine_info,
    notes,
    table,
    write_json,
    write_section,
)
from servers import (  # noqa: E402
    BENCH_DIR,
    Target,
    boost,
    describe_python,
    install_exit_handlers,
    jc_target,
    ours_target,
    reset_autogroup,
    wait_until_quiet,
)

SECTION = "load-1000"  # the marked section of RESULTS.md this tool owns
log = run.log


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=1000,
                   help="clients in the document, writers included (without --curve)")
    p.add_argument("--curve", default="",
                   help="comma list of client counts to run in turn, e.g. 10,50,100,250,500,1000")
    p.add_argument("--writers", type=int, default=4, help="clients that edit (full documents)")
    p.add_argument("--rate", type=float, default=5.0,
                   help="edits per second, all writers together (the same at every count)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of edits per case")
    p.add_argument("--servers", default="ours,jc",
                   help="comma list: ours (this checkout), jc (jupyter-collaboration 5.0.4)")
    p.add_argument("--procs", type=int, default=2, help="receiver client processes")
    p.add_argument("--drain", type=float, default=30.0,
                   help="seconds to wait after the last edit for every delivery")
    p.add_argument("--png", default="",
                   help="draw latency and CPU over the client counts into this PNG (matplotlib; "
                        "`pip install -e .[bench]`)")
    run.add_machine_options(p, wait_quiet=10.0, retries=0)
    p.add_argument("--render", metavar="JSON",
                   help="print (with --record: record, with --png: draw) a saved run again")
    p.add_argument("--json", default=str(BENCH_DIR / "results" / "load-latest.json"),
                   help="where to keep every figure of the run")
    p.add_argument("--record", action="store_true",
                   help="write the tables (and the PNG link) into RESULTS.md, section "
                        "'1,000 clients'")
    args = p.parse_args(argv)
    args.counts = ([int(x) for x in args.curve.split(",") if x.strip()] if args.curve
                   else [args.clients])
    args.server_list = [s.strip() for s in args.servers.split(",") if s.strip()]
    bad = set(args.server_list) - {"ours", "jc"}
    if bad or not args.server_list:
        p.error(f"--servers takes ours and/or jc, not {sorted(bad) or 'nothing'}")
    if min(args.counts) <= args.writers:
        p.error("every client count must be larger than --writers")
    return args


def case_name(n: int, rate: float) -> str:
    return f"{n} clients × {rate:g}/s"


def _mb(key: str, name: str):  # noqa: ANN202 - a Row getter
    return lambda r: (None if (v := _get(r, "fanout", name, key)) is None else v / 2**20)


def _per_client_kb(name: str):  # noqa: ANN202 - a Row getter
    def get(r: dict) -> float | None:
        a = _get(r, "fanout", name, "rss_before_bytes")
        b = _get(r, "fanout", name, "rss_start_bytes")
        n = _get(r, "fanout", name, "connected")
        return None if a is None or b is None or not n else (a - b) / n / 1024
    return get


def _busiest_client(name: str):  # noqa: ANN202 - a Row getter
    def get(r: dict) -> float | None:
        pcts = ((r.get("fanout") or {}).get(name) or {}).get("client_cpu_pct") or []
        return max(pcts) if pcts else None
    return get


def _client_rss(name: str):  # noqa: ANN202 - a Row getter
    def get(r: dict) -> float | None:
        rss = ((r.get("fanout") or {}).get(name) or {}).get("client_maxrss_mb") or []
        return sum(rss) if rss else None
    return get


def case_rows(name: str) -> list[Row]:
    """The rows of the table printed for one client count."""
    def g(key: str):  # noqa: ANN202
        return lambda r: _get(r, "fanout", name, key)

    return [
        ("clients connected and synced", g("connected"), "", False),
        ("connect time p50", g("connect_p50_ms"), "ms", True),
        ("connect time p99", g("connect_p99_ms"), "ms", True),
        ("connect time max", g("connect_max_ms"), "ms", True),
        ("all clients joined in", g("setup_s"), "s", True),
        ("edits sent", g("edits"), "", False),
        *fanout_rows(name, prefix=""),
        ("server RSS, no client", _mb("rss_start_bytes", name), "MB", True),
        ("server RSS, all connected", _mb("rss_before_bytes", name), "MB", True),
        ("server RSS, after the edits", _mb("rss_during_bytes", name), "MB", True),
        ("server RSS per connected client", _per_client_kb(name), "KB", True),
        ("busiest client process CPU", _busiest_client(name), "%", True),
        ("client processes' RSS, all together", _client_rss(name), "MB", True),
        ("other processes' CPU (machine)", g("other_load_cpu_pct"), "%", True),
        ("load average (1 min) before", g("loadavg_before"), "", True),
    ]


def convergence_line(results: dict[str, dict], name: str) -> str:
    """Plain words per server: all deliveries, identical documents, file on disk."""
    parts = []
    for t, r in results.items():
        f = (r.get("fanout") or {}).get(name) or {}
        if "error" in f:
            parts.append(f"{t}: did not run to the end ({f['error'][:120]})")
            continue
        verdict = _verdict(f)
        parts.append(f"{t}: {verdict.upper() if verdict != 'yes' else 'CONVERGED'} "
                     f"({f.get('deliveries_received')}/{f.get('deliveries_expected')} "
                     f"deliveries, {f.get('doc_clients_checked')} documents identical: "
                     f"{f.get('content_converged')}, file on disk holds it: "
                     f"{f.get('file_matches_content')})")
    return "; ".join(parts)


def _verdict(f: dict) -> str:
    """yes, or why not: deliveries still missing at the drain deadline, documents that
    differ, a file on disk that never came to hold the content."""
    if not f or "error" in f:
        return "—"
    if f.get("deliveries_missing"):
        return (f"no: {f['deliveries_missing']:,} deliveries not arrived {f.get('drain_s', '?')}"
                " s after the last edit")
    if f.get("content_converged") is not True:
        return "no: documents differ"
    if f.get("file_matches_content") is not True:
        return "no: file on disk differs"
    return "yes"


def curve_table(results: dict[str, dict], counts: list[int], rate: float) -> str:
    """One line per client count: latency and CPU of every server side by side."""
    targets = list(results)
    head = ["clients"]
    for t in targets:
        head += [f"{t} p50 ms", f"{t} p99 ms", f"{t} max ms", f"{t} CPU µs/update",
                 f"{t} CPU %", f"{t} connect p99 ms", f"{t} converged"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in counts:
        name = case_name(n, rate)
        cells = [f"{n:,}"]
        for t in targets:
            f = (results[t].get("fanout") or {}).get(name) or {}
            cells += [_fmt(f.get("latency_p50_ms")), _fmt(f.get("latency_p99_ms")),
                      _fmt(f.get("latency_max_ms")), _fmt(f.get("server_cpu_us_per_received")),
                      _fmt(f.get("server_cpu_pct")), _fmt(f.get("connect_p99_ms")),
                      _verdict(f)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("\nLatencies are over the deliveries that arrived: where some are missing "
                 "they are lower bounds.")
    return "\n".join(lines)


def draw(results: dict[str, dict], counts: list[int], args: argparse.Namespace,
         png: Path, title: str) -> None:
    """Latency (p50, p99) and server CPU per delivered update over the client counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    colors = {"ours": "#1f77b4", "jc": "#d62728"}
    fig, (ax_lat, ax_cpu) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    for t, r in results.items():
        label = "jupyter-collab (ours)" if t == "ours" else "jupyter-collaboration 5.0.4"
        pts = []
        for n in counts:
            f = (r.get("fanout") or {}).get(case_name(n, args.rate)) or {}
            if f.get("latency_p50_ms") is not None:
                pts.append((n, f["latency_p50_ms"], f["latency_p99_ms"],
                            f.get("server_cpu_us_per_received")))
        if not pts:
            continue
        xs = [p[0] for p in pts]
        c = colors.get(t)
        ax_lat.plot(xs, [p[2] for p in pts], "o-", color=c, label=f"{label}, p99")
        ax_lat.plot(xs, [p[1] for p in pts], "s--", color=c, alpha=0.7, label=f"{label}, p50")
        ax_cpu.plot(xs, [p[3] for p in pts], "o-", color=c, label=label)
    for ax in (ax_lat, ax_cpu):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(counts)
        ax.set_xticklabels([f"{n:,}" for n in counts])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("clients in one document")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_lat.set_ylabel("delivery latency, ms (log)")
    ax_lat.set_title(f"Edit → every other client ({args.writers} writers, {args.rate:g} edits/s)")
    ax_cpu.set_ylabel("server CPU per delivered update, µs (log)")
    ax_cpu.set_title("Server CPU per delivered update")
    fig.suptitle(title, fontsize=9)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def run_cases(targets: list[Target], args: argparse.Namespace) -> dict[str, dict]:
    """Every client count for every server, on a fresh server each; failures are recorded."""
    results: dict[str, dict] = {
        t.name: {"label": t.label, "versions": describe_python(t.python), "fanout": {}}
        for t in targets}
    with tempfile.TemporaryDirectory(prefix="load-") as d:
        for i, n in enumerate(args.counts):
            name = case_name(n, args.rate)
            for target in targets:
                busy = wait_until_quiet(args.wait_quiet, log=log)
                load1 = os.getloadavg()[0]
                log(f"{target.name}: {name} (machine {busy:.0f}% busy, load average {load1:.2f})")
                tmp = Path(d) / f"{target.name}-{i}"
                tmp.mkdir()
                res = run.phase_fanout_case(target, tmp, i, (name, n, args.rate), args,
                                            args.duration, args.drain)
                res["drain_s"] = args.drain
                res["loadavg_before"] = load1
                res["loadavg_after"] = os.getloadavg()[0]
                res.pop("text", None)  # the document itself: compared already, not a figure
                results[target.name]["fanout"][name] = res
            print("\n" + render_case(results, name), flush=True)
    return results


def render_case(results: dict[str, dict], name: str) -> str:
    return (f"### {name}\n\n{table(results, [name], case_rows(name))}\n\n"
            f"Convergence: {convergence_line(results, name)}\n\n"
            f"Notes:\n{notes(results, [name])}\n")


def header(results: dict[str, dict], started: datetime, args: argparse.Namespace,
           machine: dict, loads: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    return (f"jupyter-collab load tool, {started:%Y-%m-%d %H:%M} UTC, "
            f"{args.writers} writers, {args.rate:g} edits/s in total, {args.duration:g} s of "
            f"edits per case, {args.procs} receiver processes, niceness "
            f"{os.getpriority(os.PRIO_PROCESS, 0)}\n"
            f"machine: {machine.get('cpu', '?')}, {machine['cpus']} CPUs, "
            f"{machine.get('mem', '?')}, Python {machine['python']}\n"
            f"load average (1/5/15 min) at start {'/'.join(f'{x:.2f}' for x in loads[0])}, "
            f"at end {'/'.join(f'{x:.2f}' for x in loads[1])}\n"
            + "\n".join(f"{t}: {r['label']}" for t, r in results.items()))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_saved(args)
    install_exit_handlers()
    if args.nice:
        run.NICE = args.nice  # the servers run.phase_fanout_case starts get it too
        boost(os.getpid(), args.nice)
        atexit.register(reset_autogroup)
    started = datetime.now(timezone.utc)
    load_start = os.getloadavg()
    targets = [ours_target() if s == "ours" else jc_target(log) for s in args.server_list]
    results = run_cases(targets, args)
    machine = machine_info()
    head = header(results, started, args, machine, (load_start, os.getloadavg()))
    command = "python benchmarks/load.py " + " ".join(sys.argv[1:] if argv is None else argv)
    write_json(Path(args.json), {"started": started.isoformat(), "machine": machine,
                                 "command": command.strip(), "args": vars(args),
                                 "header": head, "results": results})
    log(f"figures written to {args.json}")
    report(results, args, head, command.strip())
    return 0


def render_saved(args: argparse.Namespace) -> int:
    """Print (and with --record/--png, record and draw) a run kept by --json."""
    saved = json.loads(Path(args.render).read_text())
    sargs = argparse.Namespace(**{**saved["args"], "png": args.png, "record": args.record})
    results = saved["results"]
    for n in sargs.counts:
        print(render_case(results, case_name(n, sargs.rate)))
    report(results, sargs, saved["header"], saved["command"])
    return 0


def report(results: dict[str, dict], args: argparse.Namespace, head: str,
           command: str) -> None:
    """The summary over the client counts, the PNG, and the RESULTS.md section."""
    png = Path(args.png) if args.png else None
    if png is not None and len(args.counts) > 1:
        draw(results, args.counts, args, png, head.splitlines()[0])
        log(f"curves drawn in {png}")
    summary = curve_table(results, args.counts, args.rate)
    print(f"\n{head}\n\n{summary}\n")
    if args.record:
        body = [f"## 1,000 clients\n\nProduced by `{command}` (see README.md, "
                f"\"Load tool\").\n\n```\n{head}\n```\n\n{summary}\n"]
        if png is not None and png.exists():
            rel = os.path.relpath(png.resolve(), BENCH_DIR)
            body.append(f"![delivery latency and server CPU over the number of clients]({rel})\n")
        body += [render_case(results, case_name(n, args.rate)) for n in args.counts]
        write_section(BENCH_DIR / "RESULTS.md", SECTION, "\n".join(body))
        log(f"recorded in {BENCH_DIR / 'RESULTS.md'}")


if __name__ == "__main__":
    sys.exit(main())
