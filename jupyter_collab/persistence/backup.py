"""Backups of the whole collaboration store, and loading one into an empty store.

**One backup format for both engines: an SQLite database file** with the SQLite schema of every
component (``tables.py``) plus a ``collab_backup_info`` table saying what it is a backup of.
So a backup can be checked with ``jupyter collab check --db FILE``, opened by a server as its
``db_path``, and imported into either engine.

- **SQLite store**: SQLite's online backup API (``sqlite3.Connection.backup``) copies the pages
  of a consistent read while servers keep writing (WAL: writers are not blocked). It copies in
  steps for the progress bar; when a server's write restarts the copy too often it copies the
  rest in one step (one read transaction), which always finishes.
- **PostgreSQL store**: a logical export of our tables (every ``collab_*`` table), read in one
  ``REPEATABLE READ READ ONLY`` transaction (every table at the same instant, writers never
  blocked) and written as rows of the SQLite schema (``user_name`` -> ``user``, JSONB -> JSON
  text, booleans -> 0/1).

:func:`import_backup` copies the rows of a backup into a store whose tables hold no row (or, with
``force``, whose rows it deletes first), in one transaction: ids (versions, audit events,
notifications) are kept, and PostgreSQL's identity sequences moved past them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from .catalog import PG_COLUMNS, PG_TABLES, Catalog
from .migrations import Component, migrate, schema_versions

INFO_TABLE = "collab_backup_info"
SKIP = {"schema_version", INFO_TABLE}
BATCH = 500
STEP_PAGES = 1024
MAX_RESTARTS = 3

Progress = Callable[[int, int], None]  # (done, total) in rows or pages


class BackupError(Exception):
    """The backup or import cannot be made (says why)."""


@dataclass
class BackupInfo:
    source: str
    engine: str
    created: float
    version: str
    rows: dict[str, int] = field(default_factory=dict)


def _info_rows(info: BackupInfo) -> list[tuple[str, str]]:
    return [
        ("source", info.source), ("engine", info.engine), ("created", repr(info.created)),
        ("jupyter_collab", info.version), ("rows", json.dumps(info.rows)),
    ]  # fmt: skip


def _write_info(conn: sqlite3.Connection, info: BackupInfo) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {INFO_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute(f"DELETE FROM {INFO_TABLE}")
    conn.executemany(f"INSERT INTO {INFO_TABLE} VALUES (?, ?)", _info_rows(info))


def read_info(path: str | Path) -> BackupInfo | None:
    """What a backup file says of itself (None: an SQLite database that is not a backup)."""
    conn = _open_backup(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if INFO_TABLE not in tables:
            return None
        values = dict(conn.execute(f"SELECT key, value FROM {INFO_TABLE}").fetchall())
    finally:
        conn.close()
    return BackupInfo(
        values.get("source", "?"), values.get("engine", "?"), float(values.get("created", 0)),
        values.get("jupyter_collab", "?"), json.loads(values.get("rows", "{}")),
    )  # fmt: skip


def _count_rows(conn: sqlite3.Connection) -> dict[str, int]:
    tables = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        if not r[0].startswith("sqlite_") and r[0] not in SKIP
    ]
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def _fresh_target(path: Path, overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise BackupError(f"{path} exists already (choose another name, or --overwrite)")
    if not path.parent.exists():
        raise BackupError(f"the folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        leftover.unlink(missing_ok=True)
    return tmp


# -- backup -----------------------------------------------------------------------------------


def backup_sqlite(
    db_path: str | Path, target: str | Path, *, progress: Progress | None = None,
    overwrite: bool = False,
) -> BackupInfo:  # fmt: skip
    """A consistent copy of the SQLite database at ``db_path`` (servers may be writing)."""
    source_path, target = Path(db_path), Path(target)
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}")
    tmp = _fresh_target(target, overwrite)
    source = sqlite3.connect(f"file:{source_path.absolute()}?mode=ro", uri=True, timeout=30)
    try:
        dest = sqlite3.connect(tmp, isolation_level=None)
        try:
            _online_copy(source, dest, progress)
            dest.execute("PRAGMA journal_mode=DELETE")
            info = BackupInfo(str(source_path.absolute()), "sqlite", time.time(), __version__)
            info.rows = _count_rows(dest)
            _write_info(dest, info)
            problems = dest.execute("PRAGMA quick_check").fetchall()
            if problems != [("ok",)]:
                raise BackupError(f"the copy does not check out: {problems[:3]}")
        finally:
            dest.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    return info


class _Restarted(Exception):
    pass


def _online_copy(
    source: sqlite3.Connection, dest: sqlite3.Connection, progress: Progress | None
) -> None:
    """SQLite's online backup in steps; in one step after too many restarts (each write by
    another connection to the source restarts a stepped copy, under constant typing maybe
    forever; one step holds one read transaction and always finishes)."""
    restarts = 0
    last_remaining: list[int | None] = [None]

    def step(status: int, remaining: int, total: int) -> None:
        nonlocal restarts
        if last_remaining[0] is not None and remaining > last_remaining[0]:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise _Restarted
        last_remaining[0] = remaining
        if progress is not None:
            progress(total - remaining, total)

    try:
        source.backup(dest, pages=STEP_PAGES, progress=step)
    except _Restarted:
        source.backup(dest, pages=-1)
        if progress is not None:
            pages = dest.execute("PRAGMA page_count").fetchone()[0]
            progress(pages, pages)


def backup_postgres(
    url: str, target: str | Path, components: tuple[Component, ...], *,
    progress: Progress | None = None, overwrite: bool = False,
) -> BackupInfo:  # fmt: skip
    """A logical export of our PostgreSQL tables, at one instant, as an SQLite backup file."""
    target = Path(target)
    tmp = _fresh_target(target, overwrite)
    try:
        with Catalog(url=url) as catalog:
            dest = sqlite3.connect(tmp, isolation_level=None)
            try:
                migrate(dest, *components)
                known = {c.name: c.version for c in components}
                with catalog.conn.transaction():
                    catalog.conn.execute(
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                    )
                    versions = catalog.schema_versions()
                    newer = [n for n, v in versions.items() if v > known.get(n, v)]
                    if newer:
                        raise BackupError(
                            "the database was written by a newer jupyter-collab "
                            f"({', '.join(newer)}): back it up with that version"
                        )
                    _copy_tables(catalog, dest, progress)
                info = BackupInfo(catalog.where, "postgres", time.time(), __version__)
                info.rows = _count_rows(dest)
                _write_info(dest, info)
            finally:
                dest.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return info


def _copy_tables(catalog: Catalog, dest: sqlite3.Connection, progress: Progress | None) -> None:
    """Every table the source and the SQLite schema both have, rows by rows (SQLite names)."""
    source_tables = catalog.tables()
    dest_tables = {
        r[0]: [c[1] for c in dest.execute(f"PRAGMA table_info({r[0]})")]
        for r in dest.execute("SELECT name FROM sqlite_master WHERE type='table'")
        if not r[0].startswith("sqlite_") and r[0] not in SKIP
    }
    tables = sorted(t for t in dest_tables if t in source_tables)
    counts = {t: catalog.rows(f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}
    total, done = sum(counts.values()), 0
    dest.execute("BEGIN")
    for table in tables:
        columns = [c for c in dest_tables[table] if c in source_tables[table]]
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        batch: list[tuple[Any, ...]] = []
        for row in catalog.stream(f"SELECT {names} FROM {table}"):
            batch.append(tuple(_to_sqlite(v) for v in row))
            if len(batch) >= BATCH:
                dest.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", batch)
                done += len(batch)
                batch = []
                if progress is not None:
                    progress(done, total)
        if batch:
            dest.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", batch)
            done += len(batch)
        if progress is not None:
            progress(done, total)
    dest.execute("COMMIT")


def _to_sqlite(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


# -- import -----------------------------------------------------------------------------------


def _open_backup(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    if not path.exists():
        raise BackupError(f"no file at {path}")
    with open(path, "rb") as f:
        if not f.read(16).startswith(b"SQLite format 3\x00"):
            raise BackupError(f"{path} is not a jupyter-collab backup (not an SQLite file)")
    return sqlite3.connect(f"file:{path.absolute()}?mode=ro", uri=True, isolation_level=None)


def store_rows(catalog: Catalog) -> dict[str, int]:
    """Rows in each of our tables of a store (to tell an empty one)."""
    return {
        table: catalog.rows(f"SELECT COUNT(*) FROM {table}")[0][0]
        for table in catalog.tables()
        if table not in SKIP
    }


@dataclass
class Imported:
    rows: dict[str, int]
    replaced: dict[str, int]  # rows deleted first (--force)


def import_backup(
    path: str | Path, *, db_path: str = "", url: str = "", components: tuple[Any, ...],
    force: bool = False, progress: Progress | None = None,
) -> Imported:  # fmt: skip
    """Copy a backup's rows into the store at ``db_path`` (SQLite) or ``url`` (PostgreSQL),
    whose tables exist (migrated to this version) and must be empty unless ``force``."""
    source = _open_backup(path)
    try:
        try:
            backup_versions = schema_versions(source)
        except sqlite3.DatabaseError as error:
            raise BackupError(f"{path} cannot be read: {error}") from None
        if not backup_versions:
            raise BackupError(f"{path} is not a jupyter-collab backup (no schema versions)")
        known = {c.name: c.version for c in components}
        newer = [n for n, v in backup_versions.items() if v > known.get(n, v)]
        if newer:
            raise BackupError(
                f"the backup was made by a newer jupyter-collab ({', '.join(newer)}): import "
                "it with that version"
            )
        problems = source.execute("PRAGMA quick_check").fetchall()
        if problems != [("ok",)]:
            raise BackupError(f"the backup is damaged: {problems[:3]} (see `jupyter collab check`)")
        with Catalog(db_path=db_path, url=url, write=True) as target:
            present = store_rows(target)
            busy = {t: n for t, n in present.items() if n}
            if busy and not force:
                raise BackupError(
                    "the store is not empty ("
                    + ", ".join(f"{t}: {n}" for t, n in busy.items())
                    + "): import into an empty store, or --force to replace what it holds"
                )
            return _copy_in(source, target, busy, progress)
    finally:
        source.close()


def _copy_in(
    source: sqlite3.Connection, target: Catalog, replace: dict[str, int],
    progress: Progress | None,
) -> Imported:  # fmt: skip
    source_tables = {
        r[0]: [c[1] for c in source.execute(f"PRAGMA table_info({r[0]})")]
        for r in source.execute("SELECT name FROM sqlite_master WHERE type='table'")
        if not r[0].startswith("sqlite_") and r[0] not in SKIP
    }
    target_tables = target.tables()
    tables = sorted(t for t in source_tables if t in target_tables)
    counts = {t: source.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    total, done = sum(counts.values()), 0
    pg = target.engine == "postgres"
    types, identity = _pg_types(target) if pg else ({}, set())
    conn = target.conn
    rows: dict[str, int] = {}

    def run() -> None:
        nonlocal done
        for table in replace:
            target.execute(f"DELETE FROM {table}")
        for table in tables:
            columns = [c for c in source_tables[table] if c in target_tables[table]]
            names = ", ".join(columns)
            pg_table = PG_TABLES.get(table, table)
            pg_names = ", ".join(PG_COLUMNS.get(c, c) for c in columns)
            generated = [c for c in columns if (pg_table, PG_COLUMNS.get(c, c)) in identity]
            overriding = " OVERRIDING SYSTEM VALUE" if generated else ""
            if pg:
                insert = (
                    f"INSERT INTO {pg_table} ({pg_names}){overriding} VALUES "
                    f"({', '.join(['%s'] * len(columns))})"
                )
            else:
                insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
            kinds = [types.get((pg_table, PG_COLUMNS.get(c, c))) for c in columns]
            cursor = source.execute(f"SELECT {names} FROM {table}")
            rows[table] = 0
            while chunk := cursor.fetchmany(BATCH):
                if pg:
                    chunk = [tuple(_to_pg(v, k) for v, k in zip(row, kinds, strict=True))
                             for row in chunk]  # fmt: skip
                    with conn.cursor() as cur:
                        cur.executemany(insert, chunk)
                else:
                    conn.executemany(insert, chunk)
                rows[table] += len(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            for column in generated:  # later inserts go on after the imported ids
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{pg_table}', '{column}'), "
                    f"COALESCE((SELECT MAX({column}) FROM {pg_table}), 0) + 1, false)"
                )
        if progress is not None:
            progress(total, total)

    if pg:
        with conn.transaction():
            run()
    else:
        conn.execute("BEGIN IMMEDIATE")
        try:
            run()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return Imported(rows, replace)


def _pg_types(target: Catalog) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
    """Each column's type, and the identity columns (their ids are kept on import)."""
    rows = target.conn.execute(
        "SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name LIKE 'collab%'"
    ).fetchall()
    types = {(table, column): kind for table, column, kind, _ in rows}
    return types, {(table, column) for table, column, _, ident in rows if ident == "YES"}


def _to_pg(value: Any, kind: str | None) -> Any:
    if value is None:
        return None
    if kind == "jsonb":
        from psycopg.types.json import Jsonb

        return Jsonb(json.loads(value) if isinstance(value, str) else value)
    if kind == "boolean":
        return bool(value)
    return value
