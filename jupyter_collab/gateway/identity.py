"""The awareness identity of an authenticated Jupyter user.

Clients never choose how they appear to others: the server puts this in every awareness state.
"""

from __future__ import annotations

import hashlib
from typing import Any

# Colours that read on light and dark themes, as JupyterLab's own user colours do.
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#e6550d", "#17becf", "#bcbd22", "#e377c2",
    "#8c564b", "#3182bd", "#31a354", "#756bb1",
)  # fmt: skip


def colour_for(username: str) -> str:
    digest = hashlib.sha256(username.encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def initials_for(name: str) -> str:
    words = [w for w in name.replace("_", " ").replace(".", " ").split() if w]
    letters = "".join(w[0] for w in words[:2]) if len(words) > 1 else name[:2]
    return letters.upper() or "?"


def awareness_user(user: Any) -> dict[str, Any]:
    """The ``user`` field of awareness states from a ``jupyter_server.auth.User``."""
    username = user.username
    name = getattr(user, "name", None) or username
    display_name = getattr(user, "display_name", None) or name
    return {
        "username": username,
        "name": name,
        "display_name": display_name,
        "initials": getattr(user, "initials", None) or initials_for(display_name),
        "color": getattr(user, "color", None) or colour_for(username),
        "avatar_url": getattr(user, "avatar_url", None),
    }
