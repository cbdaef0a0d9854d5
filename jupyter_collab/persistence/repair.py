"""What is wrong with a collaboration database, and salvaging what can be read into a new one.

:func:`check` opens the file read-only and reports: whether it is an SQLite database at all,
SQLite's integrity check, the schema version of each component against what this version knows,
how much it holds, and history waiting in outage logs. :func:`repair` copies every row that can
still be read into a fresh file with the current schema, keeps the damaged file (and its WAL)
aside under a new name and puts the fresh one in its place. The damaged file is never written.

What a repair keeps of each document is what stays consistent: a log with a hole in it would
resume a document without some of its edits, and the next save would write that over the file.
So a document whose log is not complete loses its log, snapshot and merge bases (its next
opening loads its file afresh, the file being the truth); its version points stay when their
chain of deltas is complete. The command line (``jupyter collab check``) is in ``cli/``.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .consistency import broken_chains, start_over
from .migrations import Component, migrate, schema_versions
from .outage import SUFFIX, database_key

HEADER = b"SQLite format 3\x00"
BATCH = 500


@dataclass
class Report:
    """What :func:`check` found. ``problems`` make it fail; ``notes`` are information."""

    path: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    newer: list[str] = field(default_factory=list)  # components written by a newer version

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=5)


def _header(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(100)


def check(
    path: str | Path, components: Sequence[Component], outage_dir: str | Path | None = None
) -> Report:
    """Diagnose the database at ``path`` without changing it."""
    report = Report(Path(path))
    path = report.path
    if not path.exists():
        report.notes.append(f"no database at {path} yet: the first server start creates it")
        return report
    size = path.stat().st_size
    wal = Path(f"{path}-wal")
    report.notes.append(
        f"{path}: {size:,} bytes" + (f", WAL {wal.stat().st_size:,} bytes" if wal.exists() else "")
    )
    if size == 0:
        report.notes.append("the file is empty: the next server start sets it up")
        return report
    header = _header(path)
    if not header.startswith(HEADER):
        report.problems.append(
            "this is not an SQLite database (its first bytes are not SQLite's): it was "
            "overwritten or damaged; --repair keeps it aside and starts a fresh one"
        )
        return report
    page_size = int.from_bytes(header[16:18], "big") or 65536
    pages = int.from_bytes(header[28:32], "big")
    if pages and size < pages * page_size:
        report.problems.append(
            f"the file is truncated: {size:,} bytes where its header says "
            f"{pages * page_size:,}; --repair salvages what is left"
        )
    try:
        conn = _read_only(path)
    except sqlite3.Error as exc:
        report.problems.append(f"cannot open it: {exc}")
        return report
    try:
        _check_open(conn, report, components)
    finally:
        conn.close()
    if outage_dir is not None:
        logs = sorted(Path(outage_dir).glob(f"{database_key(path)}-*{SUFFIX}"))
        if logs:
            total = sum(p.stat().st_size for p in logs)
            report.notes.append(
                f"{len(logs)} outage log(s) ({total:,} bytes) hold history the database refused "
                f"during an outage; the next server start writes it in: {', '.join(map(str, logs))}"
            )
    return report


def _check_open(conn: sqlite3.Connection, report: Report, components: Sequence[Component]) -> None:
    try:
        found = [row[0] for row in conn.execute("PRAGMA integrity_check(20)").fetchall()]
    except sqlite3.Error as exc:
        found = [str(exc)]
    if found != ["ok"]:
        report.problems.append(
            "SQLite's integrity check failed: " + "; ".join(f[:200] for f in found[:5])
            + (" (--repair salvages what can be read)")
        )
    try:
        versions = schema_versions(conn)
    except sqlite3.Error as exc:
        report.problems.append(f"cannot read the schema versions: {exc}")
        return
    for component in components:
        current = versions.get(component.name)
        if current is None:
            report.notes.append(f"{component.name}: no tables yet (created at the next start)")
        elif current > component.version:
            report.newer.append(component.name)
            report.problems.append(
                f"{component.name}: schema version {current}, written by a newer jupyter-collab "
                f"(this one knows up to {component.version}): upgrade jupyter-collab, or point "
                "CollabApp.db_path to another file"
            )
        elif current < component.version:
            report.notes.append(
                f"{component.name}: schema version {current}, migrated to "
                f"{component.version} at the next start"
            )
        else:
            report.notes.append(f"{component.name}: schema version {current} (current)")
    for label, sql in (
        ("documents with history", "SELECT COUNT(*) FROM collab_docs"),
        ("logged updates", "SELECT COUNT(*) FROM collab_updates"),
        ("version points", "SELECT COUNT(*) FROM collab_versions"),
        ("files with ids", "SELECT COUNT(*) FROM collab_files"),
        ("shares", "SELECT COUNT(*) FROM collab_shares"),
        ("notifications", "SELECT COUNT(*) FROM collab_notifications"),
        ("comment threads", "SELECT COUNT(*) FROM collab_comment_threads"),
        ("audit events", "SELECT COUNT(*) FROM collab_audit"),
    ):
        try:
            report.counts[label] = conn.execute(sql).fetchall()[0][0]
        except sqlite3.Error:
            continue


# -- repair ---------------------------------------------------------------------------------------


@dataclass
class Salvage:
    """What :func:`repair` did."""

    damaged_copy: Path
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows kept
    unreadable: dict[str, int] = field(default_factory=dict)  # table -> read errors skipped
    dropped: list[str] = field(default_factory=list)  # what was left out, and why


class RepairRefused(Exception):
    """The database cannot be repaired safely (a newer schema, or it is in use)."""


# Tables and the order they are copied in (rowid tables by rowid; the update log by document).
ROWID_TABLES = (
    "collab_docs", "collab_snapshots", "collab_versions", "collab_audit", "collab_files",
    "file_merge_bases", "collab_shares", "collab_users", "collab_notifications",
    "collab_notification_prefs", "collab_comment_threads", "collab_comments", "collab_refused",
    "collab_mail_batches", "collab_mail_outbox",
)  # fmt: skip


def repair(
    path: str | Path,
    components: Sequence[Component],
    *,
    progress: Callable[[str], None] = lambda message: None,
) -> Salvage:
    """Salvage ``path`` into a fresh database in its place; the damaged file is kept aside."""
    path = Path(path)
    report = check(path, components)
    if report.newer:
        raise RepairRefused(
            "the database was written by a newer jupyter-collab (" + ", ".join(report.newer)
            + "): a repair by this version would lose what it does not know; upgrade instead"
        )
    _refuse_if_in_use(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    fresh = path.with_name(f"{path.name}.repairing")
    for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
        leftover.unlink(missing_ok=True)
    salvage = Salvage(aside)
    target = sqlite3.connect(fresh, isolation_level=None)
    try:
        migrate(target, *components)
        with tempfile.TemporaryDirectory() as tmp:
            source = _readable_copy(path, Path(tmp))
            if source is None:
                salvage.dropped.append("nothing could be read: the new database is empty")
            else:
                try:
                    _copy_all(source, target, salvage, progress)
                finally:
                    source.close()
        target.execute("VACUUM")
    finally:
        target.close()
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            old.rename(Path(f"{aside}{suffix}"))
    fresh.rename(path)
    return salvage


def _refuse_if_in_use(path: Path) -> None:
    """A server writing to the file meanwhile would lose what it writes after the copy."""
    if not _header(path).startswith(HEADER):
        return
    try:
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise RepairRefused(
                "another process is writing to the database: stop the Jupyter servers using it "
                "first"
            ) from None
    except sqlite3.DatabaseError:
        pass  # damaged: nothing to lock


def _readable_copy(path: Path, tmp: Path) -> sqlite3.Connection | None:
    """A copy of the damaged file (and its WAL) that SQLite will read as far as it can.

    A truncated file's header still claims its old size, which makes SQLite refuse even the
    pages that are there: the copy's header says "size unknown", so the file size counts.
    """
    if not _header(path).startswith(HEADER):
        return None
    copy = tmp / "damaged.db"
    shutil.copyfile(path, copy)
    wal = Path(f"{path}-wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{copy}-wal"))
    with open(copy, "r+b") as f:
        f.seek(28)
        f.write(b"\0\0\0\0")
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        conn.execute("SELECT name FROM sqlite_master").fetchall()
    except sqlite3.Error:
        conn.close()
        return None
    return conn


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})").fetchall()]


def _scan(
    conn: sqlite3.Connection, sql: str, key: tuple[Any, ...], errors: list[int]
) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` (ordered by a growing key, ``WHERE key > ?`` last) past unreadable
    pages: on an error, the key jumps ahead (1, 2, 4... further) until reading works again."""
    last = key
    while True:
        try:
            rows = conn.execute(sql, (*last[:-1], last[-1], BATCH)).fetchall()
        except sqlite3.DatabaseError:
            errors[0] += 1
            step, found = 1, None
            while step < 2**40:
                try:
                    found = conn.execute(sql, (*last[:-1], last[-1] + step, BATCH)).fetchall()
                    break
                except sqlite3.DatabaseError:
                    step *= 2
            if found is None:
                return
            rows = found
        if not rows:
            return
        yield from rows
        last = (*last[:-1], rows[-1][0])


def _copy_all(
    source: sqlite3.Connection,
    target: sqlite3.Connection,
    salvage: Salvage,
    progress: Callable[[str], None],
) -> None:
    try:
        present = {row[0] for row in source.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error:
        present = set()
    target.execute("BEGIN")
    for table in ROWID_TABLES:
        if table not in present:
            continue
        wanted = [c for c in _columns(target, table) if c in _columns(source, table)]
        names = ", ".join(wanted)
        errors = [0]
        rows = 0
        for row in _scan(
            source, f"SELECT rowid, {names} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (0,), errors,
        ):  # fmt: skip
            marks = ", ".join("?" * len(wanted))
            target.execute(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})", row[1:])
            rows += 1
        salvage.rows[table] = rows
        if errors[0]:
            salvage.unreadable[table] = errors[0]
        progress(f"{table}: {rows} rows" + (f", {errors[0]} unreadable parts" if errors[0] else ""))
    if "collab_updates" in present:
        _copy_log(source, target, salvage, progress)
    _keep_consistent(target, salvage)
    target.execute("COMMIT")


def _copy_log(
    source: sqlite3.Connection,
    target: sqlite3.Connection,
    salvage: Salvage,
    progress: Callable[[str], None],
) -> None:
    """The update log, document by document (it has no rowid to scan by)."""
    docs = {row[0] for row in target.execute("SELECT doc_id FROM collab_docs")}
    files = [row[0] for row in target.execute("SELECT id FROM collab_files")]
    # Documents whose row in collab_docs was lost may still have a log: try every room id
    # their files can have.
    docs |= {f"{kind}:{f}" for f in files for kind in ("text:file", "json:notebook", "base64:blob")}
    errors = [0]
    rows = 0
    for doc_id in sorted(docs):
        for seq, origin, user, when, data in _scan(
            source,
            "SELECT seq, origin, user, time, data FROM collab_updates "
            "WHERE doc_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (doc_id, 0), errors,
        ):  # fmt: skip
            target.execute(
                "INSERT OR IGNORE INTO collab_updates (doc_id, seq, origin, user, time, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (doc_id, seq, origin, user, when, data),
            )
            rows += 1
    salvage.rows["collab_updates"] = rows
    if errors[0]:
        salvage.unreadable["collab_updates"] = errors[0]
    unreadable = f", {errors[0]} unreadable parts" if errors[0] else ""
    progress(f"collab_updates: {rows} rows{unreadable}")


def _keep_consistent(target: sqlite3.Connection, salvage: Salvage) -> None:
    """Drop what would be wrong rather than incomplete (see the module's docstring)."""
    # Documents with a log but no row: give them one.
    target.execute(
        "INSERT OR IGNORE INTO collab_docs (doc_id, last_seq, created) "
        "SELECT doc_id, MAX(seq), MIN(time) FROM collab_updates GROUP BY doc_id"
    )
    for doc_id, last_seq in target.execute("SELECT doc_id, last_seq FROM collab_docs").fetchall():
        snapshot = target.execute(
            "SELECT upto_seq FROM collab_snapshots WHERE doc_id = ?", (doc_id,)
        ).fetchall()
        start = snapshot[0][0] if snapshot else 0
        seqs = [
            row[0]
            for row in target.execute(
                "SELECT seq FROM collab_updates WHERE doc_id = ? AND seq > ? ORDER BY seq",
                (doc_id, start),
            )
        ]
        top = max([last_seq, start, *seqs])
        if seqs != list(range(start + 1, top + 1)):
            start_over(target.execute, doc_id)
            salvage.dropped.append(
                f"{doc_id}: its log had lost parts; it starts over from its file at the next "
                "opening (its version points stay)"
            )
        elif top != last_seq:
            target.execute("UPDATE collab_docs SET last_seq = ? WHERE doc_id = ?", (top, doc_id))
    # Version points whose chain of deltas lost a link cannot be rebuilt (nor the ones built
    # on them): removed until every remaining chain is complete.
    orphans = broken_chains(target.execute("SELECT id, base_id FROM collab_versions"), ())
    for version_id in sorted(orphans):
        target.execute("DELETE FROM collab_versions WHERE id = ?", (version_id,))
    removed = len(orphans)
    if removed:
        salvage.dropped.append(
            f"{removed} version point(s) whose earlier versions were lost (stored as deltas)"
        )
