"""One PostgreSQL database of this process: its connection pool, migrations and transactions.

Every component that keeps tables in PostgreSQL (the history store now; the file ids and shares
next) goes through one :class:`PostgresDatabase`, the PostgreSQL counterpart of the SQLite
side's database object, so that:

- **nothing blocks the event loop**: psycopg 3's asyncio connections, from one
  ``psycopg_pool.AsyncConnectionPool``; a connection is held only while SQL runs (callers do
  their CPU work, merging and compressing, before or after, off the loop).
- **an outage is a clear error, and recovery is automatic.** A statement that fails because the
  server went away (restart, failover, network) is retried on a fresh connection until
  ``timeout`` seconds have passed, then raises :class:`~.errors.StoreUnavailable`; the pool
  replaces broken connections by itself. Errors of the request (a document that does not
  exist) are raised as they are, at once.
- **a write lands exactly once or raises.** A transaction whose connection broke before its
  ``COMMIT`` was sent certainly did not commit, and is retried. One whose connection broke
  *during* its ``COMMIT`` may or may not have committed: its transaction id was read before the
  ``COMMIT`` was sent, and ``pg_xact_status`` (on another connection) says which; committed, the
  caller gets the result it was going to get; aborted, the transaction is retried; unknown
  until the deadline (the server stays down), :class:`~.errors.StoreUnavailable` says so. If the
  server restarted meanwhile, a transaction id can no longer be trusted to be ours (see
  :meth:`PostgresDatabase.write`): the writer checks the rows it wrote instead.
- **one migration mechanism** (:mod:`.pgmigrations`), safe when several servers start at once.

Round trips cost more than anything else here (about a millisecond each on a busy machine), so a
transaction is sent in pipeline mode: ``BEGIN``, the read of its transaction id and its first
statements leave together, and ``COMMIT`` is the only other round trip of a simple write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, TypeVar

from .errors import StoreClosed, StoreError, StoreUnavailable
from .pgmigrations import PostgresComponent, migrate

try:
    import psycopg
    from psycopg import AsyncConnection
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool, PoolTimeout
    from psycopg_pool.base import AttemptWithBackoff
except ImportError as missing:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "PostgreSQL support needs psycopg 3 and psycopg_pool: "
        "pip install 'jupyter-collab[postgres]'"
    ) from missing

__all__ = [
    "AsyncConnection", "Jsonb", "PostgresDatabase", "Reader", "Transaction", "retryable",
]  # fmt: skip

T = TypeVar("T")
Mode = Literal["autocommit", "snapshot", "write", "raw"]

log = logging.getLogger("jupyter_collab.store")

DEFAULT_TIMEOUT = 30.0
# Connection options, unless the URL sets them: a dead server or network is noticed within
# about 25 s even mid-statement (TCP keepalives), a connection attempt gives up after 10 s.
CONNECTION_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "application_name": "jupyter-collab",
}
# SQLSTATEs after which the same transaction may simply run again: the connection is gone
# (class 08, admin/crash shutdown, not accepting connections yet) or the server chose this
# transaction as a deadlock or serialization victim.
RETRY_STATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})


class Transaction:
    """What a unit of work runs its SQL through, in pipeline mode.

    A unit of work is ``async def work(tx)``: it queues statements with :meth:`execute` and
    returns a *reader*, a coroutine function that fetches their results from the cursors and
    builds its answer (or raises a :class:`~.errors.StoreError`). The statements leave in one
    round trip with the transaction's own (``BEGIN``, and ``COMMIT`` where it may go with
    them), and the reader runs once their results are in. A unit that needs results before it
    can say what to do next calls :meth:`sync` (one more round trip) and fetches them.
    """

    def __init__(self, conn: AsyncConnection, pipeline: Any) -> None:
        self.conn = conn
        self._pipeline = pipeline

    async def execute(
        self, query: str, params: Any = None, *, binary: bool = False
    ) -> psycopg.AsyncCursor[Any]:
        return await self.conn.execute(query, params, binary=binary)  # type: ignore[arg-type]

    async def sync(self) -> None:
        """Send what is queued and wait for every result."""
        if self._pipeline is not None:
            await self._pipeline.sync()


Reader = Callable[[], Awaitable[T]]
Work = Callable[[Transaction], Awaitable[Reader[T]]]
Verify = Callable[[AsyncConnection, T, int], Awaitable[bool]]


async def _value(value: T) -> T:
    return value


class Health(Protocol):
    """What the database tells about its state (the SQLite side's ``StoreHealth`` fits)."""

    def failed(self, error: BaseException) -> None: ...

    def succeeded(self) -> None: ...


class _QuickReconnect(AttemptWithBackoff):
    """psycopg_pool's reconnection backoff (1 s, doubling without bound) made quick and capped:
    a PostgreSQL restart of a few seconds should cost collaborators a few seconds, not the 15 s
    that the fifth doubling waits. Tries at 0.1 s, then 1.5x, at most every 2 s."""

    INITIAL_DELAY = 0.1
    DELAY_BACKOFF = 1.5
    MAX_DELAY = 2.0

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, self.MAX_DELAY, max(0.0, self.give_up_at - now))


class _Pool(AsyncConnectionPool):
    async def _add_connection(self, attempt: Any, growing: bool = False) -> None:
        if attempt is None:
            attempt = _QuickReconnect(timeout=self.reconnect_timeout)
        await super()._add_connection(attempt, growing=growing)


class _Retry(Exception):
    """The attempt certainly did not commit and may run again (``error`` says why it failed)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def retryable(error: BaseException) -> bool:
    """Whether ``error`` is the server or the connection going away (or a deadlock victim)."""
    if isinstance(error, PoolTimeout):
        return True
    state = getattr(error, "sqlstate", None)
    if state:
        return state.startswith("08") or state in RETRY_STATES
    return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))


def _lost(error: BaseException) -> bool:
    """Whether the answer to a statement was lost (as opposed to the server refusing it)."""
    state = getattr(error, "sqlstate", None)
    return not state or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def masked(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<invalid database URL>"
    host, port, dbname = params.get("host", ""), params.get("port", ""), params.get("dbname", "")
    return f"postgresql://{params.get('user', '')}@{host}{':' if port else ''}{port}/{dbname}"


class PostgresDatabase:
    """A PostgreSQL database, shared by the components of one process.

    ``url`` is a libpq URL or key/value string (``postgresql://user:pass@host:5432/dbname``).
    ``timeout``: how long an operation may wait for the database (connections, an outage,
    the outcome of a commit) before it raises :class:`~.errors.StoreUnavailable`.
    ``min_size``/``max_size``: connections kept open / at most open by this process.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        min_size: int = 1,
        max_size: int = 8,
        health: Health | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.strip():
            raise ValueError("a PostgreSQL database URL is needed (postgresql://...)")
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as error:
            raise ValueError(f"not a PostgreSQL database URL: {error}") from None
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.url = url
        self.name = masked(url)
        self.timeout = float(timeout)
        self.health = health
        extra = {k: v for k, v in CONNECTION_DEFAULTS.items() if k not in params}
        self._pool = _Pool(
            make_conninfo(url, **extra),
            kwargs={"autocommit": True},
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=self.timeout,
            name="jupyter-collab",
        )
        self._opened = False
        self._migrated: set[str] = set()
        self._migrating = asyncio.Lock()
        self._refs = 1
        self.closed = False

    # -- users --------------------------------------------------------------------------------

    def retain(self) -> PostgresDatabase:
        """One more user of this object (each user calls :meth:`release` once)."""
        if self.closed:
            raise StoreClosed("the database is closed")
        self._refs += 1
        return self

    async def release(self) -> None:
        """One user is done; the last one closes the pool."""
        self._refs -= 1
        if self._refs > 0 or self.closed:
            return
        await self.close()

    async def close(self) -> None:
        """Close every connection (operations running now fail, later ones raise StoreClosed)."""
        if self.closed:
            return
        self.closed = True
        if self._opened:
            await self._pool.close(timeout=5)

    # -- migrations ---------------------------------------------------------------------------

    async def ready(self, *components: PostgresComponent) -> None:
        """Open the pool and migrate ``components`` (once each per process; a failure is
        retried by the next call). Raises :class:`~.errors.SchemaTooNew` for a database
        written by a newer jupyter-collab, :class:`~.errors.StoreUnavailable` if the server
        cannot be reached within ``timeout``."""
        if self.closed:
            raise StoreClosed("the database is closed")
        if all(c.name in self._migrated for c in components):
            return
        async with self._migrating:
            pending = [c for c in components if c.name not in self._migrated]
            if not pending:
                return
            if not self._opened:
                await self._pool.open(wait=False)
                self._opened = True

            async def run(conn: AsyncConnection) -> dict[str, int]:
                return await migrate(conn, *pending)

            # Its own transaction; running it again after a lost connection is harmless (a
            # committed migration is then found current).
            await self.run_raw(run)
            self._migrated.update(c.name for c in pending)

    # -- running work -------------------------------------------------------------------------

    async def read(self, fn: Work[T], *, snapshot: bool = False) -> T:
        """Run ``fn`` (see :class:`Transaction`) in autocommit mode, or with ``snapshot`` in one
        read-only ``REPEATABLE READ`` transaction (every statement sees the same instant).
        Retried on a fresh connection if the connection is lost."""
        return await self._run(fn, "snapshot" if snapshot else "autocommit")

    async def autocommit(self, fn: Work[T]) -> T:
        """Run ``fn`` in autocommit mode, retried if the connection is lost: only for writes
        that may safely run twice (setting a value, deleting by key)."""
        return await self._run(fn, "autocommit", write=True)

    async def write(self, fn: Work[T], *, verify: Verify[T] | None = None) -> T:
        """Run ``fn`` in one ``READ COMMITTED`` transaction, committed exactly once.

        ``fn`` may run more than once (after a lost connection or a deadlock), so it must not
        have effects outside the database. An exception from it or its result reader rolls
        the transaction back.

        ``verify(connection, result, xmin)`` says whether what the transaction wrote is in the
        database (the rows it wrote carry ``xmin``, its 32-bit transaction id). It is asked in
        the one case the transaction id cannot answer: the server restarted while the
        ``COMMIT`` was under way and the id now reads as committed (after a crash, the id of a
        transaction that never committed may be given to another one). Without ``verify``,
        that case raises :class:`~.errors.StoreUnavailable`.
        """
        return await self._run(fn, "write", write=True, verify=verify)

    async def run_raw(self, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``fn(connection)`` managing its own transactions (retried on a lost connection)."""

        async def work(tx: Transaction) -> Callable[[], Awaitable[T]]:
            result = await fn(tx.conn)
            return lambda: _value(result)

        return await self._run(work, "raw")

    async def _run(
        self, fn: Work[T], mode: Mode, *, write: bool = False, verify: Verify[T] | None = None
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        delay = 0.05
        while True:
            if self.closed:
                raise StoreClosed("the database is closed")
            try:
                result = await self._attempt(fn, mode, deadline, verify)
            except _Retry as retry:
                if loop.time() + delay >= deadline:
                    unavailable = self._unavailable(retry.error)
                    if isinstance(retry.error, PoolTimeout):
                        unavailable = await self._why(unavailable)
                    self._failed(unavailable)
                    raise unavailable from retry.error
                log.debug("retrying after %s: %s", type(retry.error).__name__, retry.error)
                await self._recover()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            except StoreUnavailable as error:
                self._failed(error)
                raise
            if write and self.health is not None:
                self.health.succeeded()
            return result

    async def _attempt(
        self, fn: Work[T], mode: Mode, deadline: float, verify: Verify[T] | None
    ) -> T:
        """One try. Round trips: ``autocommit`` and ``snapshot`` 1, ``write`` 2 (its
        statements, then ``COMMIT``), plus one per :meth:`Transaction.sync` ``fn`` calls."""
        loop = asyncio.get_running_loop()
        xid: tuple[str, Any] | None = None  # (transaction id, when the server started)
        committing = False
        result: Any = None
        try:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PoolTimeout("no time left to get a connection")
            async with self._pool.connection(timeout=remaining) as conn:
                if mode == "raw":
                    return await (await fn(Transaction(conn, None)))()
                async with conn.pipeline() as pipeline:
                    tx = Transaction(conn, pipeline)
                    if mode == "snapshot":
                        await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    elif mode == "write":
                        await conn.execute("BEGIN")
                        xid_cur = await conn.execute(
                            "SELECT pg_current_xact_id()::text, pg_postmaster_start_time()"
                        )
                    reader = await fn(tx)
                    if mode == "write":
                        await pipeline.sync()
                        result = await reader()  # (may refuse: then no COMMIT is sent)
                        row = await xid_cur.fetchone()
                        assert row is not None
                        xid = (row[0], row[1])
                        committing = True
                        await conn.execute("COMMIT")
                    elif mode == "snapshot":
                        await conn.execute("COMMIT")
                # leaving pipeline mode sent what was queued and read every result
                committing = True
                if mode != "write":
                    result = await reader()
                return result
        except StoreError:
            raise
        except psycopg.Error as error:
            if committing and xid is not None and _lost(error):
                outcome = await self._outcome(xid, deadline, verify, result)
                log.info(
                    "the connection to %s broke during a COMMIT; the transaction %s: %s",
                    self.name, xid[0], outcome or "outcome unknown",
                )  # fmt: skip
                if outcome == "committed":
                    return result
                if outcome == "aborted":
                    raise _Retry(error) from error
                raise StoreUnavailable(
                    f"the connection to {self.name} was lost while committing, and whether the "
                    f"change was stored could not be told within {self.timeout:g} s ({error})",
                    reason=str(error),
                ) from error
            if retryable(error):
                raise _Retry(error) from error
            if isinstance(error, (psycopg.IntegrityError, psycopg.DataError)):
                raise StoreError(f"the database refused the request: {error}") from error
            raise self._unavailable(error) from error

    async def _outcome(
        self, xid: tuple[str, Any], deadline: float, verify: Verify[T] | None, result: T
    ) -> str | None:
        """Whether the transaction committed (``committed``, ``aborted``), asked on another
        connection until ``deadline``; None if that cannot be known by then.

        ``pg_xact_status`` answers for certain while the server that ran the transaction is
        still up (ids only move forward). If it restarted meanwhile (a crash), an id that had
        not reached the disk may have been handed out again, so only ``committed`` is in doubt
        there ("aborted", "in progress" or "in the future" all mean ours never committed: had
        it, its id would not have been reused); ``verify`` settles it.
        """
        loop = asyncio.get_running_loop()
        delay = 0.05
        xact, started = xid
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                async with self._pool.connection(timeout=remaining) as conn:
                    try:
                        cur = await conn.execute(
                            "SELECT pg_xact_status(%s::xid8), pg_postmaster_start_time()",
                            (xact,),
                        )
                    except psycopg.errors.InvalidParameterValue:
                        return "aborted"  # "transaction ID ... is in the future": lost in a crash
                    row = await cur.fetchone()
                    assert row is not None
                    status, now_started = row
                    restarted = now_started != started
                    if status == "committed" and restarted:
                        if verify is None:
                            return None
                        mine = await verify(conn, result, int(xact) % 2**32)
                        log.info(
                            "%s restarted during a COMMIT; the rows of transaction %s are %s",
                            self.name, xact, "there" if mine else "not there",
                        )  # fmt: skip
                        return "committed" if mine else None
                    if status == "in progress" and restarted:
                        return "aborted"
                    if status != "in progress":  # (else still running on a connection we lost)
                        return status
            except psycopg.Error as error:
                if not retryable(error):
                    return None
                await self._recover()
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 2, 1.0)

    async def _why(self, unavailable: StoreUnavailable) -> StoreUnavailable:
        """The pool only says it had no connection in time; one direct attempt says why (the
        server is down, the database or the user does not exist, a password is wrong)."""
        try:
            conn = await AsyncConnection.connect(self._pool.conninfo, connect_timeout=5)
        except psycopg.Error as error:
            cause = str(error).strip().splitlines()[0] if str(error).strip() else ""
            if cause:
                return StoreUnavailable(f"{unavailable}: {cause}", reason=cause)
        else:
            await conn.close()
        return unavailable

    async def _recover(self) -> None:
        """After a lost connection: drop the pool's idle connections that are broken too (a
        restarted server broke them all), so the next attempt waits for fresh ones."""
        with contextlib.suppress(Exception):
            await self._pool.check()

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        if isinstance(error, PoolTimeout):
            text = f"cannot reach the PostgreSQL database {self.name} (within {self.timeout:g} s)"
        else:
            text = f"the PostgreSQL database {self.name} failed: {error}"
        return StoreUnavailable(text, reason=str(error) or type(error).__name__)

    def _failed(self, error: BaseException) -> None:
        if self.health is not None:
            self.health.failed(error)
