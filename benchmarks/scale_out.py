"""Several servers, one document (issue 9): delivery latency across servers, CPU Redis adds.

Starts a ``redis-server`` and N real Jupyter servers (``python -m jupyter_server`` with
jupyter-collab, one folder, one SQLite database), puts R reader clients on every server and
one writer on the first, which types ``--rate`` edits/s for ``--seconds``. Prints, per case,
the latency of an edit (writer's send → a reader's document has it, CLOCK_MONOTONIC, all
clients in this process) for readers on the writer's server and on the others, and each
server's CPU time (user + system, /proc) per edit. The single-server case (no Redis, every
reader on one server) is run beside it.

    python benchmarks/scale_out.py --servers 3 --readers 100 --rate 20 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import Server  # noqa: E402
from tests.services.redis import RedisServer  # noqa: E402

EDIT = 8  # characters per edit: "%07d|"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def watcher(client, arrivals: list[float], sent: dict[int, float]):
    """A text observer noting when each edit reached ``client`` (one argument: pycrdt passes
    the transaction too to a callback that takes two)."""
    seen = [0]

    def observe(event) -> None:
        now = time.monotonic()
        done = len(client.jdoc._ysource) // EDIT
        for k in range(seen[0], done):
            if k in sent:
                arrivals.append(now - sent[k])
        seen[0] = max(seen[0], done)

    return observe


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def run_case(n_servers: int, readers: int, rate: float, seconds: float, redis: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "root"
        root.mkdir()
        (root / "bench.txt").write_text("")
        redis_server = None
        collab = {"save_delay": 1.0}
        if redis:
            redis_server = RedisServer(base / "redis")
            redis_server.start()
            collab["redis_url"] = redis_server.url
        servers = []
        try:
            for i in range(n_servers):
                server = Server(root, base / "collab.db", **collab)
                server.log_path = base / f"server-{i}.log"
                servers.append(server.start())
            sent: dict[int, float] = {}
            arrivals: dict[int, list[float]] = {i: [] for i in range(n_servers)}
            clients = []
            subscriptions = []  # (kept for as long as the case runs)
            for i, server in enumerate(servers):
                for _ in range(readers):
                    client = await server.connect("bench.txt")
                    observe = watcher(client, arrivals[i], sent)
                    subscriptions.append(client.jdoc._ysource.observe(observe))
                    clients.append(client)
            writer = await servers[0].connect("bench.txt")
            await asyncio.sleep(2)
            cpu0 = [cpu_seconds(s.process.pid) for s in servers]
            redis_cpu0 = cpu_seconds(redis_server.process.pid) if redis_server else 0.0
            edits = int(rate * seconds)
            start = time.monotonic()
            for k in range(edits):
                target = start + k / rate
                await asyncio.sleep(max(0.0, target - time.monotonic()))
                sent[k] = time.monotonic()
                source = writer.jdoc._ysource
                source.insert(len(source), f"{k:07d}|")
            expected = edits * readers
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and any(
                len(v) < expected for v in arrivals.values()
            ):
                await asyncio.sleep(0.1)
            cpu1 = [cpu_seconds(s.process.pid) for s in servers]
            redis_cpu1 = cpu_seconds(redis_server.process.pid) if redis_server else 0.0
            for client in [*clients, writer]:
                client.close()
            local = arrivals[0]
            remote = [x for i in range(1, n_servers) for x in arrivals[i]]
            return {
                "servers": n_servers,
                "readers": readers,
                "edits": edits,
                "local": local,
                "remote": remote,
                "missing": sum(expected - len(v) for v in arrivals.values()),
                "cpu_per_edit_ms": [
                    (b - a) / edits * 1000 for a, b in zip(cpu0, cpu1, strict=True)
                ],
                "redis_cpu_per_edit_ms": (redis_cpu1 - redis_cpu0) / edits * 1000,
            }
        finally:
            for server in servers:
                server.stop()
            if redis_server is not None:
                redis_server.stop()


def row(name: str, result: dict) -> str:
    ms = [1000 * x for x in result["local"]]
    rms = [1000 * x for x in result["remote"]]
    cpu = ", ".join(f"{c:.2f}" for c in result["cpu_per_edit_ms"])
    remote = f"{pct(rms, 0.5):.1f} / {pct(rms, 0.99):.1f}" if rms else "-"
    return (
        f"| {name} | {result['servers']} × {result['readers']} | {pct(ms, 0.5):.1f} / "
        f"{pct(ms, 0.99):.1f} | {remote} | {cpu} | {result['redis_cpu_per_edit_ms']:.2f} | "
        f"{result['missing']} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    single = await run_case(1, args.readers * args.servers, args.rate, args.seconds, redis=False)
    group = await run_case(args.servers, args.readers, args.rate, args.seconds, redis=True)
    print("| case | servers × readers | writer's server p50 / p99 ms | other servers p50 / p99 ms"
          " | server CPU ms per edit | Redis CPU ms per edit | missing |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    print(row("one server, in-process bus", single))
    print(row("group on Redis", group))
    if group["remote"] and group["local"]:
        ratio = pct(group["remote"], 0.99) / pct(group["local"], 0.99)
        print(f"\nother servers' p99 / writer's server's p99: {ratio:.2f}")
    for name, result in (("one server", single), ("group", group)):
        for where in ("local", "remote"):
            if result[where]:
                mean = statistics.fmean(result[where]) * 1000
                count = len(result[where])
                print(f"{name}, {where} readers: mean {mean:.1f} ms, {count} deliveries")


if __name__ == "__main__":
    asyncio.run(main())
