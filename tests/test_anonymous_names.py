"""issue 8: anonymous people (jupyter_server's "Anonymous <moon>" users of a shared token) are
named in history by a readable, stable name, also after the server restarted: not by the
hex id of their username."""

from __future__ import annotations

from typing import Any

from jupyter_collab.gateway.identity import anonymous_name, looks_anonymous
from jupyter_collab.history.people import fallback

from .client import eventually


def anonymous_people(users: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: who for name, who in users.items() if looks_anonymous(name)}


async def attribution_users(srv: Any, room: str) -> dict[str, Any]:
    status, body = await srv.request("GET", f"api/collab/documents/{room}/attribution")
    assert status == 200, body
    return body["users"]


async def test_an_anonymous_author_keeps_their_name_after_a_restart(server, tmp_path):
    path = tmp_path / "root" / "anon.txt"
    path.write_text("x\n")
    first = server(save_delay=0.2, save_max_wait=1)
    client = await first.connect("anon.txt")  # a shared token: an anonymous user
    client.jdoc._ysource.insert(0, "hello\n")
    await eventually(lambda: path.read_text() == "hello\nx\n", what="saved")
    room = (await first.session("anon.txt"))["room"]
    before = anonymous_people(await attribution_users(first, room))
    assert before, "the anonymous author is not named"
    for username, who in before.items():
        assert who["name"].startswith("Anonymous ") and username not in who["name"]
    client.close()
    assert first.terminate() == 0

    second = server(save_delay=0.2, save_max_wait=1)
    after = anonymous_people(await attribution_users(second, room))
    # the same people, by the same names (not their hex usernames) and colours
    assert {u: (w["name"], w["initials"], w["color"]) for u, w in after.items() if u in before} \
        == {u: (w["name"], w["initials"], w["color"]) for u, w in before.items()}  # fmt: skip
    assert second.terminate() == 0


def test_an_anonymous_username_nobody_remembers_gets_a_stable_readable_name():
    username = "0123456789abcdef0123456789abcdef"
    who = fallback(username)
    assert who["name"] == who["display_name"] == anonymous_name(username)
    assert who["name"].startswith("Anonymous ") and username not in who["name"]
    assert who["initials"] == "A" + who["name"].split()[1][0]
    assert fallback(username) == who  # the same every time (and on every server)
    assert fallback("alice")["name"] == "alice"
