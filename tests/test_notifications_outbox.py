"""The contract of every e-mail outbox (in memory, SQLite and a real PostgreSQL): one batch
per address, claims that exclude each other, leases that run out, retries, and what comes
while a batch is being sent; and that the SQLite and PostgreSQL outboxes keep what they hold
when reopened (a server stop)."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_collab.notifications.outbox import (
    MemoryMailOutbox,
    PostgresMailOutbox,
    SQLiteMailOutbox,
)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make(request: Any, tmp_path: Any, jp_asyncio_loop: Any) -> Any:
    """Outboxes on one store (for PostgreSQL and SQLite, each its own connection, as the
    servers of a group have)."""
    made: list[Any] = []
    memory = MemoryMailOutbox()
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None

    def new() -> Any:
        if request.param == "memory":
            return memory  # (one process: one outbox)
        outbox = PostgresMailOutbox(url) if url else SQLiteMailOutbox(tmp_path / "mail.db")
        made.append(outbox)
        return outbox

    new.kind = request.param  # type: ignore[attr-defined]
    yield new
    for outbox in made:
        jp_asyncio_loop.run_until_complete(outbox.close())


def note(i: int) -> dict[str, Any]:
    return {"id": i, "message": f"mention {i}", "details": {"excerpt": f"@bob {i}"}}


async def test_one_batch_per_address_claimed_by_one_owner(make: Any) -> None:
    one, two = make(), make()
    for i in range(5):  # (added through two servers)
        await (one if i % 2 else two).add("bob@x.org", "bob", str(i), note(i), 100.0, 10.0 + i)
    await one.add("bob@x.org", "bob", "3", note(3), 100.0, 20.0)  # the same notification again
    await two.add("carol@x.org", "carol", "9", note(9), 105.0, 11.0)
    assert await one.next_due() == 100.0
    assert await one.claim("A", now=50.0, lease=30.0, due_by=50.0) == []  # not due yet

    first = await one.claim("A", now=101.0, lease=30.0, due_by=101.0)
    assert await two.claim("B", now=101.0, lease=30.0, due_by=101.0) == []  # A holds it
    [batch] = first
    assert (batch.address, batch.user, batch.attempts) == ("bob@x.org", "bob", 0)
    assert [i["id"] for i in batch.items] == [0, 1, 2, 3, 4]
    # carol's comes due later; B gets it then
    [other] = await two.claim("B", now=106.0, lease=30.0, due_by=106.0)
    assert other.address == "carol@x.org" and [i["id"] for i in other.items] == [9]

    # a notification arriving while A sends: after A's "done", it makes the next batch
    await two.add("bob@x.org", "bob", "7", note(7), 999.0, 102.0)
    await one.done("bob@x.org", "A", batch.upto, window=10.0)
    assert await one.claim("A", now=111.0, lease=30.0, due_by=111.0) == []
    [later] = await two.claim("B", now=112.0, lease=30.0, due_by=112.0)  # due 102 + 10
    assert [i["id"] for i in later.items] == [7]
    await two.done("bob@x.org", "B", later.upto, window=10.0)
    await two.done("carol@x.org", "B", other.upto, window=10.0)
    assert await one.next_due() is None


async def test_failures_retry_later_and_leases_run_out(make: Any) -> None:
    one, two = make(), make()
    await one.add("bob@x.org", "bob", "1", note(1), 10.0, 0.0)
    [batch] = await one.claim("A", now=10.0, lease=30.0, due_by=10.0)
    await one.failed("bob@x.org", "A", due=15.0)
    assert await two.next_due() == 15.0
    assert await two.claim("B", now=12.0, lease=30.0, due_by=12.0) == []
    [again] = await two.claim("B", now=15.0, lease=30.0, due_by=15.0)
    assert again.attempts == 1 and again.items == batch.items
    # B dies holding it: once its lease ran out, A takes it over (sent at least once)
    assert await one.claim("A", now=40.0, lease=30.0, due_by=40.0) == []
    assert await one.next_due() == 45.0
    [taken] = await one.claim("A", now=45.5, lease=30.0, due_by=45.5)
    assert taken.items == batch.items
    # a late "done"/"failed" by B (no longer the owner) does not close A's batch
    await two.failed("bob@x.org", "B", due=1000.0)
    await two.done("bob@x.org", "B", 0, window=10.0)
    assert await one.next_due() == 75.5  # (A's lease)
    # a stopping server lets go of its leases: the batch is free at once (stop flushes it)
    await one.release("A")
    [free] = await two.claim("B", now=46.0, lease=30.0, due_by=float("inf"))
    assert free.items == batch.items
    await two.done("bob@x.org", "B", free.upto, window=10.0)
    assert await one.next_due() is None


async def test_what_an_outbox_holds_outlives_it(make: Any) -> None:
    if make.kind == "memory":
        pytest.skip("the memory outbox is the one that does not (servers without a database)")
    first = make()
    await first.add("bob@x.org", "bob", "1", note(1), 10.0, 0.0)
    [batch] = await first.claim("A", now=10.0, lease=30.0, due_by=10.0)
    await first.failed("bob@x.org", "A", due=11.0)
    await first.close()
    reopened = make()
    [kept] = await reopened.claim("B", now=11.0, lease=30.0, due_by=11.0)
    assert kept.items == batch.items and kept.attempts == 1
