"""Durable history of collaborative documents: update log, snapshots, versions, audit.

``DocumentStore`` is the interface; ``MemoryStore`` and ``SQLiteStore`` implement it.
"""

from .errors import (
    DocumentDeleted,
    ForeignVersion,
    HistoryCompacted,
    InvalidInput,
    SchemaTooNew,
    StoreClosed,
    StoreError,
    UnknownDocument,
    UnknownVersion,
)
from .memory import MemoryStore
from .model import AuditAction, AuditEvent, LogEntry, NewUpdate, Snapshot, Version, VersionInfo
from .sqlite import SQLiteStore
from .store import DocumentStore

__all__ = [
    "AuditAction",
    "AuditEvent",
    "DocumentDeleted",
    "DocumentStore",
    "ForeignVersion",
    "HistoryCompacted",
    "InvalidInput",
    "LogEntry",
    "MemoryStore",
    "NewUpdate",
    "SQLiteStore",
    "SchemaTooNew",
    "Snapshot",
    "StoreClosed",
    "StoreError",
    "UnknownDocument",
    "UnknownVersion",
    "Version",
    "VersionInfo",
]
