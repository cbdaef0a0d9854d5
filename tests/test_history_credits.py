"""Issue 8, history: a restore credits the people who wrote what it brings back; versions say
who made them apart from who wrote them; nothing calls a version by its database id; the file
as first opened is a version; replies name everybody they mention (``users``).

Against a real server with live clients and its real SQLite store (docs/history-api.md).
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import nbformat
import pytest
from jupyter_server.auth import User

from jupyter_collab.history.attribution import attribute
from jupyter_collab.history.marks import SNAPSHOT, CellMarks, Mark, TextMarks, WholeMarks
from jupyter_collab.history.people import People, fallback
from jupyter_collab.history.provenance import decode, encode
from jupyter_collab.history.runs import ByteRuns
from jupyter_collab.persistence import SQLiteStore

from .auth import USERS, token_header
from .client import eventually
from .test_history import _collab_app, _notebook, doc, named, room_of, text_of


def _lines(result: dict[str, Any]) -> list[tuple[str | None, str | None, list[str]]]:
    return [(line["user"], line["restoredBy"], line["authors"]) for line in result["lines"]]


async def _type(client: Any, at: int, text: str) -> None:
    """Type ``text`` at ``at`` one character per update, as an editor sends it."""
    for i, ch in enumerate(text):
        client.jdoc._ysource.insert(at + i, ch)


async def _two_authors(root: Any, name: str, connect: Any, api: Any) -> tuple[Any, Any, str, dict]:
    """alice writes a line, bob a second one, and bob names the version holding both."""
    (root / name).write_text("")
    alice = await connect(name, headers=token_header("alice"))
    bob = await connect(name, headers=token_header("bob"))
    room = room_of(alice)
    await _type(alice, 0, "alpha by alice\n")
    await eventually(lambda: text_of(bob) == "alpha by alice\n")
    await _type(bob, len("alpha by alice\n"), "beta by bob\n")
    await eventually(lambda: text_of(alice) == "alpha by alice\nbeta by bob\n")
    both = await named(api, room, "Both lines", user="bob")
    return alice, bob, room, both


async def test_restore_credits_the_authors_of_what_it_brings_back(
    jp_root_dir, jp_serverapp, connect, api, rooms
):
    alice, bob, room, both = await _two_authors(jp_root_dir, "c.txt", connect, api)

    # alice removes bob's line, then restores the version that had it
    del alice.jdoc._ysource[len("alpha by alice\n") : len(text_of(alice))]
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "alpha by alice\n")
    status, result = await api("POST", *doc(room, "restore"), body={"version": both["id"]})
    assert status == 200, result
    await eventually(lambda: text_of(bob) == "alpha by alice\nbeta by bob\n", what="restored")

    # who wrote what: bob's line is bob's again; alice is only who restored it
    status, who = await api("GET", *doc(room, "attribution"))
    assert status == 200
    assert _lines(who) == [("alice", None, ["alice"]), ("bob", "alice", ["bob"])]
    assert who["lines"][1]["origin"] == "client"
    assert set(who["users"]) == {"alice", "bob"}
    # changed since the point before the restore: bob's line (brought back), not alice's
    status, since = await api("GET", *doc(room, "attribution"), since=result["before"]["id"])
    assert [line["changed"] for line in since["lines"]] == [False, True]

    # the restore version: made by alice, its change is bob's text
    restore = result["version"]
    assert restore["kind"] == "restore" and restore["createdBy"] == "alice"
    assert restore["authors"] == ["bob"]
    assert restore["name"] is None
    assert restore["restoredFrom"] == {
        "id": both["id"], "name": "Both lines", "time": both["time"], "kind": "named",
    }  # fmt: skip
    # the diff from before the restore: what came back is bob's
    status, diff = await api("GET", *doc(room, "diff"), **{"from": result["before"]["id"]})
    assert "+beta by bob" in diff["diff"] and diff["authors"] == ["bob"]

    # it survives the room closing (compaction) and a fresh reader of the database
    alice.close()
    bob.close()
    await eventually(lambda: room not in rooms.rooms, what="room dropped")
    status, again = await api("GET", *doc(room, "attribution"))
    assert _lines(again) == _lines(who)
    await _collab_app(jp_serverapp).maintenance.run_once()
    status, again = await api("GET", *doc(room, "attribution"))
    assert _lines(again) == _lines(who)
    store = await SQLiteStore.open(_collab_app(jp_serverapp).db_path)
    try:
        snapshot, entries = await store.history(room)
        kind = rooms.parse(room)[0]
        replayed = attribute(kind, snapshot, entries)
        assert _lines(replayed) == _lines(who)
    finally:
        await store.close()


async def test_restore_of_a_notebook_credits_cells_to_their_authors(
    jp_root_dir, connect, api, rooms
):
    _notebook(jp_root_dir / "n.ipynb", ["x = 1"])
    alice = await connect("n.ipynb", "json", "notebook", headers=token_header("alice"))
    bob = await connect("n.ipynb", "json", "notebook", headers=token_header("bob"))
    room = room_of(alice)
    bob.jdoc.append_cell(nbformat.v4.new_markdown_cell("bob's notes", id="b1"))
    await eventually(lambda: len(alice.content()["cells"]) == 2)
    bob.jdoc.ycells[0]["source"].insert(5, "0")  # x = 10, by bob
    await eventually(lambda: alice.content()["cells"][0]["source"] == "x = 10")
    version = await named(api, room, "bob's work")
    with alice.ydoc.transaction():
        alice.jdoc.ycells[0]["source"].insert(6, "0")  # x = 100, by alice
        del alice.jdoc.ycells[1]  # bob's cell removed by alice
    await eventually(lambda: len(rooms.rooms[room].jdoc.ycells) == 1)

    status, result = await api("POST", *doc(room, "restore"), body={"version": version["id"]})
    assert status == 200, result
    await eventually(lambda: [c["source"] for c in bob.content()["cells"]] ==
                     ["x = 10", "bob's notes"], what="restored")  # fmt: skip
    status, who = await api("GET", *doc(room, "attribution"))
    first, second = who["cells"]
    assert (first["id"], first["user"], first["restoredBy"]) == ("c0", "bob", "alice")
    assert first["authors"] == ["bob"]  # alice's "0" is gone, and so is her credit
    assert (second["id"], second["createdBy"], second["user"]) == ("b1", "bob", "bob")
    assert second["restoredBy"] == "alice" and second["authors"] == ["bob"]
    # removing nothing and bringing back bob's cells: the restore's change is bob's
    assert result["version"]["authors"] == ["bob"]


async def test_restore_credits_the_restorer_with_what_it_removes(jp_root_dir, connect, api, rooms):
    (jp_root_dir / "r.txt").write_text("kept\n")
    alice = await connect("r.txt", headers=token_header("alice"))
    bob = await connect("r.txt", headers=token_header("bob"))
    room = room_of(alice)
    good = await named(api, room, "good")
    await _type(bob, 0, "bob's mistake\n")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "bob's mistake\nkept\n")
    status, result = await api("POST", *doc(room, "restore"), body={"version": good["id"]})
    assert status == 200
    await eventually(lambda: text_of(bob) == "kept\n")
    # only a removal: that is the restorer's work, and the line left is the file's as opened
    assert result["version"]["authors"] == ["alice"]
    status, who = await api("GET", *doc(room, "attribution"))
    assert [(line["user"], line["origin"]) for line in who["lines"]] == [(None, "load")]
    assert "alice" not in who["lines"][0]["authors"]


async def test_a_version_says_who_made_it_apart_from_its_authors(jp_root_dir, connect, api):
    (jp_root_dir / "w.txt").write_text("w\n")
    alice = await connect("w.txt", headers=token_header("alice"))
    bob = await connect("w.txt", headers=token_header("bob"))
    room = room_of(alice)
    await _type(alice, 0, "by alice ")
    await eventually(lambda: text_of(bob) == "by alice w\n")
    bob.close()
    status, body = await api(
        "POST", *doc(room, "versions"), user="bob", body={"name": "Named by bob"}
    )
    assert status == 201
    version = body["version"]
    assert (version["kind"], version["createdBy"]) == ("named", "bob")
    assert version["authors"] == ["alice"]  # who wrote the changes: not who named them
    # everyone the reply names, with the name and colour the panel shows (bob has left)
    assert set(body["users"]) == {"alice", "bob"}
    assert body["users"]["alice"]["display_name"] == "Alice"
    assert body["users"]["bob"]["display_name"] == "Bob"
    assert re.fullmatch(r"#[0-9a-f]{6}", body["users"]["bob"]["color"])
    assert body["users"]["alice"]["initials"]
    status, listing = await api("GET", *doc(room, "versions"), user="bob")
    assert set(listing["users"]) >= {"alice", "bob"}
    status, content = await api("GET", *doc(room, "versions", str(version["id"])))
    assert set(content["users"]) == {"alice", "bob"}


ANONYMOUS = "0f" * 16  # what jupyter_server makes up for a token request without a user


async def test_users_map_names_anonymous_users_the_directory_leaves_out(
    jp_root_dir, connect, api, rooms, monkeypatch
):
    """jupyter_server's "Anonymous …" users are kept out of the user directory (one cannot
    share with them), yet they write and name versions: replies still say who they are."""
    monkeypatch.setitem(
        USERS,
        "anon-token",
        User(username=ANONYMOUS, name="Anonymous Io", display_name="Anonymous Io"),
    )
    (jp_root_dir / "anon.txt").write_text("x\n")
    writer = await connect("anon.txt", headers=token_header("anon"))
    room = room_of(writer)
    await _type(writer, 0, "by io ")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "by io x\n")
    # alice names a version while the anonymous writer is in the room
    status, body = await api("POST", *doc(room, "versions"), body={"name": "Io's work"})
    assert status == 201
    assert body["version"]["authors"] == [ANONYMOUS]
    assert body["users"][ANONYMOUS]["display_name"] == "Anonymous Io"
    # the writer leaves; then names a version itself (never seen by the directory)
    writer.close()
    await eventually(lambda: room not in rooms.rooms, what="room dropped")
    status, body = await api("POST", *doc(room, "versions"), user="anon", body={"name": "Io's"})
    assert status == 201 and body["version"]["createdBy"] == ANONYMOUS
    status, listing = await api("GET", *doc(room, "versions"), user="bob")
    assert listing["users"][ANONYMOUS]["display_name"] == "Anonymous Io"
    assert listing["users"][ANONYMOUS]["initials"] == "AI"
    status, who = await api("GET", *doc(room, "attribution"), user="bob")
    assert who["users"][ANONYMOUS]["display_name"] == "Anonymous Io"
    # and it stays out of the directory
    status, directory = await api("GET", "users", params={"q": "anonymous"})
    assert ANONYMOUS not in [u["username"] for u in directory.get("users", [])]


async def test_users_map_for_people_the_directory_does_not_know():
    assert await People(None).of(["zoe", None, "zoe"]) == {"zoe": fallback("zoe")}
    assert fallback("zoe")["display_name"] == "zoe" and fallback("zoe")["initials"] == "ZO"

    class Directory:  # the sharing service as it will be: asynchronous
        async def users(self, query: str, limit: int) -> list[dict[str, Any]]:
            found = [{"username": "zoe2", "display_name": "Zoe Two", "initials": "Z2",
                      "name": "Zoe Two", "color": "#123456"},
                     {"username": "zoe", "display_name": "Zoë", "initials": "ZÖ",
                      "name": "Zoë Z", "color": "#654321"}]  # fmt: skip
            return [u for u in found if query in u["username"]][:limit]

    people = await People(Directory()).of(["zoe", "zed"])
    assert people["zoe"]["display_name"] == "Zoë" and people["zoe"]["color"] == "#654321"
    assert people["zed"] == fallback("zed")

    class Hostile:  # an identity whose colour would inject CSS
        def users(self, query: str, limit: int) -> list[dict[str, Any]]:
            return [{"username": "mal", "display_name": "Mal", "color": "red;background:url(x)"}]

    (mal,) = (await People(Hostile()).of(["mal"])).values()
    assert mal["display_name"] == "Mal" and mal["color"] == fallback("mal")["color"]


async def test_versions_are_named_by_name_or_time_never_by_id(
    jp_root_dir, jp_fetch, connect, api, rooms
):
    (jp_root_dir / "t.txt").write_text("one\n")
    alice = await connect("t.txt", headers=token_header("alice"))
    bob = await connect("t.txt", headers=token_header("bob"))
    room = room_of(alice)
    await _type(bob, 0, "bob ")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "bob one\n")
    first = await named(api, room, "First", user="bob")
    await _type(bob, 0, "again ")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "again bob one\n")
    opened = (await api("GET", *doc(room, "versions")))[1]["versions"][-1]
    assert opened["kind"] == "opened"

    # diff headers name versions by name or time
    status, diff = await api("GET", *doc(room, "diff"), **{"from": opened["id"], "to": first["id"]})
    assert "--- the version of " + opened["time"] in diff["diff"]
    assert "+++ “First”" in diff["diff"]
    assert f"version {opened['id']}" not in diff["diff"]

    # the restore notice and the authors' notification name the version, not its id
    status, result = await api("POST", *doc(room, "restore"), body={"version": first["id"]})
    await eventually(lambda: any(n["type"] == "restored" for n in bob.notices))
    notice = next(n for n in bob.notices if n["type"] == "restored")
    assert notice["versionName"] == "First" and notice["versionTime"] == first["time"]
    assert notice["versionKind"] == "named"
    response = await jp_fetch("api", "collab", "notifications", headers=token_header("bob"))
    restored = [n for n in json.loads(response.body)["notifications"] if n["type"] == "restored"]
    assert restored, "bob wrote in the document: he is told of the restore"
    assert restored[-1]["message"] == "Alice restored “First” of t.txt"
    assert restored[-1]["details"]["versionName"] == "First"
    assert restored[-1]["details"]["versionTime"] == first["time"]
    assert str(first["id"]) not in restored[-1]["message"]
    # the restore version refers to what it restored by name and time, and has no name itself
    assert result["version"]["name"] is None
    assert result["version"]["restoredFrom"]["name"] == "First"
    # restoring an unnamed version: the notice has its time and no name
    status, _ = await api("POST", *doc(room, "restore"), body={"version": opened["id"]})
    await eventually(lambda: len([n for n in bob.notices if n["type"] == "restored"]) == 2)
    second = [n for n in bob.notices if n["type"] == "restored"][-1]
    assert second["versionName"] is None and second["versionTime"] == opened["time"]
    assert second["versionKind"] == "opened"


async def test_the_file_as_first_opened_is_a_version(jp_root_dir, connect, api, rooms):
    (jp_root_dir / "o.txt").write_text("as it was on disk\n")
    alice = await connect("o.txt", headers=token_header("alice"))
    room = room_of(alice)

    async def listing() -> list[dict[str, Any]]:
        return (await api("GET", *doc(room, "versions")))[1]["versions"]

    async def has_opened() -> bool:
        return [v["kind"] for v in await listing()] == ["opened"]

    await eventually(has_opened, what="a version of the file as first opened")
    (opened,) = await listing()
    assert opened["seq"] == 1 and opened["createdBy"] is None and opened["authors"] == []
    await _type(alice, 0, "edited ")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "edited as it was on disk\n")
    status, content = await api("GET", *doc(room, "versions", str(opened["id"])))
    assert content["content"] == "as it was on disk\n"

    # it is made once: reopening the document does not make another
    alice.close()
    await eventually(lambda: room not in rooms.rooms, what="room dropped")
    again = await connect("o.txt", headers=token_header("bob"))
    assert text_of(again) == "edited as it was on disk\n"
    await named(api, room, "after reopening")
    kinds = [v["kind"] for v in await listing()]
    assert kinds.count("opened") == 1 and kinds[-1] == "opened"

    # and it can be restored: back to the original
    status, _ = await api("POST", *doc(room, "restore"), body={"version": opened["id"]})
    assert status == 200
    await eventually(lambda: text_of(again) == "as it was on disk\n", what="original back")
    await eventually(lambda: (jp_root_dir / "o.txt").read_text() == "as it was on disk\n")

    # a notebook too
    _notebook(jp_root_dir / "o.ipynb", ["first = 1"])
    nb = await connect("o.ipynb", "json", "notebook", headers=token_header("alice"))
    nb_room = room_of(nb)

    async def nb_kinds() -> list[str]:
        return [v["kind"] for v in (await api("GET", *doc(nb_room, "versions")))[1]["versions"]]

    async def nb_opened() -> bool:
        return await nb_kinds() == ["opened"]

    await eventually(nb_opened, what="the notebook as first opened")


def test_provenance_round_trip_and_bad_data():
    alice = Mark("alice", "client", 10.0, 3)
    bob = Mark("bob", "client", 20.0, 5, "carol")
    text = TextMarks(b"ab\nc", [SNAPSHOT, alice, bob], [(1, 1, 1), (1, 1, 2), (1, 2, 2), (1, 0, 0)])
    back = decode(encode(text))
    assert isinstance(back, TextMarks)
    per_byte = [(back.marks[o], back.marks[last]) for n, o, last in back.runs for _ in range(n)]
    assert per_byte == [(alice, alice), (alice, bob), (bob, bob), (SNAPSHOT, SNAPSHOT)]
    assert back.content is None and back.fingerprint() == text.fingerprint()

    later = Mark("alice", "client", 30.0, 9)
    cells = CellMarks(["a", "b"], {"a": alice, "b": bob}, {"a": [alice, later, bob], "b": [bob]})
    back_cells = decode(encode(cells))
    assert isinstance(back_cells, CellMarks) and back_cells.order == ["a", "b"]
    assert back_cells.created == {"a": alice, "b": bob}
    assert back_cells.touched["a"] == [bob, later]  # each author's latest, oldest first
    back_whole = decode(encode(WholeMarks([alice, bob])))
    assert isinstance(back_whole, WholeMarks) and back_whole.marks == [alice, bob]

    for bad in (b"", b"not zlib", encode(text)[:-3]):
        assert decode(bad) is None


def test_byte_runs_behave_like_a_mark_per_byte():
    """The runs attribution keeps give, after any edits, what a list of marks per byte would."""
    rng = random.Random(8)
    for trial in range(40):
        size = rng.randrange(0, 400)
        runs, model = ByteRuns([(size, 0, 0)]), [(0, 0)] * size
        for step in range(1, 300):
            op = rng.random()
            if op < 0.5 or not model:
                at, n = rng.randrange(0, len(model) + 1), rng.randrange(1, 30)
                runs.insert(at, n, step, step)
                model[at:at] = [(step, step)] * n
            elif op < 0.8:
                at = rng.randrange(0, len(model))
                n = rng.randrange(1, 40)
                runs.delete(at, n)
                del model[at : at + n]
            else:
                at = rng.randrange(-1, len(model) + 1)
                runs.set_last(at, step)
                if 0 <= at < len(model):
                    model[at] = (model[at][0], step)
            assert len(runs) == len(model), (trial, step)
        flat = [(owner, last) for n, owner, last in runs.runs() for _ in range(n)]
        assert flat == model, trial


@pytest.fixture
def keep_no_log(collab_config):
    collab_config.update(history_retention=0.0)


@pytest.mark.usefixtures("keep_no_log")
async def test_restore_credits_outlive_the_log(jp_root_dir, jp_serverapp, connect, api, rooms):
    """With no fine-grained log kept at all, compaction folds the restore away; who wrote
    what (and who restored it) stays with the snapshot."""
    (jp_root_dir / "k.txt").write_text("")
    alice = await connect("k.txt", headers=token_header("alice"))
    bob = await connect("k.txt", headers=token_header("bob"))
    room = room_of(alice)
    await _type(bob, 0, "bob's line\n")
    await eventually(lambda: text_of(alice) == "bob's line\n")
    version = await named(api, room, "bob's")
    del alice.jdoc._ysource[0 : len(text_of(alice))]
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "")
    status, _ = await api("POST", *doc(room, "restore"), body={"version": version["id"]})
    assert status == 200
    await eventually(lambda: text_of(bob) == "bob's line\n")
    status, before = await api("GET", *doc(room, "attribution"))
    assert _lines(before) == [("bob", "alice", ["bob"])]

    store = _collab_app(jp_serverapp).store
    await _collab_app(jp_serverapp).maintenance.run_once()
    assert await store.read(room) == []  # nothing of the log is left
    status, after = await api("GET", *doc(room, "attribution"))
    assert _lines(after) == _lines(before)


async def test_restore_after_the_room_closed_credits_the_authors(
    jp_root_dir, jp_serverapp, connect, api, rooms
):
    """A room compacts its log into a snapshot when it closes; the log it folded is kept for
    a while. A restore made after that, of a version older than the snapshot, credited the
    restorer with everyone's text (the version's text was "nobody's" once a snapshot passed
    it). It now replays the kept log, as the command line's offline restore does."""
    alice, bob, room, both = await _two_authors(jp_root_dir, "k.txt", connect, api)
    await _type(bob, len(text_of(bob)), "gamma by bob\n")  # (so the snapshot passes the version)
    await eventually(lambda: text_of(alice).endswith("gamma by bob\n"))
    alice.close()
    bob.close()
    await eventually(lambda: room not in rooms.rooms, what="room dropped")
    version = await rooms.store.get_version(room, both["id"])

    async def compacted_past_it() -> bool:
        # (the room leaves the open rooms first, then closes and compacts: wait for that)
        snapshot, _ = await rooms.store.history(room)
        return snapshot is not None and snapshot.upto_seq > version.seq

    await eventually(compacted_past_it, what="the closed room's log compacted past the version")

    alice = await connect("k.txt", headers=token_header("alice"))
    del alice.jdoc._ysource[len("alpha by alice\n") : len(text_of(alice))]
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "alpha by alice\n")
    status, result = await api("POST", *doc(room, "restore"), body={"version": both["id"]})
    assert status == 200, result
    await eventually(lambda: text_of(alice) == "alpha by alice\nbeta by bob\n", what="restored")
    status, who = await api("GET", *doc(room, "attribution"))
    assert status == 200
    assert _lines(who) == [("alice", None, ["alice"]), ("bob", "alice", ["bob"])]
    assert result["version"]["authors"] == ["bob"]
