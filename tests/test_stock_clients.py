"""Clients nobody here wrote (stock yjs + y-websocket 1.5 in Node, pycrdt's own Provider)
edit the same documents as our JupyterLab-shaped client, through a real server."""

from __future__ import annotations

from typing import Any

import pytest

from .auth import token_header
from .client import eventually
from .stock import node_clients


@pytest.fixture
def ws_base(jp_http_port: int, jp_base_url: str) -> str:
    return f"ws://127.0.0.1:{jp_http_port}{jp_base_url}"


async def test_stock_yjs_text_converges(jp_root_dir, connect, open_session, ws_base):
    (jp_root_dir / "a.txt").write_text("hello\n")
    ours = await connect("a.txt", headers=token_header("alice"))
    room = (await open_session("a.txt"))["room"]
    async with node_clients() as start:
        stock = await start()
        await stock.connect(ws_base, room, "bob")
        assert await stock.content() == "hello\n"
        stock.send(cmd="insert", index=0, text="S")
        ours.jdoc._ysource.insert(len(ours.content()), "O")
        async def same() -> bool:
            return await stock.content() == ours.content() == "Shello\nO"
        await eventually(same, what="convergence")
        await eventually(lambda: (jp_root_dir / "a.txt").read_text() == "Shello\nO", what="file")
