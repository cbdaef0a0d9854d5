"""issue 8: a copy kept across the loss of a document's history is merged, never doubled.

A room whose history was lost (database deleted or unreadable, ``tests/chaos/
test_broken_database.py`` does it with real restarts) is loaded afresh from the file: the same
text under new CRDT items. Here such a room is any room loaded from a file, and the kept copy
a document holding that text under items of its own (as the lost history had made them), plus
what its owner typed while disconnected. Merged as a CRDT, the text showed twice, for
everyone, and was saved twice (``collaboration/lostcopy.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import nbformat
from jupyter_ydoc import YNotebook, YUnicode
from pycrdt import Doc

from jupyter_collab.collaboration.lostcopy import line_insertions

from .auth import token_header
from .client import Client, eventually
from .stock import node_clients


def copy_of(text: str, *offline: tuple[int, str]) -> Doc:
    """A copy made in another history: ``text`` (written by two other clients, as a lost
    room and an editor had), then this client's ``offline`` insertions, never sent."""
    doc = Doc()
    YUnicode(doc)._ysource.insert(0, text)
    again = Doc()  # (another client id: the person who kept the tab)
    again.apply_update(doc.get_update())
    source = YUnicode(again)._ysource
    for offset, added in offline:
        source.insert(offset, added)
    return again


async def join(jp_ws_fetch: Any, open_session: Any, path: str, ydoc: Doc | None = None,
               user: str = "alice", type: str = "file") -> Client:  # fmt: skip
    fmt = "json" if type == "notebook" else "text"
    session = await open_session(path, fmt, type, headers=token_header(user))
    ws = await jp_ws_fetch("api", "collab", "room", session["room"], headers=token_header(user))
    client = Client(ws, type, ydoc=ydoc)
    await eventually(lambda: client.synced.is_set() or client.closed.is_set(), what="sync")
    assert client.synced.is_set(), f"closed: {client.close_code} {client.close_reason}"
    return client


def resets(client: Client) -> list[dict[str, Any]]:
    return [n for n in client.notices if n.get("type") == "history-reset"]


async def test_a_kept_copy_is_not_doubled_and_keeps_its_offline_lines(
    jp_root_dir, jp_ws_fetch, open_session
):
    (jp_root_dir / "kept.txt").write_text("one\ntwo\n")
    other = await join(jp_ws_fetch, open_session, "kept.txt", user="bob")
    other.jdoc._ysource.insert(0, "zero\n")  # someone edits the new room meanwhile
    await eventually(lambda: (jp_root_dir / "kept.txt").read_text() == "zero\none\ntwo\n")
    kept = copy_of("one\ntwo\n", (8, "mine\n"))
    client = await join(jp_ws_fetch, open_session, "kept.txt", ydoc=kept)
    expected = "zero\none\ntwo\nmine\n"
    await eventually(lambda: client.content() == other.content() == expected,
                     what="everyone converged, nothing twice")  # fmt: skip
    assert resets(client) and resets(client)[0]["kept"] is True
    assert not resets(other)
    fresh = await join(jp_ws_fetch, open_session, "kept.txt", user="carol")
    assert fresh.content() == expected
    await eventually(lambda: (jp_root_dir / "kept.txt").read_text() == expected, what="saved")
    # the copy goes on editing as usual (its later edits build on its old, deleted items)
    client.jdoc._ysource.insert(len(client.content().encode()), "after\n")
    await eventually(lambda: other.content() == expected + "after\n", what="a later edit")
    for c in (client, other, fresh):
        c.close()


async def test_other_copies_of_the_same_lost_history_converge_too(
    jp_root_dir, jp_ws_fetch, open_session
):
    (jp_root_dir / "tabs.txt").write_text("a\nb\n")
    first = Doc()
    YUnicode(first)._ysource.insert(0, "a\nb\n")
    tabs = []
    for offline in ("first\n", "second\n"):
        tab = Doc()
        tab.apply_update(first.get_update())
        YUnicode(tab)._ysource.insert(len(b"a\nb\n"), offline)
        tabs.append(tab)
    one = await join(jp_ws_fetch, open_session, "tabs.txt", ydoc=tabs[0])
    two = await join(jp_ws_fetch, open_session, "tabs.txt", ydoc=tabs[1], user="bob")

    def lines() -> list[str]:
        return sorted(one.content().splitlines())

    await eventually(lambda: one.content() == two.content() and lines() == [
        "a", "b", "first", "second"], what="both tabs converged, each line once")  # fmt: skip
    assert resets(one)  # the first copy was merged as a lost one...
    assert not resets(two)  # ...the second shares its items now: merged the usual way
    await eventually(lambda: (jp_root_dir / "tabs.txt").read_text() == one.content())
    one.close()
    two.close()


async def test_a_client_that_synced_with_the_room_merges_as_usual(
    jp_root_dir, jp_ws_fetch, open_session
):
    """Offline edits of a copy that shares the room's history: no reset, nothing lost."""
    (jp_root_dir / "usual.txt").write_text("x\n")
    client = await join(jp_ws_fetch, open_session, "usual.txt")
    client.close()
    client.jdoc._ysource.insert(0, "offline\n")
    back = await join(jp_ws_fetch, open_session, "usual.txt", ydoc=client.ydoc)
    await eventually(lambda: back.content() == "offline\nx\n")
    assert not resets(back)
    back.close()


async def test_a_kept_notebook_copy_keeps_its_cells_once(jp_root_dir, jp_ws_fetch, open_session):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_markdown_cell("# T")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    nbformat.write(nb, jp_root_dir / "kept.ipynb")
    value = nbformat.read(jp_root_dir / "kept.ipynb", as_version=4)
    doc = Doc()
    YNotebook(doc).set(value)  # the lost history's copy of the same notebook
    kept = Doc()
    kept.apply_update(doc.get_update())
    copy = YNotebook(kept)
    with kept.transaction():  # offline: a new cell, and a line in the first cell
        copy.ycells.append(copy.create_ycell({"cell_type": "code", "source": "b = 2",
                                              "metadata": {}, "id": "offline-cell", "outputs": [],
                                              "execution_count": None}))  # fmt: skip
        copy.ycells[0]["source"].insert(len(b"a = 1"), "\nc = 3")
    client = await join(jp_ws_fetch, open_session, "kept.ipynb", ydoc=kept, type="notebook")
    fresh = await join(jp_ws_fetch, open_session, "kept.ipynb", user="bob", type="notebook")

    def sources(c: Client) -> list[str]:
        return [cell["source"] for cell in c.content()["cells"]]

    expected = ["a = 1\nc = 3", "# T", "b = 2"]
    await eventually(lambda: sources(client) == sources(fresh) == expected,
                     what="the notebook converged, each cell once")  # fmt: skip
    assert fresh.content()["metadata"]["kernelspec"]["name"] == "python3"
    assert fresh.content()["nbformat"] == 4
    assert resets(client)

    def on_disk() -> list[str] | None:
        try:
            saved = nbformat.read(jp_root_dir / "kept.ipynb", as_version=4)
        except Exception:  # (read while it is being written)
            return None
        return [cell.source for cell in saved.cells]

    await eventually(lambda: on_disk() == expected, what="the notebook saved once")
    client.close()
    fresh.close()


async def test_a_viewers_kept_copy_converges_and_changes_nothing(
    jp_root_dir, jp_ws_fetch, open_session, api
):
    (jp_root_dir / "view.txt").write_text("shared\n")
    owner = await join(jp_ws_fetch, open_session, "view.txt")
    status, body = await api("PUT", "shares", "view.txt", body={"user": "bob", "role": "viewer"})
    assert status == 200, body
    kept = copy_of("shared\n", (0, "viewer's\n"))
    viewer = await join(jp_ws_fetch, open_session, "view.txt", ydoc=kept, user="bob")
    await eventually(lambda: viewer.content() == "shared\n", what="the viewer's copy converged")
    await asyncio.sleep(0.3)
    assert owner.content() == "shared\n"
    assert (jp_root_dir / "view.txt").read_text() == "shared\n"
    owner.close()
    viewer.close()


async def test_a_stock_y_websocket_tab_kept_across_a_lost_history(
    jp_root_dir, connect, open_session, ws_base
):
    """A stock client (yjs + y-websocket 1.5, which we cannot change) keeps its document and
    joins a room holding the same text under new items (a server that lost the history and
    loaded the file again): its text and the file are not doubled, its offline line stays."""
    (jp_root_dir / "before.txt").write_text("hello\n")
    (jp_root_dir / "after.txt").write_text("hello\n")
    before = (await open_session("before.txt"))["room"]
    after = (await open_session("after.txt"))["room"]
    ours = await connect("after.txt", headers=token_header("alice"))
    async with node_clients() as start:
        stock = await start()
        await stock.connect(ws_base, before, "bob")
        assert await stock.content() == "hello\n"
        stock.send(cmd="disconnect")
        await stock.wait_event(lambda e: e["event"] == "status" and
                               e["status"] == "disconnected")  # fmt: skip
        stock.send(cmd="insert", index=6, text="offline\n")
        start_at = len(stock.events)
        stock.send(cmd="connect", url=f"{ws_base}api/collab/room", room=after,
                   token="bob-token", keepDoc=True)  # fmt: skip
        await stock.wait_event(lambda e: e["event"] == "synced", start=start_at)

        async def same() -> bool:
            return await stock.content() == ours.content() == "hello\noffline\n"

        await eventually(same, what="the stock tab and the room converged, nothing twice")
        notice = await stock.wait_event(
            lambda e: e["event"] == "notice" and (e["body"] or {}).get("type") == "history-reset"
        )
        assert notice["body"]["kept"] is True
        await eventually(lambda: (jp_root_dir / "after.txt").read_text() == "hello\noffline\n",
                         what="the file saved once")  # fmt: skip
        stock.send(cmd="insert", index=0, text="S")
        await eventually(lambda: ours.content() == "Shello\noffline\n", what="a later edit")


def test_line_insertions_add_the_copys_lines_and_remove_nothing():
    def merged(ours: str, theirs: str) -> str:
        data = ours.encode()
        for at, added in reversed(line_insertions(ours, theirs)):
            data = data[:at] + added.encode() + data[at:]
        return data.decode()

    assert merged("zero\none\ntwo\n", "one\ntwo\nmine\n") == "zero\none\ntwo\nmine\n"
    assert merged("a = 1", "a = 1\nc = 3") == "a = 1\nc = 3"  # (no final newline)
    assert merged("a\nc\n", "a\nb") == "a\nb\nc\n"
    assert merged("é\nb\n", "é\nñ\nb\n") == "é\nñ\nb\n"  # (offsets in UTF-8 bytes)
    assert merged("a\nb\n", "b\n") == "a\nb\n"  # a line the copy lacks stays
    assert line_insertions("same\n", "same\n") == []
    # (difflib alone compared every pair of equal lines: this did not finish in ten minutes)
    repeated = "same\n" * 70_000
    copy = "same\n" * 35_000 + "mine\n" + "same\n" * 35_000
    assert line_insertions(repeated, copy) == [(35_000 * 5, "mine\n")]
