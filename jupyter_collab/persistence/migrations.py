"""One migration mechanism for every table of the collaboration database.

The database file holds the tables of several components (the history store, the file ids
and merge bases, the sharing tables). Each component declares its tables as a
:class:`Component`: a name and an append-only list of migration steps. ``schema_version`` has
one row per component with the number of steps applied, so each component moves forward on its
own and never touches the others' tables. A database whose version of a component is higher
than this code knows (written by a newer jupyter-collab) is refused with
:class:`~.errors.SchemaTooNew` rather than guessed at.

A step is a list of SQL statements, or a function of the connection for what SQL alone cannot
say (adopting rows of an older, unversioned layout). Every step of every pending component runs
in one transaction: a database is never left half migrated.

Issue 9 adds PostgreSQL: its components keep the same names and versions with statements in
its own dialect, so one ``schema_version`` table means the same thing in both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import SchemaTooNew

Step = Sequence[str] | Callable[[sqlite3.Connection], None]

VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version "
    "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)


@dataclass(frozen=True)
class Component:
    """The tables of one module: migration N (1-based) brings them from version N-1 to N.

    Append only: never edit a step that was shipped, add one.
    """

    name: str
    steps: tuple[Step, ...]

    @property
    def version(self) -> int:
        return len(self.steps)


def schema_versions(db: sqlite3.Connection) -> dict[str, int]:
    """The version of every component recorded in the database (empty for a new file)."""
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchall()
    if not exists:
        return {}
    return dict(db.execute("SELECT component, version FROM schema_version").fetchall())


def check_version(component: Component, current: int) -> None:
    if current > component.version:
        raise SchemaTooNew(
            f"the database has schema version {current} of {component.name!r}, written by a "
            f"newer jupyter-collab; this one knows up to {component.version}"
        )


def migrate(db: sqlite3.Connection, *components: Component) -> dict[str, int]:
    """Bring every component to its version, in one transaction; their versions after.

    ``db`` is in autocommit mode (``isolation_level=None``), as every connection of
    :class:`~.database.SQLiteDatabase` is.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(VERSION_TABLE)
        known = schema_versions(db)
        for component in components:
            current = known.get(component.name, 0)
            check_version(component, current)
            for step in component.steps[current:]:
                if callable(step):
                    step(db)
                else:
                    for statement in step:
                        db.execute(statement)
            if current != component.version:
                db.execute(
                    "INSERT OR REPLACE INTO schema_version (component, version) VALUES (?, ?)",
                    (component.name, component.version),
                )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return {c.name: c.version for c in components}
