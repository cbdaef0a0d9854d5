"""Records a store keeps, and the validation every implementation shares.

Validation lives here rather than in each store so that the in-memory store, SQLite and later
PostgreSQL refuse exactly the same inputs (the contract tests check they do).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from ..origins import OriginKind
from .errors import InvalidInput

ORIGINS: frozenset[str] = frozenset(kind.value for kind in OriginKind)
VersionKind = Literal["opened", "auto", "save", "named", "restore"]
VERSION_KINDS: frozenset[str] = frozenset({"opened", "auto", "save", "named", "restore"})
MAX_AUDIT_PAGE = 1000


class AuditAction(str, Enum):
    """The actions issue 3 audits; stores accept any short non-empty action string."""

    JOIN = "join"
    LEAVE = "leave"
    SAVE = "save"
    DISK_MERGED = "disk-merged"
    VERSION_CREATED = "version-created"
    RESTORE = "restore"
    PERMISSION_CHANGE = "permission-change"
    DELETE = "delete"
    COMMENT = "comment"  # a comment thread changed (comments/service.py: details.what)


@dataclass(frozen=True)
class NewUpdate:
    """One update to append (the unit of :meth:`DocumentStore.append_many`).

    ``credits`` are the users whose work the update carries when that is not its ``user``: a
    restore is made by one user but brings back text others wrote (None: just ``user``).
    ``provenance`` is what the history layer needs to credit that text line by line
    (``history/provenance.py``); stores keep it as opaque bytes.
    """

    update: bytes
    origin: str
    user: str | None
    time: float
    credits: tuple[str, ...] | None = None
    provenance: bytes | None = None


@dataclass(frozen=True)
class LogEntry:
    """One logged update with its attribution; ``seq`` is 1, 2, 3... per document."""

    seq: int
    update: bytes
    origin: str
    user: str | None
    time: float
    credits: tuple[str, ...] | None = None
    provenance: bytes | None = None

    @property
    def authors(self) -> tuple[str, ...]:
        """Who the update's content is credited to (see :class:`NewUpdate`)."""
        if self.credits is not None:
            return self.credits
        return (self.user,) if self.user is not None else ()


@dataclass(frozen=True)
class Snapshot:
    """The full document state covering every update with ``seq <= upto_seq``.

    ``note`` is what the history layer keeps about that state (who wrote what in it, so
    attribution outlives the log compaction trims: ``DocumentStore.annotator``); opaque here.
    """

    state: bytes
    upto_seq: int
    time: float
    note: bytes | None = None


@dataclass(frozen=True)
class VersionInfo:
    """A version point, without its content (what a version list shows).

    ``authors`` and ``change_bytes`` describe the updates since the previous version point (as
    far as the retained log still shows them), so a list can say who changed how much; ``user``
    is who made the point (named it, saved, restored), not one of the authors necessarily.
    ``details`` is what else the history layer keeps with it (a restore: what it restored).
    """

    id: int
    doc_id: str
    seq: int
    name: str | None
    kind: str
    user: str | None
    time: float
    authors: tuple[str, ...]
    change_bytes: int
    state_size: int
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Version(VersionInfo):
    """A version point with the full document state at ``seq`` (a pycrdt update)."""

    state: bytes = b""


@dataclass(frozen=True)
class AuditEvent:
    """Something a user or the server did to a document. ``id`` is set by the store."""

    action: str
    time: float
    doc_id: str | None = None
    user: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


def check_doc_id(doc_id: object) -> str:
    if not isinstance(doc_id, str) or not doc_id:
        raise InvalidInput(f"document id must be a non-empty string, not {doc_id!r}")
    return doc_id


def check_time(time: object, what: str = "time") -> float:
    if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
        raise InvalidInput(f"{what} must be a finite number, not {time!r}")
    return float(time)


def check_retention(retention: object) -> float:
    seconds = check_time(retention, "retention")
    if seconds < 0:
        raise InvalidInput(f"retention must be at least 0 seconds, not {retention!r}")
    return seconds


def check_seq(seq: object, what: str = "seq") -> int:
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidInput(f"{what} must be a non-negative integer, not {seq!r}")
    return seq


def check_user(user: object) -> str | None:
    if user is not None and not isinstance(user, str):
        raise InvalidInput(f"user must be a string or None, not {user!r}")
    return user


def check_refused(doc_id: object, user: object, ranges: object) -> tuple[str, str, str]:
    """Arguments of :meth:`~.store.DocumentStore.remember_refused`."""
    if not isinstance(user, str) or not user:
        raise InvalidInput(f"user must be a non-empty string, not {user!r}")
    if not isinstance(ranges, str):
        raise InvalidInput("ranges must be a string")
    return check_doc_id(doc_id), user, ranges


def check_new_update(entry: object) -> NewUpdate:
    if not isinstance(entry, NewUpdate):
        raise InvalidInput(f"expected a NewUpdate, not {type(entry).__name__}")
    if not isinstance(entry.update, (bytes, bytearray, memoryview)) or not entry.update:
        raise InvalidInput("an update must be non-empty bytes")
    if entry.origin not in ORIGINS:
        raise InvalidInput(f"unknown origin {entry.origin!r} (one of {sorted(ORIGINS)})")
    check_user(entry.user)
    check_time(entry.time)
    credits = entry.credits
    if credits is not None:
        if not isinstance(credits, (tuple, list)) or not all(isinstance(u, str) for u in credits):
            raise InvalidInput(f"credits must be a sequence of usernames, not {credits!r}")
        credits = tuple(credits)
    provenance = entry.provenance
    if provenance is not None:
        if not isinstance(provenance, (bytes, bytearray, memoryview)):
            raise InvalidInput("provenance must be bytes or None")
        provenance = bytes(provenance)
    return NewUpdate(
        bytes(entry.update), entry.origin, entry.user, float(entry.time), credits, provenance
    )


def check_new_updates(entries: Sequence[NewUpdate]) -> list[NewUpdate]:
    checked = [check_new_update(entry) for entry in entries]
    if not checked:
        raise InvalidInput("append_many needs at least one update")
    return checked


def check_version_args(
    kind: object, name: object, user: object, time: object, details: object = None
) -> dict[str, Any]:
    """Checks what every store stores with a version; returns its details as a dict."""
    if kind not in VERSION_KINDS:
        raise InvalidInput(f"unknown version kind {kind!r} (one of {sorted(VERSION_KINDS)})")
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 200):
        raise InvalidInput("a version name must be a non-empty string of at most 200 characters")
    if kind == "named" and name is None:
        raise InvalidInput("a named version needs a name")
    check_user(user)
    check_time(time)
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise InvalidInput("version details must be a mapping")
    try:
        json.dumps(dict(details))
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"version details must be JSON-serializable: {error}") from None
    return dict(details)


def check_version_id(version_id: object) -> int:
    if isinstance(version_id, bool) or not isinstance(version_id, int):
        raise InvalidInput(f"a version id is an integer, not {version_id!r}")
    return version_id


def check_audit_event(event: object) -> AuditEvent:
    if not isinstance(event, AuditEvent):
        raise InvalidInput(f"expected an AuditEvent, not {type(event).__name__}")
    action = event.action.value if isinstance(event.action, Enum) else event.action
    if not isinstance(action, str) or not action or len(action) > 100:
        raise InvalidInput("an audit action must be a non-empty string of at most 100 characters")
    if event.doc_id is not None:
        check_doc_id(event.doc_id)
    check_user(event.user)
    check_time(event.time)
    if not isinstance(event.details, Mapping):
        raise InvalidInput("audit details must be a mapping")
    try:
        json.dumps(dict(event.details))
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"audit details must be JSON-serializable: {error}") from None
    return AuditEvent(action, float(event.time), event.doc_id, event.user, dict(event.details))


def check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_AUDIT_PAGE:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_AUDIT_PAGE}, not {limit!r}")
    return limit


def check_snapshot_args(
    doc_id: str, state: object, upto_seq: object, last_seq: int, current_upto: int
) -> bytes:
    """A snapshot never goes back behind the current one nor covers updates not logged."""
    if not isinstance(state, (bytes, bytearray, memoryview)) or not state:
        raise InvalidInput("a snapshot state must be non-empty bytes")
    seq = check_seq(upto_seq, "upto_seq")
    if seq < 1 or seq > last_seq:
        raise InvalidInput(
            f"upto_seq {seq} is outside the log of document {doc_id!r} (1..{last_seq})"
        )
    if seq < current_upto:
        raise InvalidInput(f"upto_seq {seq} is behind the current snapshot (seq {current_upto})")
    return bytes(state)


def check_version_seq(seq: object, last_seq: int) -> int:
    checked = check_seq(seq)
    if checked < 1 or checked > last_seq:
        raise InvalidInput(f"seq {checked} is outside the document's log (1..{last_seq})")
    return checked
