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
Listener = Callable[["StoreHealth"], None]

REPAIR_HINT = "run `jupyter collab check` (with --repair to salvage it into a fresh file)"


def describe(error: BaseException) -> str:
    """What a database error means for a person, with what they can do about it."""
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if isinstance(error, SchemaTooNew):
        return f"{text}: upgrade jupyter-collab, or set CollabApp.db_path to another file"
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


class StoreHealth:
    def __init__(
        self, path: str | None, log: logging.Logger | None = None, *, state: State = "ok"
    ) -> None:
        self.path = path
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

    def unavailable(self, error: BaseException) -> None:
        """The database could not be opened: history stays off for this run."""
        self.state = "unavailable"
        self.error = describe(error)
        self.since = time.time()
        self.log.error(
            "jupyter-collab cannot use its database %s: %s. Documents still open, sync and "
            "save to their files, but history, file ids across restarts and shares are not "
            "available until it is fixed and the server restarted; %s.",
            self.path, self.error, REPAIR_HINT,
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
        self.error = describe(error)
        self.since = time.time()
        self.log.error(
            "jupyter-collab's database %s is failing: %s. Edits keep syncing and are saved to "
            "their files; history is kept in memory and written when the database works again.",
            self.path, self.error,
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
            "history": self.state != "unavailable",
        }
