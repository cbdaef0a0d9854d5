"""Presence-storm load: N people moving their cursors at R Hz while one person types.

Client processes (spawned by :func:`run_storm`, so client CPU stays out of the server's):

* one *typist* process: a full pycrdt document (:class:`clients.DocClient`) inserting one
  marker line per edit (``loads.marker``) on a fixed schedule (10 edits/s by default);
* ``procs`` *crowd* processes: the N people, each a drain-only connection
  (:class:`CursorClient`) that sends a JupyterLab-like awareness state (user, one cursor as
  Yjs relative positions, ~400 bytes) R times a second, at a random phase, and scans what it
  receives for the typist's markers. A few per process are *probes* that also timestamp
  every awareness state they receive (each state carries its sender's id, sequence number
  and send time ``t``, CLOCK_MONOTONIC ns, shared by all processes of the machine).

After ``duration`` seconds every person sends a final state (``seq`` = :data:`FINAL`); the
run ends when every person received every edit and every probe saw everybody's final state,
or at the drain deadline. Cursor sends never block a crowd process: a socket whose send
buffer is full keeps the rest of its frame and skips moves until it is flushed (a browser
would buffer them; the skips are counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import random
import re
import resource
import signal
import time
from array import array
from multiprocessing.connection import Connection

from fanout import percentile
from loads import fanout_initial_text, marker, write_file
from servers import ServerProcess, machine_busy_seconds

FINAL = 999_999_999  # the seq of each person's last state
STATE_RE = re.compile(rb'"id":(\d+),"seq":(\d+),"t":(\d+)')
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _var_uint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def awareness_message(client_id: int, clock: int, state: dict) -> bytes:
    """A y-websocket awareness message ``[1, varUint8Array(update)]`` with one state."""
    text = json.dumps(state, separators=(",", ":")).encode()
    update = (_var_uint(1) + _var_uint(client_id) + _var_uint(clock) + _var_uint(len(text))
              + text)
    return b"\x01" + _var_uint(len(update)) + update


def cursor_state(person: int, seq: int, t_ns: int, client_id: int, pos: int) -> dict:
    """What JupyterLab publishes for a text editor: the user and one (empty) selection."""
    rel = {"type": {"client": client_id, "clock": 0}, "tname": None,
           "item": {"client": client_id, "clock": pos}, "assoc": 0}
    return {
        "id": person, "seq": seq, "t": t_ns,
        "user": {"name": f"Person {person}", "username": f"person-{person}",
                 "display_name": f"Person {person}", "initials": f"P{person % 100}",
                 "color": COLORS[person % len(COLORS)], "avatar_url": None},
        "cursors": [{"anchor": rel, "head": rel, "primary": True, "empty": True}],
    }


def _crowd_worker(cfg: dict, conn: Connection) -> None:
    """The people of one process: drain, scan for markers, move cursors on schedule."""
    import wsclient
    from clients import DrainClient, LatencySink

    info, ws_url = cfg["info"], cfg["ws_url"]
    rng = random.Random(cfg["seed"])
    latencies = LatencySink()
    people = cfg["people"]
    clients = [DrainClient(latencies) for _ in people]
    probes = set(range(min(cfg["n_probe"], len(clients))))
    # the probes' awareness observations: person -> (last seq seen), lag samples
    lags = array("q")
    last_seq: list[dict[int, int]] = [{} for _ in probes]
    pump = wsclient.EpollPump()
    errors: list[str] = []
    for i, c in enumerate(clients):
        if i in probes:
            c._on_frame = _probe_on_frame(c, people[i], c._on_frame, lags,  # type: ignore
                                          last_seq[i])
        try:
            c.connect_sync(info, ws_url, cfg["connect_timeout"])
            pump.add(c.conn)
        except Exception as e:  # noqa: BLE001 - reported
            if len(errors) < 5:
                errors.append(f"{type(e).__name__}: {e}"[:200])
        pump.pump(0)
    deadline = time.monotonic() + cfg["connect_timeout"]
    while time.monotonic() < deadline and not all(
            c.synced.is_set() or c.closed.is_set() or c.conn is None for c in clients):
        pump.pump(0.02)
    live = [c for c in clients if c.synced.is_set() and not c.closed.is_set()]
    conn.send(("ready", {"connected": len(live), "wanted": len(clients), "errors": errors}))
    go = None
    deadline = time.monotonic() + cfg["go_timeout"]
    while time.monotonic() < deadline:
        pump.pump(0.02)
        if conn.poll():
            go = conn.recv()
            break
    if go is None or go[0] != "go":
        pump.close()
        conn.send(("done", {"aborted": True}))
        return
    _, t0_ns, duration, deadline_ns, expected_edits, everyone = go
    for c in live:
        c.markers.recording = True
    period_ns = int(1e9 / cfg["cursor_rate"])
    client_ids = [rng.getrandbits(31) + 1 for _ in clients]
    next_due = [t0_ns + rng.randrange(period_ns) for _ in clients]
    seq = [0] * len(clients)
    pending: list[bytes] = [b""] * len(clients)
    end_ns = t0_ns + int(duration * 1e9)
    finals_sent = [False] * len(clients)
    sent = skipped = 0
    cpu0 = _cpu_self()
    ws0 = dict(wsclient.STATS)

    def try_send(i: int, frame: bytes) -> bool:
        c = clients[i]
        if c.conn is None or c.closed.is_set():
            return False
        data = pending[i] + frame
        try:
            n = c.conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            return False
        pending[i] = data[n:]
        return True

    def done() -> bool:
        if not all(finals_sent):
            return False
        if not all(c.closed.is_set() or len(c.markers.seen) >= expected_edits for c in live):
            return False
        return all(sum(1 for p, s in seen.items() if s == FINAL) >= everyone - 1
                   for seen in last_seq)

    while time.monotonic_ns() < deadline_ns:
        pump.pump(0.005)
        now = time.monotonic_ns()
        for i in range(len(clients)):
            if pending[i]:
                try_send(i, b"")
            if finals_sent[i] or now < next_due[i]:
                continue
            final = now >= end_ns
            if pending[i] and not final:
                skipped += 1  # the socket is full: this move is not sent
            else:
                seq[i] = FINAL if final else seq[i] + 1
                state = cursor_state(people[i], seq[i], time.monotonic_ns(), client_ids[i],
                                     rng.randrange(20_000))
                clock = seq[i] if not final else 1 << 30
                if try_send(i, wsclient.encode_frame(wsclient.OP_BINARY,
                                                      awareness_message(client_ids[i], clock,
                                                                        state))):
                    sent += 1
            if final:
                finals_sent[i] = True
            next_due[i] += period_ns
        if now > end_ns and done():
            break
    cpu = _cpu_self() - cpu0
    ws1 = {k: v - ws0[k] for k, v in wsclient.STATS.items()}
    closes: dict[str, int] = {}
    for c in clients:
        if c.closed.is_set():
            key = f"{c.close_code} {c.close_reason}"
            closes[key] = closes.get(key, 0) + 1
    result = {
        "aborted": False,
        "clients": len(live),
        "edit_expected": expected_edits * len(live),
        "edit_received": sum(len(c.markers.seen) for c in live),
        "latencies": latencies.values.tobytes(),
        "per_edit": {k: (latencies.sent_ns[k], latencies.first[k], latencies.last[k])
                     for k in latencies.first},
        "awareness_lags": lags.tobytes(),
        "finals_seen": [sum(1 for s in seen.values() if s == FINAL) for seen in last_seq],
        "everyone": everyone,
        "cursor_sent": sent,
        "cursor_skipped": skipped,
        "closes": closes,
        "cpu_s": cpu,
        "frames": ws1["frames"],
        "bytes": ws1["bytes"],
    }
    pump.close()
    conn.send(("done", result))


def _probe_on_frame(client, me: int, inner, lags: array,  # noqa: ANN001, ANN202
                    last_seq: dict[int, int]):
    """Wrap a drain client's frame handler: timestamp the awareness states it receives from
    the others (its own state, if echoed, is not counted)."""

    def on_frame(msg, now: int) -> None:  # noqa: ANN001
        if msg and isinstance(msg, bytes) and msg[0] == 1 and client.markers.recording:
            for m in STATE_RE.finditer(msg):
                person, seq, t = int(m.group(1)), int(m.group(2)), int(m.group(3))
                if person != me and seq > last_seq.get(person, 0):
                    last_seq[person] = seq
                    lags.append(now - t)
        inner(msg, now)

    return on_frame


async def _typist_worker(cfg: dict, conn: Connection) -> None:
    from clients import DocClient

    c = DocClient("text")
    c.markers.own_writer = 0
    await c.connect(cfg["info"], cfg["ws_url"], cfg["connect_timeout"])
    await asyncio.wait_for(c.synced.wait(), cfg["connect_timeout"])
    conn.send(("ready", {"connected": 1, "wanted": 1, "errors": []}))
    while not conn.poll():
        await asyncio.sleep(0.02)
    go = conn.recv()
    if go[0] != "go":
        c.close()
        conn.send(("done", {"aborted": True}))
        return
    _, t0_ns, duration, _deadline_ns, n_edits, _everyone = go
    rng = random.Random(cfg["seed"])
    interval = duration / n_edits
    late = []
    for k in range(n_edits):
        due = t0_ns + int(k * interval * 1e9)
        now = time.monotonic_ns()
        if due > now:
            await asyncio.sleep((due - now) / 1e9)
        t = time.monotonic_ns()
        late.append((t - due) / 1e6)
        c.insert_line(rng.random(), marker(0, k, t))
    await asyncio.sleep(0.5)
    conn.send(("done", {"aborted": False, "edits": n_edits, "send_late_max_ms": max(late),
                        "closed": c.close_code}))
    c.close()


def worker_entry(cfg: dict, conn: Connection) -> None:
    try:
        if cfg["role"] == "typist":
            asyncio.run(asyncio.wait_for(_typist_worker(cfg, conn), cfg["hard_timeout"]))
        else:
            signal.alarm(int(cfg["hard_timeout"]))
            _crowd_worker(cfg, conn)
    except Exception as e:  # noqa: BLE001 - the parent reports it
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(e).__name__}: {e}"))


def _recv(conn: Connection, timeout: float) -> tuple:
    return conn.recv() if conn.poll(timeout) else ("timeout", None)


def _ms(ns: float | None) -> float | None:
    return None if ns is None else ns / 1e6


def run_storm(server: ServerProcess, people: int, cursor_rate: float, duration: float,
              typing_rate: float = 10.0, procs: int = 2, probes_per_proc: int = 2,
              drain_timeout: float = 30.0, log=print) -> dict:
    """One presence storm against a started server; returns its figures."""
    from clients import open_session

    path = f"storm-{people}-{cursor_rate:g}.txt"
    write_file(server.root_dir, path, fanout_initial_text())
    session = asyncio.run(open_session(server.info(), path, "text", "file"))
    connect_budget = 60.0 + people * 0.25
    base = {"info": server.info(), "ws_url": session.ws_url, "connect_timeout": 60.0,
            "go_timeout": connect_budget + 30.0,
            "hard_timeout": connect_budget + duration + drain_timeout + 120.0}
    cfgs = [{**base, "role": "typist", "seed": 7}]
    for i in range(procs):
        mine = list(range(i, people, procs))
        cfgs.append({**base, "role": "crowd", "people": mine, "n_probe": probes_per_proc,
                     "cursor_rate": cursor_rate, "seed": 100 + i})
    ctx = mp.get_context("spawn")
    pipes: list[Connection] = []
    workers: list[mp.Process] = []
    out: dict = {"people": people, "cursor_rate": cursor_rate, "typing_rate": typing_rate,
                 "duration_s": duration}
    try:
        for cfg in cfgs:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=worker_entry, args=(cfg, child), daemon=True)
            p.start()
            pipes.append(parent)
            workers.append(p)
        t_setup = time.monotonic()
        ready = []
        for conn in pipes:
            msg = _recv(conn, max(1.0, connect_budget - (time.monotonic() - t_setup)))
            if msg[0] != "ready":
                raise RuntimeError(f"client process not ready: {str(msg)[:300]}")
            ready.append(msg[1])
        out["connected"] = sum(r["connected"] for r in ready[1:])
        out["connect_errors"] = [e for r in ready for e in r["errors"]][:5]
        log(f"    {out['connected']}/{people} people connected in "
            f"{time.monotonic() - t_setup:.1f}s")
        time.sleep(1.0)
        c0 = server.cpu_seconds()
        time.sleep(1.0)
        out["server_idle_cpu_pct"] = (server.cpu_seconds() - c0) * 100
        n_edits = max(1, int(round(typing_rate * duration)))
        t0_ns = time.monotonic_ns() + 300_000_000
        deadline_ns = t0_ns + int((duration + drain_timeout) * 1e9)
        rss0 = server.rss_bytes()
        cpu0, busy0, wall0 = server.cpu_seconds(), machine_busy_seconds(), time.monotonic()
        for conn in pipes:
            conn.send(("go", t0_ns, duration, deadline_ns, n_edits, out["connected"]))
        dones = []
        for conn in pipes:
            msg = _recv(conn, max(1.0, (deadline_ns - time.monotonic_ns()) / 1e9 + 60.0))
            if msg[0] != "done" or msg[1].get("aborted"):
                raise RuntimeError(f"client process failed: {str(msg)[:300]}")
            dones.append(msg[1])
        cpu1, busy1, wall1 = server.cpu_seconds(), machine_busy_seconds(), time.monotonic()
        out["rss_before_mb"] = rss0 / 1e6
        out["rss_after_mb"] = server.rss_bytes() / 1e6
    finally:
        for conn in pipes:
            conn.close()
        for p in workers:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join(5)
    typist, crowd = dones[0], dones[1:]
    lat = array("q")
    alag = array("q")
    for d in crowd:
        lat.frombytes(d["latencies"])
        alag.frombytes(d["awareness_lags"])
    lat_sorted, alag_sorted = sorted(lat), sorted(alag)
    per_edit: dict = {}
    for d in crowd:
        for k, (_sent, _first, last) in d["per_edit"].items():
            per_edit[k] = max(per_edit.get(k, 0), last)
    lasts = sorted(per_edit.values())
    closes: dict[str, int] = {}
    for d in crowd:
        for k, v in d["closes"].items():
            closes[k] = closes.get(k, 0) + v
    cpu = cpu1 - cpu0
    wall = wall1 - wall0
    n_probes = sum(len(d["finals_seen"]) for d in crowd)
    client_cpu = sum(d["cpu_s"] for d in crowd)
    out.update({
        "edits": typist["edits"],
        "typist_send_late_max_ms": typist["send_late_max_ms"],
        "edit_deliveries_expected": sum(d["edit_expected"] for d in crowd),
        "edit_deliveries_received": sum(d["edit_received"] for d in crowd),
        "edit_latency_p50_ms": _ms(percentile(lat_sorted, 50)),
        "edit_latency_p99_ms": _ms(percentile(lat_sorted, 99)),
        "edit_latency_max_ms": _ms(float(lat_sorted[-1])) if lat_sorted else None,
        "edit_reaches_all_p99_ms": _ms(percentile(lasts, 99)),
        "edits_seen_by_anyone": len(per_edit),
        "awareness_lag_p50_ms": _ms(percentile(alag_sorted, 50)),
        "awareness_lag_p99_ms": _ms(percentile(alag_sorted, 99)),
        "awareness_lag_max_ms": _ms(float(alag_sorted[-1])) if alag_sorted else None,
        "awareness_samples": len(alag_sorted),
        "final_states_seen": f"{sum(sum(d['finals_seen']) for d in crowd)}/"
                             f"{n_probes * (out['connected'] - 1)}",
        "cursor_moves_sent": sum(d["cursor_sent"] for d in crowd),
        "cursor_moves_skipped": sum(d["cursor_skipped"] for d in crowd),
        "closes": closes,
        "server_cpu_s": cpu,
        "server_cpu_pct": cpu / wall * 100,
        "window_s": wall,
        "client_cpu_pct": round(client_cpu / wall * 100, 1),
        "client_mb_received": round(sum(d["bytes"] for d in crowd) / 1e6, 1),
        "other_load_cpu_pct": ((busy1 - busy0) - cpu - client_cpu) / wall * 100,
    })
    out["edit_deliveries_missing"] = (out["edit_deliveries_expected"]
                                      - out["edit_deliveries_received"])
    return out
