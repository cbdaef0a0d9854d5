"""The bus-lag metric (``jupyter_collab_bus_lag_seconds``): how far a server's reading of the
Redis Streams bus is behind, on /metrics when the server is in a group (``redis_url``).

A real ``redis-server`` (tests/services/redis.py), a real Jupyter server; the lag is made real
by stopping the reader's event loop while entries wait in the stream.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from jupyter_collab import metrics
from jupyter_collab.bus import Topic, create_bus
from jupyter_collab.bus.redis_streams import RedisBus

from .auth import token_header
from .client import eventually
from .test_metrics import scrape, value

LAG = "jupyter_collab_bus_lag_seconds"


@pytest.fixture
def collab_config(collab_config: dict[str, Any], redis_server: Any) -> dict[str, Any]:
    return {**collab_config, "redis_url": redis_server.url}


async def test_bus_lag_is_on_metrics_in_a_group(jp_fetch, jp_serverapp, jp_root_dir, connect):
    """With redis_url set the gauge is there (without it, test_metrics shows it absent), and
    once the server has read the edits of an open document it is caught up: small, not the
    age of the stream."""
    (jp_root_dir / "doc.txt").write_text("")
    writer = await connect("doc.txt", headers=token_header("alice"))
    reader = await connect("doc.txt", headers=token_header("bob"))
    for i in range(20):
        writer.jdoc._ysource.insert(len(writer.content()), f"line {i}\n")
    await eventually(lambda: reader.content().count("\n") == 20, timeout=60, what="edits")
    samples = await scrape(jp_fetch)
    assert (LAG, ()) in samples
    # Caught up: whatever the reader read last waited for less than a minute in its stream
    # (a generous bound for a loaded machine; a wrong clock or unit would give hours or 0/NaN).
    assert 0 <= value(samples, LAG) < 60


async def test_bus_lag_measures_entries_waiting_for_a_stalled_reader(redis_server):
    """A reader whose event loop was held up while entries waited in Redis reports at least
    that wait, then goes back to 0 once a read finds nothing new."""
    prefix = f"lag-{time.monotonic_ns()}"
    reader = create_bus(redis_server.url, prefix=prefix, block=1.0)
    assert isinstance(reader, RedisBus)
    await reader.start()
    metrics.watch_bus(reader)

    def publish_from_another_server(payload: bytes) -> None:
        """Another server's bus (its own thread and loop) publishes while ours is stalled."""

        async def publish() -> None:
            writer = create_bus(redis_server.url, prefix=prefix)
            await writer.start()
            await writer.publish(Topic.DOCUMENT_EDIT, "room", payload)
            await writer.close()

        thread = threading.Thread(target=asyncio.run, args=(publish(),))
        thread.start()
        thread.join(timeout=120)

    try:
        got: list[Any] = []
        await reader.subscribe(Topic.DOCUMENT_EDIT, "room", got.append)
        publish_from_another_server(b"first")
        await eventually(lambda: len(got) == 1, timeout=60, what="first message")
        # The reader's whole loop stalls (as an overloaded server's would) while the second
        # entry waits in Redis: it is in the stream before the stall begins.
        publish_from_another_server(b"second")
        time.sleep(1.5)
        await eventually(lambda: len(got) == 2, timeout=60, what="second message")
        assert reader.lag >= 1.0  # the entry waited at least the stall in its stream
        # the largest lag of the process's buses is what /metrics shows
        (family,) = list(metrics.BUS_LAG.collect())
        assert family.name == "jupyter_collab_bus_lag_seconds"
        assert family.samples[0].value >= reader.lag
        await eventually(lambda: reader.lag == 0, timeout=60, what="caught up, lag back to 0")
    finally:
        metrics.unwatch_bus(reader)
        await reader.close()
