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
