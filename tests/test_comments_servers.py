"""Comments on several servers: real server processes sharing a folder, a real PostgreSQL (the
comments, file ids and history of every server) and a real Redis (room notices)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import psycopg
import pytest

from jupyter_collab.comments.anchors import range_positions

from .bus.test_rooms import GROUP, started
from .client import eventually
from .servers import Server

pytestmark = pytest.mark.timeout(900)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def comments_notices(client: Any) -> list[dict[str, Any]]:
    return [n for n in client.notices if n.get("type") == "comments"]


async def test_comments_cross_servers_through_postgres_and_the_bus(
    tmp_path: Path, postgres_url: str, redis_factory: Any
) -> None:
    """A thread made through one server is stored in PostgreSQL and listed by the other; its
    notice reaches clients on both servers, whether the server that took the comment has the
    room open or not; an anchor made by a client of one server is checked by the other
    against the stored document."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "shared.txt").write_text("a line everyone reviews\n")
    redis = redis_factory()
    servers = []
    for n in range(2):
        server = Server(root, tmp_path / f"s{n}.db", redis_url=redis.url,
                        database_url=postgres_url, **GROUP)  # fmt: skip
        server.log_path = tmp_path / f"server-{n}.log"
        servers.append(server)
    one, two = (started(s) for s in servers)
    try:
        # only server two has the room open; its client makes the anchor
        reader = await two.connect("shared.txt")
        first, last = range_positions(reader.jdoc._ysource, 2, 6)
        anchor = {"cell": None, "start": b64(first), "end": b64(last)}
        status, created = await one.request(
            "POST", "api/collab/comments",
            {"path": "shared.txt", "anchor": anchor, "body": "which line?"},
        )  # fmt: skip
        assert status == 201, (created, one.log()[-2000:])
        thread = created["thread"]["id"]
        assert created["thread"]["anchor"]["quote"] == "line"
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            rows = conn.execute("SELECT id, quote FROM collab_comment_threads").fetchall()
        assert rows == [(thread, "line")]
        await eventually(
            lambda: [n["action"] for n in comments_notices(reader)] == ["created"],
            timeout=120, what="the notice on the other server",
        )  # fmt: skip

        # now both have the room open: a reply through server two reaches server one's client
        writer = await one.connect("shared.txt")
        status, replied = await two.request(
            "POST", f"api/collab/comments/{thread}/comments", {"body": "the first"}
        )
        assert status == 201, replied
        for client in (reader, writer):
            await eventually(
                lambda c=client: "replied" in [n["action"] for n in comments_notices(c)],
                timeout=120, what="the reply notice on both servers",
            )  # fmt: skip
        writer.jdoc._ysource.insert(0, ">> ")
        await eventually(lambda: str(reader.jdoc._ysource).startswith(">> "), timeout=120)

        async def placed() -> bool:
            status, listing = await one.request("GET", "api/collab/comments?path=shared.txt")
            [found] = listing["threads"]
            return status == 200 and found["current"]["start"] == 5 and len(
                found["comments"]
            ) == 2  # fmt: skip

        await eventually(placed, timeout=120, what="server one sees the thread where it is now")
        reader.close()
        writer.close()
    finally:
        for server in servers:
            server.stop()
