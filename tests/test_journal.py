"""The room journal: fan-out waits for the log, keeps order, and survives a failing database.

The failures here are real SQLite ones on the store's own connection: ``query_only`` makes it
refuse every write ("attempt to write a readonly database"), ``max_page_count`` makes the
database full ("database or disk is full"), as a read-only file or a full disk would.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from jupyter_collab.collaboration.journal import RoomJournal
from jupyter_collab.origins import LOAD, RESUME, Origin, OriginKind
from jupyter_collab.persistence import HistoryUnavailable, SQLiteStore

from .storefaults import pragma

CLIENT = Origin(OriginKind.CLIENT, "alice")


class File:
    """Stands in for the room's file: each ``save_through`` is resolved by ``save()``."""

    def __init__(self) -> None:
        self.waiting: list[asyncio.Future[bool]] = []
        self.saves = 0

    def save_through(self) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        return future

    def save(self) -> None:
        self.saves += 1
        waiting, self.waiting = self.waiting, []
        for future in waiting:
            future.set_result(True)


@pytest.fixture
def journal_parts(tmp_path, jp_asyncio_loop):
    store = SQLiteStore(tmp_path / "collab.db", retention=3600)
    notices: list[dict[str, Any]] = []
    file = File()
    journal = RoomJournal(store, "doc", logging.getLogger("test"), retry_max=0.2)
    journal.attach(file.save_through, notices.append)
    yield store, journal, file, notices
    jp_asyncio_loop.run_until_complete(store.close())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_release_in_order_once_logged(journal_parts):
    store, journal, file, notices = journal_parts
    released: list[int] = []
    journal.record(b"u1", CLIENT, lambda: released.append(1))
    journal.record(b"u2", RESUME, lambda: released.append(2))  # not logged, still in order
    journal.record(b"u3", CLIENT, lambda: released.append(3))
    assert released == []  # nothing leaves before it is durable
    await journal.flush()
    await settle()
    assert released == [1, 2, 3]
    assert [e.update for e in await store.read("doc")] == [b"u1", b"u3"]
    assert await journal.durable_seq() == 2 and notices == [] and file.saves == 0


async def test_a_failing_database_saves_through_tells_once_and_catches_up(journal_parts):
    store, journal, file, notices = journal_parts
    released: list[int] = []
    journal.record(b"u1", CLIENT, lambda: released.append(1))
    await journal.flush()
    await pragma(store, "query_only = ON")  # every write now fails, as on a read-only file
    for i in range(2, 40):
        journal.record(f"u{i}".encode(), CLIENT, lambda i=i: released.append(i))
        await asyncio.sleep(0)
    await journal.flush()
    await settle()
    # Not released before the file holds them; then released, in order.
    assert released == [1]
    assert file.waiting
    file.save()
    await settle()
    assert released == list(range(1, 40))
    # Saved to the file is not logged: a failed attempt to catch up keeps them all.
    assert not await journal.catch_up()
    assert journal.unlogged == 38
    # One notice for the outage, not one per failed write.
    assert [n["type"] for n in notices] == ["store-error"]
    assert "readonly" in notices[0]["message"] and notices[0]["retrying"]
    assert journal.notice is not None  # what someone joining now is told
    with pytest.raises(HistoryUnavailable):
        await journal.durable_seq()
    # The database works again: the background retry writes what was missing, in order.
    await pragma(store, "query_only = OFF")
    for _ in range(200):
        if journal.logging:
            break
        await asyncio.sleep(0.05)
    assert journal.logging
    assert [n["type"] for n in notices] == ["store-error", "store-recovered"]
    entries = await store.read("doc")
    assert [e.update for e in entries] == [f"u{i}".encode() for i in range(1, 40)]
    assert [e.seq for e in entries] == list(range(1, 40))  # no gaps, no duplicates
    assert await journal.durable_seq() == 39
    journal.record(b"u40", CLIENT, lambda: released.append(40))
    await journal.flush()
    await settle()
    assert released[-1] == 40 and (await store.read("doc", 39))[0].update == b"u40"


async def test_a_full_database_keeps_the_order_across_a_partly_written_batch(journal_parts):
    store, journal, file, notices = journal_parts
    journal.record(b"x" * 100, CLIENT, lambda: None)
    await journal.flush()
    pages = await pragma(store, "page_count")
    await pragma(store, f"max_page_count = {pages}")  # full: the next page cannot be added
    big = [bytes([i]) * 20_000 for i in range(1, 6)]  # each needs new (overflow) pages
    for update in big:
        journal.record(update, CLIENT, lambda: None)
    await journal.flush()
    assert journal.failing is not None and "full" in journal.failing
    await pragma(store, "max_page_count = 1073741823")
    assert await journal.catch_up()
    assert [e.update for e in await store.read("doc")][1:] == big
    assert [n["type"] for n in notices] == ["store-error", "store-recovered"]


async def test_a_load_starts_the_history_over_even_after_a_failure(journal_parts):
    """A file loaded afresh over an older log resets it, also when that has to wait for the
    catch-up (a load that failed to be logged is still a new start, never appended)."""
    store, journal, file, notices = journal_parts
    await store.append("doc", b"\x00\x00", origin="client", user="old", time=1.0)
    await pragma(store, "query_only = ON")
    journal.record(b"\x00\x00", LOAD, lambda: None)
    await journal.flush()
    assert journal.failing is not None
    await pragma(store, "query_only = OFF")
    assert await journal.catch_up()
    snapshot = await store.snapshot("doc")
    assert snapshot is not None and snapshot.upto_seq == 2  # the load is the new start


async def test_without_a_store_history_is_off_and_the_file_is_durable(jp_asyncio_loop):
    file = File()
    notices: list[dict[str, Any]] = []
    journal = RoomJournal(None, "doc", logging.getLogger("test"), unavailable="damaged")
    journal.attach(file.save_through, notices.append)
    released: list[int] = []
    journal.record(b"u1", CLIENT, lambda: released.append(1))
    await settle()
    assert released == [] and file.waiting
    file.save()
    await settle()
    assert released == [1]
    assert journal.notice == {"type": "store-error", "message": "damaged", "retrying": False}
    with pytest.raises(HistoryUnavailable):
        await journal.durable_seq()
