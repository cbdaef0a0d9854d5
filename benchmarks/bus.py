"""The event bus on its own: publish → deliver latency, throughput and CPU, in process and
through a real Redis (a ``redis-server`` this script starts on loopback and stops).

    python benchmarks/bus.py                 # every case (~1-2 min)
    python benchmarks/bus.py --quick         # shorter
    python benchmarks/bus.py --port 9901     # Redis on that port (default: a free one)

Each "server" is a process of its own with its own bus, as Jupyter servers would be: one
publisher, ``--readers`` subscriber processes. A message carries its send time
(``time.monotonic_ns()``, CLOCK_MONOTONIC, one clock for every process of the machine); the
latency is receive time − send time, measured in the subscriber's handler, so it includes
the publisher's outbox, Redis, the subscriber's XREAD + continuity check and its decoding.
CPU is each process's user+system time over the case (``getrusage`` in the process, Redis's
``INFO cpu``), divided by messages published. The machine's other load (CPU used by
processes that are not this benchmark's, from /proc/stat) is printed beside the figures:
figures from a busy machine are upper bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _import_bus() -> types.ModuleType:
    """jupyter_collab.bus of this checkout, without importing jupyter_server (seconds)."""
    if "jupyter_collab" not in sys.modules:
        spec = importlib.util.find_spec("jupyter_collab")
        assert spec is not None and spec.submodule_search_locations is not None
        package = types.ModuleType("jupyter_collab")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["jupyter_collab"] = package
    import jupyter_collab.bus as bus

    return bus


bus = _import_bus()
EDIT = bus.Topic.DOCUMENT_EDIT
HEADER = 16  # send time (8 bytes) + sequence number (8 bytes)
# Streams keep every message of a case, so that a reader that falls behind (it does, while the
# writer publishes as fast as it can) measures throughput instead of getting a gap.
MAXLEN = 100_000


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def message(sequence: int, size: int) -> bytes:
    head = time.monotonic_ns().to_bytes(8, "big") + sequence.to_bytes(8, "big")
    return head + b"x" * max(0, size - HEADER)


# ---------------------------------------------------------------- processes


def reader_process(url: str, prefix: str, name: str, expected: int, pipe: Any) -> None:
    async def main() -> None:
        server = bus.create_bus(url, server_id=name, prefix=prefix)
        await server.start()
        latencies: list[int] = []
        done = asyncio.Event()
        gaps: list[str] = []

        def handler(msg: Any) -> None:
            latencies.append(time.monotonic_ns() - int.from_bytes(msg.payload[:8], "big"))
            if int.from_bytes(msg.payload[8:16], "big") == expected - 1:
                done.set()  # the last one (after a gap, some before it never come)

        await server.subscribe(EDIT, "bench", handler, on_gap=lambda gap: gaps.append(gap.reason))
        cpu = cpu_seconds()
        pipe.send("ready")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), 600)
        cpu = cpu_seconds() - cpu
        pipe.send({"latencies": latencies, "cpu": cpu, "gaps": gaps, "stats": vars(server.stats)})
        await server.close()

    asyncio.run(main())


async def publish(server: Any, count: int, size: int, rate: float | None) -> float:
    """Publish ``count`` messages, at ``rate`` per second (evenly spaced) or as fast as the
    bus takes them; returns the publisher's CPU seconds."""
    loop = asyncio.get_running_loop()
    cpu = cpu_seconds()
    if rate is None:
        pending = []
        for sequence in range(count):
            pending.append(server.publish(EDIT, "bench", message(sequence, size)))
            if len(pending) >= 1000:  # keep the outbox bounded, as a room would
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    else:  # on a schedule, not waiting for each publish (as a room does not)
        start = loop.time()
        pending = []
        for sequence in range(count):
            delay = start + sequence / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(server.publish(EDIT, "bench", message(sequence, size)))
        await asyncio.gather(*pending)
    return cpu_seconds() - cpu


def redis_cpu(url: str) -> float:
    import redis

    client = redis.Redis.from_url(url)
    info = client.info("cpu")
    client.close()
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def run_redis_case(
    url: str, readers: int, count: int, size: int, rate: float | None
) -> dict[str, Any]:
    prefix = f"bench{time.time_ns()}"
    context = mp.get_context("spawn")
    pipes, processes = [], []
    for index in range(readers):
        parent, child = context.Pipe()
        process = context.Process(
            target=reader_process, args=(url, prefix, f"reader{index}", count, child)
        )
        process.start()
        pipes.append(parent)
        processes.append(process)
    for pipe in pipes:
        assert pipe.recv() == "ready"

    async def main() -> tuple[float, float]:
        server = bus.create_bus(url, server_id="writer", prefix=prefix, maxlen=MAXLEN)
        await server.start()
        started = time.monotonic()
        cpu = await publish(server, count, size, rate)
        elapsed = time.monotonic() - started
        await server.close()
        return cpu, elapsed

    redis_before, busy_before = redis_cpu(url), machine_busy()
    wall = time.monotonic()
    writer_cpu, publish_time = asyncio.run(main())
    results = [pipe.recv() for pipe in pipes]
    wall = time.monotonic() - wall
    for process in processes:
        process.join(60)
    redis_used, busy_after = redis_cpu(url) - redis_before, machine_busy()
    latencies = sorted(x for result in results for x in result["latencies"])
    delivered = min(len(result["latencies"]) for result in results)
    ours = writer_cpu + redis_used + sum(result["cpu"] for result in results)
    return summarize(
        latencies, count, delivered, wall, publish_time,
        {"writer": writer_cpu, "redis": redis_used,
         "readers": sum(result["cpu"] for result in results)},
        ours, busy_before, busy_after, [g for result in results for g in result["gaps"]],
    )  # fmt: skip


def run_memory_case(count: int, size: int, rate: float | None, readers: int) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        hub = bus.LocalHub()
        writer = bus.InProcessBus("writer", hub)
        await writer.start()
        latencies: list[int] = []
        for index in range(readers):
            reader = bus.InProcessBus(f"reader{index}", hub)
            await reader.start()
            await reader.subscribe(
                EDIT, "bench",
                lambda msg: latencies.append(
                    time.monotonic_ns() - int.from_bytes(msg.payload[:8], "big")
                ),
            )  # fmt: skip
        busy_before = machine_busy()
        started = time.monotonic()
        cpu = await publish(writer, count, size, rate)
        elapsed = time.monotonic() - started
        return summarize(
            sorted(latencies), count, len(latencies) // readers, elapsed, elapsed,
            {"process": cpu}, cpu, busy_before, machine_busy(), [],
        )  # fmt: skip

    return asyncio.run(main())


def summarize(
    latencies: list[int], count: int, delivered: int, wall: float, publish_time: float,
    cpu: dict[str, float], ours: float, busy_before: tuple[int, int],
    busy_after: tuple[int, int], gaps: list[Any],
) -> dict[str, Any]:  # fmt: skip
    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] / 1e6

    busy = busy_after[0] - busy_before[0]
    total = busy_after[1] - busy_before[1]
    ticks = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count() or 1
    other = max(0.0, busy / ticks - ours) / max(total / ticks / cores, 1e-9)
    return {
        "published": count,
        "delivered_per_reader": delivered,
        "p50_ms": pct(0.5) if latencies else None,
        "p99_ms": pct(0.99) if latencies else None,
        "max_ms": latencies[-1] / 1e6 if latencies else None,
        "mean_ms": statistics.fmean(latencies) / 1e6 if latencies else None,
        "msgs_per_s": count / publish_time if publish_time else None,
        "delivered_per_s": delivered / wall if wall else None,
        "cpu_us_per_msg": {k: v / count * 1e6 for k, v in cpu.items()},
        "other_load_cores": round(other, 2),
        "gaps": gaps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    from tests.services.redis import RedisServer

    scale = 0.2 if options.quick else 1.0
    cases = [
        # (label, count, size, rate)
        ("20 edits/s, 200 B", int(400 * scale) or 50, 200, 20.0),
        ("200 edits/s, 200 B", int(2000 * scale), 200, 200.0),
        ("as fast as possible, 200 B", int(50_000 * scale), 200, None),
        ("as fast as possible, 10 KB", int(10_000 * scale), 10_000, None),
    ]
    results: dict[str, Any] = {"load_before": os.getloadavg(), "cases": []}
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory), options.port)
        server.start()
        try:
            for label, count, size, rate in cases:
                for kind in ("in-process", "redis"):
                    if kind == "redis":
                        figures = run_redis_case(server.url, options.readers, count, size, rate)
                    else:
                        figures = run_memory_case(count, size, rate, options.readers)
                    figures.update(case=label, bus=kind)
                    results["cases"].append(figures)
                    print(json.dumps(figures), flush=True)
        finally:
            server.stop()
    results["load_after"] = os.getloadavg()
    print()
    print(f"{options.readers} reader processes; load average before {results['load_before']}, "
          f"after {results['load_after']}")  # fmt: skip
    print("| case | bus | p50 ms | p99 ms | max ms | published/s | delivered/s per reader "
          "| CPU µs/msg (writer, Redis, readers) | other load (cores) | gaps |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for figures in results["cases"]:
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in figures["cpu_us_per_msg"].items())
        print(
            f"| {figures['case']} | {figures['bus']} | {figures['p50_ms']:.3f} "
            f"| {figures['p99_ms']:.3f} | {figures['max_ms']:.1f} | {figures['msgs_per_s']:,.0f} "
            f"| {figures['delivered_per_s']:,.0f} | {cpu} | {figures['other_load_cores']} "
            f"| {len(figures['gaps'])} |"
        )


if __name__ == "__main__":
    main()
