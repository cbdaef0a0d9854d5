"""One writer per document in a group of servers (issue 9): only the holder of a room's writer
lease saves the file, polls it, makes automatic version points and compacts; it proves it still
holds the lease (the fencing token on the bus) before it writes; version points reach the
history of clients on every server.

Real server processes on one folder and one SQLite database, a real Redis
(``tests/bus/conftest.py``'s ``group``).
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

from .conftest import converged, eventually, text_of

pytestmark = pytest.mark.timeout(900)


def writer_of(group: Any, servers: list[Any], room: str = "*") -> int:
    """Which of ``servers`` holds the writer lease of ``room`` (read in Redis)."""
    redis = group.redis().client()
    try:
        keys = redis.keys(f"collab:lease:write:{room}")
        assert len(keys) == 1, keys
        holder = redis.get(keys[0]).decode().split("|")[0]
    finally:
        redis.close()
    (index,) = [i for i, s in enumerate(servers) if f"as server {holder}" in s.log()]
    return index


async def lease_held(group: Any) -> bool:
    redis = group.redis().client()
    try:
        return bool(redis.keys("collab:lease:write:*"))
    finally:
        redis.close()


def points_made_while_not_writing(log: str, path: str) -> list[str]:
    """Lines of a server's log where it made an automatic point without the writer lease."""
    writing, wrong = False, []
    for line in log.splitlines():
        if f"now writes {path}" in line:
            writing = True
        elif f"no longer writes {path}" in line:
            writing = False
        elif "Made the" in line and "version point" in line and not writing:
            wrong.append(line)
    return wrong


def saves_in(log: str, path: str) -> int:
    return log.count(f"Saved {path} as the writer")


async def test_versions_cross_servers_and_only_the_writer_makes_automatic_ones(group: Any) -> None:
    """Edits on two servers: automatic points (and the file as first opened) are made by the
    writer alone, at the shared log's latest update (so a point holds both servers' edits);
    a version named through one server reaches the clients of the other live."""
    (group.root / "v.txt").write_text("first\n")
    servers = group(2, version_quiet_period=1.0, version_interval=2.0)
    a, b = servers
    ca = await a.connect("v.txt")
    cb = await b.connect("v.txt")
    room = (await a.session("v.txt"))["room"]
    await eventually(lambda: lease_held(group), timeout=120, what="a writer")
    for i in range(3):
        ca.jdoc._ysource.insert(len(text_of(ca)), f"a{i}\n")
        cb.jdoc._ysource.insert(len(text_of(cb)), f"b{i}\n")
        await asyncio.sleep(0.2)
    wanted = [f"{n}{i}\n" for n in "ab" for i in range(3)]
    await converged([ca, cb], lambda t: all(w in t for w in wanted))
    final = text_of(ca)

    async def versions() -> list[dict[str, Any]]:
        status, reply = await b.request("GET", f"api/collab/documents/{room}/versions")
        assert status == 200, reply
        return reply["versions"]

    async def has_everything() -> bool:
        for version in await versions():
            if version["kind"] == "auto":
                status, got = await a.request(
                    "GET", f"api/collab/documents/{room}/versions/{version['id']}"
                )
                if status == 200 and got.get("content") == final:
                    return True
        return False

    await eventually(has_everything, timeout=180, what="an automatic point with every edit")
    kinds = [v["kind"] for v in await versions()]
    assert kinds.count("opened") == 1, kinds
    assert any("Made the auto version point" in s.log() for s in servers)
    for server in servers:
        assert points_made_while_not_writing(server.log(), "v.txt") == []

    # A named version made through a (whichever writes) reaches b's client live.
    status, named = await a.request(
        "POST", f"api/collab/documents/{room}/versions", {"name": "milestone"}
    )
    assert status == 201, named

    def heard(client: Any) -> bool:
        return any(
            n.get("type") == "version" and n["version"].get("name") == "milestone"
            for n in client.notices
        )

    await eventually(lambda: heard(cb) and heard(ca), timeout=120, what="the version notice")
    assert sum(1 for n in cb.notices if n.get("type") == "version" and
               n["version"].get("name") == "milestone") == 1  # fmt: skip
    ca.close()
    cb.close()


async def test_a_paused_writer_does_not_save_after_another_took_over(group: Any) -> None:
    """SIGSTOP the server that writes the file: another server takes the lease over and saves
    the edits made meanwhile. SIGCONT it: what its client typed while it was paused reaches
    everyone and the file (saved by the new writer), and the resumed server saves nothing
    more (its lease is gone: the bus says another holds it)."""
    path = group.root / "p.txt"
    path.write_text("start\n")
    servers = group(2)
    clients = [await s.connect("p.txt") for s in servers]
    clients[0].jdoc._ysource.insert(len(text_of(clients[0])), "before\n")
    await converged(clients, lambda t: "before\n" in t)
    await eventually(lambda: "before" in path.read_text(), timeout=120, what="the first save")
    w = writer_of(group, servers)
    paused, other = servers[w], servers[1 - w]
    on_paused, on_other = clients[w], clients[1 - w]
    assert paused.process is not None
    # (its log line comes after the file is written: paused in between, the line of the save
    # made before the pause would be counted as one made after it)
    await eventually(
        lambda: saves_in(paused.log(), "p.txt") >= 1, timeout=120, what="the first save logged"
    )
    os.kill(paused.process.pid, signal.SIGSTOP)
    try:
        on_paused.jdoc._ysource.insert(len(text_of(on_paused)), "typed to the paused one\n")
        on_other.jdoc._ysource.insert(len(text_of(on_other)), "typed to the other\n")
        await eventually(
            lambda: "now writes p.txt" in other.log(), timeout=180, what="the take-over"
        )
        await eventually(
            lambda: "typed to the other" in path.read_text(), timeout=180, what="its save"
        )
        saved_before = saves_in(paused.log(), "p.txt")
    finally:
        os.kill(paused.process.pid, signal.SIGCONT)
    wanted = ["start\n", "before\n", "typed to the paused one\n", "typed to the other\n"]
    await converged(clients, lambda t: all(t.count(x) == 1 for x in wanted))
    final = text_of(on_other)
    await eventually(lambda: path.read_text() == final, timeout=180, what="the file")
    await eventually(
        lambda: "no longer writes p.txt" in paused.log(), timeout=180, what="the lease lost"
    )
    # More edits on both: still saved by the new writer only.
    on_paused.jdoc._ysource.insert(len(text_of(on_paused)), "after resuming\n")
    await converged(clients, lambda t: "after resuming\n" in t)
    final = text_of(on_other)
    await eventually(lambda: path.read_text() == final, timeout=180, what="the last save")
    assert saves_in(paused.log(), "p.txt") == saved_before
    assert saves_in(other.log(), "p.txt") >= 2
    text = path.read_text()
    assert all(text.count(x) == 1 for x in wanted + ["after resuming\n"])
    for client in clients:
        client.close()
