"""Fan-out load: many clients in one text room, a few writers at a fixed aggregate edit rate.

Layout (so that client CPU does not dominate a 2-core machine):

* one *writer* process holds the writer clients (full pycrdt docs) and follows a fixed,
  evenly spaced edit schedule; every edit inserts one line holding a marker
  ``⟨w{writer}:{seq}:{send_time_ns}⟩``;
* ``procs`` *receiver* processes hold the other clients: mostly :class:`DrainClient` (handshake,
  then a regex pass over each raw frame) plus a few :class:`DocClient` probes that apply every
  update to a real document, so we also check the room converges to the writers' content.
  Receivers run on one ``epoll`` loop (:class:`wsclient.EpollPump`), not asyncio, to keep
  the client's share of the measured latency small.

Latency = receive time − send time, both ``time.monotonic_ns()`` (CLOCK_MONOTONIC, one clock
for all processes of the machine). Server CPU per delivery = server utime+stime over the
window from the first edit to the last delivery (or the drain deadline), divided by
edits × receiving clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import multiprocessing as mp
import random
import re
import resource
import signal
import time
from array import array
from multiprocessing.connection import Connection
from pathlib import Path

from loads import edit_schedule, fanout_initial_text, marker, write_file
from servers import ServerProcess, machine_busy_seconds


def percentile(sorted_xs: list[int] | array, q: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_xs:
        return None
    k = max(0, min(len(sorted_xs) - 1, int(round(q / 100.0 * len(sorted_xs) + 0.5)) - 1))
    return float(sorted_xs[k])


def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _sys_self() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


async def _loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    """How late a 10 ms sleep wakes up: shows whether this client process was saturated."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        samples.append(time.perf_counter() - t - 0.01)


async def _connect_all(clients: list, info: dict, ws_url: str, concurrency: int,
                       timeout: float) -> tuple[int, list[str]]:
    """Connect and sync every client with bounded concurrency; returns (ok count, errors)."""
    sem = asyncio.Semaphore(concurrency)
    errors: list[str] = []

    async def one(c) -> bool:  # noqa: ANN001
        async with sem:
            try:
                await c.connect(info, ws_url, timeout)
                await asyncio.wait_for(c.synced.wait(), timeout)
                return True
            except Exception as e:  # noqa: BLE001 - reported, the run goes on without it
                if len(errors) < 5:
                    errors.append(f"{type(e).__name__}: {e}"[:200])
                c.close()
                return False

    oks = await asyncio.gather(*(one(c) for c in clients))
    return sum(oks), errors


def _build_result(clients: list, live: list, latencies, expected, sent: dict,  # noqa: ANN001
                  send_late: list[float], cpu_s: float, ws: dict, lag: list[float]) -> dict:
    """What a client process reports at the end of a case (picklable)."""
    from clients import DocClient

    # Content check: probes and writers hold real documents; after every delivery arrived
    # they must all hold the same text.
    docs = [c for c in live if isinstance(c, DocClient) and not c.closed.is_set()]
    hashes = [hashlib.sha1(str(c.text).encode()).hexdigest() for c in docs]
    closes: dict[str, int] = {}
    for c in clients:
        if c.closed.is_set():
            key = f"{c.close_code} {c.close_reason}"
            closes[key] = closes.get(key, 0) + 1
    return {
        "aborted": False,
        "clients": len(live),
        "expected": sum(expected(c) for c in live),
        "received": sum(len(c.markers.seen) for c in live),
        "duplicates": sum(c.markers.duplicates for c in live),
        "last_ns": max((c.markers.last_ns for c in live), default=0),
        "latencies": latencies.values.tobytes(),
        "per_edit": {k: (latencies.sent_ns[k], latencies.first[k], latencies.last[k])
                     for k in latencies.first},
        "sent": sent,
        "send_late_max_s": max(send_late, default=0.0),
        "hashes": hashes,
        # one document's text, so the caller can compare it with the file the server saved
        "text": str(docs[0].text) if docs else None,
        "connect_ms": array("d", [ms for c in clients if (ms := c.connect_ms()) is not None]
                            ).tobytes(),
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "closes": closes,
        "notices": _notice_kinds(clients),
        "frames": sum(c.frames for c in live),
        "cpu_s": cpu_s,
        "ws": ws,
        "loop_lag_p99_s": percentile(sorted(lag), 99) if lag else None,
        "loop_lag_max_s": max(lag, default=0.0),
    }


def _notice_kinds(clients: list) -> list[str]:
    """Non-sync frames seen (e.g. our type-100 JSON notices), reduced to their "type"."""
    kinds = set()
    for c in clients:
        for n in c.notices:
            m = re.search(r'"type"\s*:\s*"([^"]+)"', n)
            kinds.add(m.group(1) if m else repr(n[:40]))
    return sorted(kinds)[:10]


def _expected_fn(planned_per_writer: dict[int, int]):  # noqa: ANN202
    total = sum(planned_per_writer.values())

    def expected(c) -> int:  # noqa: ANN001
        return total - planned_per_writer.get(c.markers.own_writer, 0)

    return expected


async def _writer_worker(cfg: dict, conn: Connection) -> None:
    """The writers: full pycrdt documents on asyncio, following the edit schedule."""
    import wsclient
    from clients import DocClient, LatencySink

    info, ws_url = cfg["info"], cfg["ws_url"]
    latencies = LatencySink()
    writers: list[DocClient] = []
    for w in cfg["writer_ids"]:
        c = DocClient("text", latencies)
        c.markers.own_writer = w
        writers.append(c)
    t_setup = time.perf_counter()
    ok, errors = await _connect_all(writers, info, ws_url, 4, cfg["connect_timeout"])
    live = [c for c in writers if c.synced.is_set() and not c.closed.is_set()]
    conn.send(("ready", {"connected": ok, "wanted": len(writers), "errors": errors,
                         "setup_s": time.perf_counter() - t_setup}))
    rng = random.Random(cfg["seed"])
    by_id = {w: c for w, c in zip(cfg["writer_ids"], writers, strict=True)}

    # Wait for "go" without blocking the loop; do the warm-up edits when asked.
    go = None
    deadline = time.monotonic() + cfg["go_timeout"]
    while time.monotonic() < deadline:
        if conn.poll():
            msg = conn.recv()
            if msg[0] == "warm":
                _, n, interval = msg
                for k in range(n):
                    c = writers[k % len(writers)]
                    c.insert_line(rng.random(), f"warm-up line {k} from writer {k % 4}\n")
                    await asyncio.sleep(interval)
                conn.send(("warmed", n))
                continue
            go = msg
            break
        await asyncio.sleep(0.02)
    if go is None or go[0] != "go":
        for c in writers:
            c.close()
        conn.send(("done", {"aborted": True}))
        return
    _, t0_ns, schedule, planned_per_writer, deadline_ns = go
    expected = _expected_fn(planned_per_writer)
    for c in live:
        c.markers.recording = True
    stop_lag = asyncio.Event()
    lag: list[float] = []
    lag_task = asyncio.ensure_future(_loop_lag(lag, stop_lag))
    cpu0 = _cpu_self()
    ws0 = dict(wsclient.STATS)
    sent = {w: 0 for w in cfg["writer_ids"]}
    send_late: list[float] = []
    for offset, w in schedule:
        due = t0_ns + int(offset * 1e9)
        now = time.monotonic_ns()
        if due > now:
            await asyncio.sleep((due - now) / 1e9)
        if time.monotonic_ns() > deadline_ns:
            break
        c = by_id[w]
        if c.closed.is_set():
            continue
        t_send = time.monotonic_ns()
        send_late.append((t_send - due) / 1e9)
        c.insert_line(rng.random(), marker(w, sent[w], t_send))
        sent[w] += 1
    while time.monotonic_ns() < deadline_ns:
        if all(c.closed.is_set() or len(c.markers.seen) >= expected(c) for c in live):
            break
        await asyncio.sleep(0.02)
    cpu1 = _cpu_self()
    ws1 = {k: v - ws0[k] for k, v in wsclient.STATS.items()}
    stop_lag.set()
    await lag_task
    result = _build_result(writers, live, latencies, expected, sent, send_late, cpu1 - cpu0,
                           ws1, lag)
    for c in writers:
        c.close()
    await asyncio.sleep(0.2)
    conn.send(("done", result))


def _receiver_worker(cfg: dict, conn: Connection) -> None:
    """Receivers: drain clients plus a few probes, on one epoll loop (no asyncio)."""
    import wsclient
    from clients import DocClient, DrainClient, LatencySink

    info, ws_url = cfg["info"], cfg["ws_url"]
    latencies = LatencySink()
    probes = [DocClient("text", latencies) for _ in range(cfg["n_probe"])]
    clients: list = probes + [DrainClient(latencies) for _ in range(cfg["n_drain"])]
    pump = wsclient.EpollPump()
    t_setup = time.perf_counter()
    errors: list[str] = []
    setup_deadline = time.monotonic() + cfg["go_timeout"]
    for c in clients:
        if time.monotonic() > setup_deadline:
            break
        try:
            c.connect_sync(info, ws_url, cfg["connect_timeout"])
            pump.add(c.conn)
        except Exception as e:  # noqa: BLE001 - reported, the run goes on without it
            if len(errors) < 5:
                errors.append(f"{type(e).__name__}: {e}"[:200])
        pump.pump(0)
    sync_deadline = time.monotonic() + cfg["connect_timeout"]
    while time.monotonic() < sync_deadline and not all(
            c.synced.is_set() or c.closed.is_set() or c.conn is None for c in clients):
        pump.pump(0.02)
    live = [c for c in clients if c.synced.is_set() and not c.closed.is_set()]
    conn.send(("ready", {"connected": len(live), "wanted": len(clients), "errors": errors,
                         "setup_s": time.perf_counter() - t_setup}))

    go = None
    deadline = time.monotonic() + cfg["go_timeout"]
    while time.monotonic() < deadline:
        pump.pump(0.02)
        if conn.poll():
            msg = conn.recv()
            if msg[0] == "go":
                go = msg
                break
    if go is None:
        pump.close()
        conn.send(("done", {"aborted": True}))
        return
    _, t0_ns, _schedule, planned_per_writer, deadline_ns = go
    expected = _expected_fn(planned_per_writer)
    for c in live:
        c.markers.recording = True
    cpu0, sys0 = _cpu_self(), _sys_self()
    ws0 = dict(wsclient.STATS)
    lag: list[float] = []
    tick = 0.02
    next_check = time.perf_counter() + tick
    while time.monotonic_ns() < deadline_ns:
        pump.pump(max(0.0, next_check - time.perf_counter()))
        now = time.perf_counter()
        if now >= next_check:
            lag.append(now - next_check)  # how late the loop got back to its timer
            next_check = now + tick
            if time.monotonic_ns() > t0_ns and all(
                    c.closed.is_set() or len(c.markers.seen) >= expected(c) for c in live):
                break
    cpu1 = _cpu_self()
    ws1 = {k: v - ws0[k] for k, v in wsclient.STATS.items()}
    ws1["sys_s"] = _sys_self() - sys0
    result = _build_result(clients, live, latencies, expected, {}, [], cpu1 - cpu0, ws1, lag)
    pump.close()
    conn.send(("done", result))


def worker_entry(cfg: dict, conn: Connection) -> None:
    """Process entry point (spawned): run one client process to completion."""
    try:
        if cfg["role"] == "writers":
            asyncio.run(asyncio.wait_for(_writer_worker(cfg, conn), cfg["hard_timeout"]))
        else:
            signal.alarm(int(cfg["hard_timeout"]))  # no asyncio here: bound the process itself
            _receiver_worker(cfg, conn)
    except Exception as e:  # noqa: BLE001 - the parent reports it
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(e).__name__}: {e}"))


def _recv(conn: Connection, timeout: float) -> tuple:
    if conn.poll(timeout):
        return conn.recv()
    return ("timeout", None)


def run_fanout(server: ServerProcess, name: str, n_clients: int, rate: float,
               duration: float, writers: int = 4, procs: int = 2, probes_per_proc: int = 3,
               drain_timeout: float = 20.0, warmup_edits: int = 10, save_timeout: float = 30.0,
               log=print) -> dict:
    """Run one fan-out case against a started server; returns the figures (see module doc)."""
    import asyncio as _asyncio

    from clients import open_session

    path = f"fanout-{name}.txt"
    write_file(server.root_dir, path, fanout_initial_text())
    session = _asyncio.run(open_session(server.info(), path, "text", "file"))
    writers = min(writers, n_clients)
    receivers = n_clients - writers
    writer_ids = list(range(writers))
    schedule = edit_schedule(rate, duration, writers)
    planned = {w: sum(1 for _, x in schedule if x == w) for w in writer_ids}
    connect_budget = 60.0 + n_clients * 0.25
    hard_timeout = connect_budget + duration + drain_timeout + 120.0
    base = {"info": server.info(), "ws_url": session.ws_url, "concurrency": 16,
            "connect_timeout": 60.0, "go_timeout": connect_budget + 30.0,
            "hard_timeout": hard_timeout}
    cfgs = [{**base, "role": "writers", "writer_ids": writer_ids, "seed": 7}]
    for i in range(procs):
        share = receivers // procs + (1 if i < receivers % procs else 0)
        n_probe = min(probes_per_proc, share)
        cfgs.append({**base, "role": "receivers", "n_probe": n_probe,
                     "n_drain": share - n_probe, "seed": 100 + i})
    ctx = mp.get_context("spawn")
    pipes: list[Connection] = []
    workers: list[mp.Process] = []
    result: dict = {"clients": n_clients, "rate": rate, "duration_s": duration,
                    "writers": writers, "client_procs": procs + 1,
                    "rss_start_bytes": server.rss_bytes()}
    try:
        for cfg in cfgs:
            parent_end, child_end = ctx.Pipe()
            p = ctx.Process(target=worker_entry, args=(cfg, child_end), daemon=True)
            p.start()
            pipes.append(parent_end)
            workers.append(p)
        t_setup = time.monotonic()
        ready = []
        for conn in pipes:
            left = connect_budget - (time.monotonic() - t_setup)
            msg = _recv(conn, max(1.0, left))
            if msg[0] != "ready":
                raise RuntimeError(f"client process not ready: {msg}")
            ready.append(msg[1])
        connected = sum(r["connected"] for r in ready)
        result["connected"] = connected
        result["connect_errors"] = [e for r in ready for e in r["errors"]][:5]
        result["setup_s"] = time.monotonic() - t_setup
        log(f"    {connected}/{n_clients} clients connected and synced in "
            f"{result['setup_s']:.1f}s")
        # Warm-up: a few unmeasured edits, so one-time costs of a room's first edits (store
        # creation, first save) are not charged to the steady-state figures.
        pipes[0].send(("warm", warmup_edits, 1.0 / rate))
        for other in pipes[1:]:
            other.send(("warm", warmup_edits, 1.0 / rate))
        msg = _recv(pipes[0], 60.0)
        if msg[0] != "warmed":
            raise RuntimeError(f"writers did not warm up: {msg}")
        time.sleep(1.5)
        # Idle cost with everyone connected, for reference.
        c0 = server.cpu_seconds()
        time.sleep(2.0)
        result["server_idle_cpu_pct"] = (server.cpu_seconds() - c0) / 2.0 * 100
        rss_before = server.rss_bytes()
        t0_ns = time.monotonic_ns() + 300_000_000
        deadline_ns = t0_ns + int((duration + drain_timeout) * 1e9)
        cpu0 = server.cpu_seconds()
        busy0 = machine_busy_seconds()
        wall0 = time.monotonic()
        for conn in pipes:
            conn.send(("go", t0_ns, schedule, planned, deadline_ns))
        dones = []
        for conn in pipes:
            left = (deadline_ns - time.monotonic_ns()) / 1e9 + 60.0
            msg = _recv(conn, max(1.0, left))
            if msg[0] != "done" or msg[1].get("aborted"):
                raise RuntimeError(f"client process failed: {str(msg)[:300]}")
            dones.append(msg[1])
        cpu1 = server.cpu_seconds()
        busy1 = machine_busy_seconds()
        wall1 = time.monotonic()
        result["rss_during_bytes"] = server.rss_bytes()
        result["rss_before_bytes"] = rss_before
    finally:
        for conn in pipes:
            conn.close()
        for p in workers:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join(5)

    lat = array("q")
    connect_ms = array("d")
    for d in dones:
        lat.frombytes(d["latencies"])
        connect_ms.frombytes(d["connect_ms"])
    lat_sorted = sorted(lat)
    connect_sorted = sorted(connect_ms)
    per_edit: dict[tuple[int, int], list[int]] = {}
    for d in dones:
        for k, (sent_ns, first, last) in d["per_edit"].items():
            cur = per_edit.get(k)
            if cur is None:
                per_edit[k] = [sent_ns, first, last]
            else:
                cur[1] = min(cur[1], first)
                cur[2] = max(cur[2], last)
    firsts = sorted(v[1] for v in per_edit.values())
    lasts = sorted(v[2] for v in per_edit.values())
    edits = sum(sum(d["sent"].values()) for d in dones)
    expected = sum(d["expected"] for d in dones)
    received = sum(d["received"] for d in dones)
    last_ns = max(d["last_ns"] for d in dones)
    receiving = connected - 1  # every edit goes to every other client
    hashes = [h for d in dones for h in d["hashes"]]
    closes: dict[str, int] = {}
    for d in dones:
        for k, v in d["closes"].items():
            closes[k] = closes.get(k, 0) + v
    cpu = cpu1 - cpu0
    deliveries = edits * receiving
    result.update({
        "edits": edits,
        "deliveries_expected": expected,
        "deliveries_received": received,
        "deliveries_missing": expected - received,
        "duplicates": sum(d["duplicates"] for d in dones),
        "latency_p50_ms": _ms(percentile(lat_sorted, 50)),
        "latency_p99_ms": _ms(percentile(lat_sorted, 99)),
        "latency_max_ms": _ms(float(lat_sorted[-1])) if lat_sorted else None,
        "latency_samples": len(lat_sorted),
        "first_receiver_p50_ms": _ms(percentile(firsts, 50)),
        "first_receiver_p99_ms": _ms(percentile(firsts, 99)),
        "all_receivers_p50_ms": _ms(percentile(lasts, 50)),
        "all_receivers_p99_ms": _ms(percentile(lasts, 99)),
        "per_edit_timeline": [((v[0] - t0_ns) / 1e9, v[1] / 1e6, v[2] / 1e6)
                              for v in sorted(per_edit.values())],
        "window_s": wall1 - wall0,
        "last_delivery_after_last_edit_s": None,
        "server_cpu_s": cpu,
        "server_cpu_pct": cpu / (wall1 - wall0) * 100 if wall1 > wall0 else None,
        "server_cpu_us_per_delivery": cpu / deliveries * 1e6 if deliveries else None,
        "server_cpu_us_per_received": cpu / received * 1e6 if received else None,
        "content_converged": len(set(hashes)) == 1 if hashes else None,
        "doc_clients_checked": len(hashes),
        "text": next((d["text"] for d in dones if d["text"] is not None), None),
        "connect_p50_ms": percentile(connect_sorted, 50),
        "connect_p99_ms": percentile(connect_sorted, 99),
        "connect_max_ms": connect_sorted[-1] if connect_sorted else None,
        "client_maxrss_mb": [round(d["maxrss_kb"] / 1024, 1) for d in dones],
        "closes": closes,
        "notices": sorted({n for d in dones for n in d["notices"]})[:5],
        "other_load_cpu_pct": ((busy1 - busy0) - cpu - sum(d["cpu_s"] for d in dones))
        / (wall1 - wall0) * 100,
        "client_cpu_pct": [round(d["cpu_s"] / (wall1 - wall0) * 100, 1) for d in dones],
        "client_loop_lag_p99_ms": [_ms(d["loop_lag_p99_s"] * 1e9)
                                   if d["loop_lag_p99_s"] is not None else None
                                   for d in dones],
        "send_late_max_ms": max(d["send_late_max_s"] for d in dones) * 1000,
        "client_frames": [d["ws"]["frames"] for d in dones],
        "client_reads": [d["ws"]["reads"] for d in dones],
        "client_bytes": [d["ws"]["bytes"] for d in dones],
        "client_busy_s": [round(d["ws"]["busy_ns"] / 1e9, 3) for d in dones],
        "client_sys_s": [round(d["ws"].get("sys_s", 0), 3) for d in dones],
        "client_max_read_ms": [round(d["ws"]["max_read_ns"] / 1e6, 2) for d in dones],
    })
    if last_ns:
        last_edit_ns = t0_ns + int(schedule[-1][0] * 1e9)
        result["last_delivery_after_last_edit_s"] = (last_ns - last_edit_ns) / 1e9
    # After the measured window: the server saves on its own schedule, so wait for it.
    result["file_matches_content"] = (
        _file_comes_to_hold(server.root_dir / path, result["text"], save_timeout)
        if result["content_converged"] else None)
    return result


def _file_comes_to_hold(path: Path, text: str | None, timeout: float) -> bool | None:
    """Whether the file on disk holds ``text`` within ``timeout`` s (the server saves after
    a delay); None when there is no text to compare."""
    if text is None:
        return None
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if path.read_text(encoding="utf-8") == text:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def _ms(ns: float | None) -> float | None:
    return None if ns is None else ns / 1e6

