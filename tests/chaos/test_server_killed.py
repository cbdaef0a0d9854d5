"""Chaos (issue 10): the server process is killed (SIGKILL) and started again while people edit.

Four people type into one text file of a real server process. At a random moment (seeded) the
server is killed: nothing is saved or flushed on the way out. They keep editing offline; a new
server process starts on the same folder and database; they reconnect with the documents they
kept. Twice. At the end every client, the room, the file on disk and the history hold exactly
the lines sent minus the lines deleted, each once: what reached the dead server before the kill
is neither lost nor doubled when the clients bring it back.

test_restart.py covers one writer killed at random points (the reader's copy survives) and one
client's offline edits merged with a change on disk; this is the same with several people
editing at once, deletions, offline work on both sides of each kill, and a server that saves.
"""

from __future__ import annotations

import asyncio

from ..client import Client
from .workload import Edits, assert_converged, seeded

PEOPLE = 4
ROUNDS = 2


async def typing(clients: list[Client], edits: Edits, steps: int) -> None:
    for _ in range(steps):
        k = edits.rng.randrange(len(clients))
        edits.edit(clients[k], f"p{k}")
        await asyncio.sleep(edits.rng.uniform(0, 0.01))


async def test_server_killed_and_restarted_during_edits(server, tmp_path):
    seed, rng = seeded("server killed")
    edits = Edits(rng, seed)
    path = tmp_path / "root" / "shared.txt"
    path.write_text("")
    srv = server(save_delay=0.2, save_max_wait=1)
    clients = [await srv.connect("shared.txt") for _ in range(PEOPLE)]
    for _ in range(ROUNDS):
        await typing(clients, edits, rng.randrange(20, 60))
        # the kill comes while the last edits are on their way (not waited for)
        srv.kill()
        for client in clients:
            client.close()
        await typing(clients, edits, rng.randrange(5, 20))  # offline, on every side
        srv = server(save_delay=0.2, save_max_wait=1)
        clients = [await srv.connect("shared.txt", ydoc=c.ydoc) for c in clients]
    await typing(clients, edits, 20)
    print(f"{len(edits.inserted)} lines sent, {len(edits.deleted)} deleted")
    text = await assert_converged(srv, "shared.txt", clients, edits, path)
    for client in clients:
        client.close()
    srv.kill()  # once more: what the last server logged rebuilds the same text
    again = server(save_delay=0.2, save_max_wait=1)
    fresh = await again.connect("shared.txt")
    assert fresh.content() == text, f"seed {seed}: the history after a kill differs"
