"""Sharing roles, the user directory and notifications, against a live server
(docs/sharing-api.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from .auth import token_header
from .client import eventually
from .test_history import doc, room_of


async def share(api: Any, path: str, user: str, role: str | None, by: str = "alice") -> Any:
    status, body = await api("PUT", "shares", path, user=by, body={"user": user, "role": role})
    assert status == 200, body
    return body


async def test_roles_from_shares_apply_live(jp_root_dir, connect, open_session, api):
    (jp_root_dir / "proj").mkdir()
    (jp_root_dir / "proj" / "a.txt").write_text("a\n")
    alice = await connect("proj/a.txt", headers=token_header("alice"))
    bob = await connect("proj/a.txt", headers=token_header("bob"))
    assert {"type": "role", "role": "editor"} in bob.notices  # no shares yet: the default

    listing = await share(api, "proj", "bob", "viewer")
    assert listing["shares"][0]["user"] == "bob" and listing["canManage"]
    await eventually(lambda: {"type": "role", "role": "viewer"} in bob.notices, what="live role")
    bob.jdoc._ysource.insert(0, "refused ")
    await eventually(lambda: any(n["type"] == "refused" for n in bob.notices))
    alice.jdoc._ysource.insert(0, "ok ")
    # (bob's refused edit stays in his own copy only: a real client is read-only by then)
    await eventually(lambda: "ok " in str(bob.jdoc._ysource), what="bob still follows")
    assert "refused" not in str(alice.jdoc._ysource)
    assert (await open_session("proj/a.txt", headers=token_header("bob")))["role"] == "viewer"

    # a share on the file itself is nearer than the folder's
    await share(api, "proj/a.txt", "bob", "editor")
    await eventually(lambda: {"type": "role", "role": "editor"} in bob.notices[-3:])
    # (in a fresh tab: bob's copy holds the insert the server refused, and every later edit of
    # that copy would wait for it; a real client is read-only while it is a viewer)
    bob_again = await connect("proj/a.txt", headers=token_header("bob"))
    assert {"type": "role", "role": "editor"} in bob_again.notices
    bob_again.jdoc._ysource.insert(0, "bob ")
    await eventually(lambda: str(alice.jdoc._ysource).startswith("bob "), what="bob edits again")

    # no access: disconnected at once, and refused from then on
    await share(api, "proj/a.txt", "bob", "none")
    await eventually(lambda: bob.closed.is_set() and bob_again.closed.is_set(), what="bob out")
    assert bob.close_code == bob_again.close_code == 4403
    status, _ = await api("PUT", "session", "proj/a.txt", user="bob",
                           body={"format": "text", "type": "file"})  # fmt: skip
    assert status == 403

    # removing the shares brings back the default
    await share(api, "proj/a.txt", "bob", None)
    await share(api, "proj", "bob", None)
    assert (await open_session("proj/a.txt", headers=token_header("bob")))["role"] == "editor"


async def test_everyone_share_authorizer_cap_and_owner_rules(jp_root_dir, open_session, api):
    (jp_root_dir / "proj").mkdir()
    (jp_root_dir / "proj" / "r.txt").write_text("r\n")
    # everyone owns proj: bob (an owner through "*" only) may not take that away from himself
    await share(api, "proj", "*", "owner")
    status, body = await api("PUT", "shares", "proj", user="bob",
                             body={"user": "*", "role": "viewer"})  # fmt: skip
    assert status == 403 and "owner" in body["message"]
    listing = await share(api, "proj", "*", "viewer")
    assert listing["everyone"]["role"] == "viewer"
    assert (await open_session("proj/r.txt", headers=token_header("bob")))["role"] == "viewer"
    # bob is no owner now: he may look at the shares but not change them
    status, listing = await api("GET", "shares", "proj/r.txt", user="bob")
    assert status == 200 and listing["role"] == "viewer" and not listing["canManage"]
    assert listing["owners"] == ["alice"]  # the server's own user, for the dialog to show
    status, _ = await api("PUT", "shares", "proj/r.txt", user="bob",
                           body={"user": "bob", "role": "owner"})  # fmt: skip
    assert status == 403
    # the Authorizer is the limit: vera may only read, whatever her share says
    await share(api, "proj/r.txt", "vera", "editor")
    assert (await open_session("proj/r.txt", headers=token_header("viewer")))["role"] == "viewer"
    # the server's own user is an owner of everything: no share changes that, not even hers
    status, body = await api("PUT", "shares", "proj/r.txt", user="alice",
                             body={"user": "alice", "role": "editor"})  # fmt: skip
    assert status == 400 and "owns this server" in body["message"]


async def test_bad_share_requests(jp_root_dir, api):
    (jp_root_dir / "b.txt").write_text("b\n")
    for body in ({"user": "bob", "role": "admin"}, {"user": "", "role": "viewer"},
                 {"role": "viewer"}, "not json"):  # fmt: skip
        status, _ = await api("PUT", "shares", "b.txt", body=body)
        assert status == 400, body
    status, _ = await api("GET", "shares", "missing.txt")
    assert status == 404
    status, _ = await api("GET", "shares", "b.txt", user="nobody")
    assert status == 403
    status, _ = await api("GET", "users", params={"limit": "0"})
    assert status == 400
    status, _ = await api("POST", "notifications", "read", body={"ids": "all"})
    assert status == 400


async def test_shared_notification_users_and_audit(jp_root_dir, open_session, api):
    (jp_root_dir / "n.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    await open_session("n.ipynb", "json", "notebook", headers=token_header("bob"))  # bob signs in
    status, users = await api("GET", "users", params={"q": "BO"})
    assert [u["username"] for u in users["users"]] == ["bob"]
    assert users["users"][0]["display_name"] == "Bob" and users["users"][0]["initials"]

    await share(api, "n.ipynb", "bob", "editor")
    status, inbox = await api("GET", "notifications", user="bob")
    assert status == 200 and inbox["unread"] == 1
    (note,) = inbox["notifications"]
    assert note["type"] == "shared" and note["path"] == "n.ipynb"
    assert note["details"] == {
        "change": "granted", "role": "editor", "previous": "editor", "share": "editor",
        "kind": "file",
    }  # fmt: skip
    assert note["actor"]["username"] == "alice"
    assert note["message"] == "Alice shared n.ipynb with you: you can edit it."
    status, after = await api("GET", "notifications", user="bob", params={"after": note["id"]})
    assert after["notifications"] == []
    status, read = await api("POST", "notifications", "read", user="bob",
                              body={"ids": [note["id"]]})  # fmt: skip
    assert read == {"unread": 0}
    status, alices = await api("GET", "notifications")
    assert alices["notifications"] == []  # a stream per user

    status, audit = await api("GET", "audit", params={"action": "permission-change"})
    event = audit["events"][0]
    await share(api, "", "*", "editor")
    status, _ = await api("GET", "audit", user="bob")
    assert status == 403  # not an owner of everything
    status, own = await api("GET", "audit", user="bob", params={"document": "nonsense"})
    assert status == 404
    assert event["user"] == "alice"
    assert event["details"] == {"path": "n.ipynb", "target": "bob", "role": "editor"}


async def test_history_api_follows_roles_and_restores_notify_authors(
    jp_root_dir, connect, api, rooms
):
    (jp_root_dir / "h.txt").write_text("h\n")
    bob = await connect("h.txt", headers=token_header("bob"))
    room = room_of(bob)
    bob.jdoc._ysource.insert(0, "bob was here ")
    await eventually(lambda: rooms.rooms[room].jdoc.get() == "bob was here h\n")
    status, body = await api("POST", *doc(room, "versions"), user="bob", body={"name": "bob's"})
    assert status == 201
    version = body["version"]
    await share(api, "h.txt", "bob", "viewer")
    status, _ = await api("GET", *doc(room, "versions"), user="bob")
    assert status == 200
    status, _ = await api("POST", *doc(room, "restore"), user="bob",
                           body={"version": version["id"]})  # fmt: skip
    assert status == 403
    await share(api, "h.txt", "bob", "none")
    status, _ = await api("GET", *doc(room, "versions"), user="bob")
    assert status == 403

    await named_as_alice(api, room)
    status, _ = await api("POST", *doc(room, "restore"), body={"version": version["id"]})
    assert status == 200
    status, inbox = await api("GET", "notifications", user="bob")
    restored = [n for n in inbox["notifications"] if n["type"] == "restored"]
    assert restored and restored[0]["details"]["version"] == version["id"]
    assert restored[0]["room"] == room


async def named_as_alice(api: Any, room: str) -> None:
    status, _ = await api("POST", *doc(room, "versions"), body={"name": "alice's"})
    assert status == 201


async def test_shares_follow_renames_and_go_with_deletes(jp_root_dir, jp_fetch, open_session, api):
    (jp_root_dir / "m.txt").write_text("m\n")
    await share(api, "m.txt", "carol", "editor")
    await share(api, "m.txt", "bob", "viewer")
    await jp_fetch("api", "contents", "m.txt", method="PATCH", body=json.dumps({"path": "n.txt"}))
    assert (await open_session("n.txt", headers=token_header("bob")))["role"] == "viewer"
    status, listing = await api("GET", "shares", "n.txt")
    assert {s["user"] for s in listing["shares"]} == {"carol", "bob"}
    await jp_fetch("api", "contents", "n.txt", method="DELETE")
    (jp_root_dir / "n.txt").write_text("a new file\n")
    assert (await open_session("n.txt", headers=token_header("bob")))["role"] == "editor"


async def test_shares_also_govern_jupyters_file_endpoints(jp_root_dir, jp_fetch, api):
    (jp_root_dir / "secret.txt").write_text("secret\n")
    await share(api, "secret.txt", "bob", "viewer")

    async def as_bob(method: str, *parts: str, body: str | None = None) -> int:
        try:
            response = await jp_fetch(*parts, method=method, body=body,
                                      headers=token_header("bob"))  # fmt: skip
        except HTTPClientError as error:
            return error.code
        return response.code

    save = json.dumps({"type": "file", "format": "text", "content": "overwritten\n"})
    assert await as_bob("GET", "api", "contents", "secret.txt") == 200
    assert await as_bob("GET", "files", "secret.txt") == 200
    assert await as_bob("PUT", "api", "contents", "secret.txt", body=save) == 403
    assert await as_bob("DELETE", "api", "contents", "secret.txt") == 403
    assert (jp_root_dir / "secret.txt").read_text() == "secret\n"
    await share(api, "secret.txt", "bob", "none")
    assert await as_bob("GET", "api", "contents", "secret.txt") == 403
    assert await as_bob("GET", "files", "secret.txt") == 403
    # other files, and the owner, are untouched
    (jp_root_dir / "open.txt").write_text("open\n")
    assert await as_bob("PUT", "api", "contents", "open.txt", body=save) == 200
    response = await jp_fetch("api", "contents", "secret.txt", method="PUT", body=save,
                              headers=token_header("alice"))  # fmt: skip
    assert response.code == 200


@pytest.fixture
def hub_server(monkeypatch: Any, collab_config: dict[str, Any]) -> None:
    """Like alice's JupyterHub single-user server: $JUPYTERHUB_USER names the server's own user
    (no ``owners`` configured), and bob reaches it with access:servers."""
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    collab_config.pop("owners", None)


@pytest.mark.usefixtures("hub_server")
async def test_collaborators_on_a_hub_server_are_not_owners(jp_root_dir, open_session, api):
    (jp_root_dir / "proj").mkdir()
    (jp_root_dir / "proj" / "a.txt").write_text("a\n")
    assert (await open_session("proj/a.txt", headers=token_header("bob")))["role"] == "editor"
    assert (await open_session("proj/a.txt", headers=token_header("alice")))["role"] == "owner"
    status, listing = await api("GET", "shares", "proj/a.txt", user="bob")
    assert status == 200 and listing["role"] == "editor" and listing["canManage"] is False
    assert listing["owners"] == ["alice"] and listing["defaultRole"] == "editor"
    # bob may change nobody's access: not alice's, not his own, not everyone's, nowhere
    for path in ("proj/a.txt", "proj", ""):
        for target, role in (("alice", "none"), ("bob", "owner"), ("*", "viewer")):
            status, _ = await api("PUT", "shares", path, user="bob",
                                  body={"user": target, "role": role})  # fmt: skip
            assert status == 403, (path, target)
    # made an owner of the folder, he still cannot touch alice's role (nor tell her he did)
    await share(api, "proj", "bob", "owner")
    status, body = await api("PUT", "shares", "proj", user="bob",
                             body={"user": "alice", "role": "none"})  # fmt: skip
    assert status == 400 and "owns this server" in body["message"]
    assert (await open_session("proj/a.txt", headers=token_header("alice")))["role"] == "owner"
    status, inbox = await api("GET", "notifications", user="alice")
    assert inbox == {"notifications": [], "unread": 0}


async def test_a_share_the_authorizer_cannot_honour_says_so(jp_root_dir, open_session, api):
    (jp_root_dir / "r.txt").write_text("r\n")
    await open_session("r.txt", headers=token_header("viewer"))  # vera signs in: read-only
    listing = await share(api, "r.txt", "vera", "editor")
    (entry,) = listing["shares"]
    assert entry["role"] == "editor" and entry["effectiveRole"] == "viewer"
    assert entry["limited"] is True and "viewer" in entry["message"]
    assert listing["warning"] == entry["message"]
    assert (await open_session("r.txt", headers=token_header("viewer")))["role"] == "viewer"
    # what she is told is what she got
    status, inbox = await api("GET", "notifications", user="viewer")
    (note,) = inbox["notifications"]
    assert note["details"]["role"] == "viewer" and note["details"]["share"] == "editor"
    assert note["message"] == "Alice shared r.txt with you: you can only view it."
    # a share that applies in full carries no warning; someone never seen: unknown
    listing = await share(api, "r.txt", "bob", "viewer")
    assert listing["warning"] is None
    listing = await share(api, "r.txt", "dave", "editor")
    dave = next(s for s in listing["shares"] if s["user"] == "dave")
    assert dave["effectiveRole"] is None and dave["limited"] is None


async def test_notifications_say_what_happened(jp_root_dir, open_session, api):
    (jp_root_dir / "proj").mkdir()
    (jp_root_dir / "proj" / "a.txt").write_text("a\n")
    await open_session("proj/a.txt", headers=token_header("bob"))  # bob signs in (editor)

    async def last_note() -> dict[str, Any] | None:
        status, inbox = await api("GET", "notifications", user="bob")
        return inbox["notifications"][-1] if inbox["notifications"] else None

    await share(api, "proj/a.txt", "bob", "editor")
    note = await last_note()
    assert note["message"] == "Alice shared proj/a.txt with you: you can edit it."
    assert note["details"]["change"] == "granted"
    await share(api, "proj/a.txt", "bob", "editor")  # nothing changed for bob: no notice
    assert (await last_note())["id"] == note["id"]
    await share(api, "proj/a.txt", "bob", "viewer")  # the demotion of the issue
    note = await last_note()
    assert note["message"] == (
        "Alice changed your access to proj/a.txt from editor to viewer: you can now only view it."
    )
    assert {k: note["details"][k] for k in ("change", "role", "previous")} == {
        "change": "changed", "role": "viewer", "previous": "editor",
    }  # fmt: skip
    await share(api, "proj/a.txt", "bob", "none")
    note = await last_note()
    assert note["message"] == "Alice removed your access to proj/a.txt."
    assert (note["details"]["change"], note["details"]["role"]) == ("removed", "none")
    await share(api, "proj/a.txt", "bob", None)  # back to the default (editor)
    note = await last_note()
    assert note["message"] == "Alice gave you access to proj/a.txt: you can edit it."
    assert (note["details"]["change"], note["details"]["share"]) == ("granted", None)
    await share(api, "proj", "bob", "viewer")
    note = await last_note()
    assert note["message"] == (
        "Alice changed your access to proj from editor to viewer: "
        "you can now only view what is in it."
    )
    assert note["details"]["kind"] == "directory"


async def test_permission_changes_are_found_by_document(jp_root_dir, connect, api):
    (jp_root_dir / "d.txt").write_text("d\n")
    client = await connect("d.txt", headers=token_header("alice"))
    room = room_of(client)
    await share(api, "d.txt", "bob", "viewer")

    async def changes() -> list[dict[str, Any]]:
        status, audit = await api("GET", "audit", params={
            "document": room, "action": "permission-change",
        })  # fmt: skip
        return audit["events"]

    await eventually(changes, what="the permission change in the document's audit log")
    (event,) = await changes()
    assert event["document"] == room and event["user"] == "alice"
    assert event["details"] == {"path": "d.txt", "target": "bob", "role": "viewer"}
