"""Writes the database refused, kept durably elsewhere until it takes them.

While the database fails (a read-only file, a damaged page, a lock held too long by another
process) the rooms keep going: their unlogged updates wait in memory for the database to come
back, and the files are saved. A ``kill -9`` in the middle of that would lose what only memory
held: the exact CRDT updates (so clients that kept their documents would, on reconnecting, see
their edits twice next to the same text re-created from the file) and the merge bases of the
saves made meanwhile (so the next start would merge the file over the log as a change, twice).

So each refused write is also appended to an *outage log*: one append-only file per server
process in ``directory`` (JSON lines; a torn last line is skipped), written on a thread of its
own. When the database takes the writes again, the process's log is emptied once nothing is
pending any more; if the process dies first, the next server on the same database replays the
logs of dead processes (:func:`replay`) before it opens any room: each update the database does
not have yet is appended, in order, exactly once (updates it already has are recognised by
their bytes), each merge base newer than the database's is written, each file id is recorded.

This is a best effort on top of the saves: when the outage log cannot be written either (the
disk is full everywhere), the files still hold every edit that anyone saw.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .errors import UnknownDocument
from .model import NewUpdate

log = logging.getLogger(__name__)
SUFFIX = ".outage"


def database_key(db_path: str | Path) -> str:
    """A short name for a database file (or a database URL), the same in every process that
    uses it."""
    name = str(db_path) if "://" in str(db_path) else os.path.realpath(db_path)
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class OutageLog:
    """The outage log of this process for one database."""

    def __init__(self, directory: str | Path, db_path: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"{database_key(db_path)}-{os.getpid()}{SUFFIX}"
        self._fd: int | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collab-outage")
        self._pending: set[tuple[str, str]] = set()  # what is here and not in the database
        self.failed: str | None = None  # why the last write here failed, if it did

    # -- writing ------------------------------------------------------------------------------

    def _open(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            # Held while this process lives: a replay leaves a live process's log alone.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._fd = fd
        return self._fd

    def _write(self, lines: bytes) -> None:
        fd = self._open()
        written = 0
        while written < len(lines):
            written += os.write(fd, lines[written:])

    async def _append(self, key: tuple[str, str], record: dict[str, Any]) -> bool:
        """Append one record; True once the OS has it (a kill -9 cannot undo that)."""
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        try:
            await asyncio.wrap_future(self._writer.submit(self._write, line))
        except Exception as exc:  # (no room here either: the saves still hold every edit)
            if self.failed is None:
                log.error("Cannot keep refused writes in %s either: %s", self.path, exc)
            self.failed = str(exc)
            return False
        self.failed = None
        self._pending.add(key)
        return True

    async def update(self, doc_id: str, entry: NewUpdate, *, after: int, reset: bool) -> bool:
        """An update the log refused; ``after`` is the document's last seq the database had."""
        return await self._append(
            ("doc", doc_id),
            {
                "t": "update", "doc": doc_id, "after": after, "reset": reset,
                "origin": entry.origin, "user": entry.user, "time": entry.time,
                "update": _b64(entry.update),
                # A restore's: who wrote what it brings back (without them a replayed restore
                # would credit the restorer with everyone's text).
                "credits": None if entry.credits is None else list(entry.credits),
                "provenance": None if entry.provenance is None else _b64(entry.provenance),
            },
        )  # fmt: skip

    async def base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool, fresh: bool, written: int
    ) -> bool:
        """A merge base the database refused."""
        return await self._append(
            ("base", file_id),
            {
                "t": "base", "file": file_id, "pending": pending, "fresh": fresh,
                "digest": digest, "written": written, "state": _b64(state),
            },
        )  # fmt: skip

    async def file_id(self, root: str, path: str, file_id: str) -> bool:
        """A file id given while the database refused to record it."""
        return await self._append(
            ("file", f"{root}\0{path}"), {"t": "file", "root": root, "path": path, "id": file_id}
        )

    def settled(self, kind: str, key: str) -> None:
        """The database now has what was kept here for ``(kind, key)``; once nothing is left,
        the log is emptied."""
        self._pending.discard((kind, key))
        if not self._pending and self._fd is not None:
            with contextlib.suppress(RuntimeError):  # (closed)
                self._writer.submit(os.ftruncate, self._fd, 0)

    async def close(self) -> None:
        """Stop writing; the file stays if something in it is still pending (for a replay)."""

        def run() -> None:
            if self._fd is not None:
                if not self._pending:
                    self.path.unlink(missing_ok=True)
                os.close(self._fd)
                self._fd = None

        try:
            await asyncio.wrap_future(self._writer.submit(run))
        finally:
            self._writer.shutdown(wait=False)


# -- replaying the logs of processes that died ---------------------------------------------------


class _Store(Protocol):
    async def read(self, doc_id: str, after_seq: int = 0) -> list[Any]: ...

    async def append_many(self, doc_id: str, entries: Any) -> list[int]: ...

    async def reset(self, doc_id: str, entry: NewUpdate) -> int: ...


class _Bases(Protocol):
    async def restore_base(
        self, file_id: str, state: bytes, digest: str, *, pending: bool, fresh: bool,
        written: int,
    ) -> None: ...  # fmt: skip

    async def restore_id(self, root: str, path: str, file_id: str) -> None: ...


@dataclass
class Replayed:
    files: list[Path] = field(default_factory=list)
    updates: int = 0
    skipped: int = 0  # already in the database
    bases: int = 0
    ids: int = 0


def _records(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_bytes().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:  # a line torn by the crash: it was never acknowledged
            continue
    return records


def _orphans(directory: Path, db_path: str | Path) -> list[tuple[Path, int]]:
    """Outage logs of this database whose process is gone, each with its lock held."""
    found = []
    for path in sorted(directory.glob(f"{database_key(db_path)}-*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live server's
            os.close(fd)
            continue
        found.append((path, fd))
    return found


async def replay(
    directory: str | Path, db_path: str | Path, store: _Store, ids: _Bases
) -> Replayed:
    """Write what dead processes kept in their outage logs into the database (at start).

    Raises what the database raises (the logs are then kept for the next start).
    """
    done = Replayed()
    directory = Path(directory)
    if not directory.is_dir():
        return done
    for path, fd in _orphans(directory, db_path):
        try:
            records = await asyncio.to_thread(_records, path)
            for record in records:
                if record.get("t") == "file":
                    await ids.restore_id(record["root"], record["path"], record["id"])
                    done.ids += 1
            for record in records:
                if record.get("t") == "base":
                    await ids.restore_base(
                        record["file"], base64.b64decode(record["state"]), record["digest"],
                        pending=record["pending"], fresh=record["fresh"],
                        written=record["written"],
                    )  # fmt: skip
                    done.bases += 1
            by_doc: dict[str, list[dict[str, Any]]] = {}
            for record in records:
                if record.get("t") == "update":
                    by_doc.setdefault(record["doc"], []).append(record)
            for doc_id, updates in by_doc.items():
                written, skipped = await _replay_updates(store, doc_id, updates)
                done.updates += written
                done.skipped += skipped
            path.unlink()
            done.files.append(path)
        finally:
            os.close(fd)
    return done


async def _replay_updates(
    store: _Store, doc_id: str, records: list[dict[str, Any]]
) -> tuple[int, int]:
    after = min(r["after"] for r in records)
    try:
        present = {e.update for e in await store.read(doc_id) if e.seq > after}
    except UnknownDocument:
        present = set()
    written = skipped = 0
    for record in records:
        update = base64.b64decode(record["update"])
        if update in present:
            skipped += 1
            continue
        credits, provenance = record.get("credits"), record.get("provenance")
        entry = NewUpdate(
            update, record["origin"], record["user"], record["time"],
            None if credits is None else tuple(credits),
            None if provenance is None else base64.b64decode(provenance),
        )  # fmt: skip
        if record["reset"]:
            await store.reset(doc_id, entry)
        else:
            await store.append_many(doc_id, [entry])
        present.add(update)
        written += 1
    return written, skipped
