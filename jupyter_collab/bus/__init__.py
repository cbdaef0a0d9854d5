"""The event bus: how the servers that serve one folder share edits, presence and events.

``create_bus(url)`` gives the in-process bus for ``""`` (one server, the default) and the Redis
Streams bus for ``redis://`` / ``rediss://`` / ``unix://`` URLs. See :mod:`.interface` for the
guarantees, ``docs/scale-out.md`` for what travels on it.
"""

from __future__ import annotations

from typing import Any

from .interface import (
    BusClosed,
    BusError,
    BusUnavailable,
    EventBus,
    Gap,
    GapReason,
    Lease,
    LeaseInfo,
    Message,
    ServerEvent,
    ServerWatch,
    Subscription,
    Topic,
)
from .leases import LeaseKeeper
from .memory import InProcessBus, LocalHub

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

__all__ = [
    "BusClosed",
    "BusError",
    "BusUnavailable",
    "EventBus",
    "Gap",
    "GapReason",
    "InProcessBus",
    "Lease",
    "LeaseInfo",
    "LeaseKeeper",
    "LocalHub",
    "Message",
    "ServerEvent",
    "ServerWatch",
    "Subscription",
    "Topic",
    "create_bus",
]


def create_bus(url: str = "", *, server_id: str | None = None, **options: Any) -> EventBus:
    """The bus for ``url``: in process when empty, Redis Streams for a Redis URL.

    ``options`` go to :class:`~.redis_streams.RedisBus` (``prefix``, ``maxlen``, ...). The
    Redis module is imported only when a Redis URL is given.
    """
    if not url:
        if options:
            raise TypeError(f"the in-process bus takes no options: {sorted(options)}")
        return InProcessBus(server_id=server_id)
    if url.startswith(REDIS_SCHEMES):
        from .redis_streams import RedisBus

        return RedisBus(url, server_id=server_id, **options)
    raise ValueError(f"not a Redis URL (redis://host:port/db): {url!r}")
