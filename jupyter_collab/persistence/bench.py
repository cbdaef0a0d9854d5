"""Micro-benchmark of the stores: ``python -m jupyter_collab.persistence.bench``.

Prints append throughput and latency to durable (one appender, then many concurrent ones,
which is where group commit pays), and the bytes a long editing session takes before and after
compaction. The session is deterministic: single-character inserts and deletes into a pycrdt
Text, each its own logged update, as keystrokes are.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from pycrdt import Doc, Text

from .memory import MemoryStore
from .sqlite import SQLiteStore
from .store import DocumentStore


def keystrokes(n: int, seed: int = 42, pattern: str = "scattered") -> tuple[list[bytes], str]:
    """``n`` single-character edits; their updates and the final text.

    ``scattered``: every edit at a random position (70% inserts, 30% deletes), the worst case
    for a CRDT (no two characters merge into one item). ``typing``: a cursor that types on
    (85%), backspaces (15%) and jumps elsewhere every ~80 keystrokes, as people edit (and as
    the automerge-paper trace does).
    """
    doc, rng = Doc(), random.Random(seed)
    text = doc.get("source", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    cursor = 0
    for _ in range(n):
        if pattern == "scattered":
            if len(text) and rng.random() < 0.3:
                del text[rng.randrange(len(text))]
            else:
                text.insert(rng.randrange(len(text) + 1), rng.choice("etaoin shrdlu\n"))
            continue
        if rng.random() < 1 / 80:
            cursor = rng.randrange(len(text) + 1)
        if cursor and rng.random() < 0.15:
            cursor -= 1
            del text[cursor]
        else:
            text.insert(cursor, rng.choice("etaoin shrdlu\n"))
            cursor += 1
    return updates, str(text)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def append_latency(store: DocumentStore, updates: list[bytes], appenders: int) -> str:
    """``appenders`` coroutines each appending its share of ``updates`` one by one."""
    latencies: list[float] = []
    per = len(updates) // appenders

    async def appender(n: int) -> None:
        for update in updates[n * per : (n + 1) * per]:
            start = time.perf_counter()
            await store.append(f"doc-{n % 8}", update, origin="client", user=f"u{n}", time=1.0)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(appender(n) for n in range(appenders)))
    elapsed = time.perf_counter() - start
    p50, p99 = percentile(latencies, 0.5) * 1e3, percentile(latencies, 0.99) * 1e3
    line = (
        f"{appenders:>3} appender(s): {len(latencies) / elapsed:>8.0f} appends/s, "
        f"latency to durable p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(latencies) * 1e3:.2f} ms"
    )
    stats = getattr(store, "stats", None)
    if stats is not None and stats.transactions:
        line += f", {stats.requests / stats.transactions:.1f} appends per commit"
        stats.transactions = stats.requests = stats.updates = 0
    return line


async def throughput(root: Path, count: int) -> None:
    updates, _ = keystrokes(count, seed=1)
    print(f"Append throughput and latency ({count} keystroke updates, "
          f"{statistics.mean(map(len, updates)):.0f} B each)")  # fmt: skip
    for sync in ("background", "commit"):
        for appenders in (1, 8, 64):
            async with SQLiteStore(root / f"throughput-{sync}-{appenders}.db", sync=sync) as store:
                line = await append_latency(store, updates, appenders)
                print(f"  SQLite (WAL, sync={sync:<10})", line)
    async with MemoryStore() as memory:
        print("  memory                        ", await append_latency(memory, updates, 1))


def mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


async def session(root: Path, ops: int, rate: float, version_every: float, pattern: str) -> None:
    """A long editing session at ``rate`` keystrokes per second, then compaction."""
    updates, final = keystrokes(ops, pattern=pattern)
    hours = ops / rate / 3600
    print(
        f"\nLong session, {pattern}: {ops} single-character edits at {rate:g}/s = {hours:.2f} h"
        f" of editing, auto version every {version_every / 60:g} min; final text {len(final)} chars"
    )
    path = root / f"session-{pattern}.db"
    doc_id = "session"
    async with SQLiteStore(path, retention=3600) as store:
        start, versions = time.perf_counter(), 0
        next_version = version_every
        for i in range(0, len(updates), 64):  # issued together, ordered, group-committed
            chunk = updates[i : i + 64]
            seqs = await asyncio.gather(*(
                store.append(doc_id, u, origin="client", user="ada", time=(i + k) / rate)
                for k, u in enumerate(chunk)
            ))  # fmt: skip
            if (i + len(chunk)) / rate >= next_version:
                await store.add_version(doc_id, seqs[-1], kind="auto", time=next_version)
                versions += 1
                next_version += version_every
        print(f"  appended in {time.perf_counter() - start:.1f} s, {versions} version points")
        end = len(updates) / rate
        before, file_before = await store.size_bytes(doc_id), await store.file_bytes()
        print(f"  before compaction: history {mb(before)} ({before / hours / 1e6:.2f} MB per hour),"
              f" file {mb(file_before)}")  # fmt: skip
        start = time.perf_counter()
        await store.compact(doc_id, now=end)
        took = time.perf_counter() - start
        await store.vacuum()
        kept = len(await store.read(doc_id))
        size, file_size = await store.size_bytes(doc_id), await store.file_bytes()
        print(f"  compacted, 1 h retention ({kept} entries kept): history {mb(size)},"
              f" file {mb(file_size)} after VACUUM (compaction {took * 1e3:.0f} ms)")  # fmt: skip
        store.retention = 0
        await store.compact(doc_id, now=end)
        await store.vacuum()
        size, file_size = await store.size_bytes(doc_id), await store.file_bytes()
        snap = await store.snapshot(doc_id)
        assert snap is not None
        print(f"  compacted, no retention: history {mb(size)}, file {mb(file_size)}"
              f" (snapshot state {len(snap.state)} B raw)")  # fmt: skip
        start = time.perf_counter()
        state = await store.load(doc_id)
        doc = Doc()
        assert state is not None
        doc.apply_update(state)
        assert str(doc.get("source", type=Text)) == final
        print(f"  load + apply after compaction: {(time.perf_counter() - start) * 1e3:.1f} ms")
        newest = (await store.list_versions(doc_id, limit=1))[0]
        start = time.perf_counter()
        version = await store.get_version(doc_id, newest.id)
        Doc().apply_update(version.state)
        print(f"  read + apply newest version: {(time.perf_counter() - start) * 1e3:.1f} ms")


async def main(count: int, ops: int, rate: float, version_every: float) -> None:
    with tempfile.TemporaryDirectory(prefix="collab-bench-") as tmp:
        await throughput(Path(tmp), count)
        for pattern in ("typing", "scattered"):
            await session(Path(tmp), ops, rate, version_every, pattern)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=4096, help="updates per throughput run")
    parser.add_argument("--ops", type=int, default=50_000, help="edits in the long session")
    parser.add_argument("--rate", type=float, default=5.0, help="edits per second of the session")
    parser.add_argument("--version-every", type=float, default=300.0, help="seconds")
    args = parser.parse_args()
    asyncio.run(main(args.appends, args.ops, args.rate, args.version_every))
