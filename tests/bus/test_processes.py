"""Several servers' buses in separate processes on one real Redis (as several Jupyter servers
would have): one order for everyone, and a server that dies is noticed and replaced."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from jupyter_collab.bus import LeaseKeeper, ServerEvent

from .conftest import Buses, eventually

WORKER = Path(__file__).with_name("worker.py")


async def spawn(buses: Buses, server_id: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), buses.url, buses.prefix, server_id, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def read_line(process: asyncio.subprocess.Process, timeout: float = 120) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout)
    assert line, f"the worker exited with {await process.wait()}"
    return line.decode().strip()


async def test_three_processes_see_one_order(redis_buses: Buses) -> None:
    count, names = 200, ["p1", "p2", "p3"]
    workers = [await spawn(redis_buses, name, "chat", str(count), "3") for name in names]
    try:
        for worker in workers:
            assert await read_line(worker) == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(b"go\n")
            await worker.stdin.drain()
        results = [json.loads(await read_line(worker, 300))["received"] for worker in workers]
        assert [await worker.wait() for worker in workers] == [0, 0, 0]
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    assert len(results[0]) == 3 * count
    assert results[0] == results[1] == results[2]  # one order, with the same ids, everywhere
    for name in names:
        assert [n for origin, n, _ in results[0] if origin == name] == list(range(count))


async def test_a_killed_server_is_noticed_and_its_lease_taken_over(redis_buses: Buses) -> None:
    watcher = await redis_buses("watcher")
    events: list[ServerEvent] = []
    watcher.watch_servers(events.append)
    worker = await spawn(redis_buses, "doomed", "hold", "room:doc", "2")
    try:
        line = await read_line(worker)
        assert line.startswith("holding ")
        token = int(line.split()[1])
        await eventually(lambda: ServerEvent("doomed", True) in events, what="its heartbeat")
        taken: list[int] = []
        keeper = LeaseKeeper(
            watcher, "room:doc", 2, on_acquired=lambda lease: taken.append(lease.token),
            on_lost=lambda lease: None,
        )  # fmt: skip
        keeper.start()
        await asyncio.sleep(1)
        assert not taken  # the worker holds it and renews it
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        await eventually(lambda: ServerEvent("doomed", False) in events, what="its death")
        assert "doomed" not in await watcher.live_servers()
        await eventually(lambda: taken, what="the lease to be taken over")
        assert taken[0] > token
        holder = await watcher.lease_holder("room:doc")
        assert holder is not None and holder.holder == "watcher"
        await keeper.stop()
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()


async def test_a_server_restarted_with_the_same_id_is_seen_as_new(redis_buses: Buses) -> None:
    watcher = await redis_buses("watcher")
    events: list[ServerEvent] = []
    watcher.watch_servers(events.append)
    worker = await spawn(redis_buses, "stable-id", "hold", "room:doc", "30")
    try:
        assert (await read_line(worker)).startswith("holding ")
        await eventually(lambda: ServerEvent("stable-id", True) in events, what="its heartbeat")
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    # It comes back at once under the same id, before its old heartbeat expired: the old
    # process's presence must still go (down), and the new one is up.
    await redis_buses("stable-id")
    await eventually(lambda: events.count(ServerEvent("stable-id", True)) == 2, what="new")
    ups = [i for i, event in enumerate(events) if event == ServerEvent("stable-id", True)]
    assert ServerEvent("stable-id", False) in events[ups[0] : ups[1]]
