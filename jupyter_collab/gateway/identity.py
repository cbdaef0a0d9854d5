"""The awareness identity of an authenticated Jupyter user.

Clients never choose how they appear to others: the server puts this in every awareness state
and in the user directory. Its ``color`` ends up in CSS ``style`` strings of every client
(cursors, avatars), so only plain colour syntax passes (:func:`safe_colour`); anything else
an identity provider hands over becomes the user's palette colour.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from jupyter_server.auth.utils import moons_of_jupyter

# Colours that read on light and dark themes, as JupyterLab's own user colours do.
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#e6550d", "#17becf", "#bcbd22", "#e377c2",
    "#8c564b", "#3182bd", "#31a354", "#756bb1",
)  # fmt: skip

# What a colour may look like: #rgb, #rgba, #rrggbb, #rrggbbaa; rgb()/hsl() and friends with
# numbers only; a CSS colour name; a theme variable (JupyterLab's own users get
# "var(--jp-collaborator-color1)"). None of these can end a declaration, open a url() or an
# expression, or carry a quote or a backslash.
_COLOUR = re.compile(
    r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})"
    r"|(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\((?:[0-9.%\s,/+-]|deg|grad|rad|turn|none){1,60}\)"
    r"|[a-zA-Z]{3,24}"
    r"|var\(--[a-zA-Z0-9_-]{1,64}\)"
)

# jupyter_server's IdentityProvider.generate_anonymous_user: a random uuid4 hex username and
# "Anonymous <moon>" for a request authenticated by the server's shared token or password
# without a login cookie. A new one per such request: not a person one could share with.
_UNSAFE_URL = re.compile(r"[\s\"'()<>\\`]")

_ANONYMOUS_USERNAME = re.compile(r"[0-9a-f]{32}")


def colour_for(username: str) -> str:
    digest = hashlib.sha256(username.encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def safe_colour(value: Any) -> str | None:
    """``value`` if it is a plain CSS colour (see above), else None."""
    if isinstance(value, str) and _COLOUR.fullmatch(value.strip()):
        return value.strip()
    return None


def safe_avatar_url(value: Any) -> str | None:
    """``value`` if it is an http(s) or server-relative URL with nothing that could leave an
    attribute or a CSS ``url()``, else None (no ``javascript:``, no quotes, no spaces)."""
    if (
        isinstance(value, str)
        and len(value) <= 2048
        and value.startswith(("https://", "http://", "/"))
        and not value.startswith("//")
        and not _UNSAFE_URL.search(value)
    ):
        return value
    return None


def initials_for(name: str) -> str:
    words = [w for w in name.replace("_", " ").replace(".", " ").split() if w]
    letters = "".join(w[0] for w in words[:2]) if len(words) > 1 else name[:2]
    return letters.upper() or "?"


def is_anonymous(user: Any) -> bool:
    """A user jupyter_server made up for one token-authenticated request (see above)."""
    name = getattr(user, "name", None) or ""
    username = getattr(user, "username", None) or ""
    return bool(_ANONYMOUS_USERNAME.fullmatch(username)) and name.startswith("Anonymous ")


def looks_anonymous(username: str) -> bool:
    """Whether ``username`` has the shape of jupyter_server's made-up anonymous users."""
    return bool(_ANONYMOUS_USERNAME.fullmatch(username))


def anonymous_name(username: str) -> str:
    """A stable, readable name for an anonymous username nothing more is known of, named the
    way jupyter_server names them ("Anonymous Io"), the moon chosen by the username: the same
    on every server and after every restart."""
    digest = hashlib.sha256(username.encode()).digest()
    moon = moons_of_jupyter[int.from_bytes(digest[:4], "big") % len(moons_of_jupyter)]
    return f"Anonymous {moon}"


def awareness_user(user: Any) -> dict[str, Any]:
    """The ``user`` field of awareness states from a ``jupyter_server.auth.User``."""
    username = user.username
    name = getattr(user, "name", None) or (
        anonymous_name(username) if looks_anonymous(username) else username
    )
    display_name = getattr(user, "display_name", None) or name
    return {
        "username": username,
        "name": name,
        "display_name": display_name,
        "initials": getattr(user, "initials", None) or initials_for(display_name),
        "color": safe_colour(getattr(user, "color", None)) or colour_for(username),
        "avatar_url": safe_avatar_url(getattr(user, "avatar_url", None)),
    }
