"""The sharing store: shares per path, the user directory and per-user notifications.

Shares are keyed by path and follow renames and moves (``moved``), like file ids; they are
kept per served directory (``root``) since the default database is shared by a user's servers.
Methods are synchronous: each is one small indexed query, cheaper than a thread hop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .roles import Role


@dataclass(frozen=True)
class Share:
    path: str  # "" is the root folder
    user: str  # a username, or "*" for everyone else
    role: Role
    granted_by: str | None
    time: float


@dataclass(frozen=True)
class KnownUser:
    username: str
    name: str
    display_name: str
    initials: str
    color: str


@dataclass(frozen=True)
class Notification:
    id: int
    user: str
    type: str
    time: float
    actor: str | None
    actor_name: str | None
    path: str | None
    room: str | None
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    read: bool = False


class ShareStore(ABC):
    # -- shares ----------------------------------------------------------------------------------

    @abstractmethod
    def shares(self, paths: Iterable[str]) -> dict[str, dict[str, Share]]:
        """The shares on each of ``paths`` that has any: {path: {user: share}}."""

    @abstractmethod
    def set_share(
        self, path: str, user: str, role: Role | None, granted_by: str | None, time: float
    ) -> Share | None:
        """Set (or with ``role=None`` remove) a share; returns the previous one."""

    @abstractmethod
    def moved(self, old: str, new: str) -> None:
        """A file or folder moved: its shares, and those below it, move along."""

    @abstractmethod
    def deleted(self, path: str) -> None:
        """A file or folder was deleted: its shares, and those below it, go."""

    # -- users -----------------------------------------------------------------------------------

    @abstractmethod
    def user_seen(self, user: KnownUser, time: float) -> None:
        """Record (or refresh) a user who signed in."""

    @abstractmethod
    def users(self, query: str, limit: int) -> list[KnownUser]:
        """Users whose username, name or display name contains ``query`` (any case)."""

    # -- notifications ---------------------------------------------------------------------------

    @abstractmethod
    def notify(self, notification: Notification) -> int:
        """Store a notification (its ``id`` is ignored); returns its id."""

    @abstractmethod
    def notifications(self, user: str, after: int, limit: int) -> list[Notification]:
        """The user's notifications with id > ``after``, oldest first."""

    @abstractmethod
    def mark_read(self, user: str, ids: Iterable[int] | None, upto: int | None) -> None:
        """Mark the user's notifications read: those listed, or all up to ``upto``."""

    @abstractmethod
    def unread(self, user: str) -> int:
        """How many unread notifications the user has."""

    def close(self) -> None:  # noqa: B027 (optional: the in-memory store holds nothing)
        """Release resources."""


def under(path: str, folder: str) -> bool:
    return folder == "" or path == folder or path.startswith(folder + "/")
