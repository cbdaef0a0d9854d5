"""The stores of a server that shares its documents: history, file ids and shares in PostgreSQL.

``CollabApp.database_url`` chooses them (``tables.py`` lists the SQLite side's). Every component
is migrated by one mechanism (:mod:`.persistence.pgmigrations`), and every one of them goes
through one :class:`~.persistence.pgdatabase.PostgresDatabase` (one connection pool per server).

Start-up is synchronous and runs before the server's event loop serves, and an asyncio
connection pool belongs to the loop it was opened on; so :func:`prepare` reaches the database,
migrates it and reads the shares on a database object of its own (in ``run_blocking``'s loop,
closed after), and the server's pool opens on the server's loop at its first use.

Importing this module needs psycopg 3 and psycopg_pool (``pip install 'jupyter-collab[postgres]'``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .comments.postgres import COMPONENT as COMMENTS
from .comments.postgres import PostgresCommentStore
from .documents.pgfileids import COMPONENT as FILES
from .documents.pgfileids import PostgresFileIds
from .persistence.outage import OutageLog, Replayed, replay
from .persistence.pgdatabase import PostgresDatabase, masked
from .persistence.pgmigrations import PostgresComponent
from .persistence.pgschema import COMPONENT as HISTORY
from .persistence.postgres import PostgresStore
from .persistence.store import DocumentStore
from .sharing.postgres import COMPONENT as SHARING
from .sharing.postgres import PostgresShareStore
from .sharing.service import Sharing
from .sharing.store import Share

__all__ = [
    "COMPONENTS", "PostgresStores", "load_into", "masked", "open_stores", "outage_key", "prepare",
    "root_name",
]

COMPONENTS: tuple[PostgresComponent, ...] = (HISTORY, FILES, SHARING, COMMENTS)


def root_name(root_dir: str, configured: str = "") -> str:
    """The served folder's name in the shared database: ``configured`` if set, else the
    folder's real path (links resolved), which every server of one machine shares whatever path
    it was given; servers that mount the folder at different paths must configure one name."""
    if configured:
        return configured
    return os.path.realpath(root_dir) if root_dir else ""


def outage_key(url: str) -> str:
    """What names the database in outage logs' file names (``persistence/outage.py``): its URL
    without the password."""
    return masked(url)


async def prepare(
    url: str, root: str, *, timeout: float, outage_dir: str | None = None
) -> tuple[list[Share], Replayed]:
    """Reach the database, bring every component's tables up to date, replay what servers of
    this machine that died during an outage kept in ``outage_dir`` (before any room resumes
    from the history), and read ``root``'s shares. Raises
    :class:`~.persistence.errors.StoreUnavailable` or :class:`~.persistence.errors.SchemaTooNew`
    when it cannot (outage logs are then kept for the next start)."""
    database = PostgresDatabase(url, timeout=timeout, min_size=1, max_size=2)
    try:
        await database.ready(*COMPONENTS)
        replayed = Replayed()
        if outage_dir:
            store = PostgresStore(database)
            ids = PostgresFileIds(database, root)
            try:
                replayed = await replay(outage_dir, outage_key(url), store, ids)
            finally:
                await store.close()
                await ids.close()
        shares = PostgresShareStore(database, root)
        try:
            return await shares.all_shares(), replayed
        finally:
            await shares.close()
    finally:
        await database.close()


class _Read:
    """The shares :func:`prepare` read, served as a store's ``all_shares``."""

    def __init__(self, shares: list[Share]) -> None:
        self._shares = shares

    async def all_shares(self) -> list[Share]:
        return self._shares


async def load_into(sharing: Sharing, shares: list[Share]) -> None:
    """Give ``sharing`` the shares read at start (its ``load`` reads them from its store)."""
    serving = sharing.store
    sharing.store = _Read(shares)  # type: ignore[assignment]
    try:
        await sharing.load()
    finally:
        sharing.store = serving


@dataclass
class PostgresStores:
    database: PostgresDatabase
    store: DocumentStore
    file_ids: PostgresFileIds
    shares: PostgresShareStore
    comments: PostgresCommentStore


def open_stores(
    url: str, root: str, *, retention: float, timeout: float, health: object | None = None,
    outage: OutageLog | None = None,
) -> PostgresStores:  # fmt: skip
    """The server's stores on one database object (no I/O: its pool opens at first use).
    Each store retains the database; the caller holds one reference more, released last."""
    database = PostgresDatabase(url, timeout=timeout, health=health)  # type: ignore[arg-type]
    return PostgresStores(
        database,
        PostgresStore(database, retention=retention),
        PostgresFileIds(database, root, outage=outage),
        PostgresShareStore(database, root),
        PostgresCommentStore(database),
    )
