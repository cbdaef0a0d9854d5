"""Versions, content at a version, diff, restore, attribution and audit over REST, against a
real server with live clients (docs/history-api.md)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any
from urllib.parse import unquote

import nbformat
import pytest

from jupyter_collab.protocol.framing import notice_frame

from .auth import token_header
from .client import eventually


def room_of(client: Any) -> str:
    """The room id a client connected to (the last segment of its WebSocket URL)."""
    return unquote(client.ws.request.url.split("?")[0].rsplit("/", 1)[-1])


def doc(room: str, *rest: str) -> tuple[str, ...]:
    return ("documents", room, *rest)


async def named(api: Any, room: str, name: str, user: str = "alice") -> dict[str, Any]:
    status, body = await api("POST", *doc(room, "versions"), user=user, body={"name": name})
    assert status == 201, body
    return body["version"]


def text_of(client: Any) -> str:
    return str(client.jdoc._ysource)


async def test_versions_content_and_text_diff(jp_root_dir, connect, api):
    (jp_root_dir / "a.txt").write_text("one\ntwo\n")
    alice = await connect("a.txt", headers=token_header("alice"))
    bob = await connect("a.txt", headers=token_header("bob"))
    room = room_of(alice)
    alice.jdoc._ysource.insert(0, "zero\n")
    await eventually(lambda: text_of(bob) == "zero\none\ntwo\n", what="bob sees alice")
    first = await named(api, room, "First draft")
    assert first["kind"] == "named" and first["name"] == "First draft"
    assert first["createdBy"] == "alice" and "alice" in first["authors"]
    await eventually(
        lambda: any(n["type"] == "version" and n["version"]["id"] == first["id"]
                    for n in bob.notices),
        what="version notice",
    )  # fmt: skip
    bob.jdoc._ysource.insert(len("zero\none\n"), "one and a half\n")
    await eventually(lambda: "half" in text_of(alice), what="alice sees bob")
    second = await named(api, room, "Second", user="bob")

    status, listing = await api("GET", *doc(room, "versions"))
    assert status == 200
    ids = [v["id"] for v in listing["versions"]]
    assert ids.index(second["id"]) < ids.index(first["id"])  # newest first
    status, page = await api("GET", *doc(room, "versions"), limit=1)
    assert [v["id"] for v in page["versions"]] == [ids[0]] and page["next"] == ids[0]
    status, older = await api("GET", *doc(room, "versions"), limit=1, before=page["next"])
    assert [v["id"] for v in older["versions"]] == [ids[1]]

    status, content = await api("GET", *doc(room, "versions", str(first["id"])))
    assert status == 200
    assert content["content"] == "zero\none\ntwo\n"
    assert (content["type"], content["format"]) == ("file", "text")

    status, diff = await api("GET", *doc(room, "diff"), **{"from": first["id"]})
    assert status == 200 and diff["to"] == "current"
    assert "+one and a half" in diff["diff"] and diff["added"] == 1 and diff["removed"] == 0
    assert diff["authors"] == ["bob"]
    status, diff = await api("GET", *doc(room, "diff"), **{"from": second["id"], "to": first["id"]})
    assert "-one and a half" in diff["diff"] and diff["removed"] == 1


async def test_restore_is_live_for_everyone_and_can_be_undone(jp_root_dir, connect, api):
    (jp_root_dir / "r.txt").write_text("original\n")
    alice = await connect("r.txt", headers=token_header("alice"))
    bob = await connect("r.txt", headers=token_header("bob"))
    room = room_of(alice)
    good = await named(api, room, "good")
    bob.jdoc._ysource.insert(0, "bad edit\n")
    await eventually(lambda: text_of(alice) == "bad edit\noriginal\n", what="alice sees bob")

    status, result = await api("POST", *doc(room, "restore"), body={"version": good["id"]})
    assert status == 200, result
    assert result["restored"] == good["id"] and result["version"]["kind"] == "restore"
    await eventually(
        lambda: text_of(alice) == text_of(bob) == "original\n", what="both see the restore"
    )
    assert not alice.closed.is_set() and not bob.closed.is_set()  # nobody reconnected
    await eventually(lambda: any(n["type"] == "restored" for n in bob.notices), what="notice")
    restored = [n for n in bob.notices if n["type"] == "restored"]
    assert restored and restored[0]["by"]["username"] == "alice"
    assert restored[0]["version"] == good["id"]
    await eventually(
        lambda: (jp_root_dir / "r.txt").read_text() == "original\n", what="restore saved"
    )

    # undo: restore the point made just before the restore
    before = result["before"]
    status, content = await api("GET", *doc(room, "versions", str(before["id"])))
    assert content["content"] == "bad edit\noriginal\n"
    status, _ = await api("POST", *doc(room, "restore"), user="bob", body={"version": before["id"]})
    assert status == 200
    await eventually(
        lambda: text_of(alice) == text_of(bob) == "bad edit\noriginal\n", what="undo of restore"
    )


def _notebook(path: Any, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, id=f"c{i}") for i, source in enumerate(sources)]
    nbformat.write(nb, path)


async def test_notebook_cell_diff_and_restore(jp_root_dir, connect, api, rooms):
    _notebook(jp_root_dir / "n.ipynb", ["a = 1", "b = 2", "c = 3", "d = 4"])
    alice = await connect("n.ipynb", "json", "notebook", headers=token_header("alice"))
    room = room_of(alice)
    start = await named(api, room, "start")
    cells = alice.jdoc.ycells
    with alice.ydoc.transaction():
        cells[1]["source"].insert(5, "0")  # b = 20
        cells[2]["outputs"].append({"output_type": "stream", "name": "stdout", "text": "3\n"})
        del cells[0]  # a removed
    moved = alice.jdoc.create_ycell(nbformat.v4.new_code_cell("d = 4", id="c3"))
    with alice.ydoc.transaction():
        del cells[2]  # d ...
        cells.insert(0, moved)  # ... moved to the top
        alice.jdoc.append_cell(nbformat.v4.new_markdown_cell("# new", id="m"))

    async def diffed() -> dict[str, Any]:
        return (await api("GET", *doc(room, "diff"), **{"from": start["id"]}))[1]

    await eventually(
        lambda: [c["id"] for c in rooms.rooms[room].jdoc.get()["cells"]] == ["c3", "c1", "c2", "m"],
        what="the server has every change",
    )  # fmt: skip
    diff = await diffed()
    assert diff["type"] == "notebook"
    by_id = {cell["id"]: cell for cell in diff["cells"]}
    assert by_id["c0"]["status"] == "removed" and by_id["c0"]["oldIndex"] == 0
    assert by_id["c1"]["status"] == "modified" and by_id["c1"]["sourceChanged"]
    assert "+b = 20" in by_id["c1"]["sourceDiff"]
    assert by_id["c2"]["status"] == "modified" and by_id["c2"]["outputsChanged"]
    assert not by_id["c2"]["sourceChanged"]
    assert by_id["c3"]["moved"] and by_id["c3"]["status"] == "unchanged"
    assert by_id["m"]["status"] == "added" and by_id["m"]["cellType"] == "markdown"
    assert [c["id"] for c in diff["cells"] if c["status"] != "removed"] == ["c3", "c1", "c2", "m"]

    status, _ = await api("POST", *doc(room, "restore"), body={"version": start["id"]})
    assert status == 200
    original = ["a = 1", "b = 2", "c = 3", "d = 4"]
    await eventually(
        lambda: [c["source"] for c in alice.content()["cells"]] == original,
        what="notebook restored",
    )
    assert alice.content()["cells"][2]["outputs"] == []
    on_disk = nbformat.read(jp_root_dir / "n.ipynb", as_version=4)
    nbformat.validate(on_disk)
    assert [c.source for c in on_disk.cells] == ["a = 1", "b = 2", "c = 3", "d = 4"]


async def test_attribution_after_concurrent_edits(jp_root_dir, connect, api):
    (jp_root_dir / "t.txt").write_text("")
    alice = await connect("t.txt", headers=token_header("alice"))
    bob = await connect("t.txt", headers=token_header("bob"))
    room = room_of(alice)
    alice.jdoc._ysource.insert(0, "alice wrote this\n")
    bob.jdoc._ysource.insert(0, "bob wrote this\n")  # concurrent with alice's
    await eventually(lambda: text_of(alice) == text_of(bob) and len(text_of(bob)) > 20)
    mark = await named(api, room, "both lines")
    lines = text_of(alice).splitlines()
    alice.jdoc._ysource.insert(len(text_of(alice)), "a third line by alice\n")
    await eventually(lambda: "third" in text_of(bob))

    status, result = await api("GET", *doc(room, "attribution"))
    assert status == 200 and result["type"] == "text"
    users = {lines[i]: line["user"] for i, line in enumerate(result["lines"][:2])}
    assert users == {"alice wrote this": "alice", "bob wrote this": "bob"}
    assert result["lines"][2]["user"] == "alice"
    assert all(line["origin"] == "client" for line in result["lines"])

    status, since = await api("GET", *doc(room, "attribution"), since=mark["id"])
    assert [line["changed"] for line in since["lines"]] == [False, False, True]
    status, at = await api("GET", *doc(room, "attribution"), at=mark["id"])
    assert len(at["lines"]) == 2

    # notebooks: per cell, who created it and who changed it last
    _notebook(jp_root_dir / "n.ipynb", ["x = 1"])
    nb_alice = await connect("n.ipynb", "json", "notebook", headers=token_header("alice"))
    nb_bob = await connect("n.ipynb", "json", "notebook", headers=token_header("bob"))
    nb_room = room_of(nb_alice)
    nb_bob.jdoc.append_cell(nbformat.v4.new_markdown_cell("by bob", id="b1"))
    await eventually(lambda: len(nb_alice.content()["cells"]) == 2)
    nb_alice.jdoc.ycells[1]["source"].insert(0, "edited by alice, ")
    await eventually(lambda: nb_bob.content()["cells"][1]["source"].startswith("edited"))
    status, cells = await api("GET", *doc(nb_room, "attribution"))
    first, second = cells["cells"]
    assert first["id"] == "c0" and first["origin"] == "load" and first["user"] is None
    assert second["id"] == "b1" and second["createdBy"] == "bob" and second["user"] == "alice"
    assert second["authors"] == ["alice", "bob"]


@pytest.fixture
def quick_versions(collab_config):
    collab_config.update(version_quiet_period=0.3, version_interval=100.0)


@pytest.fixture
def interval_versions(collab_config):
    collab_config.update(version_quiet_period=100.0, version_interval=0.4)


@pytest.fixture
def no_retention(collab_config):
    collab_config.update(history_retention=0.0)


@pytest.mark.usefixtures("quick_versions")
async def test_automatic_and_save_versions(jp_root_dir, connect, api):
    (jp_root_dir / "v.txt").write_text("v\n")
    alice = await connect("v.txt", headers=token_header("alice"))
    room = room_of(alice)
    alice.jdoc._ysource.insert(0, "auto ")

    async def kinds() -> list[str]:
        return [v["kind"] for v in (await api("GET", *doc(room, "versions")))[1]["versions"]]

    await eventually(lambda: _has(kinds, "auto"), what="an automatic version after quiet")
    alice.send(notice_frame({"type": "save"}))
    await eventually(lambda: _has(kinds, "save"), what="a version for Ctrl+S")
    listing = (await api("GET", *doc(room, "versions")))[1]["versions"]
    save = next(v for v in listing if v["kind"] == "save")
    assert save["createdBy"] == "alice"
    assert len([k for k in await kinds() if k == "auto"]) == 1  # no repeat without changes


@pytest.mark.usefixtures("interval_versions")
async def test_versions_at_least_every_interval(jp_root_dir, connect, api):
    (jp_root_dir / "i.txt").write_text("")
    alice = await connect("i.txt", headers=token_header("alice"))
    room = room_of(alice)

    status, listing = await api("GET", *doc(room, "versions"))
    # known, nothing yet (an empty file logs nothing: there is no "as first opened" point)
    assert (status, listing) == (200, {"versions": [], "next": None, "users": {}})

    async def autos() -> int:
        alice.jdoc._ysource.insert(0, "x")  # edits never stop
        listing = (await api("GET", *doc(room, "versions")))[1]["versions"]
        return sum(v["kind"] == "auto" for v in listing)

    await eventually(lambda: _at_least(autos, 2), what="points while edits keep coming")


async def _has(kinds: Any, kind: str) -> bool:
    return kind in await kinds()


async def _at_least(count: Any, n: int) -> bool:
    return await count() >= n


async def test_bad_input_gets_clear_errors(jp_root_dir, connect, api):
    (jp_root_dir / "e.txt").write_text("e\n")
    (jp_root_dir / "f.txt").write_text("f\n")
    e = await connect("e.txt", headers=token_header("alice"))
    f = await connect("f.txt", headers=token_header("alice"))
    room_e = room_of(e)
    room_f = room_of(f)
    version_f = await named(api, room_f, "of f")

    status, body = await api("GET", *doc("text:file:no-such-id", "versions"))
    assert status == 404 and "no-such-id" in body["message"]
    status, body = await api("GET", *doc("nonsense", "versions"))
    assert status == 404
    status, body = await api("GET", *doc(room_e, "versions", "999999"))
    assert status == 404 and "no such version" in body["message"]
    status, body = await api("GET", *doc(room_e, "versions", str(version_f["id"])))
    assert status == 404 and "another document" in body["message"]
    status, body = await api("POST", *doc(room_e, "restore"), body={"version": version_f["id"]})
    assert status == 404 and "another document" in body["message"]
    assert text_of(e) == "e\n"
    for params in ({"from": "abc"}, {}, {"from": version_f["id"], "to": "1.5"}):
        status, body = await api("GET", *doc(room_e, "diff"), **params)
        assert status == 400, params
    status, _ = await api("GET", *doc(room_e, "versions", "latest"))
    assert status == 400
    status, _ = await api("GET", *doc(room_e, "versions"), limit=0)
    assert status == 400
    status, _ = await api("POST", *doc(room_e, "versions"), body={"name": "x" * 201})
    assert status == 400
    status, _ = await api("POST", *doc(room_e, "versions"), body="not json")
    assert status == 400
    status, _ = await api("POST", *doc(room_e, "restore"), body={"version": "1"})
    assert status == 400
    status, _ = await api("GET", "audit", action="explode")
    assert status == 400
    status, _ = await api("GET", "audit", since="yesterday")
    assert status == 400
    for bad in ("zzz", "a007", "a" + "9" * 19, "a1.5"):  # (main took "a007")
        status, _ = await api("GET", "audit", cursor=bad)
        assert status == 400, bad

    # permissions: a viewer reads history but may not name or restore; nobody reads nothing
    status, _ = await api("GET", *doc(room_f, "versions"), user="viewer")
    assert status == 200
    status, _ = await api("POST", *doc(room_f, "versions"), user="viewer", body={"name": "v"})
    assert status == 403
    status, _ = await api(
        "POST", *doc(room_f, "restore"), user="viewer", body={"version": version_f["id"]}
    )
    assert status == 403
    status, _ = await api("GET", *doc(room_f, "versions"), user="nobody")
    assert status == 403
    # the server kept serving: f still syncs
    f.jdoc._ysource.insert(0, "still ")

    async def diffed() -> bool:
        status, diff = await api("GET", *doc(room_f, "diff"), **{"from": version_f["id"]})
        return "+still f" in diff["diff"]

    await eventually(diffed, what="the edit after the errors in the diff")


async def test_audit_log_queries_and_events(jp_root_dir, jp_serverapp, connect, api):
    seen: list[dict[str, Any]] = []

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        seen.append(dict(data))

    jp_serverapp.event_logger.add_listener(
        schema_id="https://events.jupyter-collab.org/audit/v1", listener=listener
    )
    (jp_root_dir / "au.txt").write_text("a\n")
    alice = await connect("au.txt", headers=token_header("alice"))
    room = room_of(alice)
    bob = await connect("au.txt", headers=token_header("bob"))
    bob.jdoc._ysource.insert(0, "b")
    version = await named(api, room, "audited", user="bob")
    await api("POST", *doc(room, "restore"), user="alice", body={"version": version["id"]})
    bob.close()

    async def actions(**filters: Any) -> list[tuple[str, str | None]]:
        body = (await api("GET", "audit", params={"document": room, **filters}))[1]
        return [(e["action"], e["user"]) for e in body["events"]]

    await eventually(lambda: _contains(actions, ("leave", "bob")), what="bob's leave audited")
    every = await actions()
    for expected in [("join", "alice"), ("join", "bob"), ("version-created", "bob"),
                     ("restore", "alice"), ("save", "alice"), ("leave", "bob")]:  # fmt: skip
        assert expected in every, expected
    assert await actions(user="bob", action="join") == [("join", "bob")]
    assert all(user == "alice" for _, user in await actions(user="alice"))
    assert await actions(until="1970-01-02T00:00:00Z") == []
    assert len(await actions(since="2000-01-01T00:00:00+00:00")) == len(every)

    pages: list[int] = []
    cursor = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        body = (await api("GET", "audit", document=room, limit=2, **params))[1]
        pages.extend(e["id"] for e in body["events"])
        cursor = body["next"]
        if cursor is None:
            break
    assert len(pages) == len(set(pages)) == len(every)
    assert pages == sorted(pages, reverse=True)
    restore = next(
        e for e in (await api("GET", "audit", action="restore"))[1]["events"]
        if e["document"] == room
    )  # fmt: skip
    assert restore["details"]["version"] == version["id"]
    assert {"action": "restore", "document": room, "user": "alice"}.items() <= next(
        e for e in seen if e["action"] == "restore"
    ).items()


async def _contains(actions: Any, item: Any) -> bool:
    return item in await actions()


async def test_deleted_file_keeps_history_and_can_be_restored(
    jp_root_dir, jp_fetch, connect, api, rooms
):
    (jp_root_dir / "gone.txt").write_text("keep me\n")
    alice = await connect("gone.txt", headers=token_header("alice"))
    room = room_of(alice)
    alice.jdoc._ysource.insert(0, "important ")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "important keep me\n")
    version = await named(api, room, "before delete")
    # (deleted once saved: an autosave still writing would bring the file back)
    await eventually(lambda: (jp_root_dir / "gone.txt").read_text() == "important keep me\n")
    await jp_fetch("api", "contents", "gone.txt", method="DELETE")
    await eventually(lambda: alice.closed.is_set(), what="room closed")
    assert alice.close_code == 4410
    status, listing = await api("GET", *doc(room, "versions"))
    assert status == 200 and version["id"] in [v["id"] for v in listing["versions"]]

    status, result = await api("POST", *doc(room, "restore"), body={"version": version["id"]})
    assert status == 200, result
    await eventually(
        lambda: (
            (jp_root_dir / "gone.txt").exists()
            and (jp_root_dir / "gone.txt").read_text() == "important keep me\n"
        ),
        what="the file restored",
    )
    again = await connect("gone.txt", headers=token_header("alice"))
    assert room_of(again) == room  # the same document and history
    assert text_of(again) == "important keep me\n"


async def deleted_with_a_version(
    root: Any, jp_fetch: Any, connect: Any, api: Any, path: str, text: str
) -> tuple[str, dict[str, Any]]:
    """``path`` made with ``text``, opened, a version named, then deleted through Jupyter
    (its room closed): the document's room id and the version."""
    (root / path).write_text(text)
    alice = await connect(path, headers=token_header("alice"))
    room = room_of(alice)
    version = await named(api, room, "v")
    await jp_fetch("api", "contents", path, method="DELETE")
    await eventually(lambda: alice.closed.is_set(), what="room closed")
    return room, version


async def test_deleted_file_restore_refused_when_path_taken(jp_root_dir, jp_fetch, connect, api):
    room, version = await deleted_with_a_version(
        jp_root_dir, jp_fetch, connect, api, "p.txt", "old\n"
    )
    (jp_root_dir / "p.txt").write_text("a new file\n")
    status, body = await api("POST", *doc(room, "restore"), body={"version": version["id"]})
    assert status == 409 and "p.txt" in body["message"]
    assert (jp_root_dir / "p.txt").read_text() == "a new file\n"


async def test_deleted_file_restored_where_a_newer_file_was_removed_outside_jupyter(
    jp_root_dir, jp_fetch, connect, api, rooms
):
    """The path got a new file (and file id) after the delete, and that file was then removed
    outside Jupyter (``rm``): its id still held the path, and the restore wrote the file, then
    failed ("already has a file id"). The removal is followed as Jupyter would have."""
    room, version = await deleted_with_a_version(
        jp_root_dir, jp_fetch, connect, api, "q.txt", "first document\n"
    )
    (jp_root_dir / "q.txt").write_text("second document\n")
    bob = await connect("q.txt", headers=token_header("bob"))
    assert room_of(bob) != room
    bob.close()
    await eventually(lambda: room_of(bob) not in rooms.rooms, what="the second room closed")
    (jp_root_dir / "q.txt").unlink()  # (outside Jupyter)

    status, result = await api("POST", *doc(room, "restore"), body={"version": version["id"]})
    assert status == 200, result
    assert (jp_root_dir / "q.txt").read_text() == "first document\n"
    again = await connect("q.txt", headers=token_header("alice"))
    assert room_of(again) == room and text_of(again) == "first document\n"


@pytest.mark.usefixtures("no_retention")
async def test_compaction_keeps_versions_and_content(
    jp_root_dir, jp_serverapp, connect, api, rooms
):
    (jp_root_dir / "c.txt").write_text("")
    alice = await connect("c.txt", headers=token_header("alice"))
    room = room_of(alice)
    versions = []
    for i in range(3):
        for ch in f"line {i}\n":
            alice.jdoc._ysource.insert(len(text_of(alice)), ch)
        await eventually(lambda: rooms.rooms[room].jdoc.get() == text_of(alice))
        versions.append(await named(api, room, f"v{i}"))
    app = _collab_app(jp_serverapp)
    store = app.store
    before = len(await store.read(room))
    done = await app.maintenance.run_once()
    assert room in done["compacted"]
    snapshot = await store.snapshot(room)
    assert snapshot is not None and len(await store.read(room)) < before
    for i, version in enumerate(versions):
        status, content = await api("GET", *doc(room, "versions", str(version["id"])))
        assert content["content"] == "".join(f"line {j}\n" for j in range(i + 1))
    alice.close()
    await eventually(lambda: room not in rooms.rooms, what="room dropped")
    again = await connect("c.txt", headers=token_header("alice"))
    assert text_of(again) == "line 0\nline 1\nline 2\n"
    status, diff = await api("GET", *doc(room, "diff"), **{"from": versions[0]["id"]})
    assert "+line 2" in diff["diff"]
    # who wrote what outlives the log it was replayed from (the snapshot's note keeps it)
    status, attribution = await api("GET", *doc(room, "attribution"))
    assert [(line["user"], line["origin"]) for line in attribution["lines"]] == [
        ("alice", "client")
    ] * 3
    assert len(await store.read(room)) == 0  # (the log is gone: retention 0)


def _collab_app(serverapp: Any) -> Any:
    for app in serverapp.extension_manager.extension_apps["jupyter_collab"]:
        return app
    raise AssertionError("no jupyter_collab extension app")


async def test_history_follows_renames(jp_root_dir, jp_fetch, connect, open_session, api, rooms):
    (jp_root_dir / "old.txt").write_text("text\n")
    alice = await connect("old.txt", headers=token_header("alice"))
    room = room_of(alice)
    alice.jdoc._ysource.insert(0, "renamed ")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "renamed text\n")
    version = await named(api, room, "before the move")
    # (moved once saved: an autosave still writing would bring the old file back)
    await eventually(lambda: (jp_root_dir / "old.txt").read_text() == "renamed text\n")
    (jp_root_dir / "sub").mkdir()
    await jp_fetch(
        "api", "contents", "old.txt", method="PATCH", body=json.dumps({"path": "sub/new.txt"})
    )
    session = await open_session("sub/new.txt")
    assert session["room"] == room
    status, listing = await api("GET", *doc(room, "versions"))
    assert version["id"] in [v["id"] for v in listing["versions"]]
    status, result = await api("POST", *doc(room, "restore"), body={"version": version["id"]})
    assert status == 200
    await eventually(
        lambda: (jp_root_dir / "sub" / "new.txt").read_text() == "renamed text\n",
        what="restored at the new path",
    )
    assert not (jp_root_dir / "old.txt").exists()


async def test_bookkeeping_is_nobodys_edit(jp_root_dir, connect, api, rooms):
    """JupyterLab writes its dirty flag into the shared state: that makes nobody an author, and
    does not count as a change to save or to version."""
    (jp_root_dir / "s.txt").write_text("s\n")
    alice = await connect("s.txt", headers=token_header("alice"))
    bob = await connect("s.txt", headers=token_header("bob"))
    room = room_of(alice)
    bob.jdoc.dirty = True  # what a JupyterLab tab does when it opens and edits
    bob.jdoc.dirty = False
    alice.jdoc._ysource.insert(0, "by alice ")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "by alice s\n")
    await eventually(lambda: rooms.rooms[room].jdoc.dirty is False)
    version = await named(api, room, "authors")
    assert version["authors"] == ["alice"]
    status, attribution = await api("GET", *doc(room, "attribution"))
    assert attribution["lines"][0]["authors"] == ["alice"]


@pytest.mark.usefixtures("no_retention")
async def test_maintenance_skips_rooms_with_nothing_new(jp_root_dir, jp_serverapp, connect, rooms):
    (jp_root_dir / "m.txt").write_text("m\n")
    alice = await connect("m.txt", headers=token_header("alice"))
    room = room_of(alice)
    maintenance = _collab_app(jp_serverapp).maintenance
    assert room in (await maintenance.run_once())["compacted"]
    assert room not in (await maintenance.run_once())["compacted"]  # nothing new
    alice.jdoc._ysource.insert(0, "new ")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "new m\n")
    assert room in (await maintenance.run_once())["compacted"]


async def test_blob_attribution_and_diff(jp_root_dir, connect, api, rooms):
    """A binary file has no lines: its attribution and diff describe it whole."""
    (jp_root_dir / "b.bin").write_bytes(b"\x00\x01")
    alice = await connect("b.bin", "base64", "blob", headers=token_header("alice"))
    room = room_of(alice)
    first = await named(api, room, "two bytes")
    alice.jdoc.set(b"\x00\x01\x02")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == b"\x00\x01\x02")
    status, diff = await api("GET", *doc(room, "diff"), **{"from": first["id"]})
    assert (status, diff["changed"], diff["oldSize"], diff["newSize"]) == (200, True, 2, 3)
    status, who = await api("GET", *doc(room, "attribution"), since=first["id"])
    assert who["type"] == "blob" and who["user"] == "alice" and who["changed"] is True


async def test_a_large_restore_leaves_the_server_free_and_keeps_what_is_typed_meanwhile(
    jp_root_dir, connect, api, rooms, monkeypatch
):
    """The diff of a restore runs on a worker thread: while it runs, another room of the
    server keeps being served, and a line typed into the restored document meanwhile is kept
    (merged with the restore, never overwritten by a second diff)."""
    from jupyter_collab.history import service

    entered, release = threading.Event(), threading.Event()
    threads: list[threading.Thread] = []
    prepare = service._prepare_restore

    def held(*args: Any) -> Any:  # the diff waits until the test saw the server keep serving
        threads.append(threading.current_thread())
        entered.set()
        if threading.current_thread() is not threading.main_thread():
            release.wait(120)
        return prepare(*args)

    monkeypatch.setattr(service, "_prepare_restore", held)
    lines = [f"line {i} of a large document\n" for i in range(40_000)]
    (jp_root_dir / "large.txt").write_text("".join(lines))
    (jp_root_dir / "other.txt").write_text("other\n")
    alice = await connect("large.txt", headers=token_header("alice"))
    room = room_of(alice)
    good = await named(api, room, "good")
    alice.jdoc._ysource.insert(0, "bad edit\n")
    await eventually(lambda: "bad edit" in str(rooms.rooms[room].jdoc.get()), what="bad edit")

    body = {"version": good["id"]}
    restore = asyncio.ensure_future(api("POST", *doc(room, "restore"), body=body))
    await eventually(entered.is_set, timeout=60, what="the restore's diff started")
    # another room of the same server is served while the diff runs
    carol = await connect("other.txt", headers=token_header("carol"))
    bob = await connect("other.txt", headers=token_header("bob"))
    carol.jdoc._ysource.insert(0, "served meanwhile\n")
    await eventually(lambda: text_of(bob) == "served meanwhile\nother\n", what="other room")
    # and the restored document takes an edit too
    end = len(text_of(alice))
    alice.jdoc._ysource.insert(end, "typed during the restore\n")
    await eventually(
        lambda: "typed during the restore" in str(rooms.rooms[room].jdoc.get()), what="typed"
    )
    assert not restore.done()  # (all of the above happened while the diff was held)
    release.set()
    status, result = await restore
    assert status == 200, result

    expected = "".join(lines) + "typed during the restore\n"
    fresh = await connect("large.txt", headers=token_header("bob"))
    await eventually(
        lambda: text_of(alice) == text_of(fresh) == expected, timeout=60, what="restore + typed"
    )
    await eventually(
        lambda: (jp_root_dir / "large.txt").read_text() == expected, timeout=60, what="saved"
    )
    assert threads and all(t is not threading.main_thread() for t in threads)
