"""What the server knows about its database, said once per change, in the log and to clients.

A database is ``ok``, ``failing`` (it was opened, but operations fail now: a read-only file, a
full disk, a lock held too long by another process; edits keep syncing and saving to their files
and history catches up when it works again), ``damaged`` (it works, but its integrity check
found damage: some history may be unreadable until it is repaired) or ``unavailable`` (it could
not be opened at start: damaged, written by a newer version, no writable folder; history is off
until it is repaired and the server restarted). ``memory`` means the deployment keeps history
in memory on purpose (``db_path`` empty).

Every database operation reports here; only changes of state are logged, so an outage is one
error line (and one line when it ends), not one per failed write.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, Literal

from ..timestamps import iso
from .errors import SchemaTooNew

State = Literal["ok", "failing", "damaged", "unavailable", "memory"]
Engine = Literal["sqlite", "postgresql"]
Listener = Callable[["StoreHealth"], None]

REPAIR_HINT = "run `jupyter collab check` (with --repair to salvage it into a fresh file)"
# PostgreSQL keeps its own files sound (WAL, checksums): what goes wrong from a Jupyter server
# is reaching it, logging in, rights and space, which its own tools and log tell best. An SQLite
# salvage (`check --repair` copies what it can read into a fresh file) means nothing there.
PG_RETRY_HINT = (
    "the server keeps retrying and writes the history it keeps meanwhile once PostgreSQL "
    "answers; check that PostgreSQL runs and accepts this server (`pg_isready -d "
    "<database_url>`), and its log"
)
PG_START_HINT = (
    "check that PostgreSQL runs and accepts this server (`pg_isready -d <database_url>`), "
    "that database_url's user may log in and create tables in that database, and "
    "PostgreSQL's log; then restart this server (the other servers of the group are not "
    "affected)"
)


def hint(engine: Engine, state: State) -> str | None:
    """What a deployer can do about ``state`` of a store of ``engine`` (None when nothing)."""
    if state in ("ok", "memory"):
        return None
    if engine == "postgresql":
        return PG_START_HINT if state == "unavailable" else PG_RETRY_HINT
    return REPAIR_HINT


def describe(error: BaseException, engine: Engine = "sqlite") -> str:
    """What a database error means for a person, with what they can do about it."""
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if isinstance(error, SchemaTooNew):
        setting = "database_url to another database" if engine == "postgresql" else (
            "db_path to another file"
        )
        return f"{text}: upgrade jupyter-collab, or set CollabApp.{setting}"
    if engine == "postgresql":
        return _describe_postgres(text, lowered)
    if "readonly" in lowered or "read-only" in lowered:
        return f"the database is read-only ({text}): make the file and its folder writable"
    if "disk i/o error" in lowered:
        return (
            f"the database file cannot be written ({text}): check that it and its folder are "
            "writable and that the disk works"
        )
    if "full" in lowered:
        return f"the disk holding the database is full ({text}): free some space"
    if "locked" in lowered or "busy" in lowered:
        return f"another process keeps the database locked ({text})"
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return f"the database file is damaged ({text}): {REPAIR_HINT}"
    if isinstance(error, sqlite3.OperationalError) and "unable to open" in lowered:
        return f"cannot open the database file ({text}): does its folder exist and is it writable?"
    if isinstance(error, OSError):
        return f"cannot use the database file ({text})"
    return text


def _describe_postgres(text: str, lowered: str) -> str:
    """:func:`describe` for PostgreSQL (psycopg's and the server's messages)."""
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return (
            f"PostgreSQL refused the login ({text}): check the user and password of "
            "CollabApp.database_url (or the server's ~/.pgpass)"
        )
    if "does not exist" in lowered and "database" in lowered:
        return f"the PostgreSQL database does not exist ({text}): create it (createdb) first"
    if "permission denied" in lowered or "must be owner" in lowered:
        return (
            f"database_url's PostgreSQL user lacks rights ({text}): it needs to create tables "
            "in its schema (GRANT CREATE, USAGE ON SCHEMA ...) and write them"
        )
    if "read-only transaction" in lowered or "recovery is in progress" in lowered:
        return (
            f"PostgreSQL accepts no writes ({text}): database_url points at a standby or a "
            "database set read-only; point it at the primary"
        )
    if "no space left" in lowered or "could not extend" in lowered or "disk full" in lowered:
        return f"the disk of the PostgreSQL server is full ({text}): free space there"
    if "too many" in lowered and "client" in lowered:
        return (
            f"PostgreSQL has no connection left ({text}): raise its max_connections or use a "
            "pooler (PgBouncer in session mode)"
        )
    if "cannot reach" in lowered:
        return text  # (ours, already says so)
    if (
        "connection" in lowered
        or "could not translate host" in lowered
        or "timeout" in lowered
        or "terminating" in lowered
    ):
        return f"cannot reach PostgreSQL ({text}): is it running and reachable from here?"
    return f"PostgreSQL failed: {text}"


class StoreHealth:
    def __init__(
        self,
        path: str | None,
        log: logging.Logger | None = None,
        *,
        state: State = "ok",
        engine: Engine = "sqlite",
    ) -> None:
        self.path = path
        self.engine: Engine = engine
        self.log = log or logging.getLogger("jupyter_collab.store")
        self.state: State = state
        self.error: str | None = None
        self.since: float | None = None
        self.failures = 0  # failed operations in the current outage
        self._listeners: list[Listener] = []

    @property
    def ok(self) -> bool:
        """Whether writes are expected to work (in memory counts: nothing to fail)."""
        return self.state in ("ok", "memory")

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change of state; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @property
    def help(self) -> str | None:
        """What to do about the current state, for this store's engine (None when fine)."""
        return hint(self.engine, self.state)

    def unavailable(self, error: BaseException) -> None:
        """The database could not be opened: history stays off for this run."""
        self.state = "unavailable"
        self.error = describe(error, self.engine)
        self.since = time.time()
        self.log.error(
            "jupyter-collab cannot use its database %s: %s. Documents still open, sync and "
            "save to their files, but history, file ids across restarts and shares are not "
            "available until it is fixed and the server restarted; %s.",
            self.path, self.error, self.help,
        )  # fmt: skip
        self._changed()

    def damaged(self, problem: str) -> None:
        """The integrity check found damage: said until the server restarts on a sound file."""
        self.state = "damaged"
        self.error = f"the database file is damaged ({problem}): {REPAIR_HINT}"
        self.since = time.time()
        self.log.error(
            "jupyter-collab's database %s is damaged: %s. Edits keep syncing and saving; some "
            "history may be unreadable; %s.", self.path, problem, REPAIR_HINT,
        )  # fmt: skip
        self._changed()

    def failed(self, error: BaseException) -> None:
        """An operation failed for a reason of the database (not a bad request)."""
        if self.state in ("unavailable", "memory", "damaged"):
            self.failures += 1
            return
        self.failures += 1
        if self.state == "failing":
            return
        self.state = "failing"
        self.error = describe(error, self.engine)
        self.since = time.time()
        self.log.error(
            "jupyter-collab's database %s is failing: %s. Edits keep syncing and are saved to "
            "their files; history is kept in memory and written when the database works again"
            "%s.", self.path, self.error,
            f"; {self.help}" if self.engine == "postgresql" else "",
        )  # fmt: skip
        self._changed()

    def succeeded(self) -> None:
        """A write went through: the database works (again)."""
        if self.state != "failing":
            return
        self.log.warning(
            "jupyter-collab's database %s works again after %d failed operations in %.0f s.",
            self.path, self.failures, time.time() - (self.since or time.time()),
        )  # fmt: skip
        self.state = "ok"
        self.error = None
        self.since = None
        self.failures = 0
        self._changed()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:
                self.log.exception("A store health listener failed")

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "ok": self.ok,
            "error": self.error,
            "since": iso(self.since) if self.since is not None else None,
            "path": self.path,
            "engine": self.engine,
            "history": self.state != "unavailable",
        }
