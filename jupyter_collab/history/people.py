"""Who the usernames in history replies are: the ``users`` map of every reply.

History names people who may not be in the room any more (or ever at the same time as the
reader), so a client cannot learn their name and colour from awareness. Each reply carries
``{username: {"username", "name", "display_name", "initials", "color"}}`` for every username
it mentions, from the sharing user directory (everyone who signed in, plus
``CollabApp.known_users``); a username the directory does not know gets the identity the
server would give it (its name, initials and palette colour), so every mention has an entry.

This is the one place history asks the sharing service about users: its store is becoming
asynchronous, and :func:`_call` accepts either a list or an awaitable of one.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from typing import Any

from ..gateway.identity import awareness_user

FIELDS = ("username", "name", "display_name", "initials", "color")
# The directory is searched by substring; an exact match is among the first results unless
# more than this many other usernames or names contain the username.
LOOKUP_LIMIT = 200
# A colour clients may put in a style: a hex colour or a colour name, nothing else.
SAFE_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,30}")


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


class People:
    def __init__(self, sharing: Any | None) -> None:
        self.sharing = sharing

    async def of(self, usernames: Iterable[str | None]) -> dict[str, dict[str, Any]]:
        """The identities of ``usernames`` (None, for content nobody wrote, is skipped)."""
        return {name: await self.one(name) for name in sorted({u for u in usernames if u})}

    async def one(self, username: str) -> dict[str, Any]:
        if self.sharing is not None:
            found = await _call(self.sharing.users(username, LOOKUP_LIMIT))
            for user in found:
                if user.get("username") == username:
                    identity = fallback(username)
                    identity.update({k: user[k] for k in FIELDS if isinstance(user.get(k), str)
                                     and user[k]})  # fmt: skip
                    if not SAFE_COLOUR.fullmatch(identity["color"]):
                        identity["color"] = fallback(username)["color"]  # (it goes into styles)
                    return identity
        return fallback(username)
