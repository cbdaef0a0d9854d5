"""A server's bus in a process of its own, for the cross-process tests.

Usage: ``python worker.py URL PREFIX SERVER_ID chat COUNT PEERS`` or
``python worker.py URL PREFIX SERVER_ID hold LEASE TTL``.

* ``chat``: subscribe to one room's updates, print ``ready``, wait for ``go`` on stdin, publish
  COUNT messages, wait for everyone's (COUNT × PEERS), print them as one JSON line, exit.
* ``hold``: keep lease LEASE (ttl TTL), print ``holding TOKEN`` once it has it, then run until
  killed (the test SIGKILLs it as a crashed server).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import types
from pathlib import Path

# This checkout's package, whichever copy is installed (as pytest does with its rootdir).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _import_bus() -> types.ModuleType:
    """jupyter_collab.bus without running ``jupyter_collab/__init__`` (it imports
    jupyter_server, seconds per process on a busy machine): a bare package stands in."""
    if "jupyter_collab" not in sys.modules:
        spec = importlib.util.find_spec("jupyter_collab")
        assert spec is not None and spec.submodule_search_locations is not None
        package = types.ModuleType("jupyter_collab")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["jupyter_collab"] = package
    import jupyter_collab.bus as bus

    return bus


bus = _import_bus()
from jupyter_collab.bus.redis_streams import RedisBus  # noqa: E402

OPTIONS = {"heartbeat_interval": 0.25, "heartbeat_ttl": 3.0, "block": 2.0}


async def chat(server: RedisBus, count: int, peers: int) -> None:
    received: list[tuple[str, int, str]] = []
    done = asyncio.Event()

    def handler(message: bus.Message) -> None:
        received.append((message.origin, message.payload["n"], message.id))
        if len(received) >= count * peers:
            done.set()

    await server.subscribe(bus.Topic.DOCUMENT_EDIT, "shared", handler, own=True)
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    assert line.strip() == "go", line
    await asyncio.gather(
        *(server.publish(bus.Topic.DOCUMENT_EDIT, "shared", {"n": n}) for n in range(count))
    )
    await asyncio.wait_for(done.wait(), 240)
    print(json.dumps({"received": received}), flush=True)


async def hold(server: RedisBus, lease: str, ttl: float) -> None:
    keeper = bus.LeaseKeeper(
        server, lease, ttl,
        on_acquired=lambda held: print(f"holding {held.token}", flush=True),
        on_lost=lambda held: print(f"lost {held.token}", flush=True),
    )  # fmt: skip
    keeper.start()
    await asyncio.Event().wait()


async def main(url: str, prefix: str, server_id: str, mode: str, *args: str) -> None:
    server = RedisBus(url, server_id=server_id, prefix=prefix, **OPTIONS)
    await server.start()
    try:
        if mode == "chat":
            await chat(server, int(args[0]), int(args[1]))
        elif mode == "hold":
            await hold(server, args[0], float(args[1]))
        else:
            raise SystemExit(f"unknown mode {mode}")
    finally:
        await server.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
