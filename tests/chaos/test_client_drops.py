"""Chaos (issue 10): clients drop and come back at random while everyone edits.

Five people on one text file of a real server process. At random (seeded) each one edits
(inserts or deletes a whole line), loses its connection (a clean close or the TCP connection
cut without a close frame), keeps editing offline, and reconnects with the document it kept, as
a browser tab does. At the end every client, the room, the file on disk and, after a restart,
the history hold exactly the lines sent minus the lines deleted, each once.
"""

from __future__ import annotations

import asyncio

from ..client import Client
from .workload import Edits, assert_converged, converged, drop, seeded

PEOPLE = 5
STEPS = 200


async def test_random_drops_and_reconnects_during_edits(server, tmp_path):
    seed, rng = seeded("random drops")
    edits = Edits(rng, seed)
    path = tmp_path / "root" / "shared.txt"
    path.write_text("")
    srv = server(save_delay=0.2, save_max_wait=1)
    clients: list[Client] = [await srv.connect("shared.txt") for _ in range(PEOPLE)]
    online = [True] * PEOPLE
    drops = reconnects = 0
    for _ in range(STEPS):
        k = rng.randrange(PEOPLE)
        roll = rng.random()
        if online[k] and roll < 0.08:
            drop(clients[k], rng)
            online[k] = False
            drops += 1
        elif not online[k] and roll < 0.3:
            clients[k] = await srv.connect("shared.txt", ydoc=clients[k].ydoc)
            online[k] = True
            reconnects += 1
        else:
            edits.edit(clients[k], f"p{k}")  # online or offline alike
        await asyncio.sleep(rng.uniform(0, 0.02))
    for k in range(PEOPLE):
        if not online[k]:
            clients[k] = await srv.connect("shared.txt", ydoc=clients[k].ydoc)
    print(f"{len(edits.inserted)} lines sent, {len(edits.deleted)} deleted, {drops} drops, "
          f"{reconnects} reconnects")  # fmt: skip
    assert drops >= 5, f"seed {seed}: the run dropped too few clients to mean anything"
    text = await assert_converged(srv, "shared.txt", clients, edits, path)
    for client in clients:
        client.close()
    assert srv.terminate() == 0
    # the history the next start builds the room from is the same text
    again = server(save_delay=0.2, save_max_wait=1)
    after = await again.connect("shared.txt")
    assert await converged([after], edits) == text
