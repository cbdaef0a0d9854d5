"""Chaos (issue 10): the database is damaged or gone when the server starts, and the repair path.

People edit a text file; the server stops; its database is then overwritten with garbage, cut
in half or deleted. The server starts anyway: documents open (with the file as last saved),
sync and save; for a damaged file the status and the log say what is wrong and that
``jupyter collab check --repair`` salvages it. The server stops, ``jupyter collab check``
diagnoses the file (exit 1) and ``--repair`` salvages it (exit 0, the damaged file kept aside);
a server on the repaired database records history again (a named version works): nothing lost
or doubled at any step.

A copy kept across the loss of the history itself (an open tab through the restart on a broken
or deleted database) is merged without doubling (``collaboration/lostcopy.py``):
``test_copies_kept_across_a_lost_history_are_not_doubled``, for each way the history goes.

test_store_failures.py covers each kind of broken file at start for one client and
test_check_command.py the command on its own; this is the whole path, with several people.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from jupyter_ydoc import YUnicode

from ..client import Client
from ..test_check_command import collab
from .workload import Edits, assert_converged, seeded

PEOPLE = 3


async def typing(clients: list[Client], edits: Edits, steps: int) -> None:
    for _ in range(steps):
        k = edits.rng.randrange(len(clients))
        edits.edit(clients[k], f"p{k}")
        await asyncio.sleep(edits.rng.uniform(0, 0.01))


def garbage(db: Path) -> None:
    db.write_bytes(b"overwritten by a backup tool gone wrong " * 500)


def truncated(db: Path) -> None:
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 2)


def deleted(db: Path) -> None:
    db.unlink()


BREAK = {"garbage": garbage, "truncated": truncated, "deleted": deleted}


async def edit_and_stop(server: Any, edits: Edits, path: Path, ydocs: list[Any] | None) -> list:
    """Start a server, let the people (with the copies ``ydocs``, or fresh ones) edit until
    everything converged and was saved, stop it (SIGTERM); their documents."""
    srv = server(save_delay=0.2, save_max_wait=1)
    clients = [await srv.connect("shared.txt", ydoc=d) for d in ydocs or [None] * PEOPLE]
    await typing(clients, edits, 20)
    await assert_converged(srv, "shared.txt", clients, edits, path)
    for client in clients:
        client.close()
    assert srv.terminate() == 0
    return [client.ydoc for client in clients]


def break_database(db: Path, broken: str) -> None:
    for suffix in ("-wal", "-shm"):  # (a stopped server leaves none; be sure)
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    BREAK[broken](db)


@pytest.mark.parametrize("broken", ["garbage", "deleted"])  # (cut in half: the same path)
async def test_broken_database_at_start_then_check_repair(broken, server, tmp_path):
    """The path an operator takes. The people's copies made before the history was lost are
    not kept across it (they open the document again: see the next test for why)."""
    seed, rng = seeded(f"database {broken}")
    edits = Edits(rng, seed)
    db = tmp_path / "collab.db"
    path = tmp_path / "root" / "shared.txt"
    path.write_text("")
    await edit_and_stop(server, edits, path, None)
    break_database(db, broken)

    second = server(save_delay=0.2, save_max_wait=1)
    status, body = await second.request("GET", "api/collab/status")
    assert status == 200, body
    if broken == "deleted":
        assert body["store"]["state"] == "ok"  # a new, empty database: history starts over
    else:
        assert body["store"]["state"] == "unavailable", body
        assert "damaged" in body["store"]["error"] or "not a database" in body["store"]["error"]
        assert "jupyter collab check" in body["store"]["help"]
        assert "--repair" in body["store"]["help"]
        assert "cannot use its database" in second.log()
    clients = [await second.connect("shared.txt") for _ in range(PEOPLE)]
    assert clients[0].content() == path.read_text()  # the file, as it was saved
    await typing(clients, edits, 20)
    await assert_converged(second, "shared.txt", clients, edits, path)
    for client in clients:  # (kept until after the repair: see below)
        client.close()
    assert second.terminate() == 0

    diagnosis = await asyncio.to_thread(collab, "check", "--db", str(db))
    if broken == "deleted":
        assert diagnosis.returncode == 0, diagnosis.stdout + diagnosis.stderr
    else:
        assert diagnosis.returncode == 1, diagnosis.stdout + diagnosis.stderr
        assert "--repair" in diagnosis.stdout
        repaired = await asyncio.to_thread(collab, "check", "--db", str(db), "--repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert list(tmp_path.glob("collab.db.damaged-*")), "the damaged file was not kept"
        again = await asyncio.to_thread(collab, "check", "--db", str(db))
        assert again.returncode == 0, again.stdout + again.stderr

    third = server(save_delay=0.2, save_max_wait=1)
    status, body = await third.request("GET", "api/collab/status")
    assert body["store"]["state"] == "ok", body
    clients = [await third.connect("shared.txt") for _ in range(PEOPLE)]
    await typing(clients, edits, 20)
    text = await assert_converged(third, "shared.txt", clients, edits, path)
    room = (await third.session("shared.txt"))["room"]
    status, version = await third.request(
        "POST", f"api/collab/documents/{room}/versions", {"name": "after the repair"}
    )
    assert status == 201, version  # history works again
    for client in clients:
        client.close()
    assert third.terminate() == 0
    assert path.read_text() == text


@pytest.mark.parametrize("broken", ["deleted", "garbage"])  # (cut in half: as garbage)
async def test_copies_kept_across_a_lost_history_are_not_doubled(broken, server, tmp_path):
    """issue 8: each person's copy from before the loss (a tab kept open: the client
    reconnects with its document) converged on the room's content without doubling it, in
    every client, a fresh client and the file; they edit on together."""
    seed, rng = seeded(f"copies kept across a {broken} database")
    edits = Edits(rng, seed)
    db = tmp_path / "collab.db"
    path = tmp_path / "root" / "shared.txt"
    path.write_text("")
    ydocs = await edit_and_stop(server, edits, path, None)
    break_database(db, broken)
    # one person typed while the server was down: a line the lost room never had, kept
    YUnicode(ydocs[0])._ysource.insert(0, "offline-0\n")
    edits.inserted.append("offline-0")
    await edit_and_stop(server, edits, path, ydocs)
