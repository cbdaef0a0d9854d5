"""``jupyter collab backup FILE`` and ``jupyter collab import FILE`` (``persistence/backup.py``)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from typing import Any

from traitlets import Bool

from ..persistence.backup import BackupError, import_backup, read_info
from ..persistence.catalog import Catalog
from ..persistence.migrations import migrate
from ..tables import COMPONENTS
from .base import FLAGS, OK, CollabCommandBase, CommandError, Where, size, when


def _bar_updater(bar: Any) -> Any:
    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update


class BackupApp(CollabCommandBase):
    name = "jupyter-collab-backup"
    description = """Back up the whole store (history, versions, audit, file ids, shares) to
    FILE, consistent while servers keep running: SQLite's online backup API for db_path, a
    logical export in one snapshot for database_url. FILE is an SQLite database either way
    (`jupyter collab check --db FILE` checks it; `jupyter collab import FILE` loads it)."""
    examples = """
    jupyter collab backup /backups/collab-$(date +%F).db
    jupyter collab backup collab.db --json
    """

    overwrite = Bool(False, config=True, help="Replace FILE if it exists.")
    flags = {
        **FLAGS,
        "overwrite": ({"BackupApp": {"overwrite": True}}, "Replace FILE if it exists."),
    }

    def run(self) -> int:
        (target,) = self.positional("file")
        where = self.where()
        from ..persistence.backup import backup_postgres, backup_sqlite

        try:
            if where.url:
                with self.progress(None, "exporting", "row") as bar:
                    info = backup_postgres(
                        where.url, target, COMPONENTS, progress=_bar_updater(bar),
                        overwrite=self.overwrite,
                    )  # fmt: skip
            else:
                with self.progress(None, "copying", "page") as bar:
                    info = backup_sqlite(
                        where.db_path, target, progress=_bar_updater(bar),
                        overwrite=self.overwrite,
                    )  # fmt: skip
        except BackupError as error:
            raise CommandError(str(error)) from None
        except (OSError, sqlite3.Error) as error:
            raise CommandError(f"the backup failed: {error}") from None
        except Exception as error:  # psycopg's errors (an unreachable PostgreSQL...)
            raise CommandError(f"the backup of {where.shown} failed: {error}") from None
        bytes_ = os.path.getsize(target)
        if self.json:
            self.emit({"file": os.path.abspath(target), "source": info.source,
                       "engine": info.engine, "bytes": bytes_, "rows": info.rows})  # fmt: skip
            return OK
        print(f"Backed up {where.shown} to {target} ({size(bytes_)}):")
        print("  " + ", ".join(f"{t}: {n:,}" for t, n in info.rows.items() if n) or "  (empty)")
        return OK


class ImportApp(CollabCommandBase):
    name = "jupyter-collab-import"
    description = """Load a backup (made by `jupyter collab backup`, from SQLite or PostgreSQL)
    into the configured store (db_path, or database_url), which must be empty: an existing
    store is refused unless --force (which replaces everything it holds). Stop the servers
    using the store first."""
    examples = """
    jupyter collab import /backups/collab-2026-11-25.db
    jupyter collab import collab.db --database-url postgresql://collab@db/collab
    """

    force = Bool(False, config=True, help="Replace what a non-empty store holds.")
    flags = {
        **FLAGS,
        "force": ({"ImportApp": {"force": True}}, "Replace what a non-empty store holds."),
    }

    def run(self) -> int:
        (source,) = self.positional("file")
        where = self.where()
        if not os.path.exists(source):
            raise CommandError(f"no file at {source}")
        try:
            info = read_info(source)
            self._prepare(where)
            with self.progress(None, "importing", "row") as bar:
                done = import_backup(
                    source, db_path=where.db_path if not where.url else "", url=where.url,
                    components=COMPONENTS, force=self.force, progress=_bar_updater(bar),
                )  # fmt: skip
        except BackupError as error:
            raise CommandError(str(error)) from None
        except (OSError, sqlite3.Error) as error:
            raise CommandError(f"the import failed: {error}") from None
        if self.json:
            self.emit({"file": os.path.abspath(source), "store": where.shown,
                       "backupOf": info.source if info else None,
                       "backupTime": info.created if info else None,
                       "rows": done.rows, "replaced": done.replaced})  # fmt: skip
            return OK
        if info is not None:
            print(
                f"Backup of {info.source} made {when(info.created)} (jupyter-collab {info.version})"
            )
        print(f"Imported into {where.shown}:")
        print("  " + ", ".join(f"{t}: {n:,}" for t, n in done.rows.items() if n) or "  (empty)")
        if done.replaced:
            print("  replaced: " + ", ".join(f"{t}: {n:,}" for t, n in done.replaced.items()))
        return OK

    def _prepare(self, where: Where) -> None:
        """The store's tables, created or brought to this version as a server would."""
        if where.url:
            from ..persistence.pgdatabase import PostgresDatabase
            from ..pgstores import COMPONENTS as PG_COMPONENTS

            async def ready() -> None:
                database = PostgresDatabase(where.url, timeout=30, min_size=1, max_size=1)
                try:
                    await database.ready(*PG_COMPONENTS)
                finally:
                    await database.close()

            try:
                asyncio.run(ready())
            except Exception as error:
                raise CommandError(f"cannot prepare {where.shown}: {error}") from None
            return
        os.makedirs(os.path.dirname(os.path.abspath(where.db_path)), exist_ok=True)
        conn = sqlite3.connect(where.db_path, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            migrate(conn, *COMPONENTS)
        finally:
            conn.close()
        Catalog(db_path=where.db_path).close()
