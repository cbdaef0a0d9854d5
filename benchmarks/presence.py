"""Presence storm, ours vs jupyter-collaboration: ``python benchmarks/presence.py``.

N people in one text file move their cursors R times a second while one person types 10
edits a second (see presence_load.py for the clients). For each case and target a fresh
server is started (servers.py, as run.py does); the figures are: edit delivery latency
p50/p99/max over every (edit, person) delivery, edits missing, awareness lag (receive time −
send time of the cursor states a few probe clients get), whether everybody's final state
reached the probes, server CPU, and the CPU other processes used meanwhile.

    python benchmarks/presence.py --nice -10                   # 100×2/s, 300×5/s, 500×5/s
    python benchmarks/presence.py --cases 300x5 --target ours  # one case, one target
    python benchmarks/presence.py --record                     # rewrite RESULTS-presence.md
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from presence_load import run_storm  # noqa: E402
from report import machine_info, write_json  # noqa: E402
from servers import (  # noqa: E402
    BENCH_DIR,
    ServerProcess,
    boost,
    describe_python,
    install_exit_handlers,
    jc_target,
    ours_target,
    reset_autogroup,
    wait_until_quiet,
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", choices=["ours", "jc", "both"], default="both")
    p.add_argument("--cases", default="100x2,300x5,500x5",
                   help="comma list of PEOPLExRATE (cursor moves per person per second)")
    p.add_argument("--typing-rate", type=float, default=10.0, help="edits/s of the typist")
    p.add_argument("--duration", type=float, default=15.0, help="seconds of storm per case")
    p.add_argument("--drain", type=float, default=30.0,
                   help="seconds after the storm to wait for missing deliveries")
    p.add_argument("--procs", type=int, default=2, help="client processes for the crowd")
    p.add_argument("--wait-quiet", type=float, default=30.0,
                   help="before each case, wait up to this long for the machine to go quiet")
    p.add_argument("--nice", type=int, default=0,
                   help="niceness of the harness, its clients and servers (-10 as root)")
    p.add_argument("--record", action="store_true", help="rewrite RESULTS-presence.md")
    return p.parse_args(argv)


def cases(spec: str) -> list[tuple[int, float]]:
    out = []
    for part in spec.split(","):
        people, rate = part.lower().split("x")
        out.append((int(people), float(rate)))
    return out


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


ROWS = [
    ("edit latency p50 (ms)", "edit_latency_p50_ms", "{:.1f}"),
    ("edit latency p99 (ms)", "edit_latency_p99_ms", "{:.1f}"),
    ("edit latency max (ms)", "edit_latency_max_ms", "{:.1f}"),
    ("edit reaches everyone, p99 (ms)", "edit_reaches_all_p99_ms", "{:.1f}"),
    ("edit deliveries missing", "edit_deliveries_missing", "{}"),
    ("awareness lag p50 (ms)", "awareness_lag_p50_ms", "{:.0f}"),
    ("awareness lag p99 (ms)", "awareness_lag_p99_ms", "{:.0f}"),
    ("awareness lag max (ms)", "awareness_lag_max_ms", "{:.0f}"),
    ("final cursor states seen by probes", "final_states_seen", "{}"),
    ("server CPU (% of a core)", "server_cpu_pct", "{:.0f}"),
    ("server RSS after (MB)", "rss_after_mb", "{:.0f}"),
    ("other processes' CPU during (%)", "other_load_cpu_pct", "{:.0f}"),
]


def _cell(res: dict | None, key: str, fmt: str) -> str:
    if res is None:
        return "—"
    if "error" in res:
        return "FAILED"
    value = res.get(key)
    return "—" if value is None else fmt.format(value)


def render(results: dict, names: list[str], header: str) -> str:
    lines = [header, ""]
    for name in names:
        lines.append(f"### {name}")
        lines.append("")
        targets = [t for t in ("ours", "jc") if t in results]
        lines.append("| | " + " | ".join(results[t]["label"] for t in targets) + " |")
        lines.append("|---|" + "---|" * len(targets))
        for label, key, fmt in ROWS:
            cells = [_cell(results[t]["cases"].get(name), key, fmt) for t in targets]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
        for t in targets:
            res = results[t]["cases"].get(name) or {}
            if "error" in res:
                lines.append(f"- {t}: FAILED: {res['error'][:400]}")
                continue
            lines.append(
                f"- {t}: {res.get('connected')}/{res.get('people')} people connected, "
                f"{res.get('edits')} edits, "
                f"{res.get('edit_deliveries_received')}/{res.get('edit_deliveries_expected')} "
                f"deliveries, {res.get('awareness_samples')} awareness samples, cursor moves "
                f"sent {res.get('cursor_moves_sent')} (skipped while a socket was full: "
                f"{res.get('cursor_moves_skipped')}), closes {res.get('closes') or 'none'}, "
                f"server CPU {res.get('server_cpu_s', 0):.1f} s over "
                f"{res.get('window_s', 0):.1f} s, clients' CPU {res.get('client_cpu_pct')}%, "
                f"{res.get('client_mb_received')} MB received by the crowd, machine "
                f"{res.get('other_load_before_pct', 0):.0f}% busy before (load average "
                f"{res.get('loadavg_before')}), typist late by at most "
                f"{res.get('typist_send_late_max_ms', 0):.0f} ms, server log errors "
                f"{res.get('server_log', {}).get('errors')}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_exit_handlers()
    if args.nice:
        boost(os.getpid(), args.nice)
        atexit.register(reset_autogroup)
    started = datetime.now(timezone.utc)
    targets = []
    if args.target in ("ours", "both"):
        targets.append(ours_target())
    if args.target in ("jc", "both"):
        targets.append(jc_target(log))
    results = {t.name: {"label": t.label, "versions": describe_python(t.python), "cases": {}}
               for t in targets}
    names = []
    with tempfile.TemporaryDirectory(prefix="bench-presence-") as tmp:
        for k, (people, rate) in enumerate(cases(args.cases)):
            name = f"{people} people × {rate:g} cursor moves/s, 1 typist × {args.typing_rate:g}" \
                   f" edits/s, {args.duration:g} s"
            names.append(name)
            for target in targets:
                busy = wait_until_quiet(args.wait_quiet, log=log)
                load = loadavg()
                log(f"{target.name}: {name} (machine {busy:.0f}% busy, load {load})")
                root = Path(tmp) / f"{target.name}-{k}"
                server = ServerProcess(target, root / "root", root / "work", nice=args.nice)
                (root / "root").mkdir(parents=True)
                try:
                    server.start()
                    res = run_storm(server, people, rate, args.duration, args.typing_rate,
                                    procs=args.procs, drain_timeout=args.drain, log=log)
                    res["server_alive_after"] = server.alive()
                    res["server_log"] = server.log_problems()
                    log(f"    edits p50 {res['edit_latency_p50_ms']} ms, p99 "
                        f"{res['edit_latency_p99_ms']} ms, missing "
                        f"{res['edit_deliveries_missing']}, awareness lag p99 "
                        f"{res['awareness_lag_p99_ms']} ms, finals {res['final_states_seen']}, "
                        f"server CPU {res['server_cpu_pct']:.0f}%, other load "
                        f"{res['other_load_cpu_pct']:.0f}%")
                except Exception as e:  # noqa: BLE001 - recorded, the next case still runs
                    log(f"    FAILED: {type(e).__name__}: {e}")
                    res = {"error": f"{type(e).__name__}: {e}"[:1500],
                           "server_log_tail": server.log_tail(1500)}
                finally:
                    server.stop()
                res["other_load_before_pct"] = busy
                res["loadavg_before"] = load
                results[target.name]["cases"][name] = res
    machine = machine_info()
    header = (f"Presence storm, {started:%Y-%m-%d %H:%M} UTC, niceness {args.nice}, "
              f"{machine.get('cpu', '?')}, {machine['cpus']} CPUs, {machine.get('mem', '?')}\n"
              + "\n".join(f"{t}: {r['label']} {json.dumps(r['versions'])}"
                          for t, r in results.items()))
    report = render(results, names, "```\n" + header + "\n```")
    print("\n" + report)
    command = "python benchmarks/presence.py " + " ".join(sys.argv[1:] if argv is None else argv)
    write_json(BENCH_DIR / "results" / "presence-latest.json",
               {"started": started.isoformat(), "machine": machine, "args": vars(args),
                "command": command.strip(), "results": results, "report": report})
    if args.record:
        path = BENCH_DIR / "RESULTS-presence.md"
        path.write_text("# Presence storm results\n\nProduced by `" + command.strip()
                        + "` (see presence.py and presence_load.py).\n\n" + report + "\n")
        log(f"report written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
