"""Sharing: per-document and per-folder roles, the user directory, per-user notifications.

``ShareStore`` is the interface (shares, users, notifications), with ``MemoryShareStore`` and
``SQLiteShareStore`` beside it; one contract suite runs against both.
"""

from .memory import MemoryShareStore
from .roles import Role
from .sqlite import SQLiteShareStore
from .store import KnownUser, Notification, Share, ShareStore

__all__ = [
    "KnownUser",
    "MemoryShareStore",
    "Notification",
    "Role",
    "SQLiteShareStore",
    "Share",
    "ShareStore",
]
