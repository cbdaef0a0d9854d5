"""What the history REST API does: versions, content at a version, diffs, attribution, restore.

A document is a room id (``format:type:fileId``), the key of its log in the store. Questions
about the present ("current") ask the open room when there is one, after its log has caught
up, so the answer includes the last keystroke; otherwise the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
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
    UnknownDocument,
    VersionInfo,
)
from .attribution import attribute
from .audit import AuditLog
from .content import json_content, value_at, value_of
from .diffing import blob_diff, notebook_diff, text_diff
from .roomversions import version_json

T = TypeVar("T")


class NoHistory(LookupError):
    """The document is unknown or has no history yet."""


class PathTaken(Exception):
    """A deleted document cannot be restored to its path: another file is there now."""


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
        return {
            "version": version_json(version),
            "type": kind.type,
            "format": kind.format,
            "content": json_content(await _off_loop(value_at, version.state, kind), kind),
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
            new_label = f"version {to_id}"
        old_label = f"version {from_id}"
        if kind.format == "text":
            result = await _off_loop(text_diff, old_value, new_value, old_label, new_label)
        elif kind.type == "notebook":
            result = await _off_loop(notebook_diff, old_value, new_value)
        else:
            result = blob_diff(old_value, new_value)
        result.update(
            {
                "from": from_id,
                "to": to_id if to_id is not None else "current",
                "authors": await self._authors_between(doc_id, old.seq, new_seq),
            }
        )
        return result

    async def _authors_between(self, doc_id: str, first: int, last: int) -> list[str]:
        low, high = sorted((first, last))
        try:
            entries = await self.store.read(doc_id, after_seq=low)
        except HistoryCompacted:
            # The fine-grained log is gone; the versions in between still know their authors.
            versions = await self.store.list_versions(doc_id, limit=1000)
            return sorted({a for v in versions if low < v.seq <= high for a in v.authors})
        return sorted({e.user for e in entries if e.seq <= high and e.user is not None})

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
        result = await _off_loop(
            attribute, kind, snapshot.state if snapshot else None, entries, since
        )
        result.update({"at": at_id if at_id is not None else "current", "since": since_id})
        return result

    # -- restore ------------------------------------------------------------------------------

    async def restore(self, doc_id: str, version_id: int, user: Any) -> dict[str, Any]:
        kind = await self._document(doc_id)
        version = await self.store.get_version(doc_id, version_id)
        target = await _off_loop(value_at, version.state, kind)
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
        seq_before = await room.durable_seq()
        update = await _off_loop(edit_from_base, room.ydoc.get_update(), kind.ydoc_class, target)
        if update is not None:
            room.apply_update(update, Origin(OriginKind.RESTORE, username))
        before = await versions.make("auto", at_seq=seq_before)
        if before is None:  # the content before already was a version point
            recent = await self.store.list_versions(doc_id, limit=10)
            before = next((v for v in recent if v.seq <= seq_before), recent[0])
        after = await versions.make("restore", name=_restored_name(version), user=username)
        assert after is not None
        room.notify(
            {
                "type": "restored",
                "version": version_id,
                "versionName": version.name,
                "versionTime": version_json(version)["time"],
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
                sorted(authors), user, room.path, doc_id, version_id
            )
        if not await room.file.save(user=username):
            self.log.warning("Saving %s after a restore failed; autosave retries", room.path)
        return {
            "restored": version_id,
            "before": version_json(before),
            "version": version_json(after),
        }

    async def _recreate(self, doc_id: str, kind: DocumentKind, file_id: str) -> None:
        """Write a deleted document's last content back at its last path."""
        path = await self.rooms.file_ids.last_path(file_id)
        if path is None:
            raise NoHistory(f"document {doc_id} has no file any more")
        cm = self.rooms.cm
        if await ensure_async(cm.file_exists(path)):
            raise PathTaken(f"{path} exists again: the deleted document cannot be restored there")
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


def _restored_name(version: VersionInfo) -> str:
    """A restore's own version name, from what users see of the restored version."""
    if version.name:
        name = version.name if len(version.name) <= 150 else version.name[:149] + "…"
        return f"Restored “{name}”"
    when = datetime.fromtimestamp(version.time, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"Restored the version of {when}"


def _display_name(user: Any) -> str:
    return getattr(user, "display_name", None) or getattr(user, "name", None) or user.username
