"""The event bus on Redis Streams (redis.asyncio), for several servers.

Layout in Redis (``prefix`` defaults to ``collab``):

* ``{prefix}:{topic}:{key}`` (``{prefix}:audit.log`` for the audit log): one stream per topic
  and key. An entry has two fields: ``h``, ``ordinal|kind|sequence|incarnation|origin``, and
  ``d``, the payload (``kind`` is ``b`` for bytes, ``j`` for JSON). Two fields rather than six,
  because parsing replies is most of a reader's work.
* ``{prefix}:meta:{topic}:{key}``: a hash beside each stream, ``n`` (the last ordinal given)
  and ``id`` (the last entry's id). ``XADD ... MAXLEN ~ n`` trims each stream to about
  ``maxlen`` entries; a stream and its hash expire together after ``stream_ttl`` without
  publishes.
* ``{prefix}:server:{id}``: a server's heartbeat (its info as JSON), ``PX heartbeat_ttl``;
  ``{prefix}:servers``: a sorted set of ``id|incarnation`` (one per server process) by
  heartbeat deadline, on Redis's clock.
* ``{prefix}:lease:{name}`` (``holder|token|nonce``, ``PX ttl``) and
  ``{prefix}:lease-fence:{name}`` (the last fencing token given).
* ``{prefix}:bus:{id}:wake``: a tiny stream this server writes to wake its own reader when its
  set of subscribed streams changes.

**Continuity.** Every entry carries its *ordinal*, its rank among all the entries ever added to
its stream, given by the publishing script in the same atomic step as the ``XADD``. A
subscription remembers the ordinal of the last entry it passed; the next entry it reads must
be the next ordinal. A larger one means entries were removed before it read them (trimmed under
a consumer that fell behind, ``XDEL``); a smaller one that the stream was deleted or expired
and made anew. Either way the subscription gets a :class:`~.interface.Gap` and resumes from the
stream's end. This proof costs nothing per read (no ``XINFO``, no second round trip)
and is exact: trimming that removed only entries the subscription had read is no gap.

**Reading.** One connection per server reads every subscribed stream with one blocking
``XREAD`` (``COUNT batch``), from the lowest position of the stream's subscriptions. A
reconnection to the same Redis process (same ``run_id``) resumes where it was, ordinals
telling what went meanwhile; a different ``run_id`` (restart, failover) may have lost what was
not read yet, so every subscription gets a gap at once.

**Writing.** ``publish()`` appends to an outbox at once; one task sends the outbox, in call
order, as one script call per batch (many entries per round trip under load). A call that
meets a dropped connection is sent once more on a new one (subscribers drop what this may
duplicate, by sequence number); otherwise a publish that fails raises
:class:`~.interface.BusUnavailable` within ``command_timeout`` and may or may not have
reached Redis.

Messages a server publishes come back to its reader (they are in the stream it reads) and are
skipped for subscriptions made with ``own=False``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import redis_scripts
from .codec import ZERO, StreamId, decode, encode, format_id, parse_id
from .delivery import call_gap_handler, call_handler, check_handler
from .interface import (
    BusClosed,
    BusError,
    BusUnavailable,
    EventBus,
    Gap,
    GapHandler,
    GapReason,
    Handler,
    Lease,
    LeaseBackend,
    LeaseInfo,
    Message,
    Payload,
    ServerEvent,
    ServerHandler,
    ServerWatch,
    Subscription,
    Topic,
    validate_key,
)

log = logging.getLogger("jupyter_collab.bus")

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)
"""Errors that mean Redis could not be reached (as opposed to Redis refusing a command)."""

MIN_REDIS = (6, 0)  # RESP3, which redis-py speaks by default
FENCE_TTL_MS = 7 * 24 * 3600 * 1000
FORGET_SERVERS_MS = 3600 * 1000
OUTBOX_BATCH = 512
POOL_WAIT = 60.0  # seconds a command may wait for a pooled connection
OUTBOX_BYTES = 8 << 20


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


Entry = tuple[bytes, dict[bytes, bytes]]


@dataclass(eq=False)
class _Reading:
    """A subscription as the reader sees it: where it is in the stream."""

    subscription: Subscription
    position: StreamId | None  # None: unknown (subscribed while Redis was unreachable)
    ordinal: int | None = None  # the rank of the entry at position among all ever added
    seen: dict[bytes, int] = field(default_factory=dict)  # publisher incarnation → last seq


@dataclass
class _Stream:
    topic: Topic
    key: str
    readings: list[_Reading] = field(default_factory=list)


@dataclass(eq=False)
class _Outgoing:
    stream: bytes
    topic: Topic
    header: bytes
    data: bytes
    future: asyncio.Future[str]


@dataclass
class BusStats:
    """Counters, for tests, benchmarks and monitoring."""

    published: int = 0
    publish_errors: int = 0
    delivered: int = 0
    gaps: int = 0
    reconnects: int = 0
    reads: int = 0


class RedisBus(EventBus, LeaseBackend):
    """The event bus of a group of servers that share one Redis (6.0 or later; tested on 7.0).

    ``maxlen`` (one number, or per topic) bounds each stream to about that many entries: a
    subscriber that falls further behind than that gets a gap. ``stream_ttl`` deletes streams
    nobody published to for that long. A server is reported dead ``heartbeat_ttl`` seconds
    after its last heartbeat (sent every ``heartbeat_interval``). ``command_timeout`` bounds
    every command but the blocking read, which waits up to ``block`` seconds at a time.
    """

    def __init__(
        self,
        url: str,
        *,
        server_id: str | None = None,
        prefix: str = "collab",
        maxlen: int | Mapping[Topic, int] = 10_000,
        stream_ttl: float = 24 * 3600,
        heartbeat_interval: float = 1.0,
        heartbeat_ttl: float = 5.0,
        block: float = 5.0,
        batch: int = 100,
        command_timeout: float = 2.0,
        reconnect_max_delay: float = 2.0,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        if heartbeat_ttl <= heartbeat_interval:
            raise ValueError("heartbeat_ttl must be longer than heartbeat_interval")
        self.url = url
        self.server_id = server_id or uuid.uuid4().hex
        self.prefix = prefix
        self._maxlen = {topic: _maxlen(maxlen, topic) for topic in Topic}
        self._stream_ttl_ms = int(stream_ttl * 1000)
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_ttl_ms = int(heartbeat_ttl * 1000)
        self._block_ms = int(block * 1000)
        self._batch = batch
        self._command_timeout = command_timeout
        self._reconnect_max_delay = reconnect_max_delay
        self._incarnation = uuid.uuid4().hex[:16].encode()
        self._member = f"{self.server_id}|{self._incarnation.decode()}"
        self._origin = self.server_id.encode()
        self._sequence = 0
        about = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": time.time(),
            "incarnation": self._incarnation.decode(),
        }
        self._info = json.dumps({**about, **(info or {})})
        name = "".join(c if c.isalnum() or c in "-_.:" else "_" for c in self.server_id)
        options: dict[str, Any] = {"socket_connect_timeout": command_timeout}
        # Commands (publish, leases, heartbeats) on a small pool. A command that meets a
        # dropped connection (a pooled connection Redis closed, a proxy's idle timeout) is
        # sent once more on a new one: publishes carry a sequence number that subscribers use
        # to drop the duplicate this may make, and every script is idempotent. Timeouts are
        # not retried: Redis is slow or away, and the caller hears of it within the timeout.
        # A burst of commands (many rooms opening at once) waits for one of the pool's
        # connections rather than failing with "Too many connections". The wait is not a sign
        # of an outage (each command is bounded by the socket timeouts), so it may be long.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, socket_timeout=command_timeout, client_name=f"collab-bus:{name}",
            max_connections=32, timeout=POOL_WAIT,
            retry=Retry(NoBackoff(), 1, (RedisConnectionError,)), **options,
        )  # fmt: skip
        self._commands = aioredis.Redis(connection_pool=pool)
        # The blocking reader on its own single connection, whose timeout outlasts a blocking
        # XREAD, and never retried behind our back: a reconnection must be seen, to compare
        # the Redis run id (a restarted Redis may have lost what we had not read yet).
        self._reader = aioredis.Redis.from_url(
            url, socket_timeout=block + command_timeout, client_name=f"collab-bus-reader:{name}",
            max_connections=1, retry=Retry(NoBackoff(), 0), **options,
        )  # fmt: skip
        self._scripts = {
            script: self._commands.register_script(getattr(redis_scripts, script))
            for script in (
                "HEARTBEAT", "LIVE", "LEAVE", "ACQUIRE", "RENEW", "RELEASE", "HOLDER", "PUBLISH",
                "RESUME",
            )  # fmt: skip
        }
        self._servers_key = f"{prefix}:servers"
        self._heartbeat_key = f"{prefix}:server:{self.server_id}"
        self._wake_stream = f"{prefix}:bus:{self.server_id}:wake".encode()
        self._stream_prefix = f"{prefix}:".encode()
        self._meta_prefix = f"{prefix}:meta:".encode()
        self._wake_position = "0-0"
        self._wake_pending = False
        self._streams: dict[bytes, _Stream] = {}
        self._outbox: deque[_Outgoing] = deque()
        self._sending: list[_Outgoing] = []
        self._outbox_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._leases: dict[Lease, str] = {}  # held leases → their value in Redis
        self._watches: list[ServerWatch] = []
        self._alive: dict[str, str] = {}  # live server id → its incarnation
        self._missing_since: dict[str, float] = {}  # server id → when it vanished (monotonic)
        self._beats = 0
        self._run_id: str | None = None
        self._reader_ready = False
        self._started = False
        self._closed = False
        self.stats = BusStats()
        # Consumer lag (the bus-lag metric): how long the oldest entry of the last read had
        # waited in Redis; 0 after a read that found nothing new. Entry ids are Redis's clock
        # in ms, so the offset between that clock and ours is measured at each (re)connect.
        self._lag = 0.0
        self._redis_offset = 0.0
        self._lost_at: float | None = None

    def __repr__(self) -> str:
        return f"<RedisBus {self.server_id} on {redacted(self.url)}>"

    @property
    def lag(self) -> float:
        """Seconds this server's reading of the bus is behind: how long the entries it read
        last had waited in their streams, or, while Redis cannot be reached, how long ago it
        was lost (nothing is read meanwhile)."""
        if self._lost_at is not None:
            return max(self._lag, time.time() - self._lost_at)
        return self._lag

    # names

    def stream_name(self, topic: Topic, key: str) -> str:
        """The Redis key of a topic's stream for ``key``."""
        base = f"{self.prefix}:{topic.value}"
        return f"{base}:{key}" if topic.keyed else base

    def _unavailable(self, error: BaseException, doing: str) -> BusUnavailable:
        reason = str(error) or type(error).__name__
        return BusUnavailable(f"Redis at {redacted(self.url)} is unreachable ({doing}): {reason}")

    # lifecycle

    async def start(self) -> None:
        if self._closed:
            raise BusClosed("this bus was closed")
        if self._started:
            return
        try:
            info = await self._commands.info("server")
        except UNREACHABLE as error:
            raise self._unavailable(error, "starting the bus") from error
        except RedisError as error:
            raise BusError(f"Redis at {redacted(self.url)} refused the bus: {error}") from error
        version = tuple(int(part) for part in str(info["redis_version"]).split(".")[:2])
        if version < MIN_REDIS:
            raise BusError(
                f"Redis {info['redis_version']} at {redacted(self.url)} is too old: the bus needs "
                "6.0 or later"
            )
        self._run_id = str(info["run_id"])
        await self._measure_clock(self._commands)
        self._reader_ready = True
        self._started = True
        try:
            await self._heartbeat_once()
        except UNREACHABLE as error:
            raise self._unavailable(error, "sending the first heartbeat") from error
        except RedisError as error:
            raise BusError(f"Redis at {redacted(self.url)} refused the bus: {error}") from error
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._read_loop(), name=f"bus-reader-{self.server_id}"),
            loop.create_task(self._write_loop(), name=f"bus-writer-{self.server_id}"),
            loop.create_task(self._heartbeat_loop(), name=f"bus-heartbeat-{self.server_id}"),
        ]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Loops stop on ``_closed`` too, and the reader's connection is closed under it: a
        # cancellation can be lost in a blocking read (seen with redis-py 8: the task stays in
        # XREAD until the block ends), and close() must not wait for that.
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=0.2)
            with contextlib.suppress(Exception):
                await self._reader.aclose()
            if pending:
                await asyncio.wait(pending, timeout=self._command_timeout)
        for task in tuple(self._side_tasks):
            task.cancel()
        for outgoing in (*self._sending, *self._outbox):
            if not outgoing.future.done():
                outgoing.future.set_exception(
                    BusClosed("the bus was closed before Redis confirmed this publish")
                )
        self._outbox.clear()
        for stream in self._streams.values():
            for reading in stream.readings:
                reading.subscription.active = False
        self._streams.clear()
        self._watches.clear()
        if self._started:
            # Let others take over at once rather than after the ttl; best effort.
            with contextlib.suppress(BusError, *UNREACHABLE):
                for lease in tuple(self._leases):
                    await asyncio.wait_for(lease.release(), self._command_timeout)
                await asyncio.wait_for(
                    self._scripts["LEAVE"](
                        keys=[self._heartbeat_key, self._servers_key], args=[self._member]
                    ),
                    self._command_timeout,
                )
        with contextlib.suppress(Exception):
            await self._commands.aclose(close_connection_pool=True)

    def _check_open(self) -> None:
        if self._closed:
            raise BusClosed("this bus was closed")
        if not self._started:
            raise BusError("start() the bus first")

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    # publishing

    def publish(self, topic: Topic, key: str, payload: Payload) -> Awaitable[str]:
        validate_key(topic, key)
        kind, data = encode(payload)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        try:
            self._check_open()
        except BusError as error:
            future.set_exception(error)
            return future
        self._sequence += 1
        header = b"%s|%d|%s|%s" % (kind, self._sequence, self._incarnation, self._origin)
        name = self.stream_name(topic, key).encode()
        self._outbox.append(_Outgoing(name, topic, header, data, future))
        self._outbox_ready.set()
        return future

    async def _write_loop(self) -> None:
        while not self._closed:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while self._outbox:
                batch: list[_Outgoing] = []
                size = 0
                while self._outbox and len(batch) < OUTBOX_BATCH and size < OUTBOX_BYTES:
                    outgoing = self._outbox.popleft()
                    batch.append(outgoing)
                    size += len(outgoing.data)
                self._sending = batch
                await self._send(batch)
                self._sending = []

    def _publish_call(self, batch: list[_Outgoing]) -> tuple[list[bytes], list[Any]]:
        """KEYS and ARGV of the PUBLISH script for a batch (one call sends it all)."""
        keys: list[bytes] = []
        index: dict[bytes, int] = {}
        args: list[Any] = [self._stream_ttl_ms]
        for outgoing in batch:
            position = index.get(outgoing.stream)
            if position is None:
                position = index[outgoing.stream] = len(index) + 1
                keys += [outgoing.stream, self._meta_name(outgoing.stream)]
            args += [position, self._maxlen[outgoing.topic], outgoing.header, outgoing.data]
        return keys, args

    async def _send(self, batch: list[_Outgoing]) -> None:
        keys, args = self._publish_call(batch)
        results: list[Any]
        try:
            # socket timeouts (command_timeout) bound this when Redis does not answer
            results = await self._scripts["PUBLISH"](keys=keys, args=args)
        except UNREACHABLE as error:
            results = [self._unavailable(error, "publishing")] * len(batch)
        except RedisError as error:
            results = [BusError(f"Redis refused to publish: {error}")] * len(batch)
        for outgoing, result in zip(batch, results, strict=True):
            if outgoing.future.done():  # its awaiter was cancelled
                continue
            if isinstance(result, BaseException):
                self.stats.publish_errors += 1
                outgoing.future.set_exception(result)
            else:
                self.stats.published += 1
                outgoing.future.set_result(result.decode())

    # subscribing

    async def subscribe(
        self,
        topic: Topic,
        key: str,
        handler: Handler,
        *,
        on_gap: GapHandler | None = None,
        own: bool = False,
        after: str | None = None,
    ) -> Subscription:
        validate_key(topic, key)
        check_handler(handler, on_gap)
        self._check_open()
        name = self.stream_name(topic, key).encode()
        gap_reason: GapReason | None = None
        reading = _Reading(None, None)  # type: ignore[arg-type]
        try:
            if after is None:
                [(reading.position, reading.ordinal)] = await self._ends([name], self._commands)
            else:
                gap_reason = await self._resume(reading, name, after)
        except UNREACHABLE:
            reading.position = None  # the reader positions it, with a gap, once Redis is back
        shown = format_id(reading.position) if reading.position is not None else (after or "0-0")
        subscription = reading.subscription = Subscription(topic, key, handler, on_gap, own, shown)
        if gap_reason is not None:
            self.stats.gaps += 1
            call_gap_handler(subscription, Gap(topic, key, gap_reason, after, shown))
        stream = self._streams.get(name)
        new_stream = stream is None
        if stream is None:
            stream = self._streams[name] = _Stream(topic, key)
        stream.readings.append(reading)

        def cancel(subscription: Subscription) -> None:
            if reading in stream.readings:
                stream.readings.remove(reading)
            if not stream.readings and self._streams.get(name) is stream:
                del self._streams[name]  # the next XREAD leaves it out

        subscription._cancel = cancel
        if new_stream or reading.position is None:
            self._wake()
        return subscription

    async def _resume(self, reading: _Reading, name: bytes, after: str) -> GapReason | None:
        """Position ``reading`` right after entry ``after``, or at the end with a gap reason."""
        resume = parse_id(after)
        last, ordinal, header = await self._scripts["RESUME"](
            keys=[name, self._meta_name(name)], args=[format_id(resume)]
        )
        end = (parse_id(last), int(ordinal)) if last is not None else (ZERO, 0)
        reading.position, reading.ordinal = end
        if resume == end[0]:
            return None
        if header is not None:  # still in the stream: its ordinal is where to go on from
            reading.position, reading.ordinal = resume, int(header.split(b"|", 1)[0])
            return None
        # Gone: trimmed (nobody can tell what followed it), or never in this stream's history.
        return GapReason.RESTARTED if resume > end[0] else GapReason.TRIMMED

    def _meta_name(self, stream: bytes) -> bytes:
        """The hash beside a stream: its last id and last ordinal (see redis_scripts)."""
        return self._meta_prefix + stream[len(self._stream_prefix) :]

    async def _ends(
        self, names: list[bytes], client: aioredis.Redis
    ) -> list[tuple[StreamId, int]]:
        """(last id, last ordinal) of each stream: (0-0, 0) for one never published to."""
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.hmget(self._meta_name(name), [b"id", b"n"])
        ends = []
        for last, ordinal in await pipe.execute():
            ends.append((parse_id(last), int(ordinal)) if last is not None else (ZERO, 0))
        return ends

    def _wake(self) -> None:
        """Make the reader re-issue its XREAD with the current set of streams."""
        if self._wake_pending or not self._reader_ready:
            return
        self._wake_pending = True

        async def wake() -> None:
            self._wake_pending = False
            with contextlib.suppress(*UNREACHABLE, RedisError):
                pipe = self._commands.pipeline(transaction=False)
                pipe.xadd(self._wake_stream, {b"w": b"1"}, maxlen=1, approximate=False)
                pipe.pexpire(self._wake_stream, 60_000)
                await pipe.execute()

        self._spawn(wake())

    # reading

    async def _read_loop(self) -> None:
        delay = 0.05
        while not self._closed:
            try:
                if not self._reader_ready:
                    await self._reconnect()
                await self._read_once()
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except UNREACHABLE as error:
                if self._closed:
                    return
                if self._reader_ready:
                    self._lost_at = time.time()
                    log.warning(
                        "bus %s lost Redis at %s (%s); reconnecting",
                        self.server_id, redacted(self.url), error or type(error).__name__,
                    )  # fmt: skip
                    self._reader_ready = False
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self._reconnect_max_delay)
            except Exception:
                log.exception("bus %s reader failed; retrying", self.server_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._reconnect_max_delay)

    async def _reconnect(self) -> None:
        info = await self._reader.info("server")
        run_id = str(info["run_id"])
        await self._measure_clock(self._reader)
        # The same Redis process: positions stand, and ordinals tell what went meanwhile. A new
        # one (restart, failover) may have lost what was not read yet: every subscription gets
        # a gap now, rather than at the next message of its stream.
        restarted = run_id != self._run_id
        if restarted:
            self._wake_position = "0-0"
        streams = [
            (name, stream)
            for name, stream in self._streams.items()
            if restarted or any(r.position is None for r in stream.readings)
        ]
        ends = await self._ends([name for name, _ in streams], self._reader)
        self._run_id = run_id
        self._reader_ready = True
        self._lost_at = None
        self.stats.reconnects += 1
        log.info("bus %s reconnected to Redis at %s", self.server_id, redacted(self.url))
        for (_, stream), end in zip(streams, ends, strict=True):
            for reading in tuple(stream.readings):
                if restarted:
                    self._gap(stream, reading, GapReason.RESTARTED, end)
                elif reading.position is None:
                    self._gap(stream, reading, GapReason.OFFLINE, end)

    def _gap(
        self, stream: _Stream, reading: _Reading, reason: GapReason, end: tuple[StreamId, int]
    ) -> None:
        """Tell the subscription it may have missed messages; go on from ``end``."""
        subscription = reading.subscription
        if not subscription.active:
            return
        last = subscription.last_id if reading.position is not None else None
        reading.position, reading.ordinal = end
        subscription.last_id = format_id(end[0])
        self.stats.gaps += 1
        call_gap_handler(
            subscription, Gap(stream.topic, stream.key, reason, last, subscription.last_id)
        )

    async def _read_once(self) -> None:
        unpositioned = [
            (name, stream)
            for name, stream in self._streams.items()
            if any(reading.position is None for reading in stream.readings)
        ]
        if unpositioned:
            ends = await self._ends([name for name, _ in unpositioned], self._reader)
            for (_, stream), end in zip(unpositioned, ends, strict=True):
                for reading in tuple(stream.readings):
                    if reading.position is None:
                        self._gap(stream, reading, GapReason.OFFLINE, end)
        wanted: dict[bytes, str] = {}
        for name, stream in self._streams.items():
            positions = [r.position for r in stream.readings if r.position is not None]
            if positions:
                wanted[name] = format_id(min(positions))
        wanted[self._wake_stream] = self._wake_position
        response = await self._reader.xread(wanted, count=self._batch, block=self._block_ms)
        self.stats.reads += 1
        self._measure_lag(response)
        if not response:
            await self._check_trimmed()
            return
        broken: list[tuple[bytes, _Stream, _Reading]] = []
        for name, entries in response or ():
            if name == self._wake_stream:
                self._wake_position = entries[-1][0].decode()
                continue
            stream = self._streams.get(name)
            if stream is not None and entries:
                broken += [(name, stream, r) for r in self._deliver(stream, entries)]
        if broken:  # tell them, and resume from their stream's end as it is now
            ends = await self._ends([name for name, _, _ in broken], self._reader)
            for (_, stream, reading), end in zip(broken, ends, strict=True):
                self._gap(stream, reading, GapReason.TRIMMED, end)

    async def _measure_clock(self, client: aioredis.Redis) -> None:
        """How far Redis's clock (the time in its entry ids) is ahead of ours (kept as it was
        if Redis will not say: a proxy or a managed Redis may refuse TIME)."""
        before = time.time()
        try:
            seconds, micros = await client.time()
        except RedisError as error:
            log.debug("bus %s cannot read Redis's clock: %s", self.server_id, error)
            return
        self._redis_offset = seconds + micros / 1e6 - (before + time.time()) / 2

    def _measure_lag(self, response: Any) -> None:
        """The age of the oldest entry this read brought (its id is Redis's clock in ms when it
        was added); 0 when there was nothing new to read."""
        oldest = None
        for name, entries in response or ():
            if name != self._wake_stream and entries:
                added = parse_id(entries[0][0])[0] / 1000
                oldest = added if oldest is None else min(oldest, added)
        now = time.time() + self._redis_offset
        self._lag = 0.0 if oldest is None else max(0.0, now - oldest)

    async def _check_trimmed(self) -> None:
        """A blocked read timed out: is a subscription behind entries that are gone?

        Continuity is otherwise proved at the next entry read; a subscription whose stream
        was trimmed past it while it could not read (a stopped or overloaded process) and
        that nobody publishes to any more would wait for that entry, missing updates all the
        while. So, when the reader is idle: a stream whose last ordinal (read first) is past
        a subscription's, with no entry after that subscription's position (read second),
        had entries removed before they were read: a gap now. Nothing is delivered between
        the two reads (this is the reader), so entries added meanwhile cannot be mistaken for
        removed ones."""
        streams = [
            (name, stream)
            for name, stream in self._streams.items()
            if any(r.position is not None and r.ordinal is not None for r in stream.readings)
        ]
        if not streams:
            return
        ends = await self._ends([name for name, _ in streams], self._reader)
        behind = [
            (name, stream, reading, end)
            for (name, stream), end in zip(streams, ends, strict=True)
            for reading in stream.readings
            if reading.position is not None
            and reading.ordinal is not None
            and end[1] > reading.ordinal
        ]
        if not behind:
            return
        pipe = self._reader.pipeline(transaction=False)
        for name, _, reading, _ in behind:
            assert reading.position is not None
            after = (reading.position[0], reading.position[1] + 1)
            pipe.xrange(name, min=format_id(after), max="+", count=1)
        for (_, stream, reading, end), entries in zip(
            behind, await pipe.execute(), strict=True
        ):
            if not entries and reading.ordinal is not None and end[1] > reading.ordinal:
                self._gap(stream, reading, GapReason.TRIMMED, end)

    def _deliver(self, stream: _Stream, entries: list[Entry]) -> list[_Reading]:
        """Hand ``entries`` (one XREAD's, in stream order) to the stream's subscriptions,
        checking each entry's ordinal follows the last one the subscription passed; returns
        the subscriptions that met a gap (delivery to them stopped there)."""
        parsed: list[tuple[StreamId, int, bytes, int, Message | None]] = []
        for entry_id, fields in entries:
            identifier = parse_id(entry_id)
            try:
                ordinal, kind, number, incarnation, origin = fields[b"h"].split(b"|", 4)
                payload = decode(kind, fields[b"d"])
                message = Message(
                    stream.topic, stream.key, payload, origin.decode(), entry_id.decode()
                )
                parsed.append((identifier, int(ordinal), incarnation, int(number), message))
            except (KeyError, ValueError) as error:
                # Not written by a bus: its rank is unknown, so the next entry shows a gap.
                log.error(
                    "bus entry %s of %s:%s is not a bus message (%r); skipped",
                    entry_id, stream.topic.value, stream.key, error,
                )  # fmt: skip
                parsed.append((identifier, -1, b"", 0, None))
        broken = []
        for reading in tuple(stream.readings):
            subscription = reading.subscription
            if reading.position is None or not subscription.active:
                continue
            seen = reading.seen
            for identifier, ordinal, incarnation, sequence, message in parsed:
                if not subscription.active:
                    break
                if identifier <= reading.position:
                    continue
                if message is None:
                    reading.position = identifier
                    subscription.last_id = format_id(identifier)
                    continue
                if reading.ordinal is not None and ordinal != reading.ordinal + 1:
                    # Entries between were removed before this read (a larger rank), or the
                    # stream was made anew (a smaller one).
                    broken.append(reading)
                    break
                reading.position, reading.ordinal = identifier, ordinal
                subscription.last_id = message.id
                if sequence <= seen.get(incarnation, 0):
                    continue  # a publish that was sent twice (retried on a dropped connection)
                seen[incarnation] = sequence
                if message.origin == self.server_id and not subscription.own:
                    continue
                self.stats.delivered += 1
                call_handler(subscription, message)
        return broken

    # leases

    def clock(self) -> float:
        return time.monotonic()

    def _lease_keys(self, name: str) -> list[str]:
        return [f"{self.prefix}:lease:{name}", f"{self.prefix}:lease-fence:{name}"]

    async def _script(self, script: str, keys: list[str], args: list[Any], doing: str) -> Any:
        try:
            return await self._scripts[script](keys=keys, args=args)
        except UNREACHABLE as error:
            raise self._unavailable(error, doing) from error
        except RedisError as error:
            raise BusError(f"Redis refused {doing}: {error}") from error

    async def acquire_lease(self, name: str, ttl: float) -> Lease | None:
        self._check_open()
        if ttl <= 0:
            raise ValueError("a lease needs a positive ttl")
        started = self.clock()
        nonce = uuid.uuid4().hex[:16]
        token = await self._script(
            "ACQUIRE", self._lease_keys(name),
            [self.server_id, int(ttl * 1000), FENCE_TTL_MS, nonce],
            f"acquiring lease {name!r}",
        )  # fmt: skip
        if token is None:
            return None
        lease = Lease(name, self.server_id, int(token), ttl, started + ttl, self)
        self._leases[lease] = f"{self.server_id}|{token}|{nonce}"
        return lease

    async def renew_lease(self, lease: Lease) -> bool:
        self._check_open()
        started = self.clock()
        value = self._leases.get(lease)
        if value is None:
            return False
        renewed = await self._script(
            "RENEW", self._lease_keys(lease.name)[:1], [value, int(lease.ttl * 1000)],
            f"renewing lease {lease.name!r}",
        )  # fmt: skip
        if renewed == 1:
            # Still ours in Redis: nobody can have held it meanwhile, even if our own
            # (earlier-starting) clock already counted it as expired.
            lease.expires_at = started + lease.ttl
            return True
        lease.lost = True
        self._leases.pop(lease, None)
        return False

    async def release_lease(self, lease: Lease) -> None:
        value = self._leases.pop(lease, None)
        if value is None:
            return
        await self._script(
            "RELEASE", self._lease_keys(lease.name)[:1], [value],
            f"releasing lease {lease.name!r}",
        )  # fmt: skip

    async def lease_holder(self, name: str) -> LeaseInfo | None:
        held = await self._script(
            "HOLDER", self._lease_keys(name)[:1], [], f"reading lease {name!r}"
        )
        if held is None:
            return None
        value, pttl = held
        holder, token, _nonce = value.decode().rsplit("|", 2)
        return LeaseInfo(name, holder, int(token), max(int(pttl), 0) / 1000)

    # liveness

    async def _heartbeat_once(self) -> None:
        now, previous, members = await self._scripts["HEARTBEAT"](
            keys=[self._heartbeat_key, self._servers_key],
            args=[self._member, self._heartbeat_ttl_ms, self._info, FORGET_SERVERS_MS],
        )
        deadlines: dict[str, tuple[float, str]] = {}  # server id → its latest process
        for index in range(0, len(members), 2):
            server, _, incarnation = members[index].decode().rpartition("|")
            deadline = float(members[index + 1])
            if server not in deadlines or deadline > deadlines[server][0]:
                deadlines[server] = (deadline, incarnation)
        # Our own deadline had passed (or Redis lost it): others may have taken us for dead.
        lapsed = self._beats > 0 and (previous is None or float(previous) < now)
        self._beats += 1
        self._update_alive(now, deadlines, lapsed)
    async def _heartbeat_loop(self) -> None:
        failing = False
        while not self._closed:
            await asyncio.sleep(self._heartbeat_interval)
            try:
                await self._heartbeat_once()
            except asyncio.CancelledError:
                raise
            except (*UNREACHABLE, RedisError) as error:
                if not failing:
                    log.warning("bus %s cannot send its heartbeat: %s", self.server_id, error)
                failing = True
            else:
                failing = False

    def _update_alive(
        self, now: float, deadlines: dict[str, tuple[float, str]], lapsed: bool
    ) -> None:
        """Turn the servers' deadlines into up and down events.

        A server whose deadline passed died or left: down at once. A server that vanished from
        the set without one (Redis restarted empty) is given ``heartbeat_ttl`` to beat again
        before it is reported down, so that a Redis restart does not look like every server
        dying. A server id seen with a new incarnation was restarted: down, then up.
        """
        clock = time.monotonic()
        ttl = self._heartbeat_ttl_ms / 1000
        alive: dict[str, str] = {}
        events: list[ServerEvent] = []
        for server, (deadline, incarnation) in deadlines.items():
            if deadline >= now:
                alive[server] = incarnation
                self._missing_since.pop(server, None)
        for server, incarnation in self._alive.items():
            if server in alive:
                if alive[server] != incarnation:
                    events += [ServerEvent(server, False), ServerEvent(server, True)]
                continue
            if server not in deadlines:  # vanished, not expired: wait for its next beat
                missing_since = self._missing_since.setdefault(server, clock)
                if clock - missing_since < ttl:
                    alive[server] = incarnation
                    continue
            events.append(ServerEvent(server, False))
            self._missing_since.pop(server, None)
        events += [ServerEvent(server, True) for server in alive if server not in self._alive]
        if lapsed and self.server_id in self._alive:
            events.append(ServerEvent(self.server_id, True))  # announce ourselves again
        self._alive = alive
        for event in events:
            for watch in tuple(self._watches):
                try:
                    watch.handler(event)
                except Exception:
                    log.exception("server watch handler failed on %s", event)

    async def live_servers(self) -> set[str]:
        self._check_open()
        alive = await self._script("LIVE", [self._servers_key], [], "reading live servers")
        return {member.decode().rpartition("|")[0] for member in alive}

    def watch_servers(self, handler: ServerHandler) -> ServerWatch:
        watch = ServerWatch(handler, self._watches.remove)
        self._watches.append(watch)
        for server in sorted(self._alive):
            handler(ServerEvent(server, True))
        return watch


def _maxlen(maxlen: int | Mapping[Topic, int], topic: Topic) -> int:
    value = maxlen if isinstance(maxlen, int) else maxlen.get(topic, 10_000)
    if value < 1:
        raise ValueError("maxlen must be at least 1")
    return value

