"""The room journal: fan-out waits for the log, keeps order, and survives a failing store."""

from __future__ import annotations

import asyncio
import logging

from jupyter_collab.collaboration.journal import RoomJournal
from jupyter_collab.origins import RESUME, Origin, OriginKind
from jupyter_collab.persistence import MemoryStore

CLIENT = Origin(OriginKind.CLIENT, "alice")


class FlakyStore(MemoryStore):
    """A real MemoryStore whose appends fail while ``down`` is set (a store that went away)."""

    down = False

    async def append_many(self, doc_id, entries):
        if self.down:
            raise ConnectionError("store unavailable")
        return await super().append_many(doc_id, entries)


async def test_release_in_order_after_logging_and_retry_after_failure():
    store = FlakyStore()
    failures: list[Exception] = []
    journal = RoomJournal(store, "doc", logging.getLogger("test"), failures.append)
    released: list[int] = []
    journal.record(b"u1", CLIENT, lambda: released.append(1))
    journal.record(b"u2", RESUME, lambda: released.append(2))  # not logged, still in order
    assert released == []  # nothing leaves before it is durable
    await journal.flush()
    await asyncio.sleep(0)
    assert released == [1, 2]
    assert [e.update for e in await store.read("doc")] == [b"u1"]

    store.down = True
    journal.record(b"u3", CLIENT, lambda: released.append(3))
    await journal.flush()
    await asyncio.sleep(0)
    assert released == [1, 2, 3]  # clients are still served
    assert failures and "unavailable" in str(failures[0])

    store.down = False
    journal.record(b"u4", CLIENT, lambda: released.append(4))
    await journal.flush()
    await asyncio.sleep(0)
    assert released == [1, 2, 3, 4]
    # the update that could not be logged is written again with the next one: nothing lost
    assert [e.update for e in await store.read("doc")] == [b"u1", b"u3", b"u4"]
