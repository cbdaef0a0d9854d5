"""Durable history benchmark (issue 3): ``python benchmarks/history.py [--quick]``.

1. update append throughput and latency to durable, through a real server;
2. restore time of a version of a 1,000-cell notebook (REST restore → a client sees it);
3. store bytes of one hour of two people typing, before and after compaction;
4. edits that survive SIGKILL 50 ms after the last edit (ours and jupyter-collaboration).

See benchmarks/README.md ("Durable history") for what each figure measures.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The store is opened directly after the server stops (our package, from this checkout).
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import history_phases  # noqa: E402
from history_load import typing_session  # noqa: E402
from history_phases import (  # noqa: E402
    TIMERS,
    median,
    phase_append,
    phase_bytes,
    phase_kill,
    phase_restore,
)
from loads import dump_notebook, make_notebook  # noqa: E402
from report import machine_info, write_json  # noqa: E402
from servers import (  # noqa: E402
    BENCH_DIR,
    REPO_DIR,
    Target,
    boost,
    describe_python,
    install_exit_handlers,
    jc_target,
    ours_target,
    reset_autogroup,
    snapshot_target,
    wait_until_quiet,
)

PHASES = ("append", "restore", "bytes", "kill")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="shorter append cases, 2 kill trials, 1 restore (a few minutes)")
    p.add_argument("--only", default=",".join(PHASES),
                   help="comma list of phases: " + ",".join(PHASES))
    p.add_argument("--kill-target", choices=["ours", "jc", "both"], default="both",
                   help="targets of the hard-kill phase (the others run on ours only)")
    p.add_argument("--rates", default=None,
                   help="append phase: comma list of offered edits/s (default "
                        "50,200,1000,2000,3000; quick 50,1000)")
    p.add_argument("--duration", type=float, default=None,
                   help="append phase: seconds per rate (default 10, quick 5)")
    p.add_argument("--writers", type=int, default=4, help="append phase: writer clients")
    p.add_argument("--retries", type=int, default=2,
                   help="append phase: re-run a rate when other processes used more than "
                        "--max-other-load %% of a core during it (the least disturbed is kept)")
    p.add_argument("--max-other-load", type=float, default=40.0)
    p.add_argument("--trials", type=int, default=None, help="kill trials per target (5/2)")
    p.add_argument("--session-hours", type=float, default=1.0,
                   help="bytes phase: hours of two-person typing to replay")
    p.add_argument("--replay-rate", type=float, default=600.0,
                   help="bytes phase: updates/s at which the session is replayed")
    p.add_argument("--real-timers", action="store_true",
                   help="bytes phase: keep the server's version/maintenance timers unscaled")
    p.add_argument("--no-store-bench", action="store_true",
                   help="skip python -m jupyter_collab.persistence.bench")
    p.add_argument("--postgres", default=None, metavar="URL|auto",
                   help="store bench: also measure the PostgreSQL store, on this server, or "
                        "with 'auto' on one started here (Debian's PostgreSQL, fsync on)")
    p.add_argument("--wait-quiet", type=float, default=20.0,
                   help="before each phase wait up to this many seconds for a quiet machine")
    p.add_argument("--source", choices=["head", "worktree"], default="head",
                   help="which jupyter_collab our server runs: a snapshot of the committed HEAD "
                        "(default: others' work in progress in this checkout cannot break or "
                        "skew the run) or the working tree as it is")
    p.add_argument("--nice", type=int, default=0,
                   help="niceness of the harness and its servers (e.g. -10 as root on a shared "
                        "machine, as run.py --nice)")
    p.add_argument("--record", action="store_true",
                   help="also write the report to benchmarks/RESULTS-history.md")
    return p.parse_args(argv)


# -- tables -------------------------------------------------------------------------------------

def fmt(x: object, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "NO"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if abs(x) >= 100:
            return f"{x:,.0f}"
        if abs(x) >= 10:
            return f"{x:.1f}"
        return f"{x:.{digits}g}"
    return str(x)


def md_table(head: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def kb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1024:,.1f} KB"


def render_append(res: dict) -> str:
    cases = res.get("append") or []
    head = ["offered edits/s", "edits", "logged", "logged/s", "send→durable p50 ms", "p99 ms",
            "max ms", "server recv→durable p50 ms", "p99 ms", "send→other client p50 ms",
            "p99 ms", "server CPU %", "other load %"]
    rows = []
    notes = []
    for c in cases:
        if "error" in c:
            notes.append(f"- {c['rate']:g}/s failed: {c['error']}")
            continue
        rows.append([c["rate"], c["edits"], c.get("logged"), c.get("logged_per_s"),
                     c.get("durable_p50_ms"), c.get("durable_p99_ms"), c.get("durable_max_ms"),
                     c.get("server_record_to_durable_p50_ms"),
                     c.get("server_record_to_durable_p99_ms"), c.get("observer_p50_ms"),
                     c.get("observer_p99_ms"), c.get("server_cpu_pct"),
                     c.get("other_load_cpu_pct")])
        notes.append(f"- {c['rate']:g}/s: {c['writers']} writers for {c['duration_s']:g}s; the "
                     f"other client received {c['observer_received']}/{c['edits']}; db polled "
                     f"every {fmt(c.get('poll_interval_ms'))} ms ({c.get('polls')} polls); "
                     f"sends late vs schedule p99 {fmt(c.get('client_late_p99_ms'))} ms; "
                     f"attempt {c.get('attempt')}; "
                     f"server log errors {c.get('server_log_errors')}")
    out = ("### 1. Update append throughput and latency to durable (ours, one text room)\n\n"
           + md_table(head, rows) + "\n\n" + "\n".join(notes))
    if res.get("store_bench"):
        out += ("\n\nRaw store figures (`python -m jupyter_collab.persistence.bench "
                f"{res.get('store_bench_args', '')}`):\n\n```\n{res['store_bench'].rstrip()}\n```")
    return out


def render_restore(res: dict) -> str:
    runs = res.get("restore") or []
    if not runs:
        return "### 2. Restore of a 1,000-cell notebook\n\nnot run"
    rows, notes = [], []
    for i, r in enumerate(runs):
        if "error" in r:
            notes.append(f"- run {i + 1} failed: {r['error']}")
            continue
        rows.append([i + 1, r.get("seen_s"), r.get("reply_s"), kb(r.get("version_size"))])
    seen = [r["seen_s"] for r in runs if r.get("seen_s")]
    if seen:
        notes.insert(0, f"- median: the other client sees the restored notebook after "
                        f"{fmt(median(seen))} s")
    return ("### 2. Restore of a 1,000-cell notebook (ours)\n\n"
            + md_table(["run", "POST → other client has the restored content (s)",
                        "POST → reply (s)", "version size (compressed)"], rows)
            + ("\n\n" + "\n".join(notes) if notes else ""))


def render_bytes(res: dict) -> str:
    b = res.get("bytes")
    if not b:
        return "### 3. Store bytes per hour of editing\n\nnot run"
    if "error" in b:
        return f"### 3. Store bytes per hour of editing\n\nfailed: {b['error']}"
    s = b["session"]
    hours = s["hours"]
    rows = [
        ["before compaction", kb(b["before"]["history_bytes"]), kb(b["before"]["file_bytes"]),
         b["log_entries"], "—"],
        [f"compacted, default retention ({b['default_retention_s'] / 86400:g} days)",
         kb(b["after_default"]["history_bytes"]), kb(b["after_default"]["file_bytes"]),
         b["after_default"]["entries_kept"], fmt(b["after_default"]["compact_ms"])],
        ["compacted, retention 0", kb(b["after_zero"]["history_bytes"]),
         kb(b["after_zero"]["file_bytes"]), b["after_zero"]["entries_kept"],
         fmt(b["after_zero"]["compact_ms"])],
    ]
    per_hour = b["before"]["history_bytes"] / hours if hours else None
    notes = [
        f"- session: {s['users']} users, {hours:g} h of typing at ~{s['chars_per_s']:g} "
        f"keystrokes/s each: {s['updates']:,} updates ({s['inserts']:,} inserts, "
        f"{s['deletes']:,} deletes; {s['raw_update_bytes'] / s['updates']:.1f} B per update, "
        f"{kb(s['raw_update_bytes'])} of updates), final text {s['final_chars']:,} chars; "
        f"replayed at {s['replay_rate']:g} updates/s ({fmt(b['sent_s'])} s of wall time)",
        f"- the replay runs {b['time_factor']:.0f}× faster than the session, so the server's "
        f"timers were scaled alike: {b['timers']} (defaults "
        f"{ {k: v for k, v in TIMERS.items()} }), giving the automatic version points of a "
        f"real hour",
        f"- history before compaction: {kb(per_hour)} per hour of editing: log "
        f"{kb(b['breakdown']['log'])}, snapshot {kb(b['breakdown']['snapshot'])}, version "
        f"states {kb(b['breakdown']['versions'])} "
        f"({b['log_update_bytes'] / max(1, b['log_entries']):.1f} B per logged update; "
        f"log entries by origin {b['by_origin']}; {b['versions']} version(s) "
        f"{b['version_kinds']}, server-made snapshot: {fmt(b['server_snapshot'])})",
        f"- default retention keeps every update younger than "
        f"{b['default_retention_s'] / 86400:g} days (the replay is compressed into minutes, "
        f"so all of it): compaction then only adds the snapshot; the same document compacted "
        f"a week later is the retention-0 row",
        f"- after retention 0 the snapshot state is {kb(b['after_zero']['snapshot_state_bytes'])}"
        f" raw (whole document as one update); loading the document: "
        f"{fmt(b['load_ms'])} ms ({kb(b['load_bytes'])} merged update; the same content "
        f"re-encoded by a pycrdt Doc: {kb(b.get('doc_encoded_bytes'))} raw, "
        f"{kb(b.get('doc_encoded_zlib_bytes'))} zlib); room converged to the session's text: "
        f"{fmt(b['converged'])}, file on disk equal: {fmt(b['file_matches'])}",
        "- db file: the SQLite file after VACUUM (it also holds file ids and audit events); "
        "each log row repeats the room id (~50 B), origin, user and time next to its ~18 B "
        "update",
        f"- automerge-paper trace: {res.get('trace_note', 'not replayed')}",
    ]
    return ("### 3. Store bytes of one hour of two-person editing (ours)\n\n"
            + md_table(["state", "history (size_bytes)", "db file", "log entries",
                        "compaction ms"], rows) + "\n\n" + "\n".join(notes))


def render_kill(res: dict) -> str:
    rows, notes = [], []
    for target, trials in (res.get("kill") or {}).items():
        counts = []
        for i, t in enumerate(trials):
            if "error" in t:
                notes.append(f"- {target} trial {i + 1} failed: {t['error']}")
                continue
            counts.append(t["survived"])
            rows.append([target, i + 1, f"{t['survived']}/{res['kill_edits']}",
                         t.get("duplicates"), t["seen_by_other_client_before_kill"],
                         t["in_file_after_kill"], t["kill_after_last_edit_ms"],
                         t.get("after_writer_reconnects"),
                         t.get("start_lines_after_reconnect")])
            if t.get("writer_closed"):
                notes.append(f"- {target} trial {i + 1}: the reconnecting writer was closed by "
                             f"the server: {t.get('writer_closed')}")
            if t.get("reconnect_error"):
                notes.append(f"- {target} trial {i + 1}: writer reconnect failed: "
                             f"{t['reconnect_error']}")
        if counts:
            notes.append(f"- {target}: survived per trial {counts} (min {min(counts)}, "
                         f"goal {res['kill_edits']})")
    head = ["target", "trial", "edits in the room after restart", "duplicated",
            "other client had them before the kill", "in the file at the kill",
            "SIGKILL after last edit (ms)", "room after the writer reconnects",
            "copies of the file's 1st line then"]
    notes.append("- 'edits in the room after restart' is the figure: a fresh client opens the "
                 "document on the restarted server. 'other client had them' = the edits the "
                 "server had fanned out before it died (ours fans out only what is durable, so "
                 "those are the edits it had acknowledged). Then the writer reconnects with the "
                 "document it kept, as JupyterLab does, and a fresh client reads the room again: "
                 "edits the server never received come back that way; the last column shows "
                 "whether the file's content got duplicated (1 = no)")
    return (f"### 4. Edits surviving SIGKILL {res.get('kill_delay_ms', 50):g} ms after the last "
            f"edit ({res['kill_edits']} edits at {res['kill_rate']:g}/s)\n\n"
            + md_table(head, rows) + ("\n\n" + "\n".join(notes) if notes else ""))


def summary(res: dict, wanted: list[str]) -> str:
    """The headline of each phase, in one list."""
    out = []
    ok = [c for c in res.get("append") or [] if "error" not in c and c.get("logged")]
    if "append" in wanted and ok:
        fine = [c for c in ok if c["logged"] == c["edits"] and (c["durable_p99_ms"] or 1e9) < 50]
        low = ok[0]
        out.append(
            f"- append: at {low['rate']:g} edits/s an update is durable "
            f"{fmt(low['durable_p50_ms'])} ms after the client sent it (p50; p99 "
            f"{fmt(low['durable_p99_ms'])} ms)"
            + (f"; up to {max(c['rate'] for c in fine):g} edits/s every edit is logged with "
               f"p99 < 50 ms" if fine else "")
            + (f"; offered {ok[-1]['rate']:g}/s the server saturates at "
               f"{fmt(ok[-1]['logged_per_s'])} logged/s (p99 {fmt(ok[-1]['durable_p99_ms'])} ms"
               f", server CPU {fmt(ok[-1]['server_cpu_pct'])}%)"
               if ok[-1]["logged_per_s"] < 0.95 * ok[-1]["rate"] else
               f"; at {ok[-1]['rate']:g}/s {fmt(ok[-1]['logged_per_s'])} logged/s, p99 "
               f"{fmt(ok[-1]['durable_p99_ms'])} ms"))
    seen = [r["seen_s"] for r in res.get("restore") or [] if r.get("seen_s")]
    if "restore" in wanted and seen:
        out.append(f"- restore of the 1,000-cell notebook: the other client has it after "
                   f"{fmt(median(seen))} s (median of {len(seen)})")
    b = res.get("bytes") or {}
    if "bytes" in wanted and "before" in b:
        before, zero = b["before"], b["after_zero"]
        rows = max(1, b["log_entries"])
        out.append(
            f"- one hour of two people typing: {kb(before['history_bytes'])} of history "
            f"({kb(before['file_bytes'])} SQLite file, ~"
            f"{(before['file_bytes'] - before['history_bytes']) / rows:.0f} B of row overhead "
            f"per logged update); compacted with retention 0: {kb(zero['history_bytes'])} "
            f"({kb(zero['file_bytes'])} file); the default retention (7 days) trims nothing "
            f"within the week")
    for target, trials in ((res.get("kill") or {}) if "kill" in wanted else {}).items():
        counts = [t["survived"] for t in trials if "survived" in t]
        if counts:
            out.append(f"- {target}: {min(counts)}–{max(counts)} of {res['kill_edits']} edits "
                       f"survive SIGKILL 50 ms after the last edit ({len(counts)} trials)")
    return "### Summary\n\n" + "\n".join(out) if out else ""


def render(payload: dict) -> tuple[str, str]:
    """(header, body) of the report."""
    res = payload["results"]
    m = payload["machine"]
    head = (f"jupyter-collab durable history benchmark, {payload['started'][:16]} UTC, "
            f"{payload['mode']}\n"
            f"machine: {m.get('cpu', '?')}, {m['cpus']} CPUs, {m.get('mem', '?')}, "
            f"{m['platform']}, Python {m['python']}\n"
            + "\n".join(f"{t}: {v['label']} — {json.dumps(v['versions'])}"
                        for t, v in payload["targets"].items())
            + "\nother load before each phase (% of one core, waited up to "
            f"{payload['wait_quiet']:g} s for quiet): {json.dumps(payload['load_before'])}")
    wanted = payload["phases"]
    parts = [summary(res, wanted)]
    if "append" in wanted:
        parts.append(render_append(res))
    if "restore" in wanted:
        parts.append(render_restore(res))
    if "bytes" in wanted:
        parts.append(render_bytes(res))
    if "kill" in wanted:
        parts.append(render_kill(res))
    if res.get("errors"):
        parts.append("Errors:\n" + "\n".join(f"- {e}" for e in res["errors"]))
    return head, "\n\n".join(p for p in parts if p) + "\n"


# -- phases -------------------------------------------------------------------------------------

TRACE_NOTE = (
    "not replayed: the 260k-operation automerge-paper trace is not reachable offline here "
    "(josephg/editing-traces keeps it only as binary .json.gz, whose bytes our source index "
    "does not store; automerge/automerge-perf's editing-trace.js is not stored either; no "
    "installable package ships it)")


def head_target(dest: Path) -> Target:
    """Our server from ``git archive HEAD jupyter_collab`` extracted into ``dest``."""
    target = snapshot_target(dest, "HEAD")
    sys.path.insert(1, str(dest))  # the store opened by the bytes phase: the same code
    return target


def store_bench(quick: bool, pythonpath: str, postgres: str | None = None) -> tuple[str, str]:
    args = ["--appends", "1024", "--ops", "10000"] if quick else ["--appends", "4096",
                                                                   "--ops", "50000"]
    server = None
    if postgres == "auto":  # a server of our own, durable as a deployment's (fsync on)
        from tests.services.postgres import PostgresServer

        server = PostgresServer(fsync=True)
        server.start()
        postgres = server.url()
    try:
        extra = ["--postgres", postgres] if postgres else []
        res = subprocess.run([sys.executable, "-m", "jupyter_collab.persistence.bench", *args,
                              *extra], capture_output=True, text=True, timeout=1800,
                             cwd=pythonpath or REPO_DIR, check=False,
                             env={**os.environ, "PYTHONPATH": pythonpath or str(REPO_DIR)})
    finally:
        if server is not None:
            server.destroy()
    out = res.stdout if res.returncode == 0 else f"failed ({res.returncode}):\n{res.stderr[-1500:]}"
    return out, " ".join(args + (["--postgres", "<server started here>"] if server else extra))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_exit_handlers()
    if args.nice:
        history_phases.NICE = args.nice
        boost(os.getpid(), args.nice)
        atexit.register(reset_autogroup)
    phases = [p.strip() for p in args.only.split(",") if p.strip()]
    bad = set(phases) - set(PHASES)
    if bad:
        raise SystemExit(f"unknown phase(s): {', '.join(sorted(bad))}")
    started = datetime.now(timezone.utc)
    snapshot_dir = tempfile.TemporaryDirectory(prefix="bench-history-src-")
    ours = ours_target() if args.source == "worktree" else head_target(Path(snapshot_dir.name))
    targets = {"ours": ours}
    if "kill" in phases and args.kill_target in ("jc", "both"):
        targets["jc"] = jc_target(log)
    default_rates = "50,1000" if args.quick else "50,200,1000,2000,3000"
    rates = [float(x) for x in (args.rates or default_rates).split(",")]
    duration = args.duration or (5.0 if args.quick else 10.0)
    trials = args.trials or (2 if args.quick else 5)
    results: dict = {"errors": [], "kill_edits": 100, "kill_rate": 50.0, "kill_delay_ms": 50.0}
    load_before: dict[str, float] = {}

    def quiet(name: str) -> None:
        load_before[name] = round(wait_until_quiet(args.wait_quiet, log=log), 1)

    with tempfile.TemporaryDirectory(prefix="bench-history-") as d:
        tmp = Path(d)
        if "append" in phases:
            quiet("append")
            log("ours: append throughput and latency to durable")
            try:
                results["append"] = phase_append(
                    ours, tmp / "ours-append", rates, duration, args.writers, log,
                    args.retries, args.max_other_load, args.wait_quiet)
            except Exception as e:  # noqa: BLE001 - recorded
                results["errors"].append(f"append: {type(e).__name__}: {e}")
                traceback.print_exc()
            if not args.no_store_bench:
                quiet("store bench")
                log("raw store figures: python -m jupyter_collab.persistence.bench")
                results["store_bench"], results["store_bench_args"] = store_bench(
                    args.quick, ours.pythonpath, args.postgres)
        if "restore" in phases:
            quiet("restore")
            log("ours: restore a version of a 1,000-cell notebook")
            nb_text = dump_notebook(make_notebook(1000, 3_000_000))
            try:
                results["restore"] = phase_restore(ours, tmp / "ours-restore", nb_text,
                                                   1 if args.quick else 3, log)
            except Exception as e:  # noqa: BLE001 - recorded
                results["errors"].append(f"restore: {type(e).__name__}: {e}")
                traceback.print_exc()
        if "bytes" in phases:
            log(f"generating {args.session_hours:g} h of two-person typing")
            session = typing_session(args.session_hours * 3600)
            quiet("bytes")
            log(f"ours: replay {len(session.updates):,} updates at {args.replay_rate:g}/s")
            try:
                b = phase_bytes(ours, tmp / "ours-bytes", session, args.replay_rate, log,
                                not args.real_timers)
                b["session"] = {"users": 2, "hours": args.session_hours, "chars_per_s": 5.0,
                                "updates": len(session.updates), "inserts": session.inserts,
                                "deletes": session.deletes,
                                "raw_update_bytes": sum(map(len, session.updates)),
                                "final_chars": len(session.final_text),
                                "replay_rate": args.replay_rate}
                results["bytes"] = b
            except Exception as e:  # noqa: BLE001 - recorded
                results["bytes"] = {"error": f"{type(e).__name__}: {e}"}
                traceback.print_exc()
            results["trace_note"] = TRACE_NOTE
        if "kill" in phases:
            results["kill"] = {}
            for name in (["ours", "jc"] if args.kill_target == "both" else [args.kill_target]):
                quiet(f"kill {name}")
                log(f"{name}: {trials} hard-kill trials")
                results["kill"][name] = phase_kill(targets[name], tmp / f"{name}-kill", trials,
                                                   100, 50.0, 0.05, log)
    payload = {
        "started": started.isoformat(), "machine": machine_info(),
        "mode": f"{'quick' if args.quick else 'full'} run, niceness {args.nice}",
        "targets": {n: {"label": t.label, "versions": describe_python(t.python)}
                    for n, t in targets.items()},
        "wait_quiet": args.wait_quiet, "load_before": load_before, "phases": phases,
        "args": vars(args), "results": results,
        "command": "python benchmarks/history.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
    }
    head, body = render(payload)
    print("\n" + head + "\n\n" + body)
    write_json(BENCH_DIR / "results" / "history-latest.json", payload)
    if args.record:
        path = BENCH_DIR / "RESULTS-history.md"
        path.write_text("# Durable history benchmark results\n\nProduced by `"
                        + payload["command"].strip() + "` (see README.md, \"Durable history\")."
                        "\n\n```\n" + head + "\n```\n\n" + body)
        print(f"report written to {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
