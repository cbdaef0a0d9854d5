"""What only the Redis bus does: streams in Redis, trimming, gaps, outages, reconnection.

All against a real ``redis-server`` (tests/services/redis.py): the outage tests stop, kill and
restart one of their own.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from jupyter_collab.bus import (
    BusUnavailable,
    Gap,
    GapReason,
    Message,
    ServerEvent,
    Topic,
    create_bus,
)
from jupyter_collab.bus.redis_streams import RedisBus, _Outgoing, redacted

from .conftest import FAST, Buses, eventually
from .test_contract import Inbox

EDIT = Topic.DOCUMENT_EDIT


def assert_never_skipped_silently(events: list[Message | Gap], published: list[Any]) -> None:
    """Between two messages delivered with no gap in between, nothing was published.

    ``published`` lists, in order, every payload whose publish *succeeded*; a payload whose
    publish failed may or may not be in the stream, so it may be missing without a gap.
    """
    order = {payload: index for index, payload in enumerate(published)}
    previous: Any = None
    for event in events:
        if isinstance(event, Gap):
            previous = None
            continue
        if event.payload not in order:
            continue  # a publish that raised but reached Redis anyway
        if previous is not None:
            assert order[event.payload] == order[previous] + 1, (
                f"{published[order[previous] + 1 : order[event.payload]]} skipped without a gap"
            )
        previous = event.payload
    payloads = [event.payload for event in events if isinstance(event, Message)]
    assert payloads == sorted(payloads) and len(set(payloads)) == len(payloads)


async def test_streams_in_redis(redis_buses: Buses) -> None:
    a = await redis_buses("a", maxlen=100)
    assert isinstance(a, RedisBus)
    await a.subscribe(EDIT, "room", lambda message: None)
    for n in range(1000):
        a.publish(EDIT, "room", n)
    last = await a.publish(EDIT, "room", b"\x00last")
    await a.publish(Topic.AUDIT_LOG, "", {"action": "join"})
    redis = redis_buses.redis.client()  # type: ignore[union-attr]
    name = f"{redis_buses.prefix}:document.edit:room"
    assert a.stream_name(EDIT, "room") == name
    assert redis.type(name) == b"stream"
    # Trimmed to about maxlen (whole nodes of 100 entries at a time), never below it.
    assert 100 <= redis.xlen(name) < 1000
    assert 0 < redis.pttl(name) <= 24 * 3600 * 1000
    [(entry_id, fields)] = redis.xrevrange(name, count=1)
    assert entry_id.decode() == last
    ordinal, kind, sequence, incarnation, origin = fields[b"h"].split(b"|")
    assert (kind, sequence, origin, fields[b"d"]) == (b"b", b"1001", b"a", b"\x00last")
    # Its rank among every entry ever added, whatever was trimmed; the hash beside agrees.
    assert ordinal == b"1001"
    meta = redis.hgetall(f"{redis_buses.prefix}:meta:document.edit:room")
    assert meta == {b"n": b"1001", b"id": entry_id}
    assert 0 < redis.pttl(f"{redis_buses.prefix}:meta:document.edit:room") <= 24 * 3600 * 1000
    audit = redis.xrange(f"{redis_buses.prefix}:audit.log")
    assert [json.loads(f[b"d"]) for _, f in audit] == [{"action": "join"}]
    info = json.loads(redis.get(f"{redis_buses.prefix}:server:a"))
    assert info["pid"] > 0 and 0 < redis.pttl(f"{redis_buses.prefix}:server:a") <= 3000
    [(member, deadline)] = redis.zrange(f"{redis_buses.prefix}:servers", 0, -1, withscores=True)
    assert member.decode() == f"a|{info['incarnation']}" and deadline > 0
    assert incarnation.decode() == info["incarnation"]
    lease = await a.acquire_lease("doc", ttl=10)
    assert lease is not None
    value = redis.get(f"{redis_buses.prefix}:lease:doc").decode()
    assert value.startswith(f"a|{lease.token}|")
    redis.close()


def publish_from_another_server(url: str, prefix: str, payloads: list[Any], **options: Any) -> None:
    """Another server publishes, from its own thread and loop (ours is blocked)."""

    async def main() -> None:
        other = RedisBus(url, server_id="other", prefix=prefix, **{**FAST, **options})
        await other.start()
        await asyncio.gather(*(other.publish(EDIT, "room", payload) for payload in payloads))
        await other.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),))
    thread.start()
    thread.join(120)


async def test_a_consumer_behind_the_trimmed_stream_gets_a_gap(redis_buses: Buses) -> None:
    a, b = await redis_buses("a", maxlen=50), await redis_buses("b")
    inbox = Inbox()

    def slow(message: Message) -> None:
        inbox(message)
        if message.payload == 0:  # b is busy while 500 messages go by, most trimmed away
            publish_from_another_server(
                redis_buses.url, redis_buses.prefix, list(range(1, 501)), maxlen=50
            )

    await b.subscribe(EDIT, "room", slow, on_gap=inbox.gap)
    first = await a.publish(EDIT, "room", 0)
    await eventually(lambda: inbox.gaps, what="the gap")
    redis = redis_buses.redis.client()  # type: ignore[union-attr]
    [(end, _)] = redis.xrevrange(f"{redis_buses.prefix}:document.edit:room", count=1)
    redis.close()
    await a.publish(EDIT, "room", 501)
    await eventually(lambda: 501 in inbox.payloads, what="the message after the gap")
    [gap] = inbox.gaps
    assert (gap.reason, gap.last_id, gap.topic, gap.key) == (GapReason.TRIMMED, first, EDIT, "room")
    assert gap.resumed_after == end.decode()  # resumes from the stream's end
    assert inbox.payloads == [0, 501]  # nothing of the trimmed stretch, nothing twice
    assert isinstance(inbox.events[1], Gap)
    assert b.stats.gaps == 1  # type: ignore[attr-defined]


async def test_a_stream_trimmed_past_an_idle_consumer_gives_a_gap_without_a_next_message(
    redis_buses: Buses,
) -> None:
    """A consumer that could not read (its process stopped or busy) while its stream was
    trimmed past it learns of the gap once its reader is idle, not only when (if ever)
    another message is published: the room re-syncs instead of missing edits meanwhile."""
    a, b = await redis_buses("a"), await redis_buses("b")
    inbox = Inbox()
    stream = f"{redis_buses.prefix}:document.edit:room"

    def stalled(message: Message) -> None:
        inbox(message)
        if message.payload == 0:  # b is stuck while ten messages go by and are trimmed
            publish_from_another_server(redis_buses.url, redis_buses.prefix, list(range(1, 11)))
            redis = redis_buses.redis.client()  # type: ignore[union-attr]
            redis.xtrim(stream, maxlen=0)
            redis.close()

    await b.subscribe(EDIT, "room", stalled, on_gap=inbox.gap)
    first = await a.publish(EDIT, "room", 0)
    await eventually(lambda: inbox.gaps, what="the gap, with nothing published after it")
    [gap] = inbox.gaps
    assert (gap.reason, gap.last_id) == (GapReason.TRIMMED, first)
    assert inbox.payloads == [0]
    await a.publish(EDIT, "room", 11)
    await eventually(lambda: 11 in inbox.payloads, what="the next message")
    assert inbox.payloads == [0, 11] and len(inbox.gaps) == 1


async def test_a_consumer_behind_within_retention_gets_everything(redis_buses: Buses) -> None:
    a, b = await redis_buses("a"), await redis_buses("b")
    inbox = Inbox()

    def slow(message: Message) -> None:
        inbox(message)
        if message.payload == 0:
            publish_from_another_server(redis_buses.url, redis_buses.prefix, list(range(1, 501)))

    await b.subscribe(EDIT, "room", slow, on_gap=inbox.gap)
    await a.publish(EDIT, "room", 0)
    await eventually(lambda: len(inbox.events) >= 501, what="every message")
    await a.publish(EDIT, "room", 501)
    await eventually(lambda: 501 in inbox.payloads, what="the last message")
    assert inbox.payloads == list(range(502)) and not inbox.gaps


@pytest.mark.parametrize("keep", [5, 4])
async def test_trimmed_up_to_the_position_or_past_it(redis_buses: Buses, keep: int) -> None:
    """Trimming that removed only what the consumer had read is no gap; one more entry is."""
    a, b = await redis_buses("a"), await redis_buses("b")
    inbox = Inbox()
    stream = f"{redis_buses.prefix}:document.edit:room"

    def slow(message: Message) -> None:
        inbox(message)
        if message.payload == 0:  # while b is busy: 5 more, then trimmed to the last `keep`
            publish_from_another_server(redis_buses.url, redis_buses.prefix, [1, 2, 3, 4, 5])
            redis = redis_buses.redis.client()  # type: ignore[union-attr]
            redis.xtrim(stream, maxlen=keep, approximate=False)
            redis.close()

    await b.subscribe(EDIT, "room", slow, on_gap=inbox.gap)
    await a.publish(EDIT, "room", 0)
    await eventually(lambda: 5 in inbox.payloads or inbox.gaps, what="5 or a gap")
    await a.publish(EDIT, "room", 6)
    await eventually(lambda: 6 in inbox.payloads, what="the last message")
    if keep == 5:  # only 0, which b had read, was removed: the stream's count proves it
        assert inbox.payloads == [0, 1, 2, 3, 4, 5, 6] and not inbox.gaps
    else:  # 1 was removed unread
        assert inbox.payloads == [0, 6] and [g.reason for g in inbox.gaps] == [GapReason.TRIMMED]


async def test_a_stream_deleted_and_made_anew_is_a_gap(redis_buses: Buses) -> None:
    a, b = await redis_buses("a"), await redis_buses("b")
    inbox = Inbox()
    await b.subscribe(EDIT, "room", inbox, on_gap=inbox.gap)
    for n in (1, 2, 3):
        await a.publish(EDIT, "room", n)
    await eventually(lambda: inbox.payloads == [1, 2, 3], what="three messages")
    redis = redis_buses.redis.client()  # type: ignore[union-attr]
    redis.delete(a.stream_name(EDIT, "room"), f"{redis_buses.prefix}:meta:document.edit:room")  # type: ignore[attr-defined]
    redis.close()
    await a.publish(EDIT, "room", 4)  # the first of a new stream: its rank starts again
    await eventually(lambda: inbox.gaps, what="the gap")
    await a.publish(EDIT, "room", 5)
    await eventually(lambda: 5 in inbox.payloads, what="the next message")
    assert inbox.payloads == [1, 2, 3, 5] and [g.reason for g in inbox.gaps] == [GapReason.TRIMMED]


async def test_redis_restarted_mid_stream(outage_buses: Buses) -> None:
    a, b = await outage_buses("a"), await outage_buses("b")
    inbox, notes = Inbox(), Inbox()
    await b.subscribe(EDIT, "room", inbox, on_gap=inbox.gap)
    await b.subscribe(Topic.NOTIFICATION_EVENT, "alice", notes, on_gap=notes.gap)
    published: list[int] = []
    failures: list[BaseException] = []
    stop = asyncio.Event()

    async def keep_publishing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                await a.publish(EDIT, "room", n)
            except BusUnavailable as error:
                failures.append(error)
            else:
                published.append(n)
            await asyncio.sleep(0.005)

    writer = asyncio.ensure_future(keep_publishing())
    await eventually(lambda: len(inbox.events) >= 50, what="messages before the crash")
    outage_buses.redis.stop(kill=True)  # type: ignore[union-attr]
    await eventually(lambda: len(failures) >= 3, what="publishes to fail while Redis is down")
    assert "unreachable" in str(failures[0]) and "127.0.0.1" in str(failures[0])
    with pytest.raises(BusUnavailable):
        await a.acquire_lease("doc", ttl=5)
    late = Inbox()  # subscribing while Redis is down works, and gets its gap later
    await b.subscribe(EDIT, "other-room", late, on_gap=late.gap)
    outage_buses.redis.start()  # type: ignore[union-attr]
    await eventually(lambda: inbox.gaps and notes.gaps and late.gaps, what="gaps after restart")
    count = len(published)
    await eventually(lambda: len(published) > count + 50, what="publishing again")
    await eventually(lambda: published[-1] in inbox.payloads, timeout=60, what="delivery again")
    stop.set()
    await writer
    assert [gap.reason for gap in inbox.gaps] == [GapReason.RESTARTED]
    assert [gap.reason for gap in notes.gaps] == [GapReason.RESTARTED]
    assert late.gaps[0].reason in (GapReason.RESTARTED, GapReason.OFFLINE)
    assert_never_skipped_silently(inbox.events, published)
    await a.publish(EDIT, "other-room", "after")
    await eventually(lambda: late.payloads == ["after"], what="the late subscription")
    await eventually(lambda: _has(a, {"a", "b"}), what="heartbeats again")
    assert b.stats.reconnects >= 1  # type: ignore[attr-defined]


async def _has(bus: Any, servers: set[str]) -> bool:
    return servers <= await bus.live_servers()


async def test_reconnecting_to_the_same_redis_misses_nothing(redis_buses: Buses) -> None:
    a, b = await redis_buses("a"), await redis_buses("b")
    inbox = Inbox()
    await b.subscribe(EDIT, "room", inbox, on_gap=inbox.gap)
    await a.publish(EDIT, "room", 0)
    await eventually(lambda: inbox.payloads == [0], what="the first message")
    redis = redis_buses.redis.client()  # type: ignore[union-attr]
    reconnects = b.stats.reconnects  # type: ignore[attr-defined]
    # Cut b's reading connection (Redis stays up), and publish while b reconnects.
    killed = 0
    for client in redis.client_list():
        if client["name"] in ("collab-bus-reader:b", "collab-bus:a"):
            redis.client_kill_filter(_id=client["id"])
            killed += 1
    assert killed >= 2
    published = [await a.publish(EDIT, "room", n) for n in range(1, 101)]
    await eventually(lambda: len(inbox.events) >= 101, what="everything after reconnecting")
    assert inbox.payloads == list(range(101)) and not inbox.gaps
    assert [m.id for m in inbox.messages[1:]] == published
    await eventually(lambda: b.stats.reconnects > reconnects, what="b to reconnect")  # type: ignore[attr-defined]
    redis.close()


async def test_a_publish_sent_twice_is_delivered_once(redis_buses: Buses) -> None:
    """A retried publish (the connection dropped after Redis took it) shows up once."""
    a, b = await redis_buses("a"), await redis_buses("b")
    inbox = Inbox()
    await b.subscribe(EDIT, "room", inbox, on_gap=inbox.gap)
    assert isinstance(a, RedisBus)
    # The script call that publishes "one", sent twice as a retry on a new connection does
    # when the first connection dropped after Redis had run it.
    future = asyncio.get_running_loop().create_future()
    batch = [
        _Outgoing(a.stream_name(EDIT, "room").encode(), EDIT, b"j|1|abc|a", b'"one"', future)
    ]
    keys, args = a._publish_call(batch)
    for _ in range(2):
        await a._scripts["PUBLISH"](keys=keys, args=args)
    await a.publish(EDIT, "room", "two")
    await eventually(lambda: "two" in inbox.payloads, what="the second message")
    assert inbox.payloads == ["one", "two"] and not inbox.gaps
    redis = redis_buses.redis.client()  # type: ignore[union-attr]
    assert redis.xlen(f"{redis_buses.prefix}:document.edit:room") == 3
    redis.close()


async def test_resuming_after_a_trimmed_or_foreign_position(redis_buses: Buses) -> None:
    a, b = await redis_buses("a", maxlen=10), await redis_buses("b")
    first = await a.publish(EDIT, "room", 0)
    for n in range(1, 400):
        a.publish(EDIT, "room", n)
    await a.publish(EDIT, "room", 400)
    trimmed = Inbox()
    await b.subscribe(EDIT, "room", trimmed, on_gap=trimmed.gap, after=first)
    assert [gap.reason for gap in trimmed.gaps] == [GapReason.TRIMMED]  # before subscribe returns
    foreign = Inbox()
    await b.subscribe(EDIT, "room", foreign, on_gap=foreign.gap, after="99999999999999-0")
    assert [gap.reason for gap in foreign.gaps] == [GapReason.RESTARTED]
    await a.publish(EDIT, "room", 401)
    await eventually(lambda: trimmed.payloads == [401] and foreign.payloads == [401], what="401")


async def test_unreachable_redis_fails_fast_and_clearly() -> None:
    bus = create_bus("redis://:secret@127.0.0.1:1/0", server_id="x", command_timeout=5)
    with pytest.raises(BusUnavailable) as raised:
        await bus.start()
    message = str(raised.value)
    assert "127.0.0.1:1" in message and "secret" not in message and "unreachable" in message
    await bus.close()
    assert redacted("redis://user:pw@host:6379/0") == "redis://user:***@host:6379/0"
    with pytest.raises(ValueError):
        create_bus("http://localhost:6379")


async def test_a_redis_restart_is_not_taken_for_dead_servers(outage_buses: Buses) -> None:
    a = await outage_buses("a")
    await outage_buses("b")
    events: list[ServerEvent] = []
    a.watch_servers(events.append)
    await eventually(lambda: ServerEvent("b", True) in events, what="b's heartbeat")
    outage_buses.redis.stop(kill=True)  # type: ignore[union-attr]
    outage_buses.redis.start()  # type: ignore[union-attr]
    await eventually(lambda: _has(a, {"a", "b"}), what="both heartbeats in the new Redis")
    await asyncio.sleep(FAST["heartbeat_ttl"] + 1)  # past the grace given to vanished servers
    assert ServerEvent("b", False) not in events and ServerEvent("a", False) not in events
    # a's own heartbeat had vanished: it announces itself again (to re-send presence).
    assert events.count(ServerEvent("a", True)) == 2


async def test_a_new_subscription_joins_the_blocking_read(redis_buses: Buses) -> None:
    """The reader blocks for a minute at a time: a new stream must not wait for that."""
    a, b = await redis_buses("a"), await redis_buses("b", block=60.0)
    first, second = Inbox(), Inbox()
    await b.subscribe(EDIT, "room-1", first)
    await a.publish(EDIT, "room-1", "one")
    await eventually(lambda: first.payloads == ["one"], what="the first room")
    await asyncio.sleep(0.5)  # b is now blocked in XREAD on room-1 alone
    await b.subscribe(EDIT, "room-2", second)
    await a.publish(EDIT, "room-2", "two")
    await eventually(lambda: second.payloads == ["two"], timeout=30, what="the new room")


async def test_a_burst_of_rooms_opening_at_once(redis_buses: Buses) -> None:
    """More concurrent commands than the connection pool holds wait their turn: no errors."""
    a, b = await redis_buses("a"), await redis_buses("b")
    inboxes = [Inbox() for _ in range(200)]
    subscriptions = await asyncio.gather(
        *(b.subscribe(EDIT, f"room-{n}", box, on_gap=box.gap) for n, box in enumerate(inboxes))
    )
    leases = await asyncio.gather(*(b.acquire_lease(f"room-{n}", ttl=30) for n in range(200)))
    assert all(lease is not None for lease in leases)
    await asyncio.gather(*(a.publish(EDIT, f"room-{n}", n) for n in range(200)))
    await eventually(lambda: all(inbox.events for inbox in inboxes), what="every room")
    assert [inbox.events for inbox in inboxes] == [[inbox.messages[0]] for inbox in inboxes]
    assert [inbox.payloads for inbox in inboxes] == [[n] for n in range(200)]
    assert all(subscription.active for subscription in subscriptions)
