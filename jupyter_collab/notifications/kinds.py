"""What a notification can be about, how it is shown (JSON, e-mail text), and valid choices.

The kinds the product sends are listed here; any other short word is stored and pushed too
(clients show kinds they do not know as a generic item), but only the listed ones can be
chosen for e-mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..sharing.store import Notification
from ..timestamps import iso

SHARED, RESTORED = "shared", "restored"
MENTIONED, REPLY, RESOLVED = "mentioned", "reply", "resolved"
COMMENT_KINDS = (MENTIONED, REPLY, RESOLVED)
EMAIL_KINDS = (SHARED, RESTORED, MENTIONED, REPLY, RESOLVED)
"""The kinds a user may choose to get by e-mail, in the order the UI lists them."""

_KIND = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
# One address: something@domain.tld, no spaces, commas, quotes, angle brackets or controls
# (a header injection or a list of recipients is refused, not "cleaned").
_ADDRESS = re.compile(r"[^@\s,;<>\"'()\[\]\\\x00-\x1f\x7f]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MAX_ADDRESS = 254
EXCERPT = 200


class BadPreferences(ValueError):
    """A preference request that cannot be applied (unknown kind, bad address)."""


def valid_kind(kind: Any) -> bool:
    return isinstance(kind, str) and bool(_KIND.fullmatch(kind))


def check_address(address: Any) -> str:
    """The address, stripped; BadPreferences unless it is exactly one plain address."""
    if not isinstance(address, str):
        raise BadPreferences('"email" must be an address (a string) or null')
    address = address.strip()
    if len(address) > MAX_ADDRESS or not _ADDRESS.fullmatch(address):
        raise BadPreferences(f"not one e-mail address: {address[:80]!r}")
    return address


def check_kinds(kinds: Any) -> tuple[str, ...]:
    """The chosen e-mail kinds, deduplicated in the canonical order."""
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise BadPreferences('"emailKinds" must be a list of kinds')
    unknown = sorted({k for k in kinds if k not in EMAIL_KINDS})
    if unknown:
        raise BadPreferences(
            f"unknown notification kind {', '.join(map(repr, unknown))} "
            f"(one of {', '.join(EMAIL_KINDS)})"
        )
    return tuple(k for k in EMAIL_KINDS if k in kinds)


def shorten(text: str, limit: int = EXCERPT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def basename(path: str | None) -> str:
    return (path or "").rstrip("/").rsplit("/", 1)[-1] or (path or "the root folder")


def comment_message(kind: str, actor_name: str, path: str | None, excerpt: str) -> str:
    """The standard sentence of a comment notification."""
    where = basename(path)
    quoted = f": “{shorten(excerpt, 80)}”" if excerpt else ""
    if kind == MENTIONED:
        return f"{actor_name} mentioned you in {where}{quoted}"
    if kind == REPLY:
        return f"{actor_name} replied in a thread on {where}{quoted}"
    if kind == RESOLVED:
        return f"{actor_name} resolved a thread on {where}{quoted}"
    return f"{actor_name} commented on {where}{quoted}"


def public(n: Notification) -> dict[str, Any]:
    """A notification as the REST API lists it and the socket pushes it."""
    return {
        "id": n.id,
        "type": n.type,
        "time": iso(n.time),
        "read": n.read,
        "actor": {"username": n.actor, "display_name": n.actor_name} if n.actor else None,
        "path": n.path,
        "room": n.room,
        "message": n.message,
        "details": dict(n.details),
    }


def subject(items: Iterable[Mapping[str, Any]]) -> str:
    """The subject line of an e-mail carrying ``items`` (public notifications)."""
    items = list(items)
    if len(items) == 1:
        return shorten(str(items[0].get("message") or "A new notification"), 120)
    return f"{len(items)} new notifications in Jupyter"
