"""Micro-benchmark of the stores: ``python -m jupyter_collab.persistence.bench``.

Prints append throughput and latency to durable (one appender, then many concurrent ones,
which is where group commit pays), and the bytes a long editing session takes before and after
compaction. The session is deterministic: single-character inserts and deletes into a pycrdt
Text, each its own logged update, as keystrokes are.

``--postgres URL`` adds the PostgreSQL store beside SQLite: the same in-process appenders, and
appenders in separate processes on one document (several servers sharing a database). The URL
names a server the benchmark may create scratch databases on (dropped at the end); without the
right to, it uses that database, under document ids of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


def latency_line(latencies: list[float], elapsed: float, appenders: int, what: str) -> str:
    p50, p99 = percentile(latencies, 0.5) * 1e3, percentile(latencies, 0.99) * 1e3
    return (
        f"{appenders:>3} {what}: {len(latencies) / elapsed:>8.0f} appends/s, "
        f"latency to durable p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(latencies) * 1e3:.2f} ms"
    )


async def append_latency(
    store: DocumentStore, updates: list[bytes], appenders: int, prefix: str = "doc"
) -> str:
    """``appenders`` coroutines each appending its share of ``updates`` one by one."""
    latencies: list[float] = []
    per = len(updates) // appenders

    async def appender(n: int) -> None:
        for update in updates[n * per : (n + 1) * per]:
            start = time.perf_counter()
            await store.append(f"{prefix}-{n % 8}", update, origin="client", user=f"u{n}",
                               time=1.0)  # fmt: skip
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(appender(n) for n in range(appenders)))
    line = latency_line(latencies, time.perf_counter() - start, appenders, "appender(s)")
    stats = getattr(store, "stats", None)
    if stats is not None and stats.transactions:
        line += f", {stats.requests / stats.transactions:.1f} appends per commit"
        stats.transactions = stats.requests = stats.updates = 0
    return line


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


async def throughput(
    root: Path, count: int, appenders: list[int], postgres: str | None, processes: list[int]
) -> None:
    updates, _ = keystrokes(count, seed=1)
    print(f"Append throughput and latency ({count} keystroke updates, "
          f"{statistics.mean(map(len, updates)):.0f} B each; {load()})")  # fmt: skip
    for sync in ("background", "commit"):
        for n in appenders:
            async with SQLiteStore(root / f"throughput-{sync}-{n}.db", sync=sync) as store:
                line = await append_latency(store, updates, n)
                print(f"  SQLite (WAL, sync={sync:<10})", line)
    if postgres:
        with scratch_database(postgres) as url:
            from .postgres import PostgresStore

            for n in appenders:
                async with await PostgresStore.open(url) as store:
                    line = await append_latency(store, updates, n, prefix=f"t{n}")
                    print("  PostgreSQL (one process)    ", line)
            for n in processes:
                print("  PostgreSQL (processes)      ",
                      await process_appenders(url, count, n))  # fmt: skip
        print(f"  ({load()} after)")
    async with MemoryStore() as memory:
        print("  memory                        ", await append_latency(memory, updates, 1))


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A fresh database on the server of ``url`` if we may create one (dropped after), else
    ``url`` itself (the benchmark then uses document ids of its own)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"collab_bench_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        print(f"  (PostgreSQL: using {url.rsplit('/', 1)[-1]} as is: {error})".strip())
        yield url
        return
    try:
        yield make_conninfo(url, dbname=name)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def process_appenders(url: str, count: int, processes: int) -> str:
    """``processes`` processes (servers) appending, one update at a time each, to ONE document:
    the case where every append waits for the document's row lock."""
    doc_id = f"shared-{uuid.uuid4().hex[:8]}"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jupyter_collab.persistence.bench", "--pg-worker", url,
            "--pg-doc", doc_id, "--appends", str(count // processes), "--seed", str(n),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        for n in range(processes)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"ready"
    start = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    outputs = await asyncio.gather(*(proc.communicate() for proc in procs))
    elapsed = time.perf_counter() - start
    latencies = [x for out, _ in outputs for x in json.loads(out)]
    return latency_line(latencies, elapsed, processes, "processes, 1 doc")


async def pg_worker(url: str, doc_id: str, count: int, seed: int) -> None:
    """One appending process of :func:`process_appenders`: latencies as JSON on stdout."""
    from .postgres import PostgresStore

    updates, _ = keystrokes(count, seed=seed)
    async with await PostgresStore.open(url) as store:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        latencies = []
        for update in updates:
            start = time.perf_counter()
            await store.append(doc_id, update, origin="client", user=f"p{seed}", time=1.0)
            latencies.append(time.perf_counter() - start)
    print(json.dumps(latencies), flush=True)


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


async def main(args: argparse.Namespace) -> None:
    appenders = [int(n) for n in args.appenders.split(",")]
    with tempfile.TemporaryDirectory(prefix="collab-bench-") as tmp:
        processes = [int(n) for n in args.processes.split(",") if n]
        await throughput(Path(tmp), args.appends, appenders, args.postgres, processes)
        if args.ops:
            for pattern in ("typing", "scattered"):
                await session(Path(tmp), args.ops, args.rate, args.version_every, pattern)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=4096, help="updates per throughput run")
    parser.add_argument("--appenders", default="1,4,8,64",
                        help="comma list of concurrent appenders per throughput run")
    parser.add_argument("--postgres", default=None, metavar="URL",
                        help="also measure the PostgreSQL store on this server")
    parser.add_argument("--processes", default="4",
                        help="comma list of appending processes on one document (PostgreSQL)")
    parser.add_argument("--ops", type=int, default=50_000,
                        help="edits in the long session (0: no session)")
    parser.add_argument("--rate", type=float, default=5.0, help="edits per second of the session")
    parser.add_argument("--version-every", type=float, default=300.0, help="seconds")
    parser.add_argument("--pg-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pg-doc", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pg_worker:
        asyncio.run(pg_worker(args.pg_worker, args.pg_doc, args.appends, args.seed))
    else:
        asyncio.run(main(args))
