"""Migrations of the PostgreSQL tables, applied at open, safe when several servers start at once.

The same mechanism as the SQLite side (:mod:`.migrations` there): each component that keeps
tables in the database (the history store now; the file ids and shares when they move to
PostgreSQL) is a :class:`PostgresComponent`, a name and an append-only list of steps, and
``collab_schema_version`` holds one row per component with the number of steps applied. The
components keep the SQLite side's names and version numbers (step N brings the same tables to the
same shape in either dialect), so "persistence version 2" means one thing in both. A database
whose version of a component is higher than this code knows was written by a newer
jupyter-collab: it is refused with :class:`~.errors.SchemaTooNew`, never guessed at.

Why the version table is prefixed here when SQLite's is not: a PostgreSQL database is often
shared with other applications (a JupyterHub's own tables may live in it), and an unprefixed
``schema_version`` is a name others use (Flyway did, for one).

Several servers starting together on an empty database all try to migrate it. Every migration
runs in one transaction that first takes a transaction-level advisory lock (one fixed key for
jupyter-collab): the first server creates the tables while the others wait on the lock, then
find the versions already current and do nothing. DDL is transactional in PostgreSQL, so a
failed migration leaves nothing half made, and the lock is released by the commit or rollback
(never left behind by a server that died holding it: its session ends with it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import SchemaTooNew

if TYPE_CHECKING:
    from psycopg import AsyncConnection

# A step is SQL statements, or a coroutine function of the connection for what SQL cannot say.
Step = Sequence[str] | Callable[["AsyncConnection"], Awaitable[None]]

VERSION_TABLE = "collab_schema_version"
# pg_advisory_xact_lock key: "jcollab" in ASCII, one key for every migration of jupyter-collab.
MIGRATION_LOCK = int.from_bytes(b"jcollab", "big")


@dataclass(frozen=True)
class PostgresComponent:
    """The tables of one module: step N (1-based) brings them from version N-1 to N.

    Append only: never edit a step that was shipped, add one.
    """

    name: str
    steps: tuple[Step, ...]

    @property
    def version(self) -> int:
        return len(self.steps)


def check_version(component: PostgresComponent, current: int) -> None:
    if current > component.version:
        raise SchemaTooNew(
            f"the database has schema version {current} of {component.name!r}, written by a "
            f"newer jupyter-collab; this one knows up to {component.version}"
        )


async def schema_versions(conn: AsyncConnection) -> dict[str, int]:
    """The version of every component recorded in the database (empty for a new database)."""
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,))
    row = await cur.fetchone()
    if not row or not row[0]:
        return {}
    cur = await conn.execute(f"SELECT component, version FROM {VERSION_TABLE}")
    return {name: version for name, version in await cur.fetchall()}


async def migrate(conn: AsyncConnection, *components: PostgresComponent) -> dict[str, int]:
    """Bring every component to its version, in one transaction; their versions after.

    ``conn`` is in autocommit mode (as every connection of the pool is) and idle.
    """
    await conn.execute("BEGIN")
    try:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} "
            "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        known = await schema_versions(conn)
        for component in components:
            current = known.get(component.name, 0)
            check_version(component, current)
            for step in component.steps[current:]:
                if callable(step):
                    await step(conn)
                else:
                    for statement in step:
                        await conn.execute(statement)
            if current != component.version:
                await conn.execute(
                    f"INSERT INTO {VERSION_TABLE} (component, version) VALUES (%s, %s) "
                    "ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
                    (component.name, component.version),
                )
        await conn.execute("COMMIT")
    except BaseException:
        if not conn.broken and not conn.closed:
            with contextlib.suppress(Exception):  # the error that got us here matters more
                await conn.execute("ROLLBACK")
        raise
    return {c.name: c.version for c in components}
