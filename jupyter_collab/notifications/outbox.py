"""The e-mail outbox: notifications waiting to be e-mailed, kept in the store until sent.

Mail waiting for its batch window or for a retry survives a server stop (the next start, or
another server of the group, sends it), and the servers of a group share one batch per address
(ten mentions made through two servers make one message).

- ``add`` puts a notification in the outbox and opens the address's batch, due at the end of
  its window, if none is open; later notifications join it.
- ``claim`` leases the batches due now to one server (``owner``) for ``lease`` seconds, in one
  transaction: no two servers hold a batch at once, and a server that died holding one lets
  it go when the lease runs out (the mail is then sent again by another: at least once).
- ``done`` removes what was sent (or given up) and closes the batch, or reopens it for what
  came meanwhile; ``failed`` schedules the retry and releases the lease; ``release`` lets go
  of every lease of a stopping server.

Three implementations keep one contract (``tests/test_notifications_outbox.py``): in memory
(servers without a database: nothing survives a stop), SQLite and PostgreSQL (the tables of
the ``sharing`` component, migration 3).
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..persistence.database import SQLiteTables
from ..sharing.sqlite import COMPONENT as SHARING


@dataclass(frozen=True)
class MailBatch:
    """A batch as claimed: what to send to ``address`` in one message."""

    address: str
    user: str
    items: tuple[dict[str, Any], ...]
    upto: int  # the last outbox row in it (``done`` removes those up to it)
    attempts: int  # attempts that failed so far


class MailOutbox(ABC):
    durable: bool = True  # whether what it holds survives the process

    @abstractmethod
    async def add(
        self, address: str, user: str, key: str, item: Mapping[str, Any], due: float, now: float
    ) -> None:
        """Queue ``item`` for ``address``; opens the address's batch, due at ``due``, unless
        one is open. ``key`` (the notification's id) makes adding twice harmless."""

    @abstractmethod
    async def claim(
        self, owner: str, now: float, lease: float, due_by: float, limit: int = 50
    ) -> list[MailBatch]:
        """Lease the batches due by ``due_by`` that nobody holds (or whose lease ended before
        ``now``) to ``owner`` until ``now + lease``; them, with their items."""

    @abstractmethod
    async def done(self, address: str, owner: str, upto: int, window: float) -> None:
        """The batch was sent (or given up): its items up to ``upto`` go; the batch closes, or
        is due ``window`` seconds after the first item that came meanwhile."""

    @abstractmethod
    async def failed(self, address: str, owner: str, due: float) -> None:
        """An attempt failed: one attempt more, due again at ``due``, the lease released."""

    @abstractmethod
    async def release(self, owner: str) -> None:
        """Let go of every lease ``owner`` holds (a stopping server)."""

    @abstractmethod
    async def next_due(self) -> float | None:
        """When the next batch may be claimed (its due time, or the end of its lease); None
        when the outbox is empty."""

    async def close(self) -> None:  # noqa: B027 (optional: the in-memory outbox holds nothing)
        """Release resources."""


# -- in memory ---------------------------------------------------------------------------------


@dataclass
class _Batch:
    user: str
    due: float
    attempts: int = 0
    owner: str | None = None
    lease_until: float | None = None


class MemoryMailOutbox(MailOutbox):
    durable = False

    def __init__(self) -> None:
        self._batches: dict[str, _Batch] = {}
        self._items: dict[str, list[tuple[int, str, dict[str, Any], float]]] = {}
        self._next_id = 0

    async def add(
        self, address: str, user: str, key: str, item: Mapping[str, Any], due: float, now: float
    ) -> None:
        items = self._items.setdefault(address, [])
        if any(k == key for _, k, _, _ in items):
            return
        self._next_id += 1
        items.append((self._next_id, key, dict(item), now))
        self._batches.setdefault(address, _Batch(user, due))

    async def claim(
        self, owner: str, now: float, lease: float, due_by: float, limit: int = 50
    ) -> list[MailBatch]:
        found = []
        for address, batch in sorted(self._batches.items(), key=lambda kv: kv[1].due):
            if len(found) >= limit:
                break
            free = batch.owner is None or (batch.lease_until or 0) < now
            if batch.due <= due_by and free:
                batch.owner, batch.lease_until = owner, now + lease
                items = self._items.get(address, [])
                found.append(
                    MailBatch(address, batch.user, tuple(i for _, _, i, _ in items),
                              max((n for n, _, _, _ in items), default=0), batch.attempts)
                )  # fmt: skip
        return found

    async def done(self, address: str, owner: str, upto: int, window: float) -> None:
        left = [row for row in self._items.get(address, []) if row[0] > upto]
        if left:
            self._items[address] = left
        else:
            self._items.pop(address, None)
        batch = self._batches.get(address)
        if batch is None or batch.owner != owner:
            return
        if left:
            self._batches[address] = _Batch(batch.user, min(r[3] for r in left) + window)
        else:
            del self._batches[address]

    async def failed(self, address: str, owner: str, due: float) -> None:
        batch = self._batches.get(address)
        if batch is not None and batch.owner == owner:
            batch.attempts += 1
            batch.due, batch.owner, batch.lease_until = due, None, None

    async def release(self, owner: str) -> None:
        for batch in self._batches.values():
            if batch.owner == owner:
                batch.owner = batch.lease_until = None

    async def next_due(self) -> float | None:
        times = [
            b.due if b.owner is None else max(b.due, b.lease_until or 0)
            for b in self._batches.values()
        ]
        return min(times, default=None)


# -- SQLite ------------------------------------------------------------------------------------


class SQLiteMailOutbox(SQLiteTables, MailOutbox):
    """In the collaboration database, on its threads (never on the event loop); every method
    is one transaction, and SQLite runs one write transaction at a time, whichever process
    (servers sharing a database file) asks."""

    component = SHARING

    async def add(
        self, address: str, user: str, key: str, item: Mapping[str, Any], due: float, now: float
    ) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR IGNORE INTO collab_mail_outbox (address, key, item, created)"
                " VALUES (?, ?, ?, ?)",
                (address, key, json.dumps(dict(item)), now),
            )
            db.execute(
                "INSERT OR IGNORE INTO collab_mail_batches (address, user_name, due)"
                " VALUES (?, ?, ?)",
                (address, user, due),
            )

        await self._write(run)

    async def claim(
        self, owner: str, now: float, lease: float, due_by: float, limit: int = 50
    ) -> list[MailBatch]:
        def run(db: sqlite3.Connection) -> list[MailBatch]:
            rows = db.execute(
                "SELECT address, user_name, attempts FROM collab_mail_batches WHERE due <= ?"
                " AND (owner IS NULL OR lease_until < ?) ORDER BY due LIMIT ?",
                (due_by, now, limit),
            ).fetchall()
            found = []
            for address, user, attempts in rows:
                db.execute(
                    "UPDATE collab_mail_batches SET owner = ?, lease_until = ? WHERE address = ?",
                    (owner, now + lease, address),
                )
                items = db.execute(
                    "SELECT id, item FROM collab_mail_outbox WHERE address = ? ORDER BY id",
                    (address,),
                ).fetchall()
                found.append(
                    MailBatch(address, user, tuple(json.loads(i) for _, i in items),
                              max((n for n, _ in items), default=0), attempts)
                )  # fmt: skip
            return found

        return await self._write(run)

    async def done(self, address: str, owner: str, upto: int, window: float) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "DELETE FROM collab_mail_outbox WHERE address = ? AND id <= ?", (address, upto)
            )
            (first,) = db.execute(
                "SELECT min(created) FROM collab_mail_outbox WHERE address = ?", (address,)
            ).fetchone()
            if first is None:
                db.execute(
                    "DELETE FROM collab_mail_batches WHERE address = ? AND owner = ?",
                    (address, owner),
                )
            else:
                db.execute(
                    "UPDATE collab_mail_batches SET due = ?, attempts = 0, owner = NULL,"
                    " lease_until = NULL WHERE address = ? AND owner = ?",
                    (first + window, address, owner),
                )

        await self._write(run)

    async def failed(self, address: str, owner: str, due: float) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE collab_mail_batches SET attempts = attempts + 1, due = ?, owner = NULL,"
                " lease_until = NULL WHERE address = ? AND owner = ?",
                (due, address, owner),
            )

        await self._write(run)

    async def release(self, owner: str) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE collab_mail_batches SET owner = NULL, lease_until = NULL"
                " WHERE owner = ?",
                (owner,),
            )

        await self._write(run)

    async def next_due(self) -> float | None:
        def run(db: sqlite3.Connection) -> float | None:
            (due,) = db.execute(
                "SELECT min(CASE WHEN owner IS NULL THEN due ELSE max(due, lease_until) END)"
                " FROM collab_mail_batches"
            ).fetchone()
            return due

        return await self._read(run)


# -- PostgreSQL --------------------------------------------------------------------------------


class PostgresMailOutbox(MailOutbox):
    """Shared by the servers of a group. Claims skip rows another transaction holds
    (``FOR UPDATE SKIP LOCKED``); ``add`` and ``done`` lock the batch's row (an upsert, a
    ``SELECT ... FOR UPDATE``) so that a notification added while its batch is being closed
    either makes the batch reopen or opens the next one: never an item without a batch."""

    def __init__(self, database: Any) -> None:
        from ..persistence.pgdatabase import PostgresDatabase
        from ..sharing.postgres import COMPONENT

        self.component = COMPONENT
        self.db = (
            database.retain()
            if isinstance(database, PostgresDatabase)
            else PostgresDatabase(database)
        )

    async def add(
        self, address: str, user: str, key: str, item: Mapping[str, Any], due: float, now: float
    ) -> None:
        from ..persistence.pgdatabase import Jsonb

        await self.db.ready(self.component)

        async def run(tx: Any) -> Any:
            await tx.execute(
                "INSERT INTO collab_mail_batches (address, user_name, due) VALUES (%s, %s, %s)"
                " ON CONFLICT (address) DO UPDATE SET user_name = collab_mail_batches.user_name",
                (address, user, due),
            )
            await tx.execute(
                "INSERT INTO collab_mail_outbox (address, key, item, created)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (address, key) DO NOTHING",
                (address, key, Jsonb(dict(item)), now),
            )
            return _none

        await self.db.write(run)

    async def claim(
        self, owner: str, now: float, lease: float, due_by: float, limit: int = 50
    ) -> list[MailBatch]:
        await self.db.ready(self.component)

        async def run(tx: Any) -> Any:
            claimed = await tx.execute(
                "UPDATE collab_mail_batches SET owner = %s, lease_until = %s WHERE address IN"
                " (SELECT address FROM collab_mail_batches WHERE due <= %s"
                " AND (owner IS NULL OR lease_until < %s) ORDER BY due LIMIT %s"
                " FOR UPDATE SKIP LOCKED)"
                " RETURNING address, user_name, attempts",
                (owner, now + lease, due_by, now, limit),
            )
            await tx.sync()
            batches = await claimed.fetchall()
            items = await tx.execute(
                "SELECT id, address, item FROM collab_mail_outbox WHERE address = ANY(%s)"
                " ORDER BY id",
                ([b[0] for b in batches],),
            )

            async def reader() -> list[MailBatch]:
                by_address: dict[str, list[tuple[int, Any]]] = {b[0]: [] for b in batches}
                for n, address, item in await items.fetchall():
                    by_address[address].append((n, item))
                return [
                    MailBatch(address, user, tuple(dict(i) for _, i in by_address[address]),
                              max((n for n, _ in by_address[address]), default=0), attempts)
                    for address, user, attempts in batches
                ]  # fmt: skip

            return reader

        return await self.db.write(run)

    async def done(self, address: str, owner: str, upto: int, window: float) -> None:
        await self.db.ready(self.component)

        async def run(tx: Any) -> Any:
            await tx.execute(
                "SELECT 1 FROM collab_mail_batches WHERE address = %s FOR UPDATE", (address,)
            )
            await tx.execute(
                "DELETE FROM collab_mail_outbox WHERE address = %s AND id <= %s", (address, upto)
            )
            first = await tx.execute(
                "SELECT min(created) FROM collab_mail_outbox WHERE address = %s", (address,)
            )
            await tx.sync()
            row = await first.fetchone()
            if row is None or row[0] is None:
                await tx.execute(
                    "DELETE FROM collab_mail_batches WHERE address = %s AND owner = %s",
                    (address, owner),
                )
            else:
                await tx.execute(
                    "UPDATE collab_mail_batches SET due = %s, attempts = 0, owner = NULL,"
                    " lease_until = NULL WHERE address = %s AND owner = %s",
                    (row[0] + window, address, owner),
                )
            return _none

        await self.db.write(run)

    async def failed(self, address: str, owner: str, due: float) -> None:
        await self._statement(
            "UPDATE collab_mail_batches SET attempts = attempts + 1, due = %s, owner = NULL,"
            " lease_until = NULL WHERE address = %s AND owner = %s",
            (due, address, owner),
        )

    async def release(self, owner: str) -> None:
        await self._statement(
            "UPDATE collab_mail_batches SET owner = NULL, lease_until = NULL WHERE owner = %s",
            (owner,),
        )

    async def _statement(self, sql: str, params: tuple[Any, ...]) -> None:
        await self.db.ready(self.component)

        async def run(tx: Any) -> Any:
            await tx.execute(sql, params)
            return _none

        await self.db.write(run)

    async def next_due(self) -> float | None:
        await self.db.ready(self.component)

        async def run(tx: Any) -> Any:
            cur = await tx.execute(
                "SELECT min(CASE WHEN owner IS NULL THEN due ELSE GREATEST(due, lease_until)"
                " END) FROM collab_mail_batches"
            )

            async def reader() -> float | None:
                row = await cur.fetchone()
                return None if row is None or row[0] is None else float(row[0])

            return reader

        return await self.db.read(run)

    async def close(self) -> None:
        await self.db.release()


async def _none() -> None:
    return None
