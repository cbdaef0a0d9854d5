"""The sharing store: shares per path, the user directory and per-user notifications.

Shares are keyed by path and follow renames and moves (``moved``), like file ids; they are
kept per served directory (``root``) since the default database is shared by a user's servers.
Every method is a coroutine: the SQLite store runs its queries on the database's threads, never
on the event loop (``persistence/database.py``), and issue 9 adds a PostgreSQL one. Role checks
do not wait for it: ``Sharing`` keeps the shares of its root in memory (``all_shares``).
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
class NotificationPreferences:
    """What one user chose: their e-mail address (None: the deployer's template, if any) and
    which notification kinds also go by e-mail (None: never chosen, the server's default)."""

    user: str
    email: str | None = None
    email_kinds: tuple[str, ...] | None = None
    time: float = 0.0


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
    async def shares(self, paths: Iterable[str]) -> dict[str, dict[str, Share]]:
        """The shares on each of ``paths`` that has any: {path: {user: share}}."""

    @abstractmethod
    async def all_shares(self) -> list[Share]:
        """Every share of this root (what ``Sharing`` keeps in memory)."""

    @abstractmethod
    async def set_share(
        self, path: str, user: str, role: Role | None, granted_by: str | None, time: float
    ) -> Share | None:
        """Set (or with ``role=None`` remove) a share; returns the previous one."""

    @abstractmethod
    async def moved(self, old: str, new: str) -> None:
        """A file or folder moved: its shares, and those below it, move along."""

    @abstractmethod
    async def deleted(self, path: str) -> None:
        """A file or folder was deleted: its shares, and those below it, go."""

    # -- users -----------------------------------------------------------------------------------

    @abstractmethod
    async def user_seen(self, user: KnownUser, time: float) -> None:
        """Record (or refresh) a user who signed in."""

    @abstractmethod
    async def users(self, query: str, limit: int) -> list[KnownUser]:
        """Users whose username, name or display name contains ``query`` (any case)."""

    # -- notifications ---------------------------------------------------------------------------

    @abstractmethod
    async def notify(self, notification: Notification) -> int:
        """Store a notification (its ``id`` is ignored); returns its id."""

    @abstractmethod
    async def notifications(self, user: str, after: int, limit: int) -> list[Notification]:
        """The user's notifications with id > ``after``, oldest first."""

    @abstractmethod
    async def mark_read(self, user: str, ids: Iterable[int] | None, upto: int | None) -> None:
        """Mark the user's notifications read: those listed, or all up to ``upto``."""

    @abstractmethod
    async def unread(self, user: str) -> int:
        """How many unread notifications the user has."""

    @abstractmethod
    async def preferences(self, user: str) -> NotificationPreferences | None:
        """The user's notification preferences, or None if they never set any."""

    @abstractmethod
    async def set_preferences(self, preferences: NotificationPreferences) -> None:
        """Replace the user's notification preferences."""

    async def close(self) -> None:  # noqa: B027 (optional: the in-memory store holds nothing)
        """Release resources."""


def under(path: str, folder: str) -> bool:
    return folder == "" or path == folder or path.startswith(folder + "/")
