"""Comment threads on documents (issue 11): anchors, stores, the service and its rules.

``anchors`` places a thread in a document with CRDT relative positions; ``store`` is the
storage interface (``memory``, ``sqlite``, ``postgres`` implement it); ``service`` decides who
may do what, notifies people, audits and tells the room; ``mentions`` reads ``@names``.
"""

from .memory import MemoryCommentStore
from .sqlite import SQLiteCommentStore
from .store import (
    Comment,
    CommentStore,
    LimitReached,
    Thread,
    UnknownComment,
    UnknownThread,
)

__all__ = [
    "Comment", "CommentStore", "LimitReached", "MemoryCommentStore", "SQLiteCommentStore",
    "Thread", "UnknownComment", "UnknownThread",
]  # fmt: skip
