"""Fixtures for the bus tests.

Coroutine tests here run in a fresh event loop each (``asyncio.run``), with every bus a
:class:`Buses` fixture made closed at the end inside that loop: a bus holds connections and
tasks bound to its loop, and a test that fails must not leave them to the next one.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from jupyter_collab.bus import EventBus, InProcessBus, LocalHub
from jupyter_collab.bus.redis_streams import RedisBus

from ..client import Client
from ..servers import Server
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


# Quick saves, polls and writer take-overs, so that the tests wait seconds, not minutes.
GROUP = {
    "save_delay": 0.3,
    "save_max_wait": 2.0,
    "file_poll_interval": 0.5,
    "writer_lease_ttl": 3.0,
}


def started(server: Server, timeout: float = 600) -> Server:
    """``server.start()``, waiting longer than its minute when the machine is overloaded (a
    shared CI machine can take minutes to start three servers)."""
    try:
        return server.start()
    except RuntimeError as error:
        if "did not start" not in str(error):
            raise
    assert server.process is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()
            return server
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not start:\n{server.log()[-3000:]}")


@pytest.fixture
def group(tmp_path: Path, redis_factory: Any):
    """``group(n)``: n servers on ``tmp_path/root`` sharing ``tmp_path/collab.db`` and a Redis
    of this test's own; all killed at the end. ``root_dir``: another root (a link to the
    folder); ``server_args``: more server options (users); the rest are CollabApp settings
    (``database_url`` for PostgreSQL)."""
    root = tmp_path / "root"
    root.mkdir()
    made: list[Server] = []
    state: dict[str, RedisServer] = {}

    def start(
        n: int, *, root_dir: Path | None = None, server_args: tuple[str, ...] = (), **collab: Any
    ) -> list[Server]:
        if "redis" not in state:
            state["redis"] = redis_factory()
        servers = []
        for _ in range(n):
            # one log per server (Server logs beside the root by default)
            server = Server(root_dir or root, tmp_path / "collab.db", server_args=server_args,
                            redis_url=state["redis"].url, **{**GROUP, **collab})  # fmt: skip
            server.log_path = tmp_path / f"server-{len(made)}.log"
            made.append(server)
            servers.append(started(server))
        return servers

    start.root = root  # type: ignore[attr-defined]
    start.redis = lambda: state["redis"]  # type: ignore[attr-defined]
    start.servers = made  # type: ignore[attr-defined]
    yield start
    for server in made:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)


def text_of(client: Client) -> str:
    return str(client.jdoc._ysource)


async def converged(clients: list[Client], check: Any = None) -> None:
    def same() -> bool:
        contents = [c.content() for c in clients]
        return all(x == contents[0] for x in contents) and (check is None or check(contents[0]))

    await eventually(same, timeout=120, what="every client to converge")
