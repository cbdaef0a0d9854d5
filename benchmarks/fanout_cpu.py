"""CPU of one room's fan-out path, in-process: what a document update costs the server from
``Broadcast.publish`` to the bytes in every client's socket (collaboration/fanout.py,
transport.py), over real loopback sockets.

Not a test, and no server: it isolates the hot path so that small changes to it (the metrics
of issue 10, say) can be measured on a busy machine, where the end-to-end fan-out benchmark
(``fanout.py``) varies by more than the change. Run it against two checkouts, alternately:

    python benchmarks/fanout_cpu.py --repo /path/to/old --repo . --clients 1000 --rounds 6

Each round runs every repo once in a fresh process (``--one``) and prints the process CPU
time per broadcast and per delivery; the report is the median over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import socket
import statistics
import subprocess
import sys
import time


def one(clients: int, broadcasts: int) -> dict[str, float]:
    """In this process (the repo first on sys.path): ``broadcasts`` updates to ``clients``."""
    from pycrdt import Doc, Text
    from tornado.iostream import IOStream

    from jupyter_collab.collaboration.fanout import Broadcast, Outbox
    from jupyter_collab.collaboration.transport import FrameSink
    from jupyter_collab.protocol.codes import SyncType
    from jupyter_collab.protocol.framing import sync_frame

    class Connection:
        def __init__(self, stream: IOStream) -> None:
            self.stream = stream

        def is_closing(self) -> bool:
            return False

    class Handler:
        def __init__(self, stream: IOStream) -> None:
            self.ws_connection = Connection(stream)

    async def run() -> dict[str, float]:
        broadcast = Broadcast()
        readers = []
        for _ in range(clients):
            server_side, client_side = socket.socketpair()
            server_side.setblocking(False)
            client_side.setblocking(False)
            readers.append(client_side)
            Outbox(broadcast, FrameSink(Handler(IOStream(server_side))), 1 << 30, lambda: None)
        doc = Doc()
        text = doc.get("t", type=Text)
        updates: list[bytes] = []
        sub = doc.observe(lambda event: updates.append(event.update))
        for i in range(broadcasts):
            text.insert(len(text), f"line {i}\n")
        doc.unobserve(sub)
        messages = [sync_frame(SyncType.UPDATE, u) for u in updates]

        def drain() -> None:
            for r in readers:
                try:
                    while r.recv(1 << 16):
                        pass
                except BlockingIOError:
                    pass

        # the room passes when the update arrived (since the metrics); older code did not
        timed = "since" in inspect.signature(broadcast.publish).parameters

        def publish(message: bytes, update: bytes) -> None:
            if timed:
                broadcast.publish(message, update, None, time.perf_counter())
            else:
                broadcast.publish(message, update, None)

        # warm up (first calls, caches), then measure
        for message, update in zip(messages[:50], updates[:50], strict=True):
            publish(message, update)
        drain()
        cpu = wall = 0.0
        for start in range(50, len(messages), 50):
            c0, w0 = time.process_time(), time.perf_counter()
            for message, update in zip(
                messages[start : start + 50], updates[start : start + 50], strict=True
            ):
                publish(message, update)
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
            drain()  # (not measured: the clients' side)
        measured = len(messages) - 50
        return {
            "cpu_us_per_broadcast": cpu / measured * 1e6,
            "cpu_us_per_delivery": cpu / measured / clients * 1e6,
            "wall_us_per_broadcast": wall / measured * 1e6,
        }

    return asyncio.run(run())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repo", action="append", default=[], help="a checkout (repeatable)")
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--broadcasts", type=int, default=1050)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.clients, args.broadcasts)))
        return 0
    repos = [os.path.abspath(r) for r in args.repo] or [os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))]  # fmt: skip
    results: dict[str, list[dict[str, float]]] = {r: [] for r in repos}
    for round_ in range(args.rounds):
        for repo in repos:
            env = {**os.environ, "PYTHONPATH": repo}
            out = subprocess.run(
                [sys.executable, __file__, "--one", "--clients", str(args.clients),
                 "--broadcasts", str(args.broadcasts)],
                env=env, cwd=repo, capture_output=True, text=True, check=True,
            )  # fmt: skip
            figures = json.loads(out.stdout)
            results[repo].append(figures)
            print(f"round {round_ + 1} {repo}: {figures}", file=sys.stderr)
    print(f"{args.clients} clients, {args.broadcasts - 50} broadcasts, median of {args.rounds}:")
    for repo, runs in results.items():
        medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        shown = ", ".join(f"{k} {v:.2f}" for k, v in medians.items())
        print(f"  {repo}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
