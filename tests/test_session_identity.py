"""The session reply tells a client who it is, exactly as the others see it in awareness."""

from __future__ import annotations

from jupyter_collab.gateway.identity import awareness_user

from .auth import USERS, token_header
from .client import eventually


async def test_session_reply_carries_the_identity_others_see(jp_root_dir, connect, open_session):
    (jp_root_dir / "me.txt").write_text("x")
    session = await open_session("me.txt", headers=token_header("alice"))
    me = session["user"]
    # the server's initials and colour (gateway/identity.py), not what each client makes up
    assert me == awareness_user(USERS["alice-token"])
    assert me["username"] == "alice" and me["initials"] == "AL" and me["color"].startswith("#")
    alice = await connect("me.txt", headers=token_header("alice"))
    bob = await connect("me.txt", headers=token_header("bob"))
    # alice claims another look: the server overwrites it for everyone else
    alice.set_awareness({"user": {"username": "alice", "color": "red", "initials": "Z"}})
    await eventually(lambda: alice.ydoc.client_id in bob.awareness, what="alice's awareness")
    assert bob.awareness[alice.ydoc.client_id]["user"] == me
    assert (await open_session("me.txt", headers=token_header("bob")))["user"]["username"] == "bob"
