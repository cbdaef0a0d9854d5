"""Comment threads as stored: the store interface every backend implements.

Threads are keyed by **file id** (``documents/fileids.py``), never by path: a rename or a move
changes the path a file id maps to, and the threads follow without a write. ``doc_id`` is the
document (room id: kind + file id) whose text the anchor lives in. Ids are made by the service
(random, 128 bits): every write is then keyed by what the caller already knows, which makes
the PostgreSQL writes safe to run twice after a lost connection.

Three implementations keep one contract (``tests/test_comments_store.py`` runs it against each):
in memory (servers without a database), SQLite (``sqlite.py``, the collaboration database) and
PostgreSQL (``postgres.py``, shared by the servers of a group).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from .anchors import Anchor


class UnknownThread(LookupError):
    """No such thread."""


class UnknownComment(LookupError):
    """No such comment in that thread."""


class LimitReached(Exception):
    """A cap would be exceeded: ``what`` is ``threads`` (per file) or ``comments`` (per
    thread), ``limit`` the cap. Checked in the write's own transaction, so writes racing on
    several servers cannot pass it together."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} limit {limit} reached")
        self.what = what
        self.limit = limit


@dataclass(frozen=True)
class Comment:
    id: str
    thread: str
    author: str
    body: str
    created: float
    edited: float | None = None
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Thread:
    id: str
    file_id: str
    doc_id: str
    anchor: Anchor
    created_by: str
    created: float
    updated: float
    resolved: bool = False
    resolved_by: str | None = None
    resolved_at: float | None = None
    comments: tuple[Comment, ...] = field(default_factory=tuple)

    @property
    def participants(self) -> list[str]:
        """Everyone who wrote in the thread, in the order they first did."""
        return list(dict.fromkeys([self.created_by, *(c.author for c in self.comments)]))


class CommentStore(ABC):
    @abstractmethod
    async def create_thread(
        self, thread: Thread, first: Comment, max_threads: int | None = None
    ) -> None:
        """Store a new thread with its first comment (``thread.comments`` is ignored).
        ``max_threads``: LimitReached when the file has that many threads already (a thread
        already stored under this id is no new one: running the write twice is harmless)."""

    @abstractmethod
    async def thread(self, thread_id: str) -> Thread:
        """The thread with its comments, in the order written; UnknownThread."""

    @abstractmethod
    async def threads(self, file_id: str) -> list[Thread]:
        """Every thread of a file (all its documents), oldest first, with their comments."""

    @abstractmethod
    async def add_comment(self, comment: Comment, max_comments: int | None = None) -> None:
        """Append a reply to its thread (and touch the thread's ``updated``); UnknownThread.
        ``max_comments``: LimitReached when the thread holds that many comments already."""

    @abstractmethod
    async def edit_comment(
        self, thread_id: str, comment_id: str, body: str, mentions: tuple[str, ...], time: float
    ) -> Comment:
        """Replace a comment's body; the comment after. UnknownComment."""

    @abstractmethod
    async def delete_comment(self, thread_id: str, comment_id: str, time: float) -> bool:
        """Delete a comment; True when it was the thread's last and the thread went too.
        UnknownComment."""

    @abstractmethod
    async def set_resolved(self, thread_id: str, resolved: bool, user: str, time: float) -> Thread:
        """Resolve or reopen a thread; the thread after. UnknownThread."""

    @abstractmethod
    async def file_ids(self) -> list[str]:
        """The file ids that have threads (for the purge of deleted files' threads)."""

    @abstractmethod
    async def purge_files(self, file_ids: list[str]) -> int:
        """Delete every thread (with its comments) of these files; how many threads went."""

    async def close(self) -> None:  # noqa: B027 (optional: the in-memory store holds nothing)
        """Release resources."""


class UnavailableCommentStore(CommentStore):
    """The store of a server whose database could not be opened: every operation fails with
    the reason (a 503), rather than keeping comments in memory that a restart would lose."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def _fail(self) -> Any:
        raise CommentStoreUnavailable(f"the database cannot be used: {self.reason}")

    async def create_thread(
        self, thread: Thread, first: Comment, max_threads: int | None = None
    ) -> None:
        self._fail()

    async def thread(self, thread_id: str) -> Thread:
        return self._fail()

    async def threads(self, file_id: str) -> list[Thread]:
        return self._fail()

    async def add_comment(self, comment: Comment, max_comments: int | None = None) -> None:
        self._fail()

    async def edit_comment(
        self, thread_id: str, comment_id: str, body: str, mentions: tuple[str, ...], time: float
    ) -> Comment:
        return self._fail()

    async def delete_comment(self, thread_id: str, comment_id: str, time: float) -> bool:
        return self._fail()

    async def set_resolved(self, thread_id: str, resolved: bool, user: str, time: float) -> Thread:
        return self._fail()

    async def file_ids(self) -> list[str]:
        return self._fail()

    async def purge_files(self, file_ids: list[str]) -> int:
        return self._fail()


class CommentStoreUnavailable(RuntimeError):
    """The comment store cannot be used (its database could not be opened)."""
