"""One SQLite file of this process: its connections, its threads, its migrations, its health.

Every component that keeps tables in the collaboration database (the history store, the file
ids and merge bases, the sharing tables) goes through the one :class:`SQLiteDatabase` of that
file, so that:

- **no SQLite call runs on the event loop's thread.** Writes run on one writer thread that
  owns the only writing connection of the process, in the order they were submitted; reads run
  on a reader thread with a connection of its own (WAL lets them read while a write is going
  on, or while another process holds the write lock). The loop only awaits futures.
- **the process never locks itself out.** Two connections of one process that both write wait
  on each other's locks (with the event loop blocked behind one of them, SQLite's busy timeout
  was the only way out: the ~30 s freeze of issue 8). With one writing connection, the only
  lock a write can wait for is another process's (another server on the same file), and only
  for the length of that process's transaction, at most ``busy_timeout`` seconds.
- **one migration mechanism** (:mod:`.migrations`) brings every component's tables forward.
- **failures are seen in one place** (:class:`~.health.StoreHealth`): an operation that fails
  for a reason of the database (read-only, disk full, damaged, locked) marks it failing, a
  later successful write marks it working again; an error of the request itself (a constraint,
  a document that does not exist) is not a failure of the database.

Durability: WAL journal. ``sync="commit"`` runs with ``synchronous=FULL`` (a commit returns once
it is on the disk); ``sync="background"`` with ``synchronous=NORMAL``, a commit then returns
once it reached the operating system (which a crash or ``kill -9`` of the server cannot undo)
and the WAL is fsynced right after on a thread of its own, so a power loss can take at most the
last few milliseconds.

``SQLiteDatabase.acquire(path)`` gives every caller of a process the same object for the same
file (reference counted, closed with the last :meth:`release`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future as ThreadFuture
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .errors import StoreClosed, StoreError, StoreUnavailable
from .health import StoreHealth, describe
from .migrations import Component, migrate

T = TypeVar("T")
SYNC_MODES = ("background", "commit")
DEFAULT_BUSY_TIMEOUT = 10.0

# Errors that say something about the request, not about the database.
_REQUEST_ERRORS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)


def is_database_failure(error: BaseException) -> bool:
    """Whether ``error`` means the database does not work (as opposed to a bad request)."""
    if isinstance(error, StoreUnavailable):
        return True
    if isinstance(error, (StoreError, *_REQUEST_ERRORS)):
        return False
    return isinstance(error, sqlite3.Error | OSError)


def unavailable(error: BaseException) -> StoreUnavailable:
    """The error components see for a failure of the database (whatever the engine)."""
    return StoreUnavailable(describe(error), str(error) or type(error).__name__)


class SQLiteDatabase:
    _registry: ClassVar[dict[str, SQLiteDatabase]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        path: str | Path,
        *,
        sync: str = "background",
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        health: StoreHealth | None = None,
    ) -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {SYNC_MODES}, not {sync!r}")
        self.path = Path(path)
        self.sync = sync
        self.busy_timeout = busy_timeout
        self.health = health or StoreHealth(str(self.path))
        self.fsyncs = 0  # background flushes of the WAL
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collab-db")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collab-db-read")
        # one fsync at a time, coalescing: commits made while one runs need one more
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collab-fsync")
        self._flush_wanted = threading.Event()
        self._write_conn: sqlite3.Connection | None = None  # used in the writer thread only
        self._read_conn: sqlite3.Connection | None = None  # used in the reader thread only
        self._ready: dict[str, ThreadFuture[None]] = {}  # component -> its migration
        self._refs = 0
        self._key: str | None = None
        self.closed = False

    # -- one object per file and process ------------------------------------------------------

    @classmethod
    def acquire(cls, path: str | Path, **options: Any) -> SQLiteDatabase:
        """The database object of ``path`` in this process, created on first use.

        Options (``sync``, ``busy_timeout``, ``health``) apply when it is created; asking for a
        different ``sync`` or ``busy_timeout`` than the open one is an error.
        """
        key = os.path.realpath(path)
        with cls._registry_lock:
            db = cls._registry.get(key)
            if db is None:
                db = cls(path, **options)
                db._key = key
                cls._registry[key] = db
            else:
                for name in ("sync", "busy_timeout"):
                    if name in options and options[name] != getattr(db, name):
                        raise ValueError(
                            f"{path} is already open with {name}={getattr(db, name)!r}"
                        )
            db._refs += 1
            return db

    def retain(self) -> SQLiteDatabase:
        """One more user of this object (each user calls :meth:`release` once)."""
        with self._registry_lock:
            if self.closed:
                raise StoreClosed("the database is closed")
            self._refs += 1
        return self

    async def release(self) -> None:
        """One user is done; the last one closes the connections (after pending work)."""
        with self._registry_lock:
            self._refs -= 1
            if self._refs > 0 or self.closed:
                return
            self.closed = True
            if self._key is not None and self._registry.get(self._key) is self:
                del self._registry[self._key]
        await self._close()

    def release_blocking(self) -> None:
        """:meth:`release` for code that is not on an event loop (start-up, command line)."""
        with self._registry_lock:
            self._refs -= 1
            if self._refs > 0 or self.closed:
                return
            self.closed = True
            if self._key is not None and self._registry.get(self._key) is self:
                del self._registry[self._key]
        try:
            self._writer.submit(self._close_writer).result()
            self._reader.submit(self._close_reader).result()
        finally:
            self._shutdown()

    def _close_writer(self) -> None:
        if self._write_conn is not None:
            self._write_conn.close()
            self._write_conn = None

    def _close_reader(self) -> None:
        if self._read_conn is not None:
            self._read_conn.close()
            self._read_conn = None

    def _shutdown(self) -> None:
        self._writer.shutdown(wait=False)
        self._reader.shutdown(wait=False)
        self._flusher.shutdown(wait=True)  # the last commits reach the disk

    async def _close(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._writer, self._close_writer)
            await loop.run_in_executor(self._reader, self._close_reader)
        finally:
            await asyncio.to_thread(self._shutdown)  # (waits for the last fsync)

    # -- connections (in their own threads) ---------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(
            str(self.path), timeout=self.busy_timeout, isolation_level=None,
            check_same_thread=False,
        )  # fmt: skip

    def _writing(self) -> sqlite3.Connection:
        if self._write_conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            try:
                self._enable_wal(conn)
                conn.execute(
                    "PRAGMA synchronous=FULL"
                    if self.sync == "commit"
                    else "PRAGMA synchronous=NORMAL"
                )
            except BaseException:
                conn.close()
                raise
            self._write_conn = conn
        return self._write_conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Put the file in WAL mode, waiting out another process doing the same.

        Two processes opening a new file at once (two servers on one database) both ask for
        WAL; the switch needs the file to itself, and SQLite answers the loser "database is
        locked" at once, without its busy handler (waiting could deadlock two connections that
        each hold a shared lock). That loser's whole database then looked failed: its file ids
        went to memory, unlike the other server's ids for the same files. The switch is retried
        for up to ``busy_timeout``; once the file is in WAL the pragma takes no lock.
        """
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() > deadline:
                    raise
            time.sleep(delay * (0.5 + random.random()))  # (jittered: the two may meet again)
            delay = min(delay * 2, 0.1)

    def _reading(self) -> sqlite3.Connection:
        if self._read_conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._read_conn = conn
        return self._read_conn

    # -- migrations ---------------------------------------------------------------------------

    def prepare(self, *components: Component) -> ThreadFuture[None]:
        """Migrate ``components`` on the writer thread (once each; a failure is retried by the
        next call). Returns the concurrent future of the migration."""
        pending = [
            c for c in components
            if c.name not in self._ready or self._failed(self._ready[c.name])
        ]  # fmt: skip
        if pending:
            future = self._writer.submit(self._migrate, pending)
            for component in pending:
                self._ready[component.name] = future
        futures = {id(self._ready[c.name]): self._ready[c.name] for c in components}
        if len(futures) == 1:
            return next(iter(futures.values()))
        combined: ThreadFuture[None] = ThreadFuture()
        remaining = [len(futures)]

        def done(f: ThreadFuture[None]) -> None:
            if combined.done():
                return
            if f.exception() is not None:
                combined.set_exception(f.exception())  # type: ignore[arg-type]
                return
            remaining[0] -= 1
            if not remaining[0]:
                combined.set_result(None)

        for f in futures.values():
            f.add_done_callback(done)
        return combined

    @staticmethod
    def _failed(future: ThreadFuture[None]) -> bool:
        return future.done() and future.exception() is not None

    def _migrate(self, components: list[Component]) -> None:
        migrate(self._writing(), *components)

    async def ready(self, *components: Component) -> None:
        """Wait until ``components`` are migrated (raises what the migration raised)."""
        if self.closed:
            raise StoreClosed("the database is closed")
        future = self.prepare(*components)
        if future.done() and future.exception() is None:
            return
        try:
            await asyncio.wrap_future(future)
        except BaseException as error:
            if not is_database_failure(error):
                raise
            self.health.failed(error)
            raise unavailable(error) from error

    def open_blocking(self, *components: Component, timeout: float | None = None) -> None:
        """Open and migrate from a thread that may block (the server's start-up, a command
        line tool); never from a running event loop's callbacks."""
        self.prepare(*components).result(timeout)

    # -- running work -------------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` on the writer thread, managing its own transactions (a
        write: its success tells the health the database works)."""
        return await self._submit(self._writer, self._on_writer, fn, args, write=True)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` in one write transaction (``BEGIN IMMEDIATE``)."""
        return await self.run(_in_transaction, "BEGIN IMMEDIATE", fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any, ordered: bool = False) -> T:
        """``fn(connection, *args)`` in one read transaction (one consistent snapshot).

        On the reader thread, so it neither waits for writes queued before it nor holds them
        up: it sees every write that had completed when it was called. ``ordered`` runs it on
        the writer thread instead, after every write submitted before it (even not awaited).
        """
        if ordered:
            return await self._submit(self._writer, self._on_writer_read, fn, args)
        return await self._submit(self._reader, self._on_reader, fn, args)

    async def _submit(
        self, executor: ThreadPoolExecutor, runner: Callable[..., T], fn: Callable[..., Any],
        args: tuple[Any, ...], *, write: bool = False,
    ) -> T:  # fmt: skip
        if self.closed:
            raise StoreClosed("the database is closed")
        try:
            future = executor.submit(runner, fn, args)
        except RuntimeError:  # shut down meanwhile
            raise StoreClosed("the database is closed") from None
        # The health is told here, on the event loop, so its listeners run there.
        try:
            result = await asyncio.wrap_future(future)
        except BaseException as error:
            if not is_database_failure(error):
                raise
            self.health.failed(error)
            if isinstance(error, StoreUnavailable):
                raise
            raise unavailable(error) from error
        if write:
            self.health.succeeded()
        return result

    def _on_writer(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        result = fn(self._writing(), *args)
        if self.sync == "background":
            self._flush_soon()
        return result

    def _on_writer_read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        return _in_transaction(self._writing(), "BEGIN", fn, *args)

    def _on_reader(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return _in_transaction(self._reading(), "BEGIN", fn, *args)
        except BaseException as error:
            if is_database_failure(error) and self._read_conn is not None:
                # Reopened next time: the file may have been replaced by a repaired one.
                self._read_conn.close()
                self._read_conn = None
            raise

    # -- background fsync ---------------------------------------------------------------------

    def _flush_soon(self) -> None:
        if not self._flush_wanted.is_set():
            self._flush_wanted.set()
            try:
                self._flusher.submit(self._flush)
            except RuntimeError:  # closing: the close flushes what is left
                self._flush_wanted.clear()

    def _flush(self) -> None:
        """fsync the WAL: what was committed reaches the disk, not only the OS's cache."""
        self._flush_wanted.clear()
        try:
            fd = os.open(f"{self.path}-wal", os.O_RDONLY)
        except FileNotFoundError:  # checkpointed and removed: already on the disk
            return
        try:
            os.fsync(fd)
            self.fsyncs += 1
        except OSError as error:  # the next commit will most likely fail, and say so
            self.health.log.error("Flushing %s to the disk failed: %s", self.path, error)
        finally:
            os.close(fd)

    def check_in_background(self) -> None:
        """Run SQLite's integrity check (``quick_check``) on the reader thread, where it holds
        nothing up; damage it finds is reported to the health (a file truncated or overwritten
        in part can open fine and fail only where the damage is)."""

        def run() -> None:
            try:
                rows = self._reading().execute("PRAGMA quick_check(5)").fetchall()
                problems = [str(row[0]) for row in rows if row[0] != "ok"]
            except Exception as exc:
                if not is_database_failure(exc):
                    raise
                problems = [str(exc)]
            if problems:
                self.health.damaged("; ".join(problems)[:500])

        with contextlib.suppress(RuntimeError):  # (closed meanwhile)
            self._reader.submit(run)

    async def file_bytes(self) -> int:
        """Bytes on disk: the database file and its WAL (every component's tables)."""
        await self.read(lambda db: None, ordered=True)  # after every write submitted before
        return sum(
            os.path.getsize(p) for p in (self.path, Path(f"{self.path}-wal")) if os.path.exists(p)
        )


def _in_transaction(
    db: sqlite3.Connection, begin: str, fn: Callable[..., T], *args: Any
) -> T:
    db.execute(begin)
    try:
        result = fn(db, *args)
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


class SQLiteTables:
    """What every store of one component's tables in the collaboration database shares: a
    reference to the process's :class:`SQLiteDatabase` of the file (the one given, or acquired
    by path), its component migrated before the first query, every query on the database's
    threads (never the event loop's), the reference released by :meth:`close`.

    A store names its tables as ``component`` and puts its SQL in functions of the connection
    given to :meth:`_read` (one read transaction) or :meth:`_write` (one write transaction).
    """

    component: ClassVar[Component]

    def __init__(self, database: str | Path | SQLiteDatabase) -> None:
        self.db = (
            database.retain()
            if isinstance(database, SQLiteDatabase)
            else SQLiteDatabase.acquire(database)
        )
        self.db.prepare(self.component)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        await self.db.ready(self.component)
        return await self.db.read(fn, *args)

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        await self.db.ready(self.component)
        return await self.db.write(fn, *args)

    async def close(self) -> None:
        await self.db.release()
