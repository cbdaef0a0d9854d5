"""A save a user asks for (Ctrl+S, the ``save`` notice) on a server that does not write the
file (issue 9): the writer saves the file and makes the "save" version point, once, credited to
that user, and every server's history shows it. Real server processes, a real Redis.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jupyter_collab.protocol.framing import notice_frame

from .conftest import converged, eventually, text_of
from .test_shares import users
from .test_writer import lease_held, writer_of

pytestmark = pytest.mark.timeout(900)


async def test_a_save_asked_on_a_server_that_does_not_write_makes_one_version(group: Any) -> None:
    path = group.root / "s.txt"
    path.write_text("start\n")
    # No automatic points: the only points are the file as first opened and the save.
    a, b = users(group, 2)
    alice = await a.connect("s.txt", token="alice-token")
    await eventually(lambda: lease_held(group), timeout=180, what="a writer")
    assert writer_of(group, [a, b]) == 0  # (b has not opened the document yet)
    room = (await a.session("s.txt", token="alice-token"))["room"]
    bob = await b.connect("s.txt", token="bob-token")
    bob.jdoc._ysource.insert(len(text_of(bob)), "bob's line\n")
    bob.send(notice_frame({"type": "save"}))
    await converged([alice, bob], lambda t: "bob's line\n" in t)
    content = text_of(bob)

    async def saves(server: Any) -> list[dict[str, Any]]:
        status, reply = await server.request(
            "GET", f"api/collab/documents/{room}/versions", token="alice-token"
        )
        assert status == 200, reply
        return [v for v in reply["versions"] if v["kind"] == "save"]

    async def on_both() -> bool:
        return [len(await saves(s)) >= 1 for s in (a, b)] == [True, True]

    await eventually(on_both, timeout=180, what="the save version on both servers")
    await eventually(
        lambda: any(n.get("type") == "saved" for n in bob.notices), timeout=120,
        what="the saved notice reaching bob",
    )  # fmt: skip
    assert path.read_text() == content
    await asyncio.sleep(2)  # (a second version, if any, would come from the other server now)
    for server in (a, b):
        (version,) = await saves(server)
        assert version["createdBy"] == "bob"
        status, got = await server.request(
            "GET", f"api/collab/documents/{room}/versions/{version['id']}", token="alice-token"
        )
        assert status == 200, got
        assert got["content"] == content
    # Audited once, as bob's save, by the server that wrote the file.
    status, audit = await b.request(
        "GET", f"api/collab/audit?document={room}&action=save&user=bob", token="alice-token"
    )
    assert status == 200, audit
    assert [(e["action"], e["user"]) for e in audit["events"]] == [("save", "bob")]
    assert "Saving s.txt for bob" not in b.log()  # (went to the writer, no fallback)
    alice.close()
    bob.close()


async def _saves(server: Any, room: str) -> list[dict[str, Any]]:
    status, reply = await server.request(
        "GET", f"api/collab/documents/{room}/versions", token="alice-token"
    )
    assert status == 200, reply
    return [v for v in reply["versions"] if v["kind"] == "save"]


async def _one_save_by_bob(servers: list[Any], room: str, content: str) -> None:
    """Every server's history shows exactly one "save" version, bob's, holding ``content``."""

    async def everywhere() -> bool:
        return all([len(await _saves(s, room)) >= 1 for s in servers])

    await eventually(everywhere, timeout=180, what="the save version on every server")
    await asyncio.sleep(2)  # (a second version, if any, would come from another server now)
    for server in servers:
        (version,) = await _saves(server, room)
        assert version["createdBy"] == "bob"
        status, got = await server.request(
            "GET", f"api/collab/documents/{room}/versions/{version['id']}", token="alice-token"
        )
        assert status == 200, got
        assert got["content"] == content


async def test_a_save_asked_while_the_writer_dies_goes_to_the_next_writer(group: Any) -> None:
    """The writer is SIGKILLed just before bob's save request reaches it: the request goes to
    whichever server writes the file next, which saves it and makes bob's "save" version once
    (audited as bob's save); nothing waits for the dead writer's answer."""
    path = group.root / "k.txt"
    path.write_text("start\n")
    a, b, c = users(group, 3)
    alice = await a.connect("k.txt", token="alice-token")
    await eventually(lambda: lease_held(group), timeout=180, what="a writer")
    assert writer_of(group, [a, b, c]) == 0
    room = (await a.session("k.txt", token="alice-token"))["room"]
    bob = await b.connect("k.txt", token="bob-token")
    carol = await c.connect("k.txt", token="carol-token")
    bob.jdoc._ysource.insert(len(text_of(bob)), "bob's line\n")
    await converged([alice, bob, carol], lambda t: "bob's line\n" in t)
    content = text_of(bob)
    a.kill()  # (its lease stays in Redis for a ttl: b asks the dead writer first)
    bob.send(notice_frame({"type": "save"}))
    await _one_save_by_bob([b, c], room, content)
    await eventually(lambda: path.read_text() == content, timeout=120, what="the file saved")
    await eventually(
        lambda: any(n.get("type") == "saved" for n in bob.notices), timeout=120,
        what="the saved notice reaching bob",
    )  # fmt: skip
    status, audit = await b.request(
        "GET", f"api/collab/audit?document={room}&action=save&user=bob", token="alice-token"
    )
    assert status == 200, audit
    assert [(e["action"], e["user"]) for e in audit["events"]] == [("save", "bob")]
    await converged([bob, carol], lambda t: t == content)
    bob.close()
    carol.close()


async def test_a_save_asked_while_redis_is_down_makes_its_version_and_reaches_the_file(
    group: Any,
) -> None:
    """Redis stops before bob asks to save on the server that does not write the file: the
    request cannot reach the writer, so bob's server makes the "save" version in the shared
    store at once; once Redis is back the writer catches up and the file gets bob's line,
    once; one version, bob's, on every server."""
    path = group.root / "r.txt"
    path.write_text("start\n")
    a, b = users(group, 2)
    alice = await a.connect("r.txt", token="alice-token")
    await eventually(lambda: lease_held(group), timeout=180, what="a writer")
    assert writer_of(group, [a, b]) == 0
    room = (await a.session("r.txt", token="alice-token"))["room"]
    bob = await b.connect("r.txt", token="bob-token")
    await converged([alice, bob])
    redis = group.redis()
    redis.stop()
    try:
        bob.jdoc._ysource.insert(len(text_of(bob)), "bob's line while redis is down\n")
        content = text_of(bob)
        bob.send(notice_frame({"type": "save"}))

        async def made_on_b() -> bool:
            return len(await _saves(b, room)) >= 1

        await eventually(made_on_b, timeout=120, what="bob's save version, made on b")
    finally:
        redis.start()
    await converged([alice, bob], lambda t: t == content)
    await eventually(lambda: path.read_text() == content, timeout=180, what="the file saved")
    await _one_save_by_bob([a, b], room, content)
    assert path.read_text().count("bob's line") == 1
    alice.close()
    bob.close()
