"""Who the usernames in history replies are: the ``users`` map of every reply.

History names people who may not be in the room any more (or ever at the same time as the
reader), so a client cannot learn their name and colour from awareness. Each reply carries
``{username: {"username", "name", "display_name", "initials", "color"}}`` for every username
it mentions, from the sharing user directory (everyone who signed in, plus
``CollabApp.known_users``). The directory leaves out jupyter_server's made-up "Anonymous …"
users (one may not share with them), yet they write and name versions like anyone: so people
the server met in this process (in an open room, or calling the history API) are remembered
here too, a bounded number of them, and the store remembers those who wrote in a room
(``Sharing.remember_author``), so that their name outlives the process. A username
nobody knows gets the identity the server would give it (its name, initials and palette
colour; an anonymous one "Anonymous <moon>", stable), so every mention has an entry.

This is the one place history asks the sharing service about users: its store is becoming
asynchronous, and :func:`_call` accepts either a list or an awaitable of one.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from ..gateway.identity import awareness_user, looks_anonymous, safe_colour

FIELDS = ("username", "name", "display_name", "initials", "color")
# The directory is searched by substring; an exact match is among the first results unless
# more than this many other usernames or names contain the username.
LOOKUP_LIMIT = 200
# How many people met in this process are remembered (the least recently met are forgotten).
MAX_MET = 10_000


class _Named:
    """A user known by username only (what ``awareness_user`` needs)."""

    def __init__(self, username: str) -> None:
        self.username = username


def fallback(username: str) -> dict[str, Any]:
    """The identity the server gives a username it knows nothing more about."""
    identity = awareness_user(_Named(username))
    return {key: identity[key] for key in FIELDS}


async def _call(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


def _clean(identity: dict[str, Any]) -> dict[str, Any]:
    """``identity``'s fields over the fallback's, with a colour safe to put in a style."""
    username = identity["username"]
    clean = fallback(username)
    clean.update({k: v for k in FIELDS if isinstance(v := identity.get(k), str) and v})
    # (it goes into styles: the colours the server lets into awareness, else the palette's)
    clean["color"] = safe_colour(clean["color"]) or fallback(username)["color"]
    return clean


class People:
    def __init__(self, sharing: Any | None, rooms: Any | None = None) -> None:
        self.sharing = sharing
        self.rooms = rooms  # (a RoomManager: its participants are people met)
        self._met: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def meet(self, identity: dict[str, Any]) -> None:
        """Remember who ``identity`` (an awareness ``user``) is, for replies naming them."""
        username = identity.get("username")
        if not isinstance(username, str) or not username:
            return
        self._met[username] = _clean(identity)
        self._met.move_to_end(username)
        while len(self._met) > MAX_MET:
            self._met.popitem(last=False)

    def _meet_participants(self) -> None:
        for room in list(getattr(self.rooms, "rooms", {}).values()):
            for participant in list(getattr(room, "participants", ())):
                user = getattr(participant, "user", None)
                if isinstance(user, dict):
                    self.meet(user)

    async def of(self, usernames: Iterable[str | None]) -> dict[str, dict[str, Any]]:
        """The identities of ``usernames`` (None, for content nobody wrote, is skipped)."""
        found: dict[str, dict[str, Any] | None] = {
            name: await self.one(name) for name in sorted({u for u in usernames if u})
        }
        unknown = [name for name, identity in found.items() if identity is None]
        if unknown:
            self._meet_participants()
        return {
            name: identity or self._met.get(name) or fallback(name)
            for name, identity in found.items()
        }

    async def one(self, username: str) -> dict[str, Any] | None:
        """``username``'s identity from the directory, or else as met, or else (an anonymous
        user met before this process) as the store remembers them; None if none of these."""
        if self.sharing is not None:
            found = await _call(self.sharing.users(username, LOOKUP_LIMIT))
            for user in found:
                if user.get("username") == username:
                    return _clean(user)
        met = self._met.get(username)
        if met is None and self.sharing is not None and looks_anonymous(username):
            remembered = getattr(self.sharing, "remembered", None)
            found = await _call(remembered(username)) if remembered is not None else None
            if found is not None:
                self._met[username] = met = _clean(found)
        return met
