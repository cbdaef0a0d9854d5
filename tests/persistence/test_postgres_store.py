"""What the PostgreSQL store does beyond the contract: several servers (processes) on one
database, migrations racing at start, outages, and commits whose connection broke.

Everything runs against a real PostgreSQL (``tests/services/postgres.py``); outage tests start
servers of their own, which they stop, crash and restart.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pycrdt import Doc

from jupyter_collab.persistence import NewUpdate, SchemaTooNew, StoreError
from jupyter_collab.persistence.errors import StoreUnavailable
from jupyter_collab.persistence.pgdatabase import PostgresDatabase
from jupyter_collab.persistence.pgmigrations import VERSION_TABLE
from jupyter_collab.persistence.pgschema import MIGRATIONS, SCHEMA_VERSION
from jupyter_collab.persistence.postgres import PostgresStore

from ..services.postgres import PostgresServer
from .conftest import run
from .edits import Editor, text_of

WORKER = Path(__file__).with_name("pg_worker.py")
REPO = Path(__file__).resolve().parents[2]


def migrated(url: str) -> None:
    async def migrate() -> None:
        await (await PostgresStore.open(url)).close()

    run(migrate())


# -- several processes ------------------------------------------------------------------------


class Workers:
    """``pg_worker.py`` processes started together; their output read as it comes."""

    def __init__(self, url: str, count: int, each: int, mode: str) -> None:
        self.procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), url, str(n), str(each), mode],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
            )  # fmt: skip
            for n in range(count)
        ]
        self.lines: list[list[str]] = [[] for _ in self.procs]
        self.readers = [
            threading.Thread(target=self._read, args=(n,), daemon=True)
            for n in range(count)
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, n: int) -> None:
        stdout = self.procs[n].stdout
        assert stdout is not None
        for line in stdout:
            self.lines[n].append(line.rstrip("\n"))

    def wait_for(self, word: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not all(word in lines for lines in self.lines):
            for proc in self.procs:
                if proc.poll() is not None and proc.returncode != 0:
                    assert proc.stderr is not None
                    raise AssertionError(f"a worker failed: {proc.stderr.read()}")
            assert time.monotonic() < deadline, f"workers never said {word!r}"
            time.sleep(0.02)

    def go(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()

    def acks(self) -> list[tuple[int, str, int, bytes]]:
        """(worker, doc, seq, update) of every acknowledged update, per worker in ack order."""
        out = []
        for n, lines in enumerate(self.lines):
            errors = [line for line in lines if line.startswith("error")]
            assert not errors, errors[:3]
            for line in lines:
                if line.startswith("ack "):
                    _, doc_id, seq, data = line.split(" ")
                    out.append((n, doc_id, int(seq), bytes.fromhex(data)))
        return out

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


@contextlib.contextmanager
def workers(url: str, count: int, each: int, mode: str) -> Iterator[Workers]:
    group = Workers(url, count, each, mode)
    try:
        yield group
    finally:
        group.stop()


def test_processes_append_to_shared_documents_at_once(postgres_url: str) -> None:
    """Four processes append to the same documents at the same moment, with batches holding
    several documents: per document the seqs are 1..n without a gap, every update is stored
    exactly once at the seq its process was told, and each process's updates keep the order
    it made them in."""
    migrated(postgres_url)  # so that the race is on appends only
    count, each = 4, 400
    with workers(postgres_url, count, each, "bytes") as group:
        group.wait_for("ready")
        group.go()
        group.wait_for("done", timeout=600)
        acks = group.acks()
    assert len(acks) == count * each

    async def check() -> None:
        async with PostgresStore(postgres_url) as store:
            by_doc: dict[str, dict[int, bytes]] = collections.defaultdict(dict)
            for _, doc_id, seq, update in acks:
                assert seq not in by_doc[doc_id], f"seq {seq} of {doc_id} acknowledged twice"
                by_doc[doc_id][seq] = update
            assert len(by_doc) == 5
            for doc_id, acked in by_doc.items():
                entries = await store.read(doc_id)
                assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
                assert {e.seq: e.update for e in entries} == acked
                assert await store.last_seq(doc_id) == len(entries)
                stored = collections.Counter(e.update for e in entries)
                assert max(stored.values()) == 1
            sent = {f"w{n}:{i}".encode() for n in range(count) for i in range(each)}
            assert {update for *_, update in acks} == sent
            # one process's updates to a document got seqs in the order it made them
            for n in range(count):
                for doc_id in by_doc:
                    mine = [(int(u.split(b":")[1]), s) for w, d, s, u in acks
                            if w == n and d == doc_id]  # fmt: skip
                    assert [s for _, s in sorted(mine)] == sorted(s for _, s in mine)

    run(check())


def test_compaction_while_processes_append(postgres_url: str) -> None:
    """Three processes edit one document (real CRDT updates) while this one compacts it over
    and over with no retention: no update is lost to a concurrent trim, the log left after the
    snapshot is contiguous, and the document loads as every acknowledged update merged."""

    async def compact_until(store: PostgresStore, done: Callable[[], bool]) -> int:
        rounds = 0
        while not done():
            await store.compact("crdt", now=1e12)
            rounds += 1
            await asyncio.sleep(0.01)
        return rounds

    async def scenario(group: Workers) -> None:
        async with PostgresStore(postgres_url, retention=0) as store:
            await store.last_seq("crdt")  # migrated before the workers race
            group.wait_for("ready")
            group.go()
            await asyncio.to_thread(group.wait_for, "half")
            snap = await store.compact("crdt", now=1e12)  # half the edits in a snapshot
            assert snap is not None and snap.upto_seq == 450 and await store.read("crdt") == []
            group.go()  # the other half, appended while this process compacts again and again
            finished = lambda: all("done" in lines for lines in group.lines)  # noqa: E731
            await asyncio.wait_for(compact_until(store, finished), 600)
            acks = group.acks()
            assert len(acks) == 3 * 300
            assert sorted(seq for *_, seq, _ in acks) == list(range(1, 901))
            assert await store.last_seq("crdt") == 900
            snap, entries = await store.history("crdt")
            start = snap.upto_seq if snap else 0
            assert [e.seq for e in entries] == list(range(start + 1, 901))
            reference = Doc()
            for *_, update in acks:
                reference.apply_update(update)
            loaded = await store.load("crdt")
            assert text_of(loaded) == text_of(reference.get_update())
            replica = Doc()
            assert loaded is not None
            replica.apply_update(loaded)
            assert replica.get_state() == reference.get_state()

    with workers(postgres_url, 3, 300, "crdt") as group:
        run(scenario(group))


# -- migrations -------------------------------------------------------------------------------


def tables(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )]  # fmt: skip
        if VERSION_TABLE not in names:
            return {name: 0 for name in names}
        versions = dict(conn.execute(f"SELECT component, version FROM {VERSION_TABLE}"))
    return {name: versions.get("persistence", 0) for name in names}


def test_stores_migrating_an_empty_database_at_once(postgres_url: str) -> None:
    """Six stores (six pools: six sessions, as six servers starting together) open one empty
    database at once: the schema is made once, every store works, and they share documents."""

    async def scenario() -> None:
        stores = await asyncio.gather(*(PostgresStore.open(postgres_url) for _ in range(6)))
        try:
            seqs = await asyncio.gather(*(
                store.append("a", b"\x00\x00", origin="client", user=f"u{n}", time=1.0)
                for n, store in enumerate(stores)
            ))  # fmt: skip
            assert sorted(seqs) == list(range(1, 7))
        finally:
            for store in stores:
                await store.close()

    run(scenario())
    found = tables(postgres_url)
    assert set(found) == {
        "collab_audit", "collab_docs", "collab_refused", "collab_schema_version",
        "collab_snapshots", "collab_updates", "collab_versions",
    }  # fmt: skip
    assert set(found.values()) == {SCHEMA_VERSION}


def test_an_older_schema_is_migrated_forward(postgres_url: str) -> None:
    """A database left at version 1 (versions stored whole) gets step 2, its rows kept."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {VERSION_TABLE} (component TEXT PRIMARY KEY, "
                     "version INTEGER NOT NULL)")  # fmt: skip
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(f"INSERT INTO {VERSION_TABLE} VALUES ('persistence', 1)")
        editor = Editor()
        update = editor.insert(0, "kept")
        conn.execute("INSERT INTO collab_docs VALUES ('a', 1, 1.0, NULL)")
        conn.execute(
            "INSERT INTO collab_updates VALUES ('a', 1, 'client', 'ada', 1.0, %s)", (update,)
        )

    async def scenario() -> None:
        async with await PostgresStore.open(postgres_url) as store:
            assert text_of(await store.load("a")) == "kept"
            version = await store.add_version("a", 1, time=2.0)
            assert text_of((await store.get_version("a", version)).state) == "kept"

    run(scenario())
    assert set(tables(postgres_url).values()) == {SCHEMA_VERSION}


def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    """A database written by a newer jupyter-collab is refused with SchemaTooNew, untouched."""

    async def make() -> None:
        async with await PostgresStore.open(postgres_url) as store:
            await store.append("a", b"\x00\x00", origin="client", user=None, time=1.0)

    run(make())
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version = 99 WHERE component = 'persistence'")

    async def scenario() -> None:
        with pytest.raises(SchemaTooNew, match="schema version 99 of 'persistence'"):
            await PostgresStore.open(postgres_url)
        store = PostgresStore(postgres_url)
        try:
            with pytest.raises(SchemaTooNew):
                await store.append("a", b"\x00\x00", origin="client", user=None, time=2.0)
            with pytest.raises(SchemaTooNew):
                await store.read("a")
        finally:
            await store.close()

    run(scenario())
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT last_seq FROM collab_docs").fetchall() == [(1,)]
        assert conn.execute(f"SELECT version FROM {VERSION_TABLE}").fetchall() == [(99,)]


# -- outages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_restarted_mid_use(
    postgres_factory: Callable[..., PostgresServer], mode: str
) -> None:
    """PostgreSQL restarted (``fast``: sessions ended by the server; ``immediate``: a crash,
    recovery at start) while appends and reads run: every append either lands once at the seq
    it was told, or raises a StoreError and lands at most once; appends in flight during the
    outage wait for the server and land; the pool reconnects and the log stays gapless."""
    server = postgres_factory()
    url = server.create_database()
    outcomes: dict[bytes, int | BaseException] = {}
    spans: dict[bytes, tuple[float, float]] = {}

    async def appender(store: PostgresStore, stop: asyncio.Event) -> None:
        i = 0
        in_flight: set[asyncio.Task[None]] = set()

        async def one(payload: bytes) -> None:
            started = time.monotonic()
            try:
                outcomes[payload] = await store.append(
                    "doc", payload, origin="client", user="ada", time=1.0
                )
            except StoreError as error:
                outcomes[payload] = error
            spans[payload] = (started, time.monotonic())

        while not stop.is_set():
            in_flight.add(asyncio.ensure_future(one(f"u{i}".encode())))
            i += 1
            if len(in_flight) >= 8:
                _, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.sleep(0.002)
        await asyncio.gather(*in_flight)

    async def reader(store: PostgresStore, stop: asyncio.Event) -> int:
        reads = 0
        while not stop.is_set():
            with contextlib.suppress(StoreError):
                await store.history("doc")
                reads += 1
            await asyncio.sleep(0.01)
        return reads

    async def scenario() -> None:
        async with await PostgresStore.open(url, timeout=120) as store:
            stop = asyncio.Event()
            tasks = [asyncio.ensure_future(appender(store, stop)),
                     asyncio.ensure_future(reader(store, stop))]  # fmt: skip
            while sum(isinstance(v, int) for v in outcomes.values()) < 50:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(server.stop, mode)
            await asyncio.sleep(1.0)  # an outage, not only a restart
            restarting = time.monotonic()  # the server was down until at least now
            await asyncio.to_thread(server.start)
            acked_before = sum(isinstance(v, int) for v in outcomes.values())
            deadline = time.monotonic() + 120
            while sum(isinstance(v, int) for v in outcomes.values()) < acked_before + 50:
                assert time.monotonic() < deadline, "appends never resumed"
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.gather(*tasks)
            # some appends were in flight while the server was down, and landed after
            waited = [p for p, (start, end) in spans.items() if start < restarting < end]
            assert waited
            assert all(isinstance(outcomes[p], int) for p in waited), {
                repr(outcomes[p]) for p in waited if not isinstance(outcomes[p], int)
            }
            entries = await store.read("doc")
            assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
            stored = collections.Counter(e.update for e in entries)
            assert max(stored.values()) == 1
            by_seq = {e.seq: e.update for e in entries}
            for payload, outcome in outcomes.items():
                if isinstance(outcome, int):
                    assert by_seq[outcome] == payload
            refused = [v for v in outcomes.values() if not isinstance(v, int)]
            assert len(entries) >= len(outcomes) - len(refused)
            # nothing was refused: the server came back long before the store's timeout
            assert refused == []
            assert await store.append("doc", b"after", origin="client", user=None, time=2.0) \
                == len(entries) + 1

    run(scenario())


def test_an_outage_longer_than_the_timeout_is_a_clear_error(
    postgres_factory: Callable[..., PostgresServer],
) -> None:
    """With the server down longer than ``timeout``, operations raise StoreUnavailable (saying
    which database, never its password) instead of hanging; once it is back the same store
    works again without being reopened."""
    server = postgres_factory()
    url = server.create_database().replace("postgres@", "postgres:secret@")

    async def scenario() -> None:
        async with await PostgresStore.open(url, timeout=3) as store:
            assert await store.append("a", b"1", origin="client", user=None, time=1.0) == 1
            await asyncio.to_thread(server.stop)
            for call in (
                store.append("a", b"2", origin="client", user=None, time=1.0),
                store.last_seq("a"),
                store.query_audit(),
            ):
                with pytest.raises(StoreUnavailable) as raised:
                    await call
                assert f"127.0.0.1:{server.port}" in str(raised.value)
                assert "secret" not in str(raised.value)
            await asyncio.to_thread(server.start)
            deadline = time.monotonic() + 120
            while True:
                try:
                    seq = await store.append("a", b"3", origin="client", user=None, time=1.0)
                    break
                except StoreUnavailable:
                    assert time.monotonic() < deadline
            assert seq == 2
            assert [e.update for e in await store.read("a")] == [b"1", b"3"]

    run(scenario())


def test_an_unreachable_or_misnamed_database_is_a_clear_error(postgres_url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        PostgresStore("")
    with pytest.raises(ValueError, match="URL"):
        PostgresStore("not a url")

    async def scenario() -> None:
        closed_port = _free_port()
        with pytest.raises(StoreUnavailable, match="cannot reach"):
            await PostgresStore.open(f"postgresql://x@127.0.0.1:{closed_port}/db", timeout=2)
        missing = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
        with pytest.raises(StoreUnavailable, match="no_such_database"):
            await PostgresStore.open(missing, timeout=2)

    run(scenario())


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- a commit whose connection broke ----------------------------------------------------------


class Proxy:
    """A TCP proxy in front of PostgreSQL that can cut every connection at once (the network
    going away under a client, while the server carries on)."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.port = 0
        self.links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self.server: asyncio.Server | None = None
        self.paused = False  # refuse new connections (the network is still down)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.paused:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self.links.append((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def cut(self) -> None:
        """Close the client side of every connection; the server side stays open until the
        server writes to it (so a server busy committing commits)."""
        for client, _ in self.links:
            client.transport.abort()
        self.links.clear()

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()


SLOW_COMMIT = """
CREATE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.data = 'slow'::bytea THEN PERFORM pg_sleep(3); END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER test_slow_commit AFTER INSERT ON collab_updates
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_slow_commit();
"""


@contextlib.contextmanager
def logged(name: str) -> Iterator[list[str]]:
    """The messages ``name`` logs at INFO and above meanwhile (whatever pytest's plugins)."""
    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def committing_pid(admin: psycopg.AsyncConnection[Any]) -> int:
    """The server process running a COMMIT held up by the slow trigger."""
    while True:
        cur = await admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE query = 'COMMIT' AND wait_event = 'PgSleep'"
        )
        row = await cur.fetchone()
        if row:
            return int(row[0])
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("lost", ["committed", "aborted"])
def test_a_commit_cut_off_lands_exactly_once(postgres_url: str, lost: str) -> None:
    """The connection breaks while the server runs an append's COMMIT (a deferred trigger
    makes the commit take 3 s). ``committed``: the network is cut, the server finishes the
    commit; ``aborted``: the server ends the session before the commit. Either way the append
    returns the seq its update is stored at, and the update is stored exactly once: the store
    asks the server what became of the transaction instead of guessing."""
    migrated(postgres_url)  # for the trigger to find its table
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(SLOW_COMMIT)

    async def scenario() -> None:
        proxy = Proxy(int(postgres_url.split(":")[-1].split("/")[0]))
        await proxy.start()
        url = postgres_url.replace(postgres_url.split("@")[1].split("/")[0],
                                   f"127.0.0.1:{proxy.port}")  # fmt: skip
        admin = await psycopg.AsyncConnection.connect(postgres_url, autocommit=True)
        try:
            async with await PostgresStore.open(url, timeout=120) as store:
                assert await store.append("a", b"first", origin="client", user=None,
                                          time=1.0) == 1  # fmt: skip
                append = asyncio.ensure_future(
                    store.append("a", b"slow", origin="client", user=None, time=1.0)
                )
                pid = await asyncio.wait_for(committing_pid(admin), 60)
                if lost == "committed":
                    proxy.cut()
                else:
                    await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                assert await asyncio.wait_for(append, 120) == 2
                entries = await store.read("a")
                assert [(e.seq, e.update) for e in entries] == [(1, b"first"), (2, b"slow")]
                assert await store.append("a", b"next", origin="client", user=None,
                                          time=1.0) == 3  # fmt: skip
        finally:
            await admin.close()
            await proxy.close()

    run(scenario())


def test_a_commit_cut_off_then_a_crash_lands_exactly_once(
    postgres_factory: Callable[..., PostgresServer],
) -> None:
    """The network breaks during an append's COMMIT, the server finishes the commit, then
    crashes and restarts before the store can ask: the transaction id alone cannot be trusted
    any more (after a crash an id may be handed out again), so the store checks that the rows
    at the seqs it reserved are the ones its transaction wrote, and returns their seq."""
    server = postgres_factory()
    url = server.create_database()
    migrated(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SLOW_COMMIT)

    async def scenario() -> None:
        proxy = Proxy(server.port)
        await proxy.start()
        admin = await psycopg.AsyncConnection.connect(url, autocommit=True)
        try:
            proxied = url.replace(f":{server.port}/", f":{proxy.port}/")
            async with await PostgresStore.open(proxied, timeout=180) as store:
                assert await store.append("a", b"first", origin="client", user=None,
                                          time=1.0) == 1  # fmt: skip
                append = asyncio.ensure_future(
                    store.append("a", b"slow", origin="client", user=None, time=1.0)
                )
                await asyncio.wait_for(committing_pid(admin), 60)
                proxy.paused = True
                proxy.cut()
                while not await (await admin.execute(
                    "SELECT 1 FROM collab_updates WHERE data = 'slow'"
                )).fetchone():  # fmt: skip
                    await asyncio.sleep(0.05)  # committed on the server
                await admin.close()
                await asyncio.to_thread(server.stop, "immediate")
                await asyncio.to_thread(server.start)
                proxy.paused = False
                assert await asyncio.wait_for(append, 180) == 2
                entries = await store.read("a")
                assert [(e.seq, e.update) for e in entries] == [(1, b"first"), (2, b"slow")]
        finally:
            await admin.close()
            await proxy.close()

    with logged("jupyter_collab.store") as messages:
        run(scenario())
    assert any("restarted during a COMMIT; the rows of transaction" in m for m in messages)


# -- what the contract does not say yet -------------------------------------------------------


def test_a_reset_starts_the_document_over(postgres_url: str) -> None:
    """``reset`` (issue 8's fresh load over a lost merge base) commits the entry and its
    snapshot together, so loading gives the new document alone while the old log and its
    versions stay readable."""

    async def scenario() -> None:
        async with PostgresStore(postgres_url, retention=3600) as store:
            old = Editor()
            for i in range(5):
                await store.append("a", old.insert(0, "x"), origin="client", user="ada",
                                   time=1000.0 + i)  # fmt: skip
            version = await store.add_version("a", 5, time=1005.0)
            fresh = Editor()
            fresh.insert(0, "from the file")
            seq, _ = await asyncio.gather(
                store.reset("a", NewUpdate(fresh.doc.get_update(), "load", None, 2000.0)),
                store.append("b", b"\x00\x00", origin="client", user=None, time=1.0),
            )
            assert seq == 6
            assert text_of(await store.load("a")) == "from the file"
            assert text_of((await store.get_version("a", version)).state) == "xxxxx"
            assert len(await store.read("a")) == 6
            assert await store.reset("new", NewUpdate(b"\x00\x00", "load", None, 1.0)) == 1
            assert await store.snapshot("new") is None

    run(scenario())


def test_components_share_one_database_object(postgres_url: str) -> None:
    """A PostgresDatabase can be shared (the file ids and shares will use it too): stores
    built on it use its pool, and it closes with its last user."""

    async def scenario() -> None:
        db = PostgresDatabase(postgres_url, max_size=2)
        first, second = PostgresStore(db), PostgresStore(db)
        await db.release()  # the stores hold it now
        await first.append("a", b"\x00\x00", origin="client", user=None, time=1.0)
        assert await second.last_seq("a") == 1
        await first.close()
        assert not db.closed
        assert await second.last_seq("a") == 1
        await second.close()
        assert db.closed

    run(scenario())
