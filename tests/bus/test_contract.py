"""The bus contract, run against the in-process bus and the Redis Streams bus (a real Redis).

Each ``buses()`` call is a new server's bus of the same group: several servers in one test.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import time

import pytest

from jupyter_collab.bus import (
    BusClosed,
    Gap,
    LeaseKeeper,
    Message,
    ServerEvent,
    Topic,
)

from .conftest import Buses, eventually

EDIT = Topic.DOCUMENT_EDIT


class Inbox:
    """A subscriber that records what it gets, messages and gaps, in order."""

    def __init__(self) -> None:
        self.events: list[Message | Gap] = []

    def __call__(self, message: Message) -> None:
        self.events.append(message)

    def gap(self, gap: Gap) -> None:
        self.events.append(gap)

    @property
    def messages(self) -> list[Message]:
        return [event for event in self.events if isinstance(event, Message)]

    @property
    def payloads(self) -> list[object]:
        return [message.payload for message in self.messages]

    @property
    def gaps(self) -> list[Gap]:
        return [event for event in self.events if isinstance(event, Gap)]


def stream_order(ids: list[str]) -> list[tuple[int, int]]:
    return [tuple(int(part) for part in identifier.split("-")) for identifier in ids]  # type: ignore[misc]


async def test_order_per_key_across_servers(buses: Buses) -> None:
    writer, reader = await buses("writer"), await buses("reader")
    room1, room2 = Inbox(), Inbox()
    await reader.subscribe(EDIT, "room-1", room1, on_gap=room1.gap)
    await reader.subscribe(EDIT, "room-2", room2, on_gap=room2.gap)
    # Published without awaiting each one: the order of the calls is the order delivered.
    pending1, pending2 = [], []
    for n in range(300):
        pending1.append(writer.publish(EDIT, "room-1", {"n": n}))
        if n % 3 == 0:
            pending2.append(writer.publish(EDIT, "room-2", n.to_bytes(2, "big")))
    ids1, ids2 = await asyncio.gather(*pending1), await asyncio.gather(*pending2)
    assert stream_order(ids1) == sorted(stream_order(ids1)) and len(set(ids1)) == 300
    assert stream_order(ids2) == sorted(stream_order(ids2)) and len(set(ids2)) == 100
    await eventually(lambda: len(room1.events) >= 300 and len(room2.events) >= 100, what="all")
    assert room1.payloads == [{"n": n} for n in range(300)]
    assert room2.payloads == [n.to_bytes(2, "big") for n in range(0, 300, 3)]
    assert not room1.gaps and not room2.gaps
    assert [message.id for message in room1.messages] == ids1
    assert [message.id for message in room2.messages] == ids2
    assert {message.origin for message in room1.messages} == {"writer"}
    assert {(m.topic, m.key) for m in room1.messages} == {(EDIT, "room-1")}


async def test_fan_out_to_several_subscribers_on_several_servers(buses: Buses) -> None:
    a, b, c = await buses("a"), await buses("b"), await buses("c")
    inboxes = [Inbox() for _ in range(4)]
    await b.subscribe(EDIT, "room", inboxes[0], own=True)
    await b.subscribe(EDIT, "room", inboxes[1], own=True)
    await c.subscribe(EDIT, "room", inboxes[2], own=True)
    await a.subscribe(EDIT, "room", inboxes[3], own=True)
    # Three servers publish concurrently: every subscriber sees the same single order.
    await asyncio.gather(
        *(bus.publish(EDIT, "room", f"{bus.server_id}{n}") for n in range(50) for bus in (a, b, c))
    )
    await eventually(lambda: all(len(inbox.events) >= 150 for inbox in inboxes), what="fan-out")
    orders = [[(m.id, m.payload, m.origin) for m in inbox.messages] for inbox in inboxes]
    assert all(order == orders[0] for order in orders)
    for server in "abc":
        mine = [payload for _, payload, origin in orders[0] if origin == server]
        assert mine == [f"{server}{n}" for n in range(50)]


async def test_own_messages_only_when_asked(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    others_only, everything = Inbox(), Inbox()
    await a.subscribe(EDIT, "room", others_only)
    await a.subscribe(EDIT, "room", everything, own=True)
    await a.publish(EDIT, "room", b"from a")
    await b.publish(EDIT, "room", b"from b")
    await eventually(lambda: len(everything.events) == 2, what="both messages")
    await eventually(lambda: len(others_only.events) == 1, what="b's message")
    assert [(m.origin, m.payload) for m in everything.messages] == [
        ("a", b"from a"),
        ("b", b"from b"),
    ]
    assert [(m.origin, m.payload) for m in others_only.messages] == [("b", b"from b")]
    # The position moved past the skipped message too: resuming from it skips nothing.
    assert others_only.messages[0].id == everything.messages[1].id
    await a.publish(EDIT, "room", b"again from a")
    await eventually(lambda: len(everything.events) == 3, what="third message")
    assert len(others_only.events) == 1


async def test_only_messages_published_after_subscribing(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    await a.publish(EDIT, "room", "before")
    inbox = Inbox()
    await b.subscribe(EDIT, "room", inbox, on_gap=inbox.gap)
    await a.publish(EDIT, "room", "after")
    await eventually(lambda: inbox.events, what="the later message")
    await a.publish(EDIT, "room", "last")
    await eventually(lambda: len(inbox.events) == 2, what="the last message")
    assert inbox.payloads == ["after", "last"]


async def test_unsubscribe(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    kept, dropped, dropping_itself = Inbox(), Inbox(), Inbox()
    await b.subscribe(EDIT, "room", kept)
    subscription = await b.subscribe(EDIT, "room", dropped)
    holder: dict[str, object] = {}

    def drop_after_two(message: Message) -> None:
        dropping_itself(message)
        if len(dropping_itself.events) == 2:
            holder["sub"].unsubscribe()  # type: ignore[attr-defined]

    holder["sub"] = await b.subscribe(EDIT, "room", drop_after_two)
    await a.publish(EDIT, "room", 1)
    await eventually(lambda: len(dropped.events) == 1, what="first message")
    subscription.unsubscribe()
    assert not subscription.active
    for n in range(2, 6):
        await a.publish(EDIT, "room", n)
    await eventually(lambda: len(kept.events) == 5, what="the rest")
    assert dropped.payloads == [1]
    assert dropping_itself.payloads == [1, 2]
    assert kept.payloads == [1, 2, 3, 4, 5]
    subscription.unsubscribe()  # twice is fine


async def test_json_and_binary_payloads(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    inbox = Inbox()
    await b.subscribe(Topic.ROOM_NOTICE, "room", inbox)
    sent = [
        b"",
        bytes(range(256)),
        bytearray(b"\x00\x01"),
        {"type": "saved", "path": "dossier/résumé ✓.ipynb", "n": 3, "ok": True, "none": None},
        [1, 2.5, "three", [4], {"five": 5}],
        ("a", "tuple"),
        "text",
        42,
        None,
    ]
    for payload in sent:
        a.publish(Topic.ROOM_NOTICE, "room", payload)
    await eventually(lambda: len(inbox.events) == len(sent), what="every payload")
    got = inbox.payloads
    assert got[0] == b"" and isinstance(got[0], bytes)
    assert got[1] == bytes(range(256)) and isinstance(got[1], bytes)
    assert got[2] == b"\x00\x01" and isinstance(got[2], bytes)
    assert got[3] == sent[3]
    assert got[4] == sent[4]
    assert got[5] == ["a", "tuple"]  # as JSON carries it, on every implementation
    assert got[6:] == ["text", 42, None]


async def test_bad_payloads_and_keys_fail_at_the_publisher(buses: Buses) -> None:
    a = await buses("a")
    with pytest.raises(TypeError):
        a.publish(EDIT, "room", {1, 2})
    with pytest.raises(ValueError):
        a.publish(EDIT, "room", {"x": math.nan})
    with pytest.raises(ValueError):
        a.publish(EDIT, "", b"no key")
    with pytest.raises(ValueError):
        a.publish(Topic.AUDIT_LOG, "room", {"the audit log": "has no key"})
    with pytest.raises(TypeError):
        a.publish("document.edit", "room", b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError):

        async def handler(message: Message) -> None:  # a coroutine would never be awaited
            pass

        await a.subscribe(EDIT, "room", handler)  # type: ignore[arg-type]


async def test_large_update(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    inbox = Inbox()
    await b.subscribe(EDIT, "big", inbox, on_gap=inbox.gap)
    big = os.urandom(4 * 1024 * 1024)
    a.publish(EDIT, "big", b"small before")
    a.publish(EDIT, "big", big)
    await a.publish(EDIT, "big", b"small after")
    await eventually(lambda: len(inbox.events) == 3, what="the 4 MB update", timeout=60)
    before, received, after = inbox.payloads
    assert (before, after) == (b"small before", b"small after")
    assert hashlib.sha256(received).digest() == hashlib.sha256(big).digest()  # type: ignore[arg-type]


async def test_topics_and_keys_are_separate_streams(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    seen: dict[str, Inbox] = {name: Inbox() for name in ("edit", "awareness", "alice", "audit")}
    await b.subscribe(EDIT, "room", seen["edit"])
    await b.subscribe(Topic.AWARENESS, "room", seen["awareness"])
    await b.subscribe(Topic.NOTIFICATION_EVENT, "alice", seen["alice"])
    await b.subscribe(Topic.AUDIT_LOG, "", seen["audit"])
    a.publish(Topic.AWARENESS, "room", b"cursor")
    a.publish(EDIT, "room", b"update")
    a.publish(EDIT, "other-room", b"elsewhere")
    a.publish(Topic.NOTIFICATION_EVENT, "bob", {"for": "bob"})
    a.publish(Topic.NOTIFICATION_EVENT, "alice", {"for": "alice"})
    a.publish(Topic.DOCUMENT_VERSION, "room", {"version": 1})
    await a.publish(Topic.AUDIT_LOG, "", {"action": "join", "room": "room"})
    await eventually(lambda: all(inbox.events for inbox in seen.values()), what="each topic")
    assert seen["edit"].payloads == [b"update"]
    assert seen["awareness"].payloads == [b"cursor"]
    assert seen["alice"].payloads == [{"for": "alice"}]
    assert seen["audit"].payloads == [{"action": "join", "room": "room"}]
    assert seen["audit"].messages[0].key == ""


async def test_a_failing_handler_does_not_stop_delivery(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    calls: list[object] = []
    good = Inbox()

    def bad(message: Message) -> None:
        calls.append(message.payload)
        raise RuntimeError("handler bug")

    await b.subscribe(EDIT, "room", bad)
    await b.subscribe(EDIT, "room", good)
    for n in range(3):
        a.publish(EDIT, "room", n)
    await eventually(lambda: len(good.events) == 3, what="delivery after a failing handler")
    assert calls == [0, 1, 2] and good.payloads == [0, 1, 2]


async def test_handlers_that_publish_keep_one_order(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    first, second = Inbox(), Inbox()

    def echo(message: Message) -> None:
        if isinstance(message.payload, int) and message.payload < 3:
            b.publish(EDIT, "room", f"echo {message.payload}")

    await b.subscribe(EDIT, "room", echo)
    await a.subscribe(EDIT, "room", first, own=True)
    await a.subscribe(EDIT, "room", second, own=True)
    for n in range(3):
        a.publish(EDIT, "room", n)
    await eventually(lambda: len(first.events) == 6 and len(second.events) == 6, what="echoes")
    assert [m.id for m in first.messages] == [m.id for m in second.messages]
    assert first.payloads == second.payloads
    assert [p for p in first.payloads if isinstance(p, int)] == [0, 1, 2]


async def test_resuming_from_a_position_never_skips_silently(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    first = Inbox()
    subscription = await b.subscribe(EDIT, "room", first)
    for n in range(3):
        a.publish(EDIT, "room", n)
    await eventually(lambda: len(first.events) == 3, what="first three")
    subscription.unsubscribe()
    assert subscription.last_id == first.messages[-1].id
    for n in range(3, 6):
        await a.publish(EDIT, "room", n)
    resumed = Inbox()
    await b.subscribe(EDIT, "room", resumed, on_gap=resumed.gap, after=subscription.last_id)
    await a.publish(EDIT, "room", 6)
    await eventually(lambda: 6 in resumed.payloads, what="the next message")
    if resumed.gaps:  # the stream does not hold the missed messages: a gap comes first
        assert isinstance(resumed.events[0], Gap) and resumed.payloads == [6]
        assert resumed.events[0].last_id == subscription.last_id
    else:  # or every missed message, in order
        assert resumed.payloads == [3, 4, 5, 6]
    if buses.kind == "redis":  # Redis keeps them (nothing was trimmed)
        assert resumed.payloads == [3, 4, 5, 6] and not resumed.gaps
    # Resuming from the current end: nothing missed, no gap.
    current = Inbox()
    await b.subscribe(EDIT, "room", current, on_gap=current.gap, after=resumed.messages[-1].id)
    await a.publish(EDIT, "room", 7)
    await eventually(lambda: current.events, what="message 7")
    assert current.payloads == [7]


async def test_lease_is_exclusive_and_fenced(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    lease = await a.acquire_lease("doc-1", ttl=30)
    assert lease is not None and lease.held and lease.holder == "a"
    assert await b.acquire_lease("doc-1", ttl=30) is None
    assert await a.acquire_lease("doc-1", ttl=30) is None  # not re-entrant either
    holder = await b.lease_holder("doc-1")
    assert holder is not None and (holder.holder, holder.token) == ("a", lease.token)
    assert 0 < holder.ttl <= 30
    other = await b.acquire_lease("doc-2", ttl=30)  # leases are independent
    assert other is not None
    await lease.release()
    assert not lease.held
    taken = await b.acquire_lease("doc-1", ttl=30)
    assert taken is not None and taken.token > lease.token
    # The old holder can no longer renew nor release its successor's lease.
    assert await lease.renew() is False
    await lease.release()
    holder = await a.lease_holder("doc-1")
    assert holder is not None and holder.holder == "b"
    await taken.release()
    assert await a.lease_holder("doc-1") is None
    again = await a.acquire_lease("doc-1", ttl=30)
    assert again is not None and again.token > taken.token


async def test_lease_expires_and_is_taken_over(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    lease = await a.acquire_lease("doc", ttl=0.5)
    assert lease is not None
    taken = []

    async def take() -> bool:
        got = await b.acquire_lease("doc", ttl=30)
        if got is not None:
            taken.append(got)
        return got is not None

    await eventually(take, what="b to take the expired lease")
    assert not lease.held
    assert taken[0].token > lease.token
    assert await lease.renew() is False and lease.lost
    holder = await a.lease_holder("doc")
    assert holder is not None and holder.holder == "b"


async def test_lease_renewal_extends_it(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    lease = await a.acquire_lease("doc", ttl=4)
    assert lease is not None
    first_deadline = lease.expires_at
    await asyncio.sleep(2.5)
    before = await b.lease_holder("doc")
    assert await lease.renew() is True
    after = await b.lease_holder("doc")
    assert before is not None and after is not None and after.ttl > before.ttl
    assert lease.expires_at > first_deadline and after.token == lease.token
    await asyncio.sleep(2)  # past the first deadline, well before the renewed one
    assert lease.held
    assert await b.acquire_lease("doc", ttl=4) is None


async def test_lease_keeper_hands_over_when_the_holder_stops(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    events: list[tuple[str, str, int]] = []

    def keeper(bus_name: str, bus: object) -> LeaseKeeper:
        return LeaseKeeper(
            bus,  # type: ignore[arg-type]
            "room:doc",
            ttl=1.5,
            on_acquired=lambda lease: events.append(("acquired", bus_name, lease.token)),
            on_lost=lambda lease: events.append(("lost", bus_name, lease.token)),
        )

    keeper_a, keeper_b = keeper("a", a), keeper("b", b)
    keeper_a.start()
    await eventually(lambda: keeper_a.held, what="a to hold the lease")
    keeper_b.start()
    await asyncio.sleep(1.0)
    assert keeper_a.held and not keeper_b.held
    first_token = keeper_a.lease.token  # type: ignore[union-attr]
    # The holder stops without releasing (as a process that died): b takes over on expiry.
    await keeper_a.stop(release=False)
    await eventually(lambda: keeper_b.held, what="b to take over")
    assert keeper_b.lease.token > first_token  # type: ignore[union-attr]
    # A graceful hand-back: b releases, a (started again) takes it at its next attempt.
    keeper_a.start()
    await keeper_b.stop()
    await eventually(lambda: keeper_a.held, what="a to take it back")
    assert [event[:2] for event in events] == [
        ("acquired", "a"),
        ("acquired", "b"),
        ("acquired", "a"),
    ]
    tokens = [event[2] for event in events]
    assert tokens == sorted(tokens) and len(set(tokens)) == 3
    await keeper_a.stop()


async def test_lease_keeper_reports_a_lost_lease(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    lost: list[int] = []
    keeper = LeaseKeeper(
        a, "doc", ttl=1.0, on_acquired=lambda _: None, on_lost=lambda it: lost.append(it.token)
    )
    keeper.start()
    await eventually(lambda: keeper.held, what="a to hold the lease")
    lease = keeper.lease
    assert lease is not None
    time.sleep(1.5)  # the holder stalls past its ttl (a long pause, a frozen VM)
    assert not lease.held  # its own view expired first: it must stop acting as the holder
    await eventually(lambda: lost == [lease.token], what="the keeper to report the loss")
    holder = await b.lease_holder("doc")
    assert holder is None or holder.token > lease.token  # re-acquired anew, if at all
    await keeper.stop()


def forget_lease(buses: Buses, name: str) -> None:
    """Lose a lease on the backend while its holder still believes it holds it (a Redis that
    restarted empty or failed over, an evicted key)."""
    if buses.kind == "memory":
        del buses.hub.leases[name]
        return
    assert buses.redis is not None
    client = buses.redis.client()
    try:
        assert client.delete(f"{buses.prefix}:lease:{name}") == 1
    finally:
        client.close()


async def test_a_holder_confirms_its_lease_on_the_bus_before_writing(buses: Buses) -> None:
    """The fencing check of writers (``LeaseKeeper.confirm``): a holder whose lease the backend
    lost, and another server took with a larger token, still believes it holds it by its own
    clock, but confirming on the bus says no (and the lease is given up); the new holder
    confirms."""
    a, b = await buses("a"), await buses("b")
    keepers = [
        LeaseKeeper(bus, "write:doc", ttl=60, on_acquired=lambda _: None,
                    on_lost=lambda _: None, interval=10)  # fmt: skip
        for bus in (a, b)
    ]
    keepers[0].start()
    await eventually(lambda: keepers[0].held, what="a to hold the lease")
    assert await keepers[0].confirm() is True
    first = keepers[0].lease
    assert first is not None
    forget_lease(buses, "write:doc")
    keepers[1].start()
    await eventually(lambda: keepers[1].held, what="b to take the lost lease")
    assert keepers[1].lease is not None and keepers[1].lease.token > first.token
    assert keepers[0].held  # a's own clock says it still holds it...
    assert await keepers[0].confirm() is False  # ...the bus says it does not
    assert first.lost and not keepers[0].held
    assert await keepers[1].confirm() is True
    for keeper in keepers:
        await keeper.stop()


async def test_servers_see_each_other_come_and_go(buses: Buses) -> None:
    a = await buses("a")
    events: list[ServerEvent] = []
    a.watch_servers(events.append)
    assert ServerEvent("a", True) in events
    b = await buses("b")
    await eventually(lambda: ServerEvent("b", True) in events, what="b to appear")
    assert await a.live_servers() >= {"a", "b"}
    await b.close()
    await eventually(lambda: ServerEvent("b", False) in events, what="b to leave")
    assert "b" not in await a.live_servers()
    assert ServerEvent("a", False) not in events


async def test_close(buses: Buses) -> None:
    a, b = await buses("a"), await buses("b")
    inbox = Inbox()
    await a.subscribe(EDIT, "room", inbox)
    lease = await a.acquire_lease("doc", ttl=60)
    assert lease is not None
    await b.publish(EDIT, "room", 1)
    await eventually(lambda: inbox.events, what="a message before closing")
    queued = [a.publish(EDIT, "elsewhere", n) for n in range(100)]
    await a.close()
    # What was queued when it closed was published or failed: nothing is left hanging.
    outcomes = await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), 60)
    assert all(isinstance(outcome, (str, BusClosed)) for outcome in outcomes)
    await a.close()  # idempotent
    with pytest.raises(BusClosed):
        await a.publish(EDIT, "room", 2)
    with pytest.raises(BusClosed):
        await a.subscribe(EDIT, "room", inbox)
    with pytest.raises(BusClosed):
        await a.acquire_lease("other", ttl=1)
    await b.publish(EDIT, "room", 3)
    # Its leases were released: another server gets them at once, not after the ttl.
    taken = await b.acquire_lease("doc", ttl=60)
    assert taken is not None and taken.token > lease.token
    await asyncio.sleep(0.3)
    assert inbox.payloads == [1]
