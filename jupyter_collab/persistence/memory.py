"""In-memory store: for tests, and for deployments that want nothing on disk.

It follows the same contract as the durable stores (the contract tests run against it), but
its history lasts as long as the process.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import history as h
from .errors import (
    DocumentDeleted,
    ForeignVersion,
    HistoryCompacted,
    StoreClosed,
    UnknownDocument,
    UnknownVersion,
)
from .model import (
    AuditEvent,
    LogEntry,
    NewUpdate,
    Snapshot,
    Version,
    VersionInfo,
    VersionKind,
    check_audit_event,
    check_doc_id,
    check_limit,
    check_new_updates,
    check_refused,
    check_retention,
    check_seq,
    check_snapshot_args,
    check_time,
    check_version_args,
    check_version_id,
    check_version_seq,
)
from .store import DEFAULT_RETENTION, DocumentStore, resolve_now


@dataclass
class _Doc:
    last_seq: int = 0
    log: list[LogEntry] = field(default_factory=list)  # a contiguous run of seqs
    snapshot: Snapshot | None = None  # state held compressed, as a durable store would
    deleted_at: float | None = None
    versions: list[tuple[VersionInfo, bytes]] = field(default_factory=list)  # by id
    # id -> (base version id or None, depth): versions are deltas, as in every store
    version_bases: dict[int, tuple[int | None, int]] = field(default_factory=dict)


class MemoryStore(DocumentStore):
    def __init__(self, *, retention: float = DEFAULT_RETENTION) -> None:
        self.retention = check_retention(retention)
        self._docs: dict[str, _Doc] = {}
        self._version_docs: dict[int, str] = {}
        self._version_ids = itertools.count(1)
        self._audit: list[AuditEvent] = []
        self._refused: dict[str, dict[str, str]] = {}  # doc id -> user -> ranges
        self._closed = False

    def _doc(self, doc_id: str) -> _Doc:
        if self._closed:
            raise StoreClosed("the store is closed")
        doc = self._docs.get(check_doc_id(doc_id))
        if doc is None:
            raise UnknownDocument(doc_id)
        return doc

    async def append_many(self, doc_id: str, entries: Sequence[NewUpdate]) -> list[int]:
        if self._closed:
            raise StoreClosed("the store is closed")
        checked = check_new_updates(entries)
        doc = self._docs.get(check_doc_id(doc_id)) or _Doc()
        if doc.deleted_at is not None:
            raise DocumentDeleted(doc_id)
        self._docs[doc_id] = doc
        first = doc.last_seq + 1
        doc.log.extend(
            LogEntry(first + i, e.update, e.origin, e.user, e.time, e.credits, e.provenance)
            for i, e in enumerate(checked)
        )
        doc.last_seq += len(checked)
        return list(range(first, doc.last_seq + 1))

    async def reset(self, doc_id: str, entry: NewUpdate) -> int:
        (seq,) = await self.append_many(doc_id, [entry])  # no await inside: one step
        if seq > 1:  # (without an older log there is nothing to hide)
            await self.write_snapshot(doc_id, entry.update, seq, now=entry.time)
        return seq

    async def last_seq(self, doc_id: str) -> int:
        try:
            return self._doc(doc_id).last_seq
        except UnknownDocument:
            return 0

    def _after(self, doc: _Doc, after_seq: int) -> list[LogEntry]:
        start = doc.log[0].seq if doc.log else doc.last_seq + 1
        return doc.log[max(0, after_seq + 1 - start) :]

    async def read(self, doc_id: str, after_seq: int = 0) -> list[LogEntry]:
        check_seq(after_seq, "after_seq")
        doc = self._doc(doc_id)
        start = doc.log[0].seq if doc.log else doc.last_seq + 1
        if 0 < after_seq < start - 1:
            raise HistoryCompacted(
                f"the log of document {doc_id!r} after seq {after_seq} was compacted"
            )
        return self._after(doc, after_seq)

    async def snapshot(self, doc_id: str) -> Snapshot | None:
        snap = self._doc(doc_id).snapshot
        return replace(snap, state=h.decompress(snap.state)) if snap else None

    async def history(self, doc_id: str) -> tuple[Snapshot | None, list[LogEntry]]:
        snap = await self.snapshot(doc_id)
        return snap, self._after(self._doc(doc_id), snap.upto_seq if snap else 0)

    async def write_snapshot(
        self,
        doc_id: str,
        state: bytes,
        upto_seq: int,
        *,
        now: float | None = None,
        note: bytes | None = None,
    ) -> int:
        doc = self._doc(doc_id)
        check_snapshot_args(
            doc_id, state, upto_seq, doc.last_seq, doc.snapshot.upto_seq if doc.snapshot else 0
        )
        at = resolve_now(now)
        cutoff = at - self.retention
        doc.snapshot = Snapshot(h.compress(bytes(state)), upto_seq, at, note)
        trim = 0
        while trim < len(doc.log) and doc.log[trim].seq <= upto_seq:
            if doc.log[trim].time >= cutoff:
                break
            trim += 1
        del doc.log[:trim]
        return trim

    async def add_version(
        self,
        doc_id: str,
        seq: int,
        *,
        name: str | None = None,
        kind: VersionKind = "auto",
        user: str | None = None,
        time: float,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        doc = self._doc(doc_id)
        check_version_seq(seq, doc.last_seq)
        extra = check_version_args(kind, name, user, time, details)
        prev = [(v, s) for v, s in doc.versions if v.seq <= seq]
        basis_seq, basis, base = 0, None, None
        if prev:
            best = max(prev, key=lambda vs: (vs[0].seq, vs[0].id))[0]
            basis_seq, basis = best.seq, self._version_state(doc, best.id)
            base = (best.id, basis, doc.version_bases[best.id][1])
        if doc.snapshot and basis_seq < doc.snapshot.upto_seq <= seq:
            basis_seq, basis = doc.snapshot.upto_seq, h.decompress(doc.snapshot.state)
        entries = [e for e in self._after(doc, basis_seq) if e.seq <= seq]
        state = h.state_at(doc_id, seq, basis, basis_seq, entries)
        since = max((v.seq for v, _ in prev), default=0)
        changes = [e for e in self._after(doc, since) if e.seq <= seq]
        blob, base_id, depth = h.encode_version(state, base)
        version_id = next(self._version_ids)
        info = VersionInfo(
            version_id, doc_id, seq, name, kind, user, float(time),
            h.authors(changes), sum(len(e.update) for e in changes), len(state), extra,
        )  # fmt: skip
        doc.versions.append((info, blob))
        doc.version_bases[version_id] = (base_id, depth)
        self._version_docs[version_id] = doc_id
        return version_id

    async def list_versions(
        self, doc_id: str, limit: int = 50, before: int | None = None
    ) -> list[VersionInfo]:
        check_limit(limit)
        if before is not None:
            check_version_id(before)
        doc = self._doc(doc_id)
        infos = [v for v, _ in reversed(doc.versions) if before is None or v.id < before]
        return infos[:limit]

    async def get_version(self, doc_id: str, version_id: int) -> Version:
        check_version_id(version_id)
        doc = self._doc(doc_id)
        owner = self._version_docs.get(version_id)
        if owner is None:
            raise UnknownVersion(doc_id, version_id)
        if owner != doc_id:
            raise ForeignVersion(doc_id, version_id)
        for info, _ in doc.versions:
            if info.id == version_id:
                return Version(**vars(info), state=self._version_state(doc, version_id))
        raise UnknownVersion(doc_id, version_id)  # pragma: no cover

    @staticmethod
    def _version_state(doc: _Doc, version_id: int | None) -> bytes:
        blobs = {info.id: blob for info, blob in doc.versions}
        chain = []
        while version_id is not None:
            chain.append(blobs[version_id])
            version_id = doc.version_bases[version_id][0]
        return h.decode_version(chain[::-1])

    async def audit(self, event: AuditEvent) -> int:
        if self._closed:
            raise StoreClosed("the store is closed")
        event = check_audit_event(event)
        event_id = len(self._audit) + 1
        self._audit.append(replace(event, id=event_id))
        return event_id

    async def query_audit(
        self,
        doc_id: str | None = None,
        user: str | None = None,
        action: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[AuditEvent], str | None]:
        if self._closed:
            raise StoreClosed("the store is closed")
        check_limit(limit)
        since = None if since is None else check_time(since, "since")
        until = None if until is None else check_time(until, "until")
        end = h.decode_cursor(cursor)
        action = getattr(action, "value", action)
        stop = len(self._audit) if end is None else bisect.bisect_left(
            self._audit, end, key=lambda e: e.id
        )  # fmt: skip
        page: list[AuditEvent] = []
        for event in reversed(self._audit[:stop]):
            if (
                (doc_id is None or event.doc_id == doc_id)
                and (user is None or event.user == user)
                and (action is None or event.action == action)
                and (since is None or event.time >= since)
                and (until is None or event.time < until)
            ):
                page.append(event)
                if len(page) > limit:
                    break
        if len(page) > limit:
            page = page[:limit]
            return page, h.encode_cursor(page[-1].id or 0)
        return page, None

    async def mark_deleted(self, doc_id: str, time: float) -> None:
        self._doc(doc_id).deleted_at = check_time(time)

    async def undelete(self, doc_id: str) -> None:
        self._doc(doc_id).deleted_at = None

    async def deleted_at(self, doc_id: str) -> float | None:
        return self._doc(doc_id).deleted_at

    async def purge_deleted(self, older_than: float) -> list[str]:
        if self._closed:
            raise StoreClosed("the store is closed")
        check_time(older_than, "older_than")
        gone = [
            i
            for i, d in self._docs.items()
            if d.deleted_at is not None and d.deleted_at <= older_than
        ]
        for doc_id in gone:
            self._refused.pop(doc_id, None)
            for info, _ in self._docs.pop(doc_id).versions:
                del self._version_docs[info.id]
        return sorted(gone)

    async def refused_deletions(self, doc_id: str) -> dict[str, str]:
        if self._closed:
            raise StoreClosed("the store is closed")
        check_doc_id(doc_id)
        return dict(self._refused.get(doc_id, {}))

    async def remember_refused(self, doc_id: str, user: str, ranges: str) -> None:
        if self._closed:
            raise StoreClosed("the store is closed")
        doc_id, user, ranges = check_refused(doc_id, user, ranges)
        self._refused.setdefault(doc_id, {})[user] = ranges

    async def size_bytes(self, doc_id: str | None = None) -> int:
        if self._closed:
            raise StoreClosed("the store is closed")
        docs = [self._doc(doc_id)] if doc_id is not None else list(self._docs.values())
        return sum(
            sum(len(e.update) for e in d.log)
            + (len(d.snapshot.state) if d.snapshot else 0)
            + sum(len(blob) for _, blob in d.versions)
            for d in docs
        )

    async def close(self) -> None:
        self._closed = True
