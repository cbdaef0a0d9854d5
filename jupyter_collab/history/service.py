"""What the history REST API does: versions, content at a version, diffs, attribution, restore.

A document is a room id (``format:type:fileId``), the key of its log in the store. Questions
about the present ("current") ask the open room when there is one, after its log has caught
up, so the answer includes the last keystroke; otherwise the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from jupyter_core.utils import ensure_async

from ..collaboration.manager import RoomManager, UnknownRoom
from ..collaboration.room import Room
from ..documents.kinds import DocumentKind
from ..documents.merge import edit_from_base
from ..origins import Origin, OriginKind
from ..persistence import (
    AuditAction,
    DocumentStore,
    HistoryCompacted,
    LogEntry,
    Snapshot,
    UnknownDocument,
    Version,
    VersionInfo,
)
from ..persistence.history import merge
from .attribution import RestoreCredits, annotate, mentioned, replay, replay_from, summarize
from .audit import AuditLog
from .content import json_content, value_at, value_of
from .diffing import blob_diff, notebook_diff, text_diff
from .marks import Marks
from .people import People
from .provenance import encode
from .roomversions import version_json, version_label, version_reference

T = TypeVar("T")


class NoHistory(LookupError):
    """The document is unknown or has no history yet."""


class PathTaken(Exception):
    """A deleted document cannot be restored to its path: another file is there now."""


async def marks_at(store: Any, doc_id: str, kind: DocumentKind, version: Version) -> Marks:
    """Who wrote what in a version, as attribution at its seq says.

    From the whole retained log when it still starts at the beginning and replays to the
    version: rooms compact when they close, and a snapshot made after the version must not
    make its text nobody's while the log it folded is still kept (restores would then credit
    the restorer with everyone's text). Else from the snapshot and the log after it; if the
    log before the version was compacted away, its content is nobody's (as attribution says).
    """
    retained = await store.read(doc_id)
    if retained and retained[0].seq == 1:
        upto = [e for e in retained if e.seq <= version.seq]

        def replays() -> bool:  # (not across a file loaded afresh: ``store.reset``)
            state = merge(None, [e.update for e in upto])
            return state is not None and value_at(state, kind) == value_at(version.state, kind)

        if await _off_loop(replays):
            return await _off_loop(replay_from, kind, None, upto)
    snapshot, entries = await store.history(doc_id)
    if snapshot is not None and snapshot.upto_seq > version.seq:
        return await _off_loop(replay, kind, version.state, [])
    entries = [e for e in entries if e.seq <= version.seq]
    return await _off_loop(replay_from, kind, snapshot, entries)


class History:
    def __init__(
        self,
        store: DocumentStore,
        rooms: RoomManager,
        audit: AuditLog,
        log: logging.Logger,
        sharing: Any = None,
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.audit = audit
        self.log = log
        self.sharing = sharing  # notifies a document's authors of restores
        self.people = People(sharing, rooms)  # the ``users`` map of every reply
        # Compaction keeps who wrote what with each snapshot (attribution outlives the log).
        store.annotator = self.annotate

    # -- documents ----------------------------------------------------------------------------

    async def _document(self, doc_id: str, *, empty_ok: bool = False) -> DocumentKind:
        """The kind of a document that has history; NoHistory otherwise.

        With ``empty_ok``, a known file whose history is still empty (opened, never changed:
        an empty file loads without any update) is a document too.
        """
        try:
            kind, file_id = self.rooms.parse(doc_id)
        except UnknownRoom:
            raise NoHistory(f"no such document: {doc_id}") from None
        room = self._open_room(doc_id)
        if room is not None and room.journal is not None:
            # (a room just opened writes its log once its first client has the document:
            # asked for its history, it writes it now)
            await room.journal.flush()
        try:
            if await self.store.last_seq(doc_id) > 0:
                return kind
        except UnknownDocument:
            pass
        if empty_ok and await self.rooms.file_ids.last_path(file_id) is not None:
            return kind
        raise NoHistory(f"document {doc_id} has no history")

    def _open_room(self, doc_id: str) -> Room | None:
        room = self.rooms.rooms.get(doc_id)
        return room if room is not None and room.loaded and room.journal is not None else None

    async def _current(self, doc_id: str, kind: DocumentKind) -> tuple[Any, int]:
        """The current value and the seq it includes."""
        room = self._open_room(doc_id)
        if room is not None:
            seq = await room.durable_seq()
            return value_of(room.jdoc), seq
        state = await self.store.load(doc_id)
        assert state is not None
        return await _off_loop(value_at, state, kind), await self.store.last_seq(doc_id)

    # -- versions -----------------------------------------------------------------------------

    async def versions(
        self, doc_id: str, limit: int, before: int | None
    ) -> tuple[list[dict[str, Any]], int | None]:
        await self._document(doc_id, empty_ok=True)
        try:
            infos = await self.store.list_versions(doc_id, limit=limit, before=before)
        except UnknownDocument:
            return [], None
        more = bool(infos) and bool(
            await self.store.list_versions(doc_id, limit=1, before=infos[-1].id)
        )
        return [version_json(i) for i in infos], infos[-1].id if more else None

    async def users(self, *versions: dict[str, Any], names: Any = ()) -> dict[str, Any]:
        """The ``users`` map of a reply naming these versions (and ``names``)."""
        mentioned = set(names)
        for version in versions:
            mentioned.update(version.get("authors") or ())
            mentioned.add(version.get("createdBy"))
        return await self.people.of(mentioned)

    async def name_version(self, doc_id: str, name: str, user: str) -> dict[str, Any]:
        await self._document(doc_id)
        room = self._open_room(doc_id)
        if room is not None and room.versions is not None:
            info = await room.versions.make("named", name=name, user=user)
            assert info is not None
            return version_json(info)
        seq = await self.store.last_seq(doc_id)
        version_id = await self.store.add_version(
            doc_id, seq, name=name, kind="named", user=user, time=time.time()
        )
        info = await self._info(doc_id, version_id)
        self.audit.record(
            AuditAction.VERSION_CREATED, doc_id, user, version=version_id, kind="named", name=name
        )
        return version_json(info)

    async def _info(self, doc_id: str, version_id: int) -> VersionInfo:
        (info,) = await self.store.list_versions(doc_id, limit=1, before=version_id + 1)
        return info

    async def content(self, doc_id: str, version_id: int) -> dict[str, Any]:
        kind = await self._document(doc_id)
        version = await self.store.get_version(doc_id, version_id)
        info = version_json(version)
        return {
            "version": info,
            "type": kind.type,
            "format": kind.format,
            "content": json_content(await _off_loop(value_at, version.state, kind), kind),
            "users": await self.users(info),
        }

    # -- diff ---------------------------------------------------------------------------------

    async def diff(self, doc_id: str, from_id: int, to_id: int | None) -> dict[str, Any]:
        kind = await self._document(doc_id)
        old = await self.store.get_version(doc_id, from_id)
        old_value = await _off_loop(value_at, old.state, kind)
        if to_id is None:
            new_value, new_seq = await self._current(doc_id, kind)
            new_label = "current"
        else:
            new = await self.store.get_version(doc_id, to_id)
            new_value, new_seq = await _off_loop(value_at, new.state, kind), new.seq
            new_label = version_label(new)
        old_label = version_label(old)
        if kind.format == "text":
            result = await _off_loop(text_diff, old_value, new_value, old_label, new_label)
        elif kind.type == "notebook":
            result = await _off_loop(notebook_diff, old_value, new_value)
        else:
            result = blob_diff(old_value, new_value)
        authors = await self._authors_between(doc_id, old.seq, new_seq)
        result.update(
            {
                "from": from_id,
                "to": to_id if to_id is not None else "current",
                "authors": authors,
                "users": await self.people.of(authors),
            }
        )
        return result

    async def _authors_between(self, doc_id: str, first: int, last: int) -> list[str]:
        """Who wrote the changes between two points: each update's user, except that a
        restore credits who wrote what it brought back (``LogEntry.authors``)."""
        low, high = sorted((first, last))
        try:
            entries = await self.store.read(doc_id, after_seq=low)
        except HistoryCompacted:
            # The fine-grained log is gone; the versions in between still know their authors.
            versions = await self.store.list_versions(doc_id, limit=1000)
            return sorted({a for v in versions if low < v.seq <= high for a in v.authors})
        return sorted({a for e in entries if e.seq <= high for a in e.authors})

    # -- attribution --------------------------------------------------------------------------

    async def attribution(
        self, doc_id: str, at_id: int | None, since_id: int | None
    ) -> dict[str, Any]:
        kind = await self._document(doc_id)
        if at_id is None:
            room = self._open_room(doc_id)
            upto = await room.durable_seq() if room is not None else None
        else:
            upto = (await self.store.get_version(doc_id, at_id)).seq
        since = (await self.store.get_version(doc_id, since_id)).seq if since_id else None
        snapshot, entries = await self.store.history(doc_id)
        if upto is not None:
            if snapshot is not None and snapshot.upto_seq > upto:
                raise HistoryCompacted(
                    f"the log of {doc_id} before seq {snapshot.upto_seq} was compacted"
                )
            entries = [e for e in entries if e.seq <= upto]
        marks = await _off_loop(replay_from, kind, snapshot, entries)
        result = await _off_loop(summarize, marks, since)
        result.update(
            {
                "at": at_id if at_id is not None else "current",
                "since": since_id,
                "users": await self.people.of(mentioned(result)),
            }
        )
        return result

    async def _marks_at(self, doc_id: str, kind: DocumentKind, version: Version) -> Marks:
        return await marks_at(self.store, doc_id, kind, version)

    def annotate(
        self, doc_id: str, snapshot: Snapshot | None, entries: Sequence[LogEntry]
    ) -> bytes | None:
        """The store's :attr:`~..persistence.DocumentStore.annotator`: who wrote what in a
        new snapshot (in the store's worker thread)."""
        try:
            kind, _ = self.rooms.parse(doc_id)
        except UnknownRoom:
            return None
        return annotate(kind, snapshot, entries)

    # -- restore ------------------------------------------------------------------------------

    async def restore(self, doc_id: str, version_id: int, user: Any) -> dict[str, Any]:
        """Make a version's content the current one, as one new edit by ``user``.

        The edit brings back text others wrote: its log entry carries the attribution of the
        version (``provenance.py``), so attribution and diffs keep crediting them, and the
        restorer is credited with the restore itself (the version it makes, what it removed).
        """
        kind = await self._document(doc_id)
        version = await self.store.get_version(doc_id, version_id)
        target = await _off_loop(value_at, version.state, kind)
        marks = await self._marks_at(doc_id, kind, version)
        provenance = await _off_loop(encode, marks)
        _, file_id = self.rooms.parse(doc_id)
        await self.rooms.deletion_settled(file_id)
        if await self.rooms.file_ids.path_of(file_id) is None:
            await self._recreate(doc_id, kind, file_id)
        room = await self.rooms.open(doc_id)
        versions = room.versions
        assert versions is not None
        username = user.username
        # Everyone sees the restore first; the point before it is made afterwards, at the seq
        # it had (version points can be made at any durable seq).
        seq_known = await room.durable_seq()
        update, credits = await self._restore_edit(room, kind, target, marks, username)
        if update is not None:
            origin = Origin(OriginKind.RESTORE, username, credits=credits, provenance=provenance)
            room.apply_update(update, origin)
        seq_before = await self._seq_before(room, doc_id, seq_known, update)
        before = await versions.make("auto", at_seq=seq_before)
        if before is None:  # the content before already was a version point
            recent = await self.store.list_versions(doc_id, limit=10)
            before = next((v for v in recent if v.seq <= seq_before), recent[0])
        reference = version_reference(version)
        after = await versions.make("restore", user=username, details={"restoredFrom": reference})
        assert after is not None
        room.notify(
            {
                "type": "restored",
                "version": version_id,
                "versionName": version.name,
                "versionTime": reference["time"],
                "versionKind": version.kind,
                "by": {"username": username, "display_name": _display_name(user)},
                "path": room.path,
            }
        )
        self.audit.record(
            AuditAction.RESTORE, doc_id, username, version=version_id, result=after.id,
            path=room.path,
        )  # fmt: skip
        if self.sharing is not None:
            authors = {a for v in await self.store.list_versions(doc_id, limit=1000)
                       for a in v.authors}  # fmt: skip
            await self.sharing.notify_restored(
                sorted(authors), user, room.path, doc_id, reference
            )
        if not await room.file.save(user=username):
            self.log.warning("Saving %s after a restore failed; autosave retries", room.path)
        result = {
            "restored": version_id,
            "before": version_json(before),
            "version": version_json(after),
        }
        result["users"] = await self.users(result["before"], result["version"])
        return result

    async def _restore_edit(
        self, room: Room, kind: DocumentKind, target: Any, marks: Marks, username: str
    ) -> tuple[bytes | None, tuple[str, ...]]:
        """The edit from the room's content to ``target``, and whom it credits.

        The diff of a large document takes a while: it is computed on a worker thread, on a
        copy of the room's state, so every room of the server keeps being served meanwhile
        (never on the event loop, however long people keep typing). What somebody typed in
        the room while it ran is kept: the edit is made against the state it read, so it is
        concurrent with their edits and the CRDT merges both (the version's content comes
        back around what they typed, which is never overwritten). Where the merged content
        no longer matches the version (a text file's checksum), the replay credits the
        restore to the restorer (``provenance.py``), as for any content it cannot vouch for.
        """
        # (the room's encoded state, shared with its joiners: encoded again only if changed)
        current = room.full_state.state()
        return await _off_loop(_prepare_restore, kind, current, target, marks, username)

    async def _seq_before(self, room: Room, doc_id: str, known: int, update: bytes | None) -> int:
        """The seq just before the restore's own update (edits may have come in meanwhile)."""
        last = await room.durable_seq()
        if update is None:
            return last
        try:
            entries = await self.store.read(doc_id, after_seq=known)
        except HistoryCompacted:
            return known
        for entry in entries:
            if entry.origin == OriginKind.RESTORE.value and entry.update == update:
                return entry.seq - 1
        return known

    async def _recreate(self, doc_id: str, kind: DocumentKind, file_id: str) -> None:
        """Write a deleted document's last content back at its last path."""
        path = await self.rooms.file_ids.last_path(file_id)
        if path is None:
            raise NoHistory(f"document {doc_id} has no file any more")
        cm = self.rooms.cm
        if await ensure_async(cm.file_exists(path)):
            raise PathTaken(f"{path} exists again: the deleted document cannot be restored there")
        # A newer file there was removed outside Jupyter (its file id still holds the path):
        # follow that removal as Jupyter would have, before this document takes the path.
        stale = await self.rooms.file_deleted(path)
        if stale and self.sharing is not None:
            await self.sharing.deleted(path)  # (its shares go with it, as on a delete)
        for other in stale:
            await self.rooms.deletion_settled(other)
        state = await self.store.load(doc_id)
        assert state is not None
        value = await _off_loop(value_at, state, kind)
        # The log's state is the file's content now: the room resumes from it and must not
        # merge the written file as a change against an older base.
        await self.rooms.file_ids.set_base(file_id, state, "restored", fresh=True)
        await ensure_async(
            cm.save(
                {
                    "type": kind.contents_type,
                    "format": kind.format,
                    "content": kind.to_model(value),
                },
                path,
            )
        )
        await self.rooms.file_ids.revive(file_id, path)
        await self.store.undelete(doc_id)
        self.log.info("Restored deleted document %s at %s", doc_id, path)


async def _off_loop(function: Callable[..., T], *args: Any) -> T:
    """Run CPU-heavy history work (replaying a log, building a 3 MB notebook, diffing) in a
    thread, so rooms keep being served meanwhile. The work builds its own pycrdt documents
    from bytes and touches no room's."""
    return await asyncio.to_thread(function, *args)


def _prepare_restore(
    kind: DocumentKind, current: bytes, target: Any, marks: Marks, username: str
) -> tuple[bytes | None, tuple[str, ...]]:
    credits = RestoreCredits(marks, username)
    update = edit_from_base(current, kind.ydoc_class, target, credits.watch)
    if update is None:
        return None, ()
    return update, credits.credits()


def _display_name(user: Any) -> str:
    return getattr(user, "display_name", None) or getattr(user, "name", None) or user.username
