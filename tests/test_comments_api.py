"""Comment threads over REST against a live server: anchors, replies, edit/delete/resolve,
roles (through the REST API and the room), mentions, notifications, notices, audit, renames,
restores and bad input (docs/comments-api.md)."""

from __future__ import annotations

import base64
import json
from typing import Any

import nbformat
import pytest
from pycrdt import Text
from tornado.httpclient import HTTPClientError

from jupyter_collab.comments.anchors import range_positions

from .auth import token_header
from .client import eventually
from .test_history import doc, named, room_of, text_of
from .test_sharing import share


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def text_anchor(text: Text, start: int, end: int, cell: str | None = None) -> dict[str, Any]:
    """An anchor made from a client's own copy of the document (as a browser would)."""
    first, last = range_positions(text, start, end)
    return {"cell": cell, "start": b64(first), "end": b64(last)}


async def new_thread(api: Any, path: str, anchor: Any, body: str, user: str = "alice") -> Any:
    status, reply = await api(
        "POST", "comments", user=user, body={"path": path, "anchor": anchor, "body": body}
    )
    assert status == 201, reply
    return reply


async def threads_of(api: Any, path: str, user: str = "alice", **params: Any) -> Any:
    status, reply = await api("GET", "comments", user=user, params={"path": path, **params})
    assert status == 200, reply
    return reply


async def inbox(api: Any, user: str) -> list[dict[str, Any]]:
    status, reply = await api("GET", "notifications", user=user)
    assert status == 200, reply
    return reply["notifications"]


async def signed_in(api: Any, *users: str) -> None:
    """Users who called the server are in the directory (recorded in the background)."""
    for user in users:
        await api("GET", "comments", user=user, params={"path": "nothing-here.txt"})

    async def listed() -> bool:
        status, reply = await api("GET", "users", q="")
        found = {u["username"] for u in reply["users"]}
        return status == 200 and set(users) <= found

    await eventually(listed, what="users in the directory")


def notebook(path: Any, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, id=f"c{i}") for i, source in enumerate(sources)]
    nbformat.write(nb, path)


async def test_a_text_thread_from_creation_to_detached(jp_root_dir, connect, api):
    (jp_root_dir / "a.txt").write_text("hello brave new world\n")
    alice = await connect("a.txt", headers=token_header("alice"))
    bob = await connect("a.txt", headers=token_header("bob"))
    source = alice.jdoc._ysource
    created = await new_thread(api, "a.txt", text_anchor(source, 6, 11), "Why brave?")
    thread = created["thread"]
    assert thread["anchor"]["quote"] == "brave" and thread["anchor"]["cell"] is None
    assert thread["current"] == {"cell": None, "start": 6, "end": 11, "text": "brave"}
    assert thread["detached"] is False and thread["resolved"] is False
    assert thread["room"] == room_of(alice) and thread["path"] == "a.txt"
    assert [c["body"] for c in thread["comments"]] == ["Why brave?"]
    assert created["comment"]["author"] == "alice" and created["mentioned"] == []
    assert created["users"]["alice"]["display_name"] == "Alice"
    # every client in the room is told, and refetches
    for client in (alice, bob):
        await eventually(
            lambda c=client: {"type": "comments", "thread": thread["id"], "action": "created",
                              "comment": created["comment"]["id"], "by": "alice"} in c.notices,
            what="the created notice",
        )  # fmt: skip

    # edits around the range: it follows its text
    bob.jdoc._ysource.insert(0, ">> ")
    bob.jdoc._ysource.insert(len(">> hello brave"), "!!")  # right after it: stays outside
    await eventually(lambda: text_of(alice) == ">> hello brave!! new world\n")
    listing = await threads_of(api, "a.txt")
    assert listing["role"] == "owner" and listing["canComment"] is True
    [found] = listing["threads"]
    assert found["current"] == {"cell": None, "start": 9, "end": 14, "text": "brave"}

    # replies, edits, resolve and reopen
    status, replied = await api(
        "POST", "comments", thread["id"], "comments", user="bob", body={"body": "It is."}
    )
    assert status == 201 and replied["thread"]["participants"] == ["alice", "bob"]
    status, edited = await api(
        "PATCH", "comments", thread["id"], "comments", created["comment"]["id"],
        body={"body": "Why brave, really?"},
    )  # fmt: skip
    assert status == 200 and edited["comment"]["edited"] is not None
    assert [c["body"] for c in edited["thread"]["comments"]] == ["Why brave, really?", "It is."]
    status, resolved = await api("PATCH", "comments", thread["id"], user="bob",
                                 body={"resolved": True})  # fmt: skip
    assert status == 200 and resolved["thread"]["resolved"] is True
    assert resolved["thread"]["resolvedBy"] == "bob"
    assert (await threads_of(api, "a.txt", resolved="false"))["threads"] == []
    assert len((await threads_of(api, "a.txt", resolved="true"))["threads"]) == 1
    status, reopened = await api("PATCH", "comments", thread["id"], body={"resolved": False})
    assert status == 200 and reopened["thread"]["resolved"] is False
    actions = [n["action"] for n in alice.notices if n["type"] == "comments"]
    for action in ("created", "replied", "edited", "resolved", "reopened"):
        await eventually(
            lambda a=action: a in [n.get("action") for n in alice.notices], what=action
        )
    assert actions[0] == "created"

    # the anchored text is deleted: the thread stays, detached, with its quote
    del bob.jdoc._ysource[3:17]  # "hello brave!! "
    await eventually(lambda: text_of(alice) == ">> new world\n", what="the range deleted")
    [gone] = (await threads_of(api, "a.txt"))["threads"]
    assert gone["detached"] is True and gone["current"] is None
    assert gone["anchor"]["quote"] == "brave" and len(gone["comments"]) == 2
    status, one = await api("GET", "comments", thread["id"], user="bob")
    assert status == 200 and one["thread"]["detached"] is True


async def test_notebook_cells_and_ranges_in_cells(jp_root_dir, connect, api):
    notebook(jp_root_dir / "n.ipynb", ["import pandas as pd", "df = pd.read_csv('x.csv')", "x"])
    alice = await connect("n.ipynb", "json", "notebook", headers=token_header("alice"))
    cells = alice.jdoc.ycells
    whole = await new_thread(api, "n.ipynb", {"cell": "c0"}, "Pin the version")
    ranged = await new_thread(
        api, "n.ipynb", text_anchor(cells[1]["source"], 5, 16, cell="c1"), "Which file?"
    )
    document = await new_thread(api, "n.ipynb", None, "Nice notebook")
    assert whole["thread"]["anchor"] == {
        "cell": "c0", "start": None, "end": None, "quote": "import pandas as pd"
    }  # fmt: skip
    assert whole["thread"]["current"] == {"cell": "c0", "start": None, "end": None, "text": None}
    assert ranged["thread"]["anchor"]["quote"] == "pd.read_csv"
    assert ranged["thread"]["room"].startswith("json:notebook:")
    assert document["thread"]["current"] is None and document["thread"]["detached"] is False

    # JupyterLab moves a cell by deleting it and inserting a copy (same id, new CRDT items):
    # the range is found again by its quote in the cell with that id
    copy = alice.jdoc.create_ycell(nbformat.v4.new_code_cell("df = pd.read_csv('x.csv')", id="c1"))
    with alice.ydoc.transaction():
        del cells[1]
        cells.insert(0, copy)
    with alice.ydoc.transaction():
        del cells[1]  # the cell c0 is deleted

    async def placed() -> bool:
        listing = await threads_of(api, "n.ipynb")
        return [t["detached"] for t in listing["threads"]] == [True, False, False]

    await eventually(placed, what="c0 deleted and c1 moved, as the server sees them")
    by_id = {t["id"]: t for t in (await threads_of(api, "n.ipynb"))["threads"]}
    assert by_id[whole["thread"]["id"]]["anchor"]["quote"] == "import pandas as pd"
    assert by_id[ranged["thread"]["id"]]["current"] == {
        "cell": "c1", "start": 5, "end": 16, "text": "pd.read_csv"
    }  # fmt: skip


async def test_threads_are_read_from_the_stored_document_when_no_room_is_open(
    jp_root_dir, connect, api, rooms
):
    (jp_root_dir / "s.txt").write_text("alpha beta gamma\n")
    alice = await connect("s.txt", headers=token_header("alice"))
    room = room_of(alice)
    created = await new_thread(api, "s.txt", text_anchor(alice.jdoc._ysource, 6, 10), "b?")
    alice.jdoc._ysource.insert(0, "0 ")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "0 alpha beta gamma\n")
    alice.close()
    await eventually(lambda: room not in rooms.rooms, what="the room closed")
    [thread] = (await threads_of(api, "s.txt"))["threads"]
    assert thread["id"] == created["thread"]["id"]
    assert thread["current"] == {"cell": None, "start": 8, "end": 12, "text": "beta"}
    assert room not in rooms.rooms  # read from the stored state, no room opened for it


async def test_a_commenter_comments_but_cannot_edit_and_a_viewer_only_reads(
    jp_root_dir, jp_fetch, connect, open_session, api
):
    (jp_root_dir / "proj").mkdir()
    (jp_root_dir / "proj" / "r.txt").write_text("review me\n")
    alice = await connect("proj/r.txt", headers=token_header("alice"))
    await share(api, "proj", "bob", "commenter")
    await share(api, "proj", "carol", "viewer")
    listing = (await api("GET", "shares", "proj/r.txt"))[1]
    assert {s["user"]: s["role"] for s in listing["shares"]} == {
        "bob": "commenter", "carol": "viewer"
    }  # fmt: skip
    assert (await open_session("proj/r.txt", headers=token_header("bob")))["role"] == "commenter"
    bob = await connect("proj/r.txt", headers=token_header("bob"))
    assert {"type": "role", "role": "commenter"} in bob.notices

    # the room refuses a commenter's edits and saves, as a viewer's
    bob.jdoc._ysource.insert(0, "bob was here ")
    await eventually(lambda: any(n["type"] == "refused" for n in bob.notices), what="refused")
    from jupyter_collab.protocol.framing import notice_frame

    bob.send(notice_frame({"type": "save"}))
    await eventually(
        lambda: any(n["type"] == "refused" and n.get("what") == "save" for n in bob.notices),
        what="save refused",
    )
    assert text_of(alice) == "review me\n"
    # ... nor through Jupyter's contents API
    try:
        await jp_fetch(
            "api",
            "contents",
            "proj",
            "r.txt",
            method="PUT",
            headers=token_header("bob"),
            body=json.dumps({"type": "file", "format": "text", "content": "x"}),
        )
        raise AssertionError("a commenter saved through /api/contents")
    except HTTPClientError as error:
        assert error.code == 403
    assert (jp_root_dir / "proj" / "r.txt").read_text() == "review me\n"

    # ... and takes their comments; a viewer reads them and cannot write any
    anchor = text_anchor(alice.jdoc._ysource, 0, 6)
    created = await new_thread(api, "proj/r.txt", anchor, "Looks fine", user="bob")
    thread = created["thread"]["id"]
    carol_view = await threads_of(api, "proj/r.txt", user="carol")
    assert carol_view["role"] == "viewer" and carol_view["canComment"] is False
    assert [t["id"] for t in carol_view["threads"]] == [thread]
    for method, parts, body in (
        ("POST", (), {"path": "proj/r.txt", "anchor": anchor, "body": "me too"}),
        ("POST", (thread, "comments"), {"body": "me too"}),
        ("PATCH", (thread,), {"resolved": True}),
    ):
        status, reply = await api(method, "comments", *parts, user="carol", body=body)
        assert status == 403 and "viewer" in reply["message"], (method, parts, reply)
    # the Authorizer's read-only user (vera) is a viewer at most, whatever the share says
    await share(api, "proj", "vera", "commenter")
    status, reply = await api("POST", "comments", thread, "comments", user="viewer",
                              body={"body": "hi"})  # fmt: skip
    assert status == 403
    # a promotion applies at once: carol as commenter may reply
    await share(api, "proj", "carol", "commenter")
    status, reply = await api("POST", "comments", thread, "comments", user="carol",
                              body={"body": "now I can"})  # fmt: skip
    assert status == 201
    # someone who may not read the file does not see its threads at all
    await share(api, "proj", "carol", "none")
    status, reply = await api("GET", "comments", user="carol", params={"path": "proj/r.txt"})
    assert status == 404
    status, reply = await api("GET", "comments", thread, user="carol")
    assert status == 404
    status, reply = await api("GET", "comments", thread, user="nobody")
    assert status == 403  # (the Jupyter Authorizer refuses nobody before anything else)


async def test_own_comments_only_and_owners_moderate(jp_root_dir, connect, api):
    (jp_root_dir / "m.txt").write_text("moderate this\n")
    alice = await connect("m.txt", headers=token_header("alice"))
    created = await new_thread(api, "m.txt", text_anchor(alice.jdoc._ysource, 0, 8), "first",
                               user="bob")  # fmt: skip
    thread, first = created["thread"]["id"], created["comment"]["id"]
    status, reply = await api("POST", "comments", thread, "comments", body={"body": "alice's"})
    second = reply["comment"]["id"]
    status, reply = await api("PATCH", "comments", thread, "comments", second, user="bob",
                              body={"body": "bob rewrites alice"})  # fmt: skip
    assert status == 403 and "author" in reply["message"]
    status, reply = await api("DELETE", "comments", thread, "comments", second, user="bob")
    assert status == 403  # bob is an editor, not an owner
    status, reply = await api("PATCH", "comments", thread, "comments", first, user="alice",
                              body={"body": "owners do not edit others' words either"})  # fmt: skip
    assert status == 403
    status, reply = await api("DELETE", "comments", thread, "comments", first)  # alice owns
    assert status == 200 and reply["deletedThread"] is False
    assert [c["id"] for c in reply["thread"]["comments"]] == [second]
    status, reply = await api("DELETE", "comments", thread, "comments", second)
    assert status == 200 and reply == {"thread": None, "deletedThread": True, "users": {}}
    await eventually(
        lambda: any(n.get("action") == "deleted" and n.get("threadDeleted") for n in alice.notices),
        what="the deleted notice",
    )
    assert (await threads_of(api, "m.txt"))["threads"] == []
    status, reply = await api("GET", "comments", thread)
    assert status == 404


async def test_mentions_notify_readers_only(jp_root_dir, connect, api):
    (jp_root_dir / "team").mkdir()
    (jp_root_dir / "team" / "plan.txt").write_text("the plan\n")
    alice = await connect("team/plan.txt", headers=token_header("alice"))
    await signed_in(api, "bob", "carol")
    await share(api, "team", "carol", "none")  # carol may not read it
    before = {user: len(await inbox(api, user)) for user in ("bob", "carol")}
    created = await new_thread(
        api, "team/plan.txt", text_anchor(alice.jdoc._ysource, 4, 8),
        "@bob and @carol, see this. Mail alice@example.org, not @ghost. @alice",
    )  # fmt: skip
    assert created["mentioned"] == ["bob"] and created["unreachable"] == ["carol"]
    assert created["comment"]["mentions"] == ["bob", "carol", "alice"]
    assert "carol" in created["users"]  # (named for the share offer)
    bob_inbox = await inbox(api, "bob")
    [note] = bob_inbox[before["bob"] :]
    assert note["type"] == "mentioned" and note["path"] == "team/plan.txt"
    assert note["room"] == room_of(alice) and note["actor"]["username"] == "alice"
    assert note["details"]["thread"] == created["thread"]["id"]
    assert note["details"]["excerpt"].startswith("@bob and @carol")
    assert len(await inbox(api, "carol")) == before["carol"]  # nothing for a non-reader
    assert not [n for n in await inbox(api, "alice") if n["type"] == "mentioned"]

    # bob replies: alice (in the thread) gets "reply"; carol still nothing
    thread = created["thread"]["id"]
    status, reply = await api("POST", "comments", thread, "comments", user="bob",
                              body={"body": "On it."})  # fmt: skip
    assert status == 201
    replies = [n for n in await inbox(api, "alice") if n["type"] == "reply"]
    assert len(replies) == 1 and replies[0]["details"]["comment"] == reply["comment"]["id"]
    # alice resolves: bob (a participant) is told; alice is not told of her own act
    await api("PATCH", "comments", thread, body={"resolved": True})
    resolved = [n for n in await inbox(api, "bob") if n["type"] == "resolved"]
    assert len(resolved) == 1 and resolved[0]["details"]["excerpt"].startswith("@bob and")
    await api("PATCH", "comments", thread, body={"resolved": False})  # reopened: no news
    await api("PATCH", "comments", thread, body={"resolved": True})
    assert len([n for n in await inbox(api, "bob") if n["type"] == "resolved"]) == 2
    assert len(await inbox(api, "carol")) == before["carol"]

    # carol gets access, and an edit mentioning her again notifies her (only the new mention)
    await share(api, "team", "carol", "viewer")
    carol_before = len(await inbox(api, "carol"))
    status, edited = await api(
        "PATCH", "comments", thread, "comments", created["comment"]["id"],
        body={"body": "@bob and @carol, see this (shared now)"},
    )  # fmt: skip
    assert status == 200 and edited["mentioned"] == [] and edited["unreachable"] == []
    status, again = await api("POST", "comments", thread, "comments",
                              body={"body": "@carol please look"})  # fmt: skip
    assert again["mentioned"] == ["carol"]
    new = (await inbox(api, "carol"))[carol_before:]
    assert [n["type"] for n in new if n["type"] != "shared"] == ["mentioned"]


async def test_bad_input_is_refused_with_a_message_and_changes_nothing(jp_root_dir, connect, api):
    (jp_root_dir / "b.txt").write_text("some text here\n")
    (jp_root_dir / "other.txt").write_text("another document\n")
    notebook(jp_root_dir / "n.ipynb", ["x = 1"])
    alice = await connect("b.txt", headers=token_header("alice"))
    other = await connect("other.txt", headers=token_header("alice"))
    nb = await connect("n.ipynb", "json", "notebook", headers=token_header("alice"))
    good = text_anchor(alice.jdoc._ysource, 0, 4)
    created = await new_thread(api, "b.txt", good, "fine")
    thread, comment = created["thread"]["id"], created["comment"]["id"]
    first, last = good["start"], good["end"]
    foreign = text_anchor(other.jdoc._ysource, 0, 4)  # positions of another document
    cell_range = text_anchor(nb.jdoc.ycells[0]["source"], 0, 1, cell="c0")

    cases: list[tuple[str, tuple[str, ...], Any, int, str]] = [
        ("POST", (), {"path": "b.txt", "anchor": good, "body": ""}, 400, "empty"),
        ("POST", (), {"path": "b.txt", "anchor": good, "body": " \n\t"}, 400, "empty"),
        ("POST", (), {"path": "b.txt", "anchor": good, "body": "x" * 10_001}, 413, "10,000"),
        ("POST", (), {"path": "b.txt", "anchor": good, "body": 5}, 400, "string"),
        ("POST", (), {"path": "b.txt", "anchor": good}, 400, "string"),
        ("POST", (), {"anchor": good, "body": "x"}, 400, "path"),
        ("POST", (), {"path": "missing.txt", "body": "x"}, 404, "no such file"),
        ("POST", (), {"path": "../b.txt", "body": "x"}, 404, "no such file"),
        ("POST", (), "not json", 400, "JSON"),
        ("POST", (), [1, 2], 400, "object"),
        ("POST", (), {"path": "b.txt", "anchor": "here", "body": "x"}, 400, "object"),
        ("POST", (), {"path": "b.txt", "anchor": {"start": first}, "body": "x"}, 400, "both"),
        (
            "POST",
            (),
            {"path": "b.txt", "anchor": {**good, "extra": 1}, "body": "x"},
            400,
            "unknown",
        ),
        (
            "POST",
            (),
            {"path": "b.txt", "anchor": {**good, "start": "%%%"}, "body": "x"},
            400,
            "base64",
        ),
        (
            "POST",
            (),
            {"path": "b.txt", "anchor": {**good, "start": b64(b"\x07\x01")}, "body": "x"},
            400,
            "relative position",
        ),
        (
            "POST",
            (),
            {"path": "b.txt", "anchor": {**good, "start": b64(b"\x00\x01")}, "body": "x"},
            400,
            "cut short",
        ),
        (
            "POST",
            (),
            {"path": "b.txt", "anchor": {**good, "start": last, "end": first}, "body": "x"},
            400,
            "after",
        ),
        ("POST", (), {"path": "b.txt", "anchor": foreign, "body": "x"}, 400, "not in"),
        (
            "POST",
            (),
            {"path": "b.txt", "anchor": {**good, "cell": "c0"}, "body": "x"},
            400,
            "no cells",
        ),
        ("POST", (), {"path": "n.ipynb", "anchor": {"cell": "nope"}, "body": "x"}, 400, "no cell"),
        (
            "POST",
            (),
            {"path": "n.ipynb", "anchor": {**cell_range, "cell": None}, "body": "x"},
            400,
            "cell",
        ),
        (
            "POST",
            (),
            {"path": "n.ipynb", "anchor": {**good, "cell": "c0"}, "body": "x"},
            400,
            "not in",
        ),
        (
            "POST",
            (),
            {"path": "b.txt", "anchor": good, "body": "x", "room": "json:notebook:x"},
            400,
            "not a document of",
        ),
        (
            "POST",
            (),
            {"path": "b.txt", "anchor": good, "body": "x", "room": "nonsense"},
            400,
            "room id",
        ),
        ("POST", ("0" * 32, "comments"), {"body": "x"}, 404, "no such thread"),
        ("POST", ("not-a-thread", "comments"), {"body": "x"}, 404, "no such thread"),
        ("POST", (thread, "comments"), {"body": "y" * 20_000}, 413, "10,000"),
        ("PATCH", (thread,), {"resolved": "yes"}, 400, "true or false"),
        ("PATCH", (thread,), {}, 400, "true or false"),
        ("PATCH", ("0" * 32,), {"resolved": True}, 404, "no such thread"),
        ("PATCH", (thread, "comments", "0" * 32), {"body": "x"}, 404, "no such comment"),
        ("PATCH", (thread, "comments", comment), {"body": ""}, 400, "empty"),
        ("DELETE", (thread, "comments", "0" * 32), None, 404, "no such comment"),
        ("GET", ("0" * 32,), None, 404, "no such thread"),
        ("GET", (), None, 400, "path"),
    ]
    for method, parts, body, status, words in cases:
        got, reply = await api(method, "comments", *parts, body=body)
        assert got == status, (method, parts, body if not isinstance(body, dict) else
                               {k: str(v)[:40] for k, v in body.items()}, got, reply)  # fmt: skip
        assert words.lower() in reply.get("message", "").lower(), (method, parts, reply)
    status, reply = await api("GET", "comments", params={"path": "b.txt", "resolved": "maybe"})
    assert status == 400
    # nothing of it landed: one thread, one comment, unchanged
    [kept] = (await threads_of(api, "b.txt"))["threads"]
    assert [c["body"] for c in kept["comments"]] == ["fine"]
    assert (await threads_of(api, "n.ipynb"))["threads"] == []
    # a comment of another thread is not this thread's
    other_thread = await new_thread(api, "other.txt", None, "elsewhere")
    status, reply = await api("DELETE", "comments", thread, "comments",
                              other_thread["comment"]["id"])  # fmt: skip
    assert status == 404


async def test_every_spelling_of_a_path_is_one_document(jp_root_dir, connect, api):
    (jp_root_dir / "sub").mkdir()
    (jp_root_dir / "sub" / "p.txt").write_text("spelled\n")
    await share(api, "sub/p.txt", "bob", "none")
    created = await new_thread(api, "./sub//p.txt", None, "one document")
    for spelling in ("sub/p.txt", "./sub/p.txt", "sub/../sub/p.txt", "nope/../sub/p.txt",
                     "sub/./p.txt", "/sub/p.txt"):  # fmt: skip
        listing = await threads_of(api, spelling)
        assert listing["path"] == "sub/p.txt"
        assert [t["id"] for t in listing["threads"]] == [created["thread"]["id"]], spelling
        # bob, who may not read it, gets nothing through any spelling
        status, _ = await api("GET", "comments", user="bob", params={"path": spelling})
        assert status == 404, spelling
        status, _ = await api("POST", "comments", user="bob",
                              body={"path": spelling, "body": "sneaky"})  # fmt: skip
        assert status == 404, spelling
    for outside in ("../sub/p.txt", "sub/../../x.txt", "/../etc/passwd"):
        status, _ = await api("GET", "comments", params={"path": outside})
        assert status == 404, outside


async def test_threads_follow_renames_and_survive_a_restore(
    jp_root_dir, jp_fetch, connect, api, rooms
):
    (jp_root_dir / "old.txt").write_text("version one\n")
    alice = await connect("old.txt", headers=token_header("alice"))
    room = room_of(alice)
    first = await named(api, room, "first")
    alice.jdoc._ysource.insert(len("version one"), " and two")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "version one and two\n")
    created = await new_thread(
        api, "old.txt", text_anchor(alice.jdoc._ysource, 12, 19), "about two"
    )
    await eventually(lambda: (jp_root_dir / "old.txt").read_text() == "version one and two\n")
    (jp_root_dir / "moved").mkdir()
    await jp_fetch(
        "api", "contents", "old.txt", method="PATCH", body=json.dumps({"path": "moved/new.txt"})
    )
    listing = await threads_of(api, "moved/new.txt")
    assert [t["id"] for t in listing["threads"]] == [created["thread"]["id"]]
    assert listing["threads"][0]["path"] == "moved/new.txt"
    status, one = await api("GET", "comments", created["thread"]["id"])
    assert one["thread"]["path"] == "moved/new.txt"

    # restoring the version before the commented text: the thread stays (detached)
    status, result = await api("POST", *doc(room, "restore"), body={"version": first["id"]})
    assert status == 200, result
    await eventually(lambda: text_of(alice) == "version one\n", what="restored")
    [kept] = (await threads_of(api, "moved/new.txt"))["threads"]
    assert kept["id"] == created["thread"]["id"] and kept["detached"] is True
    assert kept["anchor"]["quote"] == "and two" and kept["comments"][0]["body"] == "about two"


async def test_comment_actions_are_audited(jp_root_dir, connect, api):
    (jp_root_dir / "au.txt").write_text("audit me\n")
    alice = await connect("au.txt", headers=token_header("alice"))
    room = room_of(alice)
    created = await new_thread(api, "au.txt", None, "secret words")
    thread = created["thread"]["id"]
    await api("POST", "comments", thread, "comments", user="bob", body={"body": "reply"})
    await api("PATCH", "comments", thread, body={"resolved": True})

    async def audited() -> list[dict[str, Any]]:
        status, reply = await api("GET", "audit", document=room, action="comment")
        assert status == 200, reply
        return reply["events"]

    await eventually(lambda: _count(audited, 3), what="three comment events")
    events = await audited()
    whats = sorted((e["user"], e["details"]["what"]) for e in events)
    assert whats == [("alice", "created"), ("alice", "resolved"), ("bob", "replied")]
    assert all(e["details"]["thread"] == thread and e["document"] == room for e in events)
    assert all("secret" not in json.dumps(e) for e in events)  # bodies are not copied


async def _count(events: Any, n: int) -> bool:
    return len(await events()) >= n


async def test_binary_files_take_comments_on_the_whole_file(jp_root_dir, connect, api):
    (jp_root_dir / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    viewer = await connect("img.png", "base64", "file", headers=token_header("alice"))
    room = room_of(viewer)
    created = await new_thread(api, "img.png", None, "nice picture")
    assert created["thread"]["current"] is None and not created["thread"]["detached"]
    status, reply = await api(
        "POST", "comments",
        body={"path": "img.png", "room": room, "anchor": {"cell": "x"}, "body": "here"},
    )  # fmt: skip
    assert status == 400 and "whole file" in reply["message"]
    status, reply = await api(
        "POST", "comments", body={"path": "img.png", "room": room, "body": "on the blob"}
    )
    assert status == 201 and reply["thread"]["room"] == room
    listing = await threads_of(api, "img.png")
    assert [t["comments"][0]["body"] for t in listing["threads"]] == ["nice picture", "on the blob"]


@pytest.fixture
def broken_database(collab_config, tmp_path_factory):
    bad = tmp_path_factory.mktemp("broken") / "collab.db"
    bad.write_bytes(b"this is not an SQLite database" * 100)
    collab_config.update(db_path=str(bad))


@pytest.mark.usefixtures("broken_database")
async def test_without_its_database_the_server_refuses_comments_with_503(jp_root_dir, connect, api):
    """Not kept in memory to be lost at the restart: a clear 503, and documents still work."""
    (jp_root_dir / "d.txt").write_text("still editable\n")
    client = await connect("d.txt", headers=token_header("alice"))
    assert client.content() == "still editable\n"
    status, reply = await api("POST", "comments", body={"path": "d.txt", "body": "lost?"})
    assert status == 503 and "not available" in reply["message"]
    status, reply = await api("GET", "comments", params={"path": "d.txt"})
    assert status == 503
