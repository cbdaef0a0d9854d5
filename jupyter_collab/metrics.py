"""Prometheus metrics of the collaboration layer, served by Jupyter Server's own ``/metrics``.

Everything is registered in prometheus_client's default registry, which Jupyter Server's
``PrometheusMetricsHandler`` serves (behind a login unless the server sets
``authenticate_prometheus = False``). Every name starts with ``jupyter_collab_`` and every
label takes a value from a short, fixed list (a document kind, a close reason, a refusal
reason): never a document path, a room id or a user name, so the number of series stays
bounded however many documents and users a server sees.

The rest of the package calls in here with one line at the place where something happens. The
cost on the fan-out path stays per broadcast, not per recipient: a document update delivered
to 1,000 clients is one increment by 1,000 and one histogram observation. Bytes sent are added
to a plain integer per socket write (no lock: only the event loop writes), which the collector
below reads at scrape time, as it reads the number of open rooms and connected clients from
the room managers themselves (so those gauges can never drift from the truth).

See docs/metrics.md for what each metric means and what to alert on.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .documents.kinds import KINDS
from .protocol.codes import CloseCode, SyncType
from .protocol.framing import EMPTY_UPDATE, Message, SyncMessage

PREFIX = "jupyter_collab_"

# From a loopback delivery (well under a millisecond) to a store or disk in trouble.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
SAVE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# -- label values: the only ones there are ---------------------------------------------------

KIND_LABELS = tuple(f"{kind.format}:{kind.type}" for kind in KINDS.values())

# Who ended a room connection: the server, with one of its close codes, or the client. (A
# client's own close code says little: browsers and y-websocket close without one, which the
# server sees as no code, like a connection that dropped.)
CLIENT_CLOSED = "client_closed"  # a tab closed or reloaded, a network gone, a frame too big
DISCONNECT_REASONS = (*(code.name.lower() for code in CloseCode), CLIENT_CLOSED)

READ_ONLY_EDIT = "read_only_edit"  # a viewer's document update (refused, see room.py)
READ_ONLY_SAVE = "read_only_save"  # a viewer asked for a save
MALFORMED = "malformed"  # a frame that is not the protocol (the client is disconnected)
AWARENESS_STATE_TOO_LARGE = "awareness_state_too_large"
AWARENESS_TOO_MANY_STATES = "awareness_too_many_states"
AWARENESS_NOT_YOURS = "awareness_not_yours"
REFUSAL_REASONS = (
    READ_ONLY_EDIT,
    READ_ONLY_SAVE,
    MALFORMED,
    AWARENESS_STATE_TOO_LARGE,
    AWARENESS_TOO_MANY_STATES,
    AWARENESS_NOT_YOURS,
)

# -- the metrics ------------------------------------------------------------------------------

UPDATES_RECEIVED = Counter(
    PREFIX + "updates_received",
    "Document updates received from clients (sync update and step 2 messages with content), "
    "including those then refused.",
)
UPDATES_DELIVERED = Counter(
    PREFIX + "updates_delivered",
    "Document updates sent to clients: each update counts once per recipient (a client that "
    "lags gets several merged into one frame, and each counts).",
)
RECEIVED_BYTES = Counter(
    PREFIX + "received_bytes",
    "Bytes of WebSocket messages received on room connections (payloads, all message types).",
)
FANOUT_SECONDS = Histogram(
    PREFIX + "fanout_seconds",
    "From a document update being applied to the room (just after it arrived) until it was "
    "written to the sockets of every client ready to take it; includes the wait for the store "
    "to log it first. One observation per update sent to at least one client.",
    buckets=LATENCY_BUCKETS,
)
STORE_APPEND_SECONDS = Histogram(
    PREFIX + "store_append_seconds",
    "Time to append a batch of updates to the durable log (store append_many), failures included.",
    buckets=LATENCY_BUCKETS,
)
STORE_APPEND_FAILURES = Counter(
    PREFIX + "store_append_failures",
    "Appends to the durable log that failed (the updates are kept and written again with the "
    "next append).",
)
SAVE_SECONDS = Histogram(
    PREFIX + "save_seconds",
    "Time of a save of a room to its file through the ContentsManager, from the save being "
    "started (waiting for a disk merge or the log) to the file written, failures included.",
    buckets=SAVE_BUCKETS,
)
SAVES = Counter(PREFIX + "saves", "Saves of rooms to their files that reached the disk.")
SAVE_FAILURES = Counter(
    PREFIX + "save_failures",
    "Saves of rooms to their files that failed with an error (the edits are kept and the save "
    "is tried again).",
)
DISCONNECTS = Counter(
    PREFIX + "disconnects",
    "Room connections that ended, by reason: a server close code in lower case (too_slow, "
    "forbidden, malformed, ...) or client_closed.",
    ["reason"],
)
REFUSED_MESSAGES = Counter(
    PREFIX + "refused_messages",
    "Client messages the server refused, by reason: read_only_edit, read_only_save, malformed, "
    "awareness_state_too_large, awareness_too_many_states, awareness_not_yours.",
    ["reason"],
)
# Every label value from the start: a series that exists at 0 makes rate() and alerts work
# from the first scrape; looking the children up once keeps .labels() off the hot paths.
_DISCONNECTS = {reason: DISCONNECTS.labels(reason) for reason in DISCONNECT_REASONS}
_REFUSED = {reason: REFUSED_MESSAGES.labels(reason) for reason in REFUSAL_REASONS}


class Tally:
    """A counter for the hottest path, one add per socket write: a plain integer that only the
    event loop thread changes, exported by the collector (a prometheus Counter takes a lock for
    every increment)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


SENT_BYTES = Tally()


# -- hooks --------------------------------------------------------------------------------------


def received(message: str | bytes) -> None:
    """A WebSocket message arrived on a room connection."""
    RECEIVED_BYTES.inc(len(message) if isinstance(message, bytes) else len(message.encode()))


def received_update(message: Message) -> None:
    """A decoded message of a client in a room: count it if it is a document update."""
    if (
        isinstance(message, SyncMessage)
        and message.sync_type is not SyncType.STEP1
        and message.payload != EMPTY_UPDATE
    ):
        UPDATES_RECEIVED.inc()


def fanned_out(recipients: int, since: float | None) -> None:
    """A document update was written to (or queued for) ``recipients`` clients; ``since`` is
    the ``time.perf_counter()`` of its arrival."""
    if not recipients:
        return  # (a client alone in its room)
    UPDATES_DELIVERED.inc(recipients)
    if since is not None:
        FANOUT_SECONDS.observe(time.perf_counter() - since)


T = TypeVar("T")


async def timed_append(append: Awaitable[T]) -> T:
    """Await a store append, timing it and counting a failure."""
    start = time.perf_counter()
    try:
        return await append
    except Exception:
        STORE_APPEND_FAILURES.inc()
        raise
    finally:
        STORE_APPEND_SECONDS.observe(time.perf_counter() - start)


def timed_save(save: Callable[..., Awaitable[bool]]) -> Callable[..., Awaitable[bool]]:
    """Decorate a save coroutine that returns whether the file was written: time it, count it."""

    @functools.wraps(save)
    async def timed(*args: Any, **kwargs: Any) -> bool:
        start = time.perf_counter()
        try:
            done = await save(*args, **kwargs)
        finally:
            SAVE_SECONDS.observe(time.perf_counter() - start)
        if done:
            SAVES.inc()
        return done

    return timed


def save_failed() -> None:
    SAVE_FAILURES.inc()


def disconnected(server_code: CloseCode | None) -> None:
    """A room connection ended: closed by the server with ``server_code``, else (None) by the
    client."""
    _DISCONNECTS[CLIENT_CLOSED if server_code is None else server_code.name.lower()].inc()


def refused(reason: str) -> None:
    """A client message was refused; ``reason`` is one of REFUSAL_REASONS."""
    _REFUSED[reason].inc()


def refused_awareness(reasons: Iterable[str]) -> None:
    """An awareness update was refused in part, for these reasons (collaboration/presence.py)."""
    for reason in reasons:
        _REFUSED["awareness_" + reason.replace("-", "_")].inc()



# -- what is read at scrape time ------------------------------------------------------------------


class RoomsCollector:
    """Open rooms and connected clients, counted from the watched room managers at scrape time,
    and the bytes sent (a :class:`Tally`)."""

    def __init__(self) -> None:
        self.managers: weakref.WeakSet[Any] = weakref.WeakSet()

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(PREFIX + "rooms", "", labels=["kind"])
        yield GaugeMetricFamily(PREFIX + "clients", "", labels=["kind"])
        yield CounterMetricFamily(PREFIX + "sent_bytes", "")

    def collect(self) -> Iterator[Metric]:
        rooms = dict.fromkeys(KIND_LABELS, 0)
        clients = dict.fromkeys(KIND_LABELS, 0)
        for manager in list(self.managers):
            for room in list(manager.rooms.values()):
                kind = f"{room.kind.format}:{room.kind.type}"
                rooms[kind] = rooms.get(kind, 0) + 1
                clients[kind] = clients.get(kind, 0) + len(room.participants)
        open_rooms = GaugeMetricFamily(
            PREFIX + "rooms",
            "Rooms (shared documents) open on this server, loading or loaded, by document kind.",
            labels=["kind"],
        )
        connected = GaugeMetricFamily(
            PREFIX + "clients",
            "Clients connected to rooms (one per open document per browser tab), by document kind.",
            labels=["kind"],
        )
        for kind, count in rooms.items():
            open_rooms.add_metric([kind], count)
            connected.add_metric([kind], clients[kind])
        yield open_rooms
        yield connected
        yield CounterMetricFamily(
            PREFIX + "sent_bytes",
            "Bytes of WebSocket frames written to room connections (updates, awareness, "
            "notices, sync replies).",
            value=SENT_BYTES.value,
        )


COLLECTOR = RoomsCollector()
REGISTRY.register(COLLECTOR)  # type: ignore[arg-type]


def watch(manager: Any) -> None:
    """Count the rooms of ``manager`` (a RoomManager) in the gauges until :func:`unwatch`."""
    COLLECTOR.managers.add(manager)


def unwatch(manager: Any) -> None:
    COLLECTOR.managers.discard(manager)


class BusLagCollector:
    """The consumer lag of this process's event buses between servers (redis_url), read at
    scrape time. Without such a bus there is no series at all: a 0 would claim a bus that
    keeps up."""

    NAME = PREFIX + "bus_lag_seconds"
    HELP = (
        "How far this server's reading of the event bus (Redis Streams) is behind: how long the "
        "entries it read last had waited in their streams (0 when it is caught up), or, while "
        "it cannot reach Redis, how long ago it lost it."
    )

    def __init__(self) -> None:
        self.buses: weakref.WeakSet[Any] = weakref.WeakSet()

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.NAME, self.HELP)

    def collect(self) -> Iterator[Metric]:
        buses = list(self.buses)
        if buses:  # the largest, if one process runs several servers (tests do)
            yield GaugeMetricFamily(self.NAME, self.HELP, value=max(bus.lag for bus in buses))


BUS_LAG = BusLagCollector()
REGISTRY.register(BUS_LAG)  # type: ignore[arg-type]


def watch_bus(bus: Any) -> None:
    """Report ``bus``'s consumer lag (its ``lag`` property, in seconds) on /metrics; the
    in-process bus has no ``lag`` (nothing between servers to fall behind on)."""
    if hasattr(bus, "lag"):
        BUS_LAG.buses.add(bus)


def unwatch_bus(bus: Any) -> None:
    BUS_LAG.buses.discard(bus)
