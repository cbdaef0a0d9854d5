"""Roles and how shares on a file and its folders decide a user's role (docs/sharing-api.md)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

EVERYONE = "*"


class Role(str, Enum):
    """From least to most: none < viewer < commenter < editor < owner.

    A commenter reads the document and is present in it like a viewer (the room refuses their
    edits) but may write comments (``comments/``); viewers read comments, never write them.
    """

    NONE = "none"
    VIEWER = "viewer"
    COMMENTER = "commenter"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def can_read(self) -> bool:
        return self.rank >= _RANK[Role.VIEWER]

    @property
    def can_comment(self) -> bool:
        return self.rank >= _RANK[Role.COMMENTER]

    @property
    def can_write(self) -> bool:
        return self.rank >= _RANK[Role.EDITOR]

    def at_most(self, cap: Role) -> Role:
        return self if self.rank <= cap.rank else cap


_RANK = {Role.NONE: 0, Role.VIEWER: 1, Role.COMMENTER: 2, Role.EDITOR: 3, Role.OWNER: 4}


def cap_of(can_read: bool, can_write: bool) -> Role:
    """The most the Jupyter Authorizer allows, as a role (a share never gives more). A user it
    lets only read is a viewer at most: a comment is a write, which it did not allow."""
    if can_write:
        return Role.OWNER
    return Role.VIEWER if can_read else Role.NONE


def levels(path: str) -> list[str]:
    """The path and its folders, nearest first, ending with the root ("")."""
    parts = [p for p in path.strip("/").split("/") if p]
    return ["/".join(parts[:i]) for i in range(len(parts), -1, -1)]


def resolve(
    path: str,
    username: str,
    shares: Mapping[str, Mapping[str, Role]],
    *,
    cap: Role,
    default: Role,
    owner: bool = False,
) -> Role:
    """The effective role of ``username`` on ``path``.

    ``shares`` maps each level (path or folder) to its {user or "*": role}; the nearest level
    naming the user, or else "*", decides. ``cap`` is what the Jupyter Authorizer allows (a
    share never gives more); ``default`` applies where no level has a share; ``owner`` users
    (the server's owner) are owners everywhere, so nobody can lock them out.
    """
    if owner:
        return Role.OWNER.at_most(cap)
    for level in levels(path):
        entries = shares.get(level)
        if not entries:
            continue
        if username in entries:
            return entries[username].at_most(cap)
        if EVERYONE in entries:
            return entries[EVERYONE].at_most(cap)
    return default.at_most(cap)
