"""Many rooms opening at once: how long until all are open, and does the server keep answering?

Issue 8: with 150 files never opened before, opened at the same moment (session PUT and
WebSocket join each) while someone types in another document, the server froze for ~30 s
(SQLite's busy timeout) and some PUTs failed with "database is locked".

This harness starts a real server of this checkout (``benchmarks/servers.py``), creates N text
files, starts a typist in one already-open document, opens the N files concurrently and, while
they open, asks ``GET /api/contents`` every 50 ms. It prints the time until every room was
synced, the longest answer of the probe while they opened, the number of failed opens and the
"database is locked" lines in the server's log.

    python benchmarks/many_rooms.py            # 150 files
    python benchmarks/many_rooms.py --files 300 --servers 2   # two servers, one database file

With ``--servers 2`` both servers share one database file (as every server a user starts
shares the default one in Jupyter's data dir) and each opens its own N files at once. With
``--hold-lock S`` another process holds the database's write lock for the first S seconds of
the opens (another server in a long transaction): the probe then shows whether the server
froze meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from jupyter_ydoc import YUnicode
from pycrdt import Doc
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import ServerProcess, ours_target  # noqa: E402


def _frame(kind: int, payload: bytes) -> bytes:
    """A y-websocket sync frame (message type 0) with a varUint length."""
    out = bytearray([0, kind])
    n = len(payload)
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out) + payload


async def open_room(server: ServerProcess, path: str) -> float:
    """PUT the session, join the room, wait for the sync reply; seconds it took."""
    start = time.monotonic()
    headers = {"Authorization": f"token {server.token}"}
    body = json.dumps({"format": "text", "type": "file"})
    reply = await AsyncHTTPClient().fetch(HTTPRequest(
        f"{server.base_url}/api/collab/session/{path}", method="PUT", body=body,
        headers=headers, request_timeout=120))  # fmt: skip
    room = json.loads(reply.body)["room"]
    url = f"{server.ws_base}/api/collab/room/{room}"
    ws = await websocket_connect(HTTPRequest(url, headers=headers, request_timeout=120))
    ws.write_message(_frame(0, Doc().get_state()), binary=True)  # sync step 1
    while True:
        frame = await asyncio.wait_for(ws.read_message(), 120)
        if frame is None:
            raise RuntimeError(f"{path}: closed {ws.close_code} {ws.close_reason}")
        if isinstance(frame, bytes) and frame[:2] == b"\x00\x01":  # sync step 2
            break
    elapsed = time.monotonic() - start
    ws.close()
    return elapsed


async def typist(server: ServerProcess, path: str, stop: asyncio.Event) -> int:
    """Type into one open document until told to stop; how many edits were sent."""
    headers = {"Authorization": f"token {server.token}"}
    body = json.dumps({"format": "text", "type": "file"})
    reply = await AsyncHTTPClient().fetch(HTTPRequest(
        f"{server.base_url}/api/collab/session/{path}", method="PUT", body=body,
        headers=headers))  # fmt: skip
    room = json.loads(reply.body)["room"]
    ws = await websocket_connect(HTTPRequest(
        f"{server.ws_base}/api/collab/room/{room}", headers=headers))  # fmt: skip
    doc = Doc()
    text = YUnicode(doc)._ysource
    sent = 0
    while not stop.is_set():
        before = doc.get_state()
        text.insert(len(str(text)), f"edit {sent}\n")
        ws.write_message(_frame(2, doc.get_update(before)), binary=True)
        sent += 1
        await asyncio.sleep(0.05)
    ws.close()
    return sent


async def probe(server: ServerProcess, stop: asyncio.Event) -> list[float]:
    """Answer times of ``GET /api/contents`` while the rooms open."""
    headers = {"Authorization": f"token {server.token}"}
    times = []
    while not stop.is_set():
        start = time.monotonic()
        url = f"{server.base_url}/api/contents?content=0"
        await AsyncHTTPClient().fetch(HTTPRequest(url, headers=headers, request_timeout=120))
        times.append(time.monotonic() - start)
        await asyncio.sleep(0.05)
    return times


def hold_lock(db: Path, seconds: float, held: threading.Event) -> None:
    """Another process's long write transaction on the database."""
    conn = sqlite3.connect(db, timeout=60, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


async def run(files: int, servers: int, lock: float) -> None:
    AsyncHTTPClient.configure(None, max_clients=10_000)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        db = base / "shared.db"
        procs = []
        for s in range(servers):
            root = base / f"root{s}"
            root.mkdir()
            for i in range(files):
                (root / f"f{i}.txt").write_text(f"file {i}\n")
            (root / "typing.txt").write_text("")
            target = ours_target()
            target = type(target)(**{**vars(target), "extra_args": (
                *target.extra_args, f"--CollabApp.db_path={db}")})  # fmt: skip
            procs.append(ServerProcess(target, root, base / f"work{s}").start())
        try:
            stop = asyncio.Event()
            typists = [asyncio.ensure_future(typist(p, "typing.txt", stop)) for p in procs]
            probes = [asyncio.ensure_future(probe(p, stop)) for p in procs]
            await asyncio.sleep(0.5)
            if lock:
                held = threading.Event()
                threading.Thread(target=hold_lock, args=(db, lock, held), daemon=True).start()
                await asyncio.to_thread(held.wait, 60)
            start = time.monotonic()
            opens = [open_room(p, f"f{i}.txt") for p in procs for i in range(files)]
            results = await asyncio.gather(*opens, return_exceptions=True)
            total = time.monotonic() - start
            stop.set()
            sent = await asyncio.gather(*typists)
            answers = [t for times in await asyncio.gather(*probes) for t in times]
            failed = [r for r in results if isinstance(r, BaseException)]
            took = sorted(r for r in results if isinstance(r, float))
            locked = sum(p.log_tail(10_000_000).count("database is locked") for p in procs)
            print(f"servers: {servers}, files each: {files}, one database file"
                  + (f", write lock held by another process for {lock} s" if lock else ""))
            print(f"all rooms open after: {total:.2f} s")
            if took:
                print(f"per room: median {took[len(took) // 2]:.2f} s, max {took[-1]:.2f} s")
            print(f"failed opens: {len(failed)}")
            for error in failed[:3]:
                detail = error.response.body[:200] if isinstance(error, HTTPClientError) and \
                    error.response else ""  # fmt: skip
                print(f"  {type(error).__name__}: {error} {detail!r}")
            print(f"GET /api/contents while opening: {len(answers)} answers, "
                  f"longest {max(answers):.3f} s")  # fmt: skip
            print(f"edits typed meanwhile: {sum(sent)}")
            print(f'"database is locked" in the server logs: {locked}')
            if os.environ.get("PYTHONASYNCIODEBUG"):  # the event loop's slow steps
                for p in procs:
                    for line in p.log_tail(10_000_000).splitlines():
                        if "took" in line and "Executing" in line:
                            print("  ", line[:300])
        finally:
            for p in procs:
                p.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=150)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--hold-lock", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(run(args.files, args.servers, args.hold_lock))


if __name__ == "__main__":
    main()
