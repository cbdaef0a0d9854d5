"""Fixtures for the bus tests.

Coroutine tests here run in a fresh event loop each (``asyncio.run``), with every bus a
:class:`Buses` fixture made closed at the end inside that loop: a bus holds connections and
tasks bound to its loop, and a test that fails must not leave them to the next one.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from jupyter_collab.bus import EventBus, InProcessBus, LocalHub
from jupyter_collab.bus.redis_streams import RedisBus

from ..services.redis import RedisServer

# Short heartbeats so that liveness tests finish quickly; the ttl stays well above the interval
# so that a test process starved of CPU on a busy machine is not taken for dead.
FAST = {"heartbeat_interval": 0.25, "heartbeat_ttl": 3.0, "block": 2.0}


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def main() -> None:
        try:
            await pyfuncitem.obj(**arguments)
        finally:
            for value in arguments.values():
                if isinstance(value, Buses):
                    await value.aclose()

    asyncio.run(main())
    return True


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Wait until ``check`` holds; fail naming ``what`` if it does not within ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Buses:
    """Makes started buses of one implementation that act as the servers of one group.

    In-process buses share a :class:`LocalHub`; Redis buses share a Redis and a key prefix
    unique to the test. Call ``await buses()`` for a new server's bus.
    """

    def __init__(self, kind: str, redis: RedisServer | None = None) -> None:
        self.kind = kind
        self.redis = redis
        self.hub = LocalHub()
        self.prefix = f"t{uuid.uuid4().hex[:12]}"
        self.made: list[EventBus] = []

    @property
    def url(self) -> str:
        assert self.redis is not None
        return self.redis.url

    def make(self, server_id: str | None = None, **options: Any) -> EventBus:
        if self.kind == "memory":
            bus: EventBus = InProcessBus(server_id=server_id, hub=self.hub)
        else:
            bus = RedisBus(self.url, server_id=server_id, prefix=self.prefix, **{**FAST, **options})
        self.made.append(bus)
        return bus

    async def __call__(self, server_id: str | None = None, **options: Any) -> EventBus:
        bus = self.make(server_id, **options)
        await bus.start()
        return bus

    async def aclose(self) -> None:
        for bus in self.made:
            await bus.close()


@pytest.fixture(params=["memory", "redis"])
def buses(request: pytest.FixtureRequest) -> Buses:
    """Buses of each implementation in turn (the contract suite runs against both)."""
    if request.param == "redis":
        return Buses("redis", request.getfixturevalue("redis_server"))
    return Buses("memory")


@pytest.fixture
def redis_buses(redis_server: RedisServer) -> Buses:
    """Redis buses on the session's Redis."""
    return Buses("redis", redis_server)


@pytest.fixture
def own_redis(redis_factory: Callable[..., RedisServer]) -> RedisServer:
    """A Redis of this test's own, to stop and restart."""
    return redis_factory()


@pytest.fixture
def outage_buses(own_redis: RedisServer) -> Buses:
    """Redis buses on a Redis of the test's own (``outage_buses.redis.restart()``)."""
    return Buses("redis", own_redis)
