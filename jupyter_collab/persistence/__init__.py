"""Durable history of collaborative documents: update log, snapshots, versions, audit.

``DocumentStore`` is the interface; ``MemoryStore`` and ``SQLiteStore`` implement it.
``SQLiteDatabase`` is the one object per SQLite file that every component's tables go through.
"""

from .database import SQLiteDatabase
from .errors import (
    DocumentDeleted,
    ForeignVersion,
    HistoryCompacted,
    HistoryUnavailable,
    InvalidInput,
    SchemaTooNew,
    StoreClosed,
    StoreError,
    StoreUnavailable,
    UnknownDocument,
    UnknownVersion,
)
from .health import StoreHealth
from .memory import MemoryStore
from .migrations import Component
from .model import AuditAction, AuditEvent, LogEntry, NewUpdate, Snapshot, Version, VersionInfo
from .sqlite import SQLiteStore
from .store import DocumentStore

__all__ = [
    "AuditAction",
    "AuditEvent",
    "Component",
    "DocumentDeleted",
    "DocumentStore",
    "ForeignVersion",
    "HistoryCompacted",
    "HistoryUnavailable",
    "InvalidInput",
    "LogEntry",
    "MemoryStore",
    "NewUpdate",
    "SQLiteDatabase",
    "SQLiteStore",
    "SchemaTooNew",
    "Snapshot",
    "StoreClosed",
    "StoreError",
    "StoreHealth",
    "StoreUnavailable",
    "UnknownDocument",
    "UnknownVersion",
    "Version",
    "VersionInfo",
]
