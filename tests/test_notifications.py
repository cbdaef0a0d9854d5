"""Notifications pushed at once to the user's sockets (/api/collab/notifications/ws), stored for
users who are not connected, caught up after a reconnect; who may open the socket; the
notification API other modules call (``Sharing.notify``) with the comment kinds."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from .auth import cookie_header, token_header
from .client import eventually

pytestmark = pytest.mark.timeout(300)


class Feed:
    """A notification socket, read in the background into ``messages``."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            raw = await self.ws.read_message()
            if raw is None:
                self.closed.set()
                return
            self.messages.append(json.loads(raw))

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == type_]

    def notifications(self) -> list[dict[str, Any]]:
        return [m["notification"] for m in self.of("notification")]

    async def ready(self) -> dict[str, Any]:
        await eventually(lambda: self.of("ready"), timeout=60, what="the ready message")
        return self.of("ready")[-1]

    def close(self) -> None:
        self.ws.close()
        self._task.cancel()


@pytest.fixture
def feed(jp_fetch: Any, jp_http_port: int, jp_base_url: str) -> Any:
    opened: list[Feed] = []

    async def open_feed(
        user: str, after: int | None = None, headers: dict[str, str] | None = None
    ) -> Feed:
        url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}api/collab/notifications/ws"
        if after is not None:
            url += f"?after={after}"
        request = HTTPRequest(url, headers=headers or token_header(user), request_timeout=60)
        ws = await websocket_connect(request)
        made = Feed(ws)
        opened.append(made)
        return made

    yield open_feed
    for made in opened:
        made.close()


async def share(api: Any, path: str, user: str, role: str | None) -> None:
    status, reply = await api("PUT", "shares", path, body={"user": user, "role": role})
    assert status == 200, reply


async def test_a_notification_reaches_a_connected_user_at_once(jp_root_dir, api, feed):
    """bob's socket gets alice's share as it happens, with his unread count: the socket is all
    bob's client reads (no GET), and his second tab gets it too."""
    (jp_root_dir / "report.txt").write_text("hi")
    tab1, tab2 = await feed("bob"), await feed("bob")
    assert (await tab1.ready())["unread"] == 0
    await tab2.ready()
    await share(api, "report.txt", "bob", "viewer")
    for tab in (tab1, tab2):
        await eventually(lambda tab=tab: tab.of("notification"), what="the pushed notification")
        (message,) = tab.of("notification")
        assert message["unread"] == 1
        note = message["notification"]
        assert note["type"] == "shared" and note["path"] == "report.txt"
        assert note["actor"] == {"username": "alice", "display_name": "Alice"}
        assert note["details"]["role"] == "viewer" and note["read"] is False
        assert note["message"].startswith("Alice changed your access to report.txt")

    # Marking it read (in one tab, through REST) tells every tab the new count.
    status, reply = await api("POST", "notifications", "read", user="bob",
                              body={"ids": [note["id"]]})  # fmt: skip
    assert (status, reply) == (200, {"unread": 0})
    for tab in (tab1, tab2):
        await eventually(lambda tab=tab: tab.of("unread"), what="the unread count")
        assert tab.of("unread")[-1] == {"type": "unread", "unread": 0}
    # alice's own socket heard nothing of bob's notifications
    mine = await feed("alice")
    await mine.ready()
    await share(api, "report.txt", "bob", "editor")
    await eventually(lambda: len(tab1.of("notification")) == 2, what="the second notification")
    assert mine.notifications() == []


async def test_an_offline_user_finds_it_stored_and_a_reconnect_gets_what_it_missed(
    jp_root_dir, api, feed
):
    (jp_root_dir / "a.txt").write_text("a")
    await share(api, "a.txt", "carol", "viewer")  # carol has no socket open
    status, inbox = await api("GET", "notifications", user="carol")
    assert status == 200 and inbox["unread"] == 1
    (stored,) = inbox["notifications"]
    assert stored["type"] == "shared" and stored["path"] == "a.txt"

    # A client that has nothing says after=0: it gets what is stored, then "ready".
    first = await feed("carol", after=0)
    ready = await first.ready()
    assert first.notifications() == [stored]
    assert ready == {"type": "ready", "last": stored["id"], "truncated": False, "unread": 1}
    first.close()

    # While carol is away, two more; she comes back saying the last id she has.
    await share(api, "a.txt", "carol", "editor")
    await share(api, "a.txt", "carol", "viewer")
    again = await feed("carol", after=stored["id"])
    ready = await again.ready()
    missed = again.notifications()
    assert [n["details"]["role"] for n in missed] == ["editor", "viewer"]
    assert all(n["id"] > stored["id"] for n in missed)
    assert ready["last"] == missed[-1]["id"] and ready["unread"] == 3

    # Without "after", nothing old is sent; only what happens from now on.
    fresh = await feed("carol")
    assert (await fresh.ready())["unread"] == 3
    assert fresh.notifications() == []
    await share(api, "a.txt", "carol", "editor")
    await eventually(lambda: fresh.notifications(), what="the live notification")
    assert [n["details"]["role"] for n in fresh.notifications()] == ["editor"]
    # ...and the socket that caught up gets it once, live
    await eventually(lambda: len(again.notifications()) == 3, what="the live one on the other")
    assert len({n["id"] for n in again.notifications()}) == 3


async def test_comment_kinds_through_the_one_api(jp_root_dir, jp_serverapp, feed):
    """What the comments module calls: ``sharing.notify`` and ``notifications.comment``;
    kinds nobody knows yet are stored and pushed as they are."""
    sharing = jp_serverapp.web_app.settings["jupyter_collab_sharing"]
    alice = type("U", (), {"username": "alice", "display_name": "Alice"})()
    bob = await feed("bob")
    await bob.ready()
    nid = await sharing.notifications.comment(
        "mentioned", "bob", alice, "project/a.ipynb", "t1", "@bob could you check the plot?",
        comment="c1",
    )  # fmt: skip
    await sharing.notify("bob", "reply", alice, "project/a.ipynb", None, None,
                         {"thread": "t1", "excerpt": "done", "comment": "c2"})  # fmt: skip
    await sharing.notify("bob", "poll-closed", alice, "x.txt", None, "Alice closed a poll", {})
    await eventually(lambda: len(bob.notifications()) == 3, what="three notifications")
    mention, reply, other = bob.notifications()
    assert mention["id"] == nid and mention["type"] == "mentioned"
    assert mention["details"] == {
        "thread": "t1", "excerpt": "@bob could you check the plot?", "comment": "c1"
    }  # fmt: skip
    assert mention["message"] == "Alice mentioned you in a.ipynb: “@bob could you check the plot?”"
    assert reply["type"] == "reply"
    assert reply["message"] == "Alice replied in a thread on a.ipynb: “done”"
    assert other["type"] == "poll-closed" and other["message"] == "Alice closed a poll"
    # a kind that is not a word is refused (logged), nothing stored
    assert await sharing.notify("bob", "<script>", alice, None, None, "x", {}) is None


async def test_who_may_open_the_socket(jp_root_dir, jp_http_port, jp_base_url, feed):
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}api/collab/notifications/ws"

    async def refused(headers: dict[str, str], query: str = "") -> int:
        with pytest.raises(HTTPClientError) as error:
            await websocket_connect(HTTPRequest(url + query, headers=headers))
        return error.value.code

    assert await refused({}) == 403  # nobody signed in
    assert await refused({"Authorization": "token wrong"}) == 403
    assert await refused(token_header("nobody")) == 403  # the Authorizer lets them read nothing
    assert await refused(token_header("bob"), "?after=abc") == 400
    assert await refused(token_header("bob"), "?after=-1") == 400
    assert await refused(token_header("bob"), "?after=99999999999999999999999") == 400
    # a browser's login cookie from another site's page: refused; from our page: accepted
    host = f"127.0.0.1:{jp_http_port}"
    assert await refused({**cookie_header("bob"), "Origin": "https://evil.example"}) == 403
    ours = await feed("bob", headers={**cookie_header("bob"), "Origin": f"http://{host}"})
    assert (await ours.ready())["unread"] == 0
    # the socket only sends: a binary frame from the client closes it with 4400
    ours.ws.write_message(b"\x00", binary=True)
    await asyncio.wait_for(ours.closed.wait(), 60)
    assert ours.ws.close_code == 4400


async def test_a_failing_store_loses_no_request(jp_root_dir, jp_serverapp, api):
    """A notification that cannot be stored is logged; the share it tells about is made."""
    (jp_root_dir / "b.txt").write_text("b")
    store = jp_serverapp.web_app.settings["jupyter_collab_sharing"].notifications.store

    async def broken(*args: Any) -> int:
        raise OSError("disk I/O error")

    original, store.notify = store.notify, broken
    try:
        await share(api, "b.txt", "bob", "viewer")
    finally:
        store.notify = original
    status, listing = await api("GET", "shares", "b.txt")
    assert [s["user"] for s in listing["shares"]] == ["bob"]


async def test_without_smtp_nothing_goes_by_email(jp_serverapp, api):
    """The default server has no SMTP server: no mailer, and the preferences say so."""
    assert jp_serverapp.web_app.settings["jupyter_collab_sharing"].notifications.mailer is None
    status, prefs = await api("GET", "notifications", "preferences", user="bob")
    assert status == 200 and prefs["emailEnabled"] is False and prefs["address"] is None


async def test_sockets_are_closed_with_1001_when_the_server_stops(jp_serverapp, feed):
    bob = await feed("bob")
    await bob.ready()
    await jp_serverapp.web_app.settings["jupyter_collab_sharing"].notifications.push.close()
    await asyncio.wait_for(bob.closed.wait(), 60)
    assert bob.ws.close_code == 1001


async def test_preferences_are_each_users_own(api, jp_fetch):
    """Anyone who may use the server keeps their own preferences (a read-only user too);
    nobody signed in, or a user the Authorizer lets do nothing, gets 403."""
    status, _ = await api("PUT", "notifications", "preferences", user="viewer",
                          body={"emailKinds": ["reply"]})  # fmt: skip
    assert status == 200
    status, bobs = await api("GET", "notifications", "preferences", user="bob")
    assert bobs["emailKinds"] == ["mentioned"]  # vera's choice is hers only
    for method in ("GET", "PUT"):
        status, _ = await api(method, "notifications", "preferences", user="nobody",
                              body={"emailKinds": []} if method == "PUT" else None)  # fmt: skip
        assert status == 403
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch("api", "collab", "notifications", "preferences",
                       headers={"Authorization": ""})  # fmt: skip
    assert error.value.code == 403
