"""Identity, permissions, origins and bad input: clear refusals, nothing lost."""

from __future__ import annotations

import json
import re

import pytest
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClosedError

from jupyter_collab import CollabApp
from jupyter_collab.gateway.identity import colour_for, safe_colour
from jupyter_collab.protocol.awareness import AwarenessEntry, encode_awareness
from jupyter_collab.protocol.codes import SyncType
from jupyter_collab.protocol.framing import awareness_frame, sync_frame

from .auth import cookie_header, token_header
from .client import eventually
from .test_history import room_of


async def test_viewer_joins_but_cannot_edit(jp_root_dir, connect):
    path = jp_root_dir / "ro.txt"
    path.write_text("read me")
    alice = await connect("ro.txt", headers=token_header("alice"))
    vera = await connect("ro.txt", headers=token_header("viewer"))
    assert {"type": "role", "role": "viewer"} in vera.notices
    vera.jdoc._ysource.insert(0, "HACKED ")
    await eventually(lambda: any(n["type"] == "refused" for n in vera.notices), what="refusal")
    alice.jdoc._ysource.insert(len(alice.content()), "!")
    # vera still follows alice, and her own edit never reached anyone
    await eventually(lambda: vera.content().endswith("read me!"), what="viewer sees edits")
    assert alice.content() == "read me!"
    await eventually(lambda: path.read_text() == "read me!", what="save")
    assert vera.close_code is None


async def test_viewer_session_role(jp_root_dir, open_session):
    (jp_root_dir / "r.txt").write_text("x")
    assert (await open_session("r.txt", headers=token_header("viewer")))["role"] == "viewer"
    # collaborators get the default role (editor); only the server's own user is an owner
    assert (await open_session("r.txt", headers=token_header("bob")))["role"] == "editor"
    assert (await open_session("r.txt", headers=token_header("alice")))["role"] == "owner"


async def test_user_without_read_is_refused(jp_root_dir, open_session, jp_ws_fetch):
    (jp_root_dir / "secret.txt").write_text("x")
    with pytest.raises(HTTPClientError) as err:
        await open_session("secret.txt", headers=token_header("nobody"))
    assert err.value.code == 403
    room = (await open_session("secret.txt"))["room"]
    ws = await jp_ws_fetch("api", "collab", "room", room, headers=token_header("nobody"))
    assert await ws.read_message() is None
    assert ws.close_code == 4403


async def test_identity_cannot_be_spoofed(jp_root_dir, connect):
    (jp_root_dir / "who.txt").write_text("x")
    alice = await connect("who.txt", headers=token_header("alice"))
    bob = await connect("who.txt", headers=token_header("bob"))
    bob.set_awareness({"user": {"name": "Alice Liddell", "username": "alice"}, "cursor": 1})
    await eventually(lambda: bob.ydoc.client_id in alice.awareness, what="bob's awareness")
    seen = alice.awareness[bob.ydoc.client_id]
    assert seen["user"]["username"] == "bob"
    assert seen["user"]["name"] == "Bob"
    assert seen["user"]["color"].startswith("#")
    assert seen["cursor"] == 1
    # bob tries to overwrite, then to remove, alice's awareness state
    alice.set_awareness({"cursor": 5})
    await eventually(lambda: alice.ydoc.client_id in bob.awareness, what="alice's awareness")
    forged = AwarenessEntry(alice.ydoc.client_id, 99, {"cursor": 0, "user": {"name": "x"}})
    bob.send(awareness_frame(encode_awareness([forged])))
    bob.send(awareness_frame(encode_awareness([AwarenessEntry(alice.ydoc.client_id, 100, None)])))
    bob.set_awareness({"cursor": 2})
    await eventually(lambda: alice.awareness[bob.ydoc.client_id]["cursor"] == 2, what="bob")
    assert bob.awareness[alice.ydoc.client_id] == {
        "cursor": 5,
        "user": alice.awareness[alice.ydoc.client_id]["user"],
    }
    assert bob.awareness[alice.ydoc.client_id]["user"]["username"] == "alice"


async def test_leaving_client_disappears_from_awareness(jp_root_dir, connect):
    (jp_root_dir / "bye.txt").write_text("x")
    alice = await connect("bye.txt", headers=token_header("alice"))
    bob = await connect("bye.txt", headers=token_header("bob"))
    bob.set_awareness({"cursor": 1})
    await eventually(lambda: bob.ydoc.client_id in alice.awareness, what="bob present")
    bob.close()
    await eventually(lambda: bob.ydoc.client_id not in alice.awareness, what="bob gone")


def _collab_urls() -> list[tuple[str, str]]:
    """Every endpoint the extension registers, with a concrete path for each pattern."""
    app = CollabApp()
    app.initialize_handlers()
    urls = []
    for pattern, *_ in app.handlers:
        urls.append((pattern, re.sub(r"\([^)]*\)", "text:file:x", pattern).lstrip("/")))
    return urls


@pytest.mark.parametrize(("pattern", "url"), _collab_urls())
@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "PATCH", "DELETE"])
async def test_every_endpoint_refuses_unauthenticated(
    jp_root_dir, jp_fetch, jp_ws_fetch, pattern, url, method
):
    (jp_root_dir / "text:file:x").write_text("x")
    body = (
        json.dumps({"format": "text", "type": "file"})
        if method in ("PUT", "POST", "PATCH")
        else None
    )
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(url, method=method, body=body, headers={"Authorization": "token wrong"})
    assert err.value.code in (403, 405)
    if method == "GET":
        with pytest.raises((HTTPClientError, WebSocketClosedError)) as ws_err:
            await jp_ws_fetch(url, headers={"Authorization": "token wrong"})
        assert getattr(ws_err.value, "code", 403) in (403, 405)


async def test_websocket_checks_origin(jp_root_dir, open_session, jp_ws_fetch, jp_http_port):
    """Browser (cookie) sessions must come from the server's own origin, as Jupyter's do."""
    (jp_root_dir / "o.txt").write_text("x")
    room = (await open_session("o.txt"))["room"]
    evil = {**cookie_header("alice"), "Origin": "http://evil.example"}
    with pytest.raises(HTTPClientError) as err:
        await jp_ws_fetch("api", "collab", "room", room, headers=evil)
    assert err.value.code == 403
    same = {**cookie_header("alice"), "Origin": f"http://localhost:{jp_http_port}"}
    ws = await jp_ws_fetch("api", "collab", "room", room, headers=same)
    assert await ws.read_message() is not None  # the role notice: accepted
    ws.close()


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps([1]),
        json.dumps({"format": "text"}),
        json.dumps({"format": "yaml", "type": "file"}),
    ],
)
async def test_bad_session_body(jp_root_dir, jp_fetch, body):
    (jp_root_dir / "a.txt").write_text("x")
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("api", "collab", "session", "a.txt", method="PUT", body=body)
    assert err.value.code == 400


async def test_missing_file_is_404(open_session):
    with pytest.raises(HTTPClientError) as err:
        await open_session("nope.txt")
    assert err.value.code == 404


@pytest.mark.parametrize("room", ["text:file:no-such-id", "garbage", "yaml:file:x"])
async def test_unknown_room(jp_ws_fetch, room):
    ws = await jp_ws_fetch("api", "collab", "room", room)
    assert await ws.read_message() is None
    assert ws.close_code == 4404


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x00",
        b"\x00\x02\x05ab",  # truncated payload
        b"\x00\x07\x00",  # unknown sync type
        b"\x09\x00",  # unknown message type
        sync_frame(SyncType.UPDATE, b"\xff\xff\xff\x01garbage"),
        sync_frame(SyncType.STEP1, b"\xff\xff"),
        awareness_frame(b"\x01\x01\x01\x05{bad}"),
        b"\x00\x02\x00trailing",
        "a text frame",
    ],
)
async def test_malformed_frames_close_only_the_sender(jp_root_dir, connect, frame):
    (jp_root_dir / "m.txt").write_text("keep")
    good = await connect("m.txt")
    bad = await connect("m.txt")
    bad.ws.write_message(frame, binary=isinstance(frame, bytes))
    await bad.closed.wait()
    assert bad.close_code == 4400
    assert "malformed" in bad.close_reason
    good.jdoc._ysource.insert(0, "still ")
    await eventually(lambda: (jp_root_dir / "m.txt").read_text() == "still keep", what="save")
    other = await connect("m.txt")
    assert other.content() == "still keep"


@pytest.fixture
def small_messages(collab_config):
    collab_config["max_message_size"] = 4096


@pytest.mark.usefixtures("small_messages")
async def test_oversized_message(jp_root_dir, connect):
    (jp_root_dir / "big.txt").write_text("x")
    good = await connect("big.txt")
    bad = await connect("big.txt")
    bad.jdoc._ysource.insert(0, "y" * 10_000)
    await bad.closed.wait()
    assert bad.close_code == 1009
    good.jdoc._ysource.insert(0, "ok ")
    other = await connect("big.txt")
    await eventually(lambda: other.content() == "ok x", what="room carries on")


@pytest.fixture
def small_backlog(collab_config):
    collab_config["max_client_backlog"] = 256 * 1024


@pytest.mark.usefixtures("small_backlog")
async def test_slow_client_is_disconnected(jp_root_dir, connect, jp_ws_fetch, open_session, rooms):
    (jp_root_dir / "slow.txt").write_text("")
    writer = await connect("slow.txt")
    room_id = (await open_session("slow.txt"))["room"]
    # A client that never reads: tornado stops reading the socket once a message is pending.
    slow = await jp_ws_fetch("api", "collab", "room", room_id)
    room = rooms.rooms[room_id]
    await eventually(lambda: len(room.participants) == 2, what="slow client joined")
    chunk = "z" * 50_000
    for _ in range(200):
        writer.jdoc._ysource.insert(0, chunk)
        if len(room.participants) == 1:
            break
        await _yield()
    await eventually(lambda: len(room.participants) == 1, what="slow client dropped")
    assert writer.close_code is None
    # the slow client, once it reads again, is told why
    while (await slow.read_message()) is not None:
        pass
    assert slow.close_code in (4429, None)


@pytest.mark.usefixtures("small_backlog")
async def test_client_asking_for_the_document_without_reading_is_disconnected(
    jp_root_dir, connect, jp_ws_fetch, open_session, rooms
):
    """Sync replies count in a client's backlog: a client that sends sync step 1 again and
    again and never reads would otherwise make the server buffer a copy per request."""
    (jp_root_dir / "big.txt").write_text("q" * 300_000)
    reader = await connect("big.txt")
    room_id = (await open_session("big.txt"))["room"]
    greedy = await jp_ws_fetch("api", "collab", "room", room_id)
    room = rooms.rooms[room_id]
    await eventually(lambda: len(room.participants) == 2, what="greedy client joined")
    for _ in range(200):
        try:
            await greedy.write_message(sync_frame(SyncType.STEP1, b"\x00"), binary=True)
        except WebSocketClosedError:
            break
        if len(room.participants) == 1:
            break
        await _yield()
    await eventually(lambda: len(room.participants) == 1, what="greedy client dropped")
    # everyone else is still served
    reader.jdoc._ysource.insert(0, "still here ")
    late = await connect("big.txt")
    await eventually(lambda: late.content().startswith("still here q"), what="room carries on")


async def _yield() -> None:
    import asyncio

    await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    "colour",
    ["#f80", "#ff8800", "#FF880080", "rgb(255, 136, 0)", "hsl(30deg 100% 50% / 0.5)", "teal",
     "var(--jp-collaborator-color3)"],
)  # fmt: skip
def test_plain_colours_pass(colour):
    assert safe_colour(colour) == colour


@pytest.mark.parametrize(
    "colour",
    ["red;background:url(https://evil)", "url(https://evil)", "expression(alert(1))",
     "#ff8800; position: fixed", "var(--x);top:0", "rgb(1,2,3)}body{", '"red"', "red\\;",
     "#ff88", "#f", "", None, 12, "calc(1px)", "rgb(javascript)"],
)  # fmt: skip
def test_anything_else_is_not_a_colour(colour):
    assert safe_colour(colour) is None or colour == "#ff88"  # (#rgba is a colour)


async def test_identity_colour_and_avatar_are_validated(jp_root_dir, connect, api):
    (jp_root_dir / "c.txt").write_text("x")
    alice = await connect("c.txt", headers=token_header("alice"))
    mallory = await connect("c.txt", headers=token_header("mallory"))
    carol = await connect("c.txt", headers=token_header("carol"))
    for client in (mallory, carol):
        client.set_awareness({"cursor": 1})
    await eventually(
        lambda: {mallory.ydoc.client_id, carol.ydoc.client_id} <= set(alice.awareness),
        what="both states",
    )
    seen = alice.awareness[mallory.ydoc.client_id]["user"]
    assert seen["color"] == colour_for("mallory") and seen["avatar_url"] is None
    assert alice.awareness[carol.ydoc.client_id]["user"]["color"] == "#ff8800"
    assert alice.awareness[carol.ydoc.client_id]["user"]["avatar_url"] == "https://example.org/c.png"
    status, directory = await api("GET", "users", params={"q": ""})
    colours = {u["username"]: u["color"] for u in directory["users"]}
    assert colours["mallory"] == colour_for("mallory") and colours["carol"] == "#ff8800"


async def test_anonymous_token_users_stay_out_of_the_directory(jp_root_dir, jp_fetch, api):
    """jupyter_server makes up a new "Anonymous …" user for each cookie-less request with the
    server's token: none of them is someone to share with."""
    (jp_root_dir / "t.txt").write_text("x")
    for _ in range(3):  # the test server's own token, no cookie: three made-up users
        await jp_fetch("api", "collab", "session", "t.txt", method="PUT",
                       body=json.dumps({"format": "text", "type": "file"}))  # fmt: skip
    await jp_fetch("api", "collab", "session", "t.txt", method="PUT", headers=token_header("bob"),
                   body=json.dumps({"format": "text", "type": "file"}))  # fmt: skip
    status, directory = await api("GET", "users", params={"q": ""})
    assert [u["username"] for u in directory["users"]] == ["bob"]
    status, directory = await api("GET", "users", params={"q": "anonymous"})
    assert directory["users"] == []


@pytest.fixture
def stock_identity(server_app_config):
    """jupyter_server's own token/password login (a personal server)."""
    server_app_config["identity_provider_class"] = (
        "jupyter_server.auth.identity.PasswordIdentityProvider"
    )


@pytest.mark.usefixtures("stock_identity")
async def test_named_owners_take_precedence_over_the_stock_login(
    jp_root_dir, open_session, collab_config
):
    assert collab_config["owners"] == ["alice"]  # named: token users are collaborators
    (jp_root_dir / "p.txt").write_text("x")
    assert (await open_session("p.txt"))["role"] == "editor"


@pytest.fixture
def stock_identity_no_owners(stock_identity, collab_config):
    collab_config.pop("owners", None)


@pytest.mark.usefixtures("stock_identity_no_owners")
async def test_stock_login_makes_everyone_the_servers_own_user(jp_root_dir, open_session, jp_fetch):
    (jp_root_dir / "p.txt").write_text("x")
    assert (await open_session("p.txt"))["role"] == "owner"
    listing = json.loads((await jp_fetch("api", "collab", "shares", "p.txt")).body)
    assert listing["canManage"] is True and listing["everyoneOwns"] is True
    status = (await jp_fetch("api", "collab", "users")).code
    assert status == 200 and json.loads((await jp_fetch("api", "collab", "users")).body) == {
        "users": []
    }


def big(n: int = 30) -> str:
    return "9" * n


async def test_huge_numbers_and_deep_json_are_400(jp_root_dir, connect, api, jp_fetch):
    (jp_root_dir / "n.txt").write_text("n\n")
    client = await connect("n.txt", headers=token_header("alice"))
    room = room_of(client)
    deep = "[" * 100_000 + "]" * 100_000
    attempts = [
        ("GET", ("documents", room, "versions"), None, {"before": big()}),
        ("GET", ("documents", room, "versions"), None, {"limit": big()}),
        ("GET", ("documents", room, "versions", big()), None, None),
        ("GET", ("documents", room, "versions", "١٢"), None, None),
        ("GET", ("documents", room, "diff"), None, {"from": big()}),
        ("GET", ("documents", room, "diff"), None, {"from": "1", "to": "-" + big()}),
        ("GET", ("documents", room, "attribution"), None, {"at": big()}),
        ("GET", ("documents", room, "attribution"), None, {"since": big(5000)}),
        ("POST", ("documents", room, "restore"), {"version": 10**30}, None),
        ("POST", ("documents", room, "restore"), {"version": -(10**30)}, None),
        ("POST", ("documents", room, "restore"), deep, None),
        ("POST", ("documents", room, "versions"), deep, None),
        ("GET", ("audit",), None, {"cursor": "a" + big()}),
        ("GET", ("audit",), None, {"cursor": "a²"}),
        ("GET", ("audit",), None, {"since": "1e400"}),
        ("GET", ("audit",), None, {"until": "nan"}),
        ("GET", ("audit",), None, {"limit": big()}),
        ("GET", ("notifications",), None, {"after": big()}),
        ("GET", ("users",), None, {"limit": big()}),
        ("POST", ("notifications", "read"), {"upto": 10**30}, None),
        ("POST", ("notifications", "read"), {"ids": [1, 10**30]}, None),
        ("POST", ("notifications", "read"), deep, None),
        ("PUT", ("shares", "n.txt"), deep, None),
        ("PUT", ("session", "n.txt"), deep, None),
    ]
    failures = []
    for method, parts, body, params in attempts:
        status, reply = await api(method, *parts, body=body, params=params)
        if status != 400 or not reply.get("message"):
            failures.append(f"{method} {'/'.join(parts)[:60]} {params}: {status} {reply}")
    assert failures == []
    # and the server carries on
    status, _ = await api("GET", "documents", room, "versions")
    assert status == 200
    client.jdoc._ysource.insert(0, "still ")
    await eventually(lambda: (jp_root_dir / "n.txt").read_text() == "still n\n", what="save")
