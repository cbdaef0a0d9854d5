"""Where a server spends an open: ``python benchmarks/open_profile.py``.

Starts one server per target (ours, jupyter-collaboration) the way ``run.py`` does, opens a
large document once (cold) with a first client that stays connected, then opens it again
``--warm`` times (each a second person joining the loaded room) and reports, per target:

* the server's CPU time per warm open (``/proc/<pid>/stat``; all threads);
* with ``--callgrind``: the server runs under ``valgrind --tool=callgrind`` with
  instrumentation off, switched on (``callgrind_control -i on``) only around the measured
  opens, so the figure is the *instructions* the server executed per open: repeatable on a
  busy machine, unlike any timing. ``callgrind_annotate`` on the kept output file shows
  where they go (Python frames appear as the interpreter's C functions; use ``--py-spy``
  for Python-level stacks);
* with ``--py-spy DIR``: a py-spy flame graph (SVG) and raw stacks of the server during the
  measured opens;
* ``--cold N``: also N cold opens (fresh copies of the file), measured the same way, each
  started once the server is idle (the previous open's background work done) and ended, for
  the total, once it is idle again: ``server_cpu_ms_per_open`` is then all the CPU an open
  costs, background work included, and ``server_cpu_ms_to_content_median`` the CPU from the
  session PUT until the client has the whole content.

* ``--side-by-side --cold N``: every target's server up at once and N cold opens each,
  interleaved (see :func:`side_by_side`): the way to compare targets on a shared machine.
  ``python benchmarks/open_profile.py --side-by-side --kind text --cold 9 --source 02e093e,HEAD``

Client-side work (applying the update in pycrdt) is the benchmark process's, not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loads import dump_notebook, make_notebook, make_text, small_notebook, write_file  # noqa: E402
from scenarios import timed_open, warm_up  # noqa: E402
from servers import (  # noqa: E402
    BENCH_DIR,
    ServerProcess,
    Target,
    boost,
    install_exit_handlers,
    jc_target,
    machine_busy_seconds,
    ours_target,
    reset_autogroup,
    snapshot_target,
)

NB_CELLS = 1000
NB_BYTES = 3_000_000
TEXT_BYTES = 4 * 2**20
REOPEN_WAIT = 8.0  # s: a room dropped 1 s after its last client left, then saved and compacted
# s: ours starts a fresh open's bookkeeping up to 1 s after the first reply
# (collaboration/firstreply.py FIRST_REPLY_GRACE): a server quiet right after an open is not
# done with it yet, so every settle waits this long first.
BOOKKEEPING_GRACE = 1.5


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _callgrind_total(path: Path) -> int | None:
    """Instructions (Ir) recorded in a callgrind output file (its last line, "totals:", is
    written once the dump is complete)."""
    try:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Instruments:
    """Switch the chosen profilers on and off around the measured opens."""

    def __init__(self, server: ServerProcess, mode: str, out: Path) -> None:
        self.server, self.mode, self.out, self.label = server, mode, out, ""
        self._spy: subprocess.Popen[bytes] | None = None

    def start(self, label: str) -> None:
        self.label = label
        if self.mode == "callgrind":
            subprocess.run(["callgrind_control", "-z", str(self.server.pid)],
                           capture_output=True, check=False, timeout=600)
            subprocess.run(["callgrind_control", "-i", "on", str(self.server.pid)],
                           capture_output=True, check=True, timeout=600)
        elif self.mode == "py-spy":
            self.out.mkdir(parents=True, exist_ok=True)
            self._spy = subprocess.Popen(
                ["py-spy", "record", "--pid", str(self.server.pid), "--rate", "500",
                 "--format", "raw", "-o", str(self.out / f"{self.label}.txt"), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)  # py-spy attaches

    def stop(self) -> int | None:
        if self.mode == "callgrind":
            subprocess.run(["callgrind_control", "-i", "off", str(self.server.pid)],
                           capture_output=True, check=True, timeout=600)
            before = set(self.server.work_dir.glob("callgrind.out.*"))
            subprocess.run(["callgrind_control", "-d", self.label, str(self.server.pid)],
                           capture_output=True, check=True, timeout=600)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                dumps = sorted(set(self.server.work_dir.glob("callgrind.out.*")) - before)
                # the dump is complete once its "totals:" line is written
                if dumps and _callgrind_total(dumps[-1]) is not None:
                    self.out.mkdir(parents=True, exist_ok=True)
                    dest = self.out / f"callgrind.{self.label}"
                    shutil.copyfile(dumps[-1], dest)
                    return _callgrind_total(dest)
                time.sleep(1.0)
            return None
        if self.mode == "py-spy" and self._spy is not None:
            self._spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
            self._spy.wait(60)
        return None


async def _settled(server: ServerProcess, quiet: float = 0.5, limit: float = 30.0,
                   grace: bool = True) -> None:
    """Wait until the server has used almost no CPU (< 4 %: its timers, a poll of the open
    files) for ``quiet`` seconds, i.e. the background work of the previous open is done, so
    that it is not charged to the next one (after ``BOOKKEEPING_GRACE``: see there)."""
    if grace:
        await asyncio.sleep(BOOKKEEPING_GRACE)
    deadline = time.monotonic() + limit
    samples = [(time.monotonic(), server.cpu_seconds())]
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        samples.append((time.monotonic(), server.cpu_seconds()))
        old = [s for s in samples if samples[-1][0] - s[0] >= quiet]
        if old and samples[-1][1] - old[-1][1] <= 0.04 * (samples[-1][0] - old[-1][0]):
            return


async def _opens(server: ServerProcess, kind: str, paths: list[str], expected: object,
                 keep_first: bool, timeout: float, settle: bool = False) -> list[dict]:
    out = []
    for path in paths:
        if settle:
            await _settled(server)
        cpu0 = server.cpu_seconds()
        res, client = await timed_open(server, path, kind, expected, timeout)
        # The server's CPU from the PUT until this client had the whole content (background
        # work it started meanwhile, on other threads, included).
        res["cpu_to_content"] = server.cpu_seconds() - cpu0
        if not res["ok"]:
            raise RuntimeError(f"open of {path} failed: {res.get('error')}")
        out.append(res)
        client.close()
        await asyncio.sleep(0.2)  # the server finishes with this client (leave, awareness)
    return out


def profile_target(target: Target, kind: str, args: argparse.Namespace, tmp: Path,
                   expected: object, content: str) -> dict:
    root = tmp / f"{target.name}-root"
    root.mkdir()
    write_file(root, "warmup.txt", "hello\n")
    write_file(root, "warmup.ipynb", dump_notebook(small_notebook(999, 2)))
    ext = "ipynb" if kind == "notebook" else "txt"
    write_file(root, f"big.{ext}", content)
    cold_paths = []
    for i in range(args.cold):
        cold_paths.append(f"cold-{i}.{ext}")
        write_file(root, cold_paths[-1], content)
    reopen_paths = []
    for i in range(args.reopen):
        reopen_paths.append(f"reopen-{i}.{ext}")
        write_file(root, reopen_paths[-1], content)
    if args.reopen:
        # rooms are dropped a second after their last client left, so files can be reopened
        cleanup = ("--CollabApp.document_cleanup_delay=1" if target.api == "collab"
                   else "--YDocExtension.document_cleanup_delay=1")
        target = Target(target.name, target.label, target.python, target.api,
                        (*target.extra_args, cleanup), target.pythonpath)
    wrap: tuple[str, ...] = ()
    if args.mode == "callgrind":
        wrap = ("valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--callgrind-out-file={tmp / f'{target.name}-root'}/../{target.name}-work/"
                "callgrind.out.%p")
    server = ServerProcess(target, root, tmp / f"{target.name}-work", nice=args.nice,
                           wrap=wrap)
    server.start(timeout=900 if wrap else 90)
    inst = Instruments(server, args.mode, Path(args.out))
    result: dict = {"target": target.name, "label": target.label, "kind": kind}
    try:
        async def go() -> None:
            timeout = 600 if wrap else 120
            await warm_up(server, root, timeout)
            first, first_client = await timed_open(server, f"big.{ext}", kind, expected, timeout)
            result["first_cold_s"] = first["total"]
            await asyncio.sleep(2.0)  # background work of a fresh load (fingerprint, trust)
            if reopen_paths:
                # opened once and left: the room is dropped, its history stays
                await _opens(server, kind, reopen_paths, expected, True, timeout)
                await asyncio.sleep(REOPEN_WAIT * (20 if wrap else 1))
            for label, paths in (("warm", [f"big.{ext}"] * args.warm), ("cold", cold_paths),
                                 ("reopen", reopen_paths)):
                if not paths:
                    continue
                cpu0, busy0, t0 = server.cpu_seconds(), machine_busy_seconds(), time.monotonic()
                inst.start(f"{target.name}-{kind}-{label}")
                opens = await _opens(server, kind, paths, expected, label == "cold", timeout,
                                     settle=label != "warm")
                if label != "warm":
                    await _settled(server)  # the last open's background work is counted
                instructions = inst.stop()
                cpu = server.cpu_seconds() - cpu0
                wall = time.monotonic() - t0
                result[label] = {
                    "opens": len(opens),
                    "server_cpu_ms_per_open": cpu / len(opens) * 1000,
                    "server_cpu_ms_to_content_median": statistics.median(
                        o["cpu_to_content"] for o in opens) * 1000,
                    "instructions_per_open": (instructions / len(opens)
                                              if instructions else None),
                    "total_median_ms": statistics.median(o["total"] for o in opens) * 1000,
                    "put_median_ms": statistics.median(o["put"] for o in opens) * 1000,
                    "ws_open_median_ms": statistics.median(o["ws_open"] for o in opens) * 1000,
                    "step2_median_ms": statistics.median(o["step2"] for o in opens) * 1000,
                    "client_apply_median_ms": statistics.median(
                        o["client_apply"] for o in opens) * 1000,
                    "bytes_median": statistics.median(o["bytes"] for o in opens),
                    "machine_busy_pct": (machine_busy_seconds() - busy0) / wall * 100,
                }
            first_client.close()

        asyncio.run(go())
    finally:
        server.stop(timeout=120 if wrap else 15)
    return result


def side_by_side(targets: list[Target], kind: str, args: argparse.Namespace, tmp: Path,
                 expected: object, content: str) -> dict:
    """Cold opens of every target in one run, interleaved: all servers up at once, each
    repeat opens a fresh copy of the file on each server in turn (the order rotated every
    repeat), each started once that server is idle. What the machine's other load does to
    one target it does to the others within a second or two, which two runs one after the
    other cannot promise. Figures per target: medians of the repeats, and the ratio of each
    other target's median to the first target's, per measure (``total``, the one users feel:
    from the session PUT until the client holds the whole content)."""
    ext = "ipynb" if kind == "notebook" else "txt"
    servers: list[ServerProcess] = []
    opens: dict[str, list[dict]] = {t.name: [] for t in targets}
    loads: list[float] = []
    try:
        for target in targets:
            # no room is dropped (saved, compacted) in the middle of another target's open
            keep = ("--CollabApp.document_cleanup_delay=3600" if target.api == "collab"
                    else "--YDocExtension.document_cleanup_delay=3600")
            target = Target(target.name, target.label, target.python, target.api,
                            (*target.extra_args, keep), target.pythonpath)
            root = tmp / f"{target.name}-root"
            root.mkdir()
            write_file(root, "warmup.txt", "hello\n")
            write_file(root, "warmup.ipynb", dump_notebook(small_notebook(999, 2)))
            for i in range(args.cold):
                write_file(root, f"cold-{i}.{ext}", content)
            server = ServerProcess(target, root, tmp / f"{target.name}-work", nice=args.nice)
            servers.append(server.start(timeout=90))

        async def go() -> None:
            for server in servers:
                await warm_up(server, server.root_dir, 120)
            for i in range(args.cold):
                turn = servers[i % len(servers):] + servers[:i % len(servers)]
                for server in turn:
                    # every server idle, not only the next one: a target's background work
                    # (ours' starts up to a second after its reply) must not fall into the
                    # next target's open
                    await asyncio.sleep(BOOKKEEPING_GRACE)
                    for each in servers:
                        await _settled(each, grace=False)
                    loads.append(os.getloadavg()[0])
                    (res,) = await _opens(server, kind, [f"cold-{i}.{ext}"], expected, True,
                                          120)
                    opens[server.target.name].append(res)
                    log(f"  {server.target.name} cold-{i}: total {res['total'] * 1000:.0f} ms,"
                        f" step 2 {res['step2'] * 1000:.0f} ms, load {loads[-1]:.1f}")

        asyncio.run(go())
    finally:
        for server in servers:
            server.stop(timeout=15)
    result: dict = {"kind": kind, "repeats": args.cold, "load_average_median":
                    statistics.median(loads), "load_average_min": min(loads),
                    "load_average_max": max(loads), "targets": {}}
    measures = ("total", "step2", "ws_open", "put", "client_apply", "cpu_to_content")
    for target in targets:
        rows = opens[target.name]
        result["targets"][target.name] = {
            "label": target.label,
            **{f"{m}_median_ms": statistics.median(r[m] for r in rows) * 1000 for m in measures},
            "total_all_ms": [round(r["total"] * 1000) for r in rows],
        }
    first = targets[0].name
    for target in targets[1:]:
        result["targets"][target.name]["ratio_to_" + first] = {
            m: result["targets"][target.name][f"{m}_median_ms"]
            / result["targets"][first][f"{m}_median_ms"]
            for m in ("total", "step2")
        }
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", choices=["ours", "jc", "both"], default="both")
    p.add_argument("--kind", choices=["notebook", "text", "both"], default="notebook")
    p.add_argument("--warm", type=int, default=10, help="warm opens measured")
    p.add_argument("--cold", type=int, default=0, help="cold opens measured (fresh copies)")
    p.add_argument("--reopen", type=int, default=0,
                   help="opens measured of files opened once before (their room dropped, "
                        "their history kept: what a first visitor of a known file waits for)")
    p.add_argument("--mode", choices=["cpu", "callgrind", "py-spy"], default="cpu")
    p.add_argument("--out", default=str(BENCH_DIR / "results" / "profile"),
                   help="where callgrind/py-spy outputs go")
    p.add_argument("--nice", type=int, default=0)
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--side-by-side", action="store_true",
                   help="only --cold N opens, with every target's server up at once and the "
                        "opens interleaved (see side_by_side)")
    p.add_argument("--source", default="HEAD",
                   help="our code: a git revision (run from `git archive`, default HEAD), "
                        "several comma-separated (compared in one run), or 'worktree'")
    args = p.parse_args(argv)
    install_exit_handlers()
    if args.nice:
        boost(os.getpid(), args.nice)
    targets = []
    snapshots = tempfile.TemporaryDirectory(prefix="open-profile-src-")
    if args.target in ("ours", "both"):
        for i, rev in enumerate(args.source.split(",")):
            if rev == "worktree":
                targets.append(ours_target())
            else:
                dest = Path(snapshots.name) / str(i)
                dest.mkdir()
                t = snapshot_target(dest, rev)
                targets.append(Target(f"ours@{rev}" if "," in args.source else "ours",
                                      t.label, t.python, t.api, t.extra_args, t.pythonpath))
    if args.target in ("jc", "both"):
        targets.append(jc_target(log))
    kinds = ["notebook", "text"] if args.kind == "both" else [args.kind]
    nb = make_notebook(NB_CELLS, NB_BYTES)
    text = make_text(TEXT_BYTES)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="open-profile-") as d:
            for kind in kinds:
                if args.side_by_side:
                    tmp = Path(d) / kind
                    tmp.mkdir()
                    log(f"side by side: {', '.join(t.name for t in targets)}, {kind}")
                    res = side_by_side(targets, kind, args, tmp,
                                       nb if kind == "notebook" else text,
                                       dump_notebook(nb) if kind == "notebook" else text)
                    log(json.dumps(res, indent=1))
                    results.append(res)
                    continue
                for target in targets:
                    tmp = Path(d) / f"{kind}-{target.name}"
                    tmp.mkdir()
                    log(f"{target.name} {kind} ({args.mode})")
                    res = profile_target(target, kind, args, tmp,
                                         nb if kind == "notebook" else text,
                                         dump_notebook(nb) if kind == "notebook" else text)
                    log(json.dumps(res, indent=1))
                    results.append(res)
    finally:
        if args.nice:
            reset_autogroup()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
