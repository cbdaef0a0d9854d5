"""Chaos (issue 10): the disk holding the documents fills up while people edit.

The served folder is a small tmpfs of its own (a real ENOSPC from the kernel; the database is
elsewhere, as it usually is: the runtime or home folder). People keep editing; every save fails:
each of them is told why (a ``save-error`` notice naming the full disk), the room keeps serving,
the edits are kept in the history log. Space comes back: the room saves by itself, once, and the
file holds exactly what everyone sees. A server killed while the disk is full loses nothing
either: the next start rebuilds the room from the log and saves it.

test_store_failures.py covers the *database's* disk filling up; this is the documents' disk.
"""

from __future__ import annotations

import asyncio

import pytest

from ..client import Client, eventually
from ..servers import Server
from ..storefaults import SmallDisk, can_mount
from .workload import Edits, assert_converged, converged, seeded

PEOPLE = 3


def save_errors(client: Client) -> list[dict]:
    return [n for n in client.notices if n.get("type") == "save-error"]


async def typing(clients: list[Client], edits: Edits, steps: int) -> None:
    for _ in range(steps):
        k = edits.rng.randrange(len(clients))
        edits.edit(clients[k], f"p{k}-{'x' * 200}")  # long lines: the file needs new blocks
        await asyncio.sleep(edits.rng.uniform(0, 0.01))


@pytest.mark.skipif(not can_mount(), reason="needs to mount a small tmpfs (root)")
async def test_documents_disk_full_then_space_back(tmp_path):
    seed, rng = seeded("documents disk full")
    edits = Edits(rng, seed)
    disk = SmallDisk(tmp_path / "docs", size=1024 * 1024).mount()
    servers: list[Server] = []

    def start() -> Server:
        srv = Server(disk.path, tmp_path / "collab.db", save_delay=0.2, save_max_wait=1)
        srv.log_path = tmp_path / f"server-{len(servers)}.log"
        servers.append(srv)
        return srv.start()

    try:
        path = disk.path / "shared.txt"
        path.write_text("")
        srv = start()
        clients = [await srv.connect("shared.txt") for _ in range(PEOPLE)]
        await typing(clients, edits, 10)
        await assert_converged(srv, "shared.txt", clients, edits, path)
        before = path.read_text()

        disk.fill()
        await typing(clients, edits, 40)
        text = await converged(clients, edits)  # the room keeps serving
        await eventually(lambda: all(save_errors(c) for c in clients), timeout=120,
                         what="everyone told the save failed")  # fmt: skip
        message = save_errors(clients[0])[0]["message"]
        assert "No space left on device" in message, message
        assert path.read_text() == before  # (nothing half written over the old file)
        assert not any(n.get("type") == "store-error" for n in clients[0].notices)

        # killed while the disk is full: the log has what the file could not get
        srv.kill()
        for client in clients:
            client.close()
        srv = start()
        fresh = await srv.connect("shared.txt")
        assert fresh.content() == text, f"seed {seed}: the log lost edits the file never got"
        clients = [await srv.connect("shared.txt", ydoc=c.ydoc) for c in clients]
        await typing(clients, edits, 10)
        await converged([*clients, fresh], edits)
        assert path.read_text() == before  # still full

        disk.free()  # space is back: saved by itself, without another edit
        final = await assert_converged(srv, "shared.txt", clients, edits, path)
        assert srv.terminate() == 0
        for client in [*clients, fresh]:
            client.close()
        assert path.read_text() == final
    finally:
        for srv in servers:
            srv.stop()
        disk.unmount()
