"""Exceptions of the store layer.

Callers (REST handlers, rooms) map these to clear client errors: every bad input a store can be
given raises one of these, never a bare ``KeyError`` or an ``sqlite3`` error.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error a :class:`~.store.DocumentStore` raises on purpose."""


class InvalidInput(StoreError, ValueError):
    """An argument is malformed (unknown origin or version kind, negative seq, bad cursor...)."""


class UnknownDocument(StoreError, LookupError):
    """The document has no history in this store (it was never appended to, or was purged)."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"unknown document {doc_id!r}")
        self.doc_id = doc_id


class DocumentDeleted(StoreError):
    """The document is marked deleted: its history is kept for restore but it takes no updates."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"document {doc_id!r} is deleted")
        self.doc_id = doc_id


class UnknownVersion(StoreError, LookupError):
    """No such version of this document."""

    def __init__(self, doc_id: str, version_id: object, message: str | None = None) -> None:
        super().__init__(message or f"document {doc_id!r} has no version {version_id!r}")
        self.doc_id = doc_id
        self.version_id = version_id


class ForeignVersion(UnknownVersion):
    """The version exists but belongs to another document (a client mixed up its ids)."""

    def __init__(self, doc_id: str, version_id: object) -> None:
        super().__init__(
            doc_id, version_id, f"version {version_id!r} is not a version of document {doc_id!r}"
        )


class HistoryCompacted(StoreError):
    """The requested part of the fine-grained log was trimmed by compaction.

    Raised instead of silently returning an incomplete log: a reader that wants the document
    regardless of compaction uses :meth:`~.store.DocumentStore.load`.
    """


class StoreClosed(StoreError):
    """The store was closed."""


class SchemaTooNew(StoreError):
    """The database was written by a newer jupyter-collab; refusing to guess its schema."""


class StoreUnavailable(StoreError):
    """The database does not work now (read-only, full, damaged, locked by another process):
    nothing is wrong with the request, it may work later. ``reason`` is the short cause."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class HistoryUnavailable(StoreUnavailable):
    """A room's history is off, or not complete yet: a version point now would miss updates."""
