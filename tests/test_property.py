"""Property: any interleaving of edits by several clients converges, and disk equals the room."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import nbformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Text

from .client import Client, eventually

_names = itertools.count()

text_op = st.tuples(
    st.integers(0, 2),  # which client
    st.sampled_from(["insert", "delete", "sync"]),
    st.integers(0, 10_000),  # position (taken modulo the length)
    st.text(alphabet="ab\nλ😀", min_size=1, max_size=4),
)

nb_op = st.tuples(
    st.integers(0, 2),
    st.sampled_from(["add", "delete", "move", "edit", "meta", "sync"]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
)

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _clients(jp_fetch: Any, jp_ws_fetch: Any, path: str, format: str, type: str) -> list:
    import json

    response = await jp_fetch(
        "api",
        "collab",
        "session",
        path,
        method="PUT",
        body=json.dumps({"format": format, "type": type}),
    )
    room = json.loads(response.body)["room"]
    clients = []
    for _ in range(3):
        client = Client(await jp_ws_fetch("api", "collab", "room", room), type)
        await client.synced.wait()
        clients.append(client)
    return clients


async def _converge(
    clients: list[Client], path: Any, read_disk: Any, comparable: Any = lambda c: c
) -> None:
    for client in clients:
        client.online = True
        for update in client.offline_updates:
            client.send(b"\x00\x02" + _var(len(update)) + update)
        client.offline_updates.clear()
    await eventually(
        lambda: all(c.content() == clients[0].content() for c in clients), what="convergence"
    )

    def disk_equals_room() -> bool:
        try:
            return read_disk(path) == comparable(clients[0].content())
        except ValueError:  # caught the file in the middle of a save
            return False

    try:
        await eventually(disk_equals_room, what="disk equals room")
    except AssertionError:
        print("DISK", read_disk(path), "\nROOM", comparable(clients[0].content()))
        raise
    for client in clients:
        client.close()


def _var(n: int) -> bytes:
    from pycrdt import write_var_uint

    return write_var_uint(n)


@SETTINGS
@given(ops=st.lists(text_op, max_size=30))
def test_random_text_interleavings(io_loop, jp_root_dir, jp_fetch, jp_ws_fetch, ops):
    async def scenario() -> None:
        path = jp_root_dir / f"prop{next(_names)}.txt"
        path.write_text("start\n")
        clients = await _clients(jp_fetch, jp_ws_fetch, path.name, "text", "file")
        for who, action, pos, text in ops:
            client = clients[who]
            source: Text = client.jdoc._ysource
            current = str(source)
            length = len(current)
            if action == "insert":
                source.insert(_offset(current, pos % (length + 1)), text)
            elif action == "delete" and length:
                start = pos % length
                end = min(length, start + len(text))
                del source[_offset(current, start) : _offset(current, end)]
            else:  # let messages cross before the next edit
                await asyncio.sleep(0)
        await _converge(clients, path, lambda p: p.read_text())

    io_loop.run_sync(scenario, timeout=60)


@SETTINGS
@given(ops=st.lists(nb_op, max_size=20))
def test_random_notebook_interleavings(io_loop, jp_root_dir, jp_fetch, jp_ws_fetch, ops):
    async def scenario() -> None:
        path = jp_root_dir / f"prop{next(_names)}.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(f"c{i}") for i in range(3)]
        nbformat.write(nb, path)
        clients = await _clients(jp_fetch, jp_ws_fetch, path.name, "json", "notebook")
        for who, action, a, b in ops:
            client = clients[who]
            cells = client.jdoc.ycells
            n = len(cells)
            if action == "add":
                client.jdoc.ycells.insert(a % (n + 1), client.jdoc.create_ycell(
                    nbformat.v4.new_markdown_cell(f"md{a}")))  # fmt: skip
            elif action == "delete" and n > 1:
                del cells[a % n]
            elif action == "move" and n > 1:
                cell = client.jdoc.get_cell(a % n)
                with client.ydoc.transaction():
                    del cells[a % n]
                    cells.insert(b % n, client.jdoc.create_ycell(cell))
            elif action == "edit" and n:
                source: Text = cells[a % n]["source"]
                current = str(source)
                source.insert(_offset(current, b % (len(current) + 1)), "e")
            elif action == "meta" and n:
                cells[a % n]["metadata"]["k"] = b
            else:
                await asyncio.sleep(0)
        if not _edits(ops):
            original = path.read_bytes()
            await _converge(clients, path, lambda p: True, lambda c: True)
            assert path.read_bytes() == original
            return
        await _converge(clients, path, _read_notebook, _without_trust)

    io_loop.run_sync(scenario, timeout=60)


def _without_trust(nb: dict) -> dict:
    """Jupyter adds the transient ``trusted`` flag to cells it loads and strips it on save."""
    for cell in nb["cells"]:
        cell["metadata"].pop("trusted", None)
    return nb


def _edits(ops: list) -> bool:
    """Whether any op changes the notebook (a file nobody edited is never rewritten)."""
    return any(op[1] in ("add", "move", "edit", "meta") or op[1] == "delete" for op in ops)


def _offset(text: str, index: int) -> int:
    """pycrdt indexes text in UTF-8 bytes; edits must fall on character boundaries."""
    return len(text[:index].encode())


def _read_notebook(path: Any) -> dict:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb
