"""Comment threads as users see them: who may do what, anchors checked against the document,
mentions, notifications, the audit log and the live notice to the room (docs/comments-api.md).

The REST handlers (``gateway/comment_handlers.py``) only parse requests and turn the errors
below into statuses; everything a comment does happens here, so the rules are in one place:

- reading needs ``viewer``, writing ``commenter`` (``Role.can_comment``); a comment is edited
  by its author only, deleted by its author or an owner of the document;
- the caller's role is taken on the document's path **as it is now** (threads are stored by
  file id, so a thread found by id is judged where its file lives today);
- an anchor is checked against the document as it is (the room open here, else the stored
  state, else the room is opened), and where a thread is now (or that it is ``detached``) is
  computed the same way when threads are read;
- a change is stored first; then the room gets a ``comments`` notice (on every server of a
  group: a room notice crosses the bus), people are notified, and the audit log records it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pycrdt import Doc

from ..bus import Topic
from ..collaboration.manager import RoomManager, UnknownRoom, room_id_for
from ..documents.kinds import KINDS, DocumentKind
from ..history.audit import AuditLog
from ..history.people import People
from ..persistence import AuditAction
from ..sharing.roles import Role
from ..sharing.service import Sharing
from ..timestamps import iso
from .anchors import (
    MAX_QUOTE,
    Anchor,
    BadAnchor,
    Place,
    locate,
    make_anchor,
    parse_request,
)
from .mentions import mentioned_names
from .store import (
    Comment,
    CommentStore,
    LimitReached,
    Thread,
    UnknownComment,
    UnknownThread,
)

T = TypeVar("T")

MAX_BODY = 10_000  # characters of a comment's body (CollabApp.comments_max_body)
EXCERPT = 200  # characters of a comment quoted in a notification


@dataclass(frozen=True)
class CommentLimits:
    """The caps of comments (CollabApp's ``comments_max_*`` settings; 0: no cap on a count).

    They keep one document's comments bounded for everyone who opens its panel: every listing
    returns all the threads of a file with all their comments, placed in the document."""

    threads_per_file: int = 1_000
    comments_per_thread: int = 500
    body: int = MAX_BODY
    quote: int = MAX_QUOTE


class CommentError(Exception):
    """A request that cannot be done; ``status`` is its HTTP status."""

    status = 400


class BadComment(CommentError):
    status = 400


class TooLarge(CommentError):
    status = 413


class TooMany(CommentError):
    """A count cap (threads of a file, comments of a thread) is reached."""

    status = 409


class NotAllowed(CommentError):
    status = 403


class NotFound(CommentError):
    status = 404


class Unloadable(CommentError):
    status = 409


class CommentsUnavailable(CommentError):
    status = 503


def body_text(value: Any, limit: int = MAX_BODY) -> str:
    """A comment's body: a string, not blank, at most ``limit`` characters."""
    if not isinstance(value, str):
        raise BadComment('"body" must be a string (the comment\'s text)')
    if len(value) > limit:
        raise TooLarge(
            f"a comment is at most {limit:,} characters (this one has {len(value):,}); "
            "the limit is CollabApp.comments_max_body"
        )
    if not value.strip():
        raise BadComment("a comment cannot be empty")
    return value


def kind_name(kind: DocumentKind) -> str:
    """What anchors may be in a document of ``kind``: ``notebook``, ``file`` (text), ``blob``."""
    if kind.type == "notebook":
        return "notebook"
    return "file" if kind.format == "text" else "blob"


class Comments:
    def __init__(
        self,
        store: CommentStore,
        rooms: RoomManager,
        sharing: Sharing,
        audit: AuditLog,
        log: logging.Logger,
        *,
        history: Any = None,
        bus: Any = None,
        group: bool = False,
        limits: CommentLimits | None = None,
    ) -> None:
        """``history`` is the document store (``DocumentStore``, None without history): where
        the state of a document nobody has open here is read from. ``bus`` and ``group``: the
        event bus and whether other servers share it (then notices of rooms not open here are
        published for them). ``limits``: the caps (CommentLimits' defaults if None)."""
        self.limits = limits or CommentLimits()
        self.store = store
        self.rooms = rooms
        self.sharing = sharing
        self.audit = audit
        self.log = log
        self.history = history
        self.bus = bus
        self.group = group
        self.people = People(sharing, rooms)
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- access -------------------------------------------------------------------------------

    def role(self, path: str, username: str, cap: Role) -> Role:
        return self.sharing.role(path, username, cap)

    def _require(self, path: str, user: Any, cap: Role, *, write: bool) -> Role:
        role = self.role(path, user.username, cap)
        if not role.can_read:
            raise NotFound(f"no such file: {path}")  # (it is not shown to them at all)
        if write and not role.can_comment:
            raise NotAllowed(
                f"your role on {path} is {role.value}: commenting needs commenter or more"
            )
        return role

    async def _thread_and_path(self, thread_id: str) -> tuple[Thread, str]:
        try:
            thread = await self._call(self.store.thread(thread_id))
        except UnknownThread:
            raise NotFound(f"no such thread: {thread_id}") from None
        path = await self.rooms.file_ids.path_of(thread.file_id)
        if path is None:  # its file was deleted
            raise NotFound(f"no such thread: {thread_id}")
        return thread, path

    async def _call(self, operation: Any) -> Any:
        """Await a store operation; a failing database is a 503 that changed nothing."""
        try:
            return await operation
        except (UnknownThread, UnknownComment, CommentError):
            raise
        except LimitReached as reached:
            raise self._too_many(reached) from None
        except Exception as exc:
            self.log.error("The comment store failed: %s", exc)
            raise CommentsUnavailable(f"comments are not available now: {exc}") from exc

    def _too_many(self, reached: LimitReached) -> TooMany:
        if reached.what == "threads":
            return TooMany(
                f"this document has {reached.limit:,} comment threads, the most it may have "
                "(CollabApp.comments_max_threads): resolve and delete old ones first"
            )
        return TooMany(
            f"this thread has {reached.limit:,} comments, the most a thread may have "
            "(CollabApp.comments_max_comments): start a new thread"
        )

    def _max(self, value: int) -> int | None:
        return value if value > 0 else None

    # -- documents ----------------------------------------------------------------------------

    async def _in_document(self, doc_id: str, fn: Callable[[Doc, str], T]) -> T:
        """``fn(doc, kind)`` on the document as it is now: the room open here, else the stored
        state, else the room, opened for it; always on a copy built in a thread (building and
        reading a large document must not hold up the event loop and the room's edits)."""
        try:
            kind, _ = self.rooms.parse(doc_id)
        except UnknownRoom:
            raise BadComment(f"no such document: {doc_id}") from None
        name = kind_name(kind)
        room = self.rooms.rooms.get(doc_id)
        state = None
        if room is not None and room.loaded and not room.closed:
            # The room's document as one update (encoded once per version, shared with
            # joiners: fullstate.py), read in a thread like a stored one: placing many threads
            # in a large notebook must not hold up the room's edits.
            state = room.full_state.state()
        elif self.history is not None:
            try:
                state = await self.history.load(doc_id)
            except Exception as exc:  # (a failing history: the room reads the file)
                self.log.warning("Reading %s for its comments failed: %s", doc_id, exc)
        if state is not None:
            return await asyncio.to_thread(_on_state, state, fn, name)
        try:
            room = await self.rooms.open(doc_id)
        except UnknownRoom:
            raise NotFound(f"no such document: {doc_id}") from None
        return await asyncio.to_thread(_on_state, room.full_state.state(), fn, name)

    async def _places(self, threads: Iterable[Thread]) -> dict[str, Place]:
        """Where each thread is now, reading each document once."""
        by_doc: dict[str, list[Thread]] = {}
        places: dict[str, Place] = {}
        for thread in threads:
            if thread.anchor.cell is None and thread.anchor.start is None:
                places[thread.id] = Place(False, whole_document=True)  # (no need to read it)
            else:
                by_doc.setdefault(thread.doc_id, []).append(thread)
        for doc_id, some in by_doc.items():

            def run(doc: Doc, kind: str, some: list[Thread] = some) -> dict[str, Place]:
                texts: dict[Any, Any] = {}
                return {t.id: locate(doc, kind, t.anchor, texts) for t in some}

            try:
                places.update(await self._in_document(doc_id, run))
            except Exception as exc:  # a document that cannot be read: its threads are listed
                self.log.warning("Placing the comments of %s failed: %s", doc_id, exc)
                places.update({t.id: Place(False, t.anchor.cell) for t in some})
        return places

    # -- replies ------------------------------------------------------------------------------

    def _comment_json(self, comment: Comment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "thread": comment.thread,
            "author": comment.author,
            "body": comment.body,
            "created": iso(comment.created),
            "edited": iso(comment.edited) if comment.edited is not None else None,
            "mentions": list(comment.mentions),
        }

    def _thread_json(self, thread: Thread, path: str, place: Place) -> dict[str, Any]:
        return {
            "id": thread.id,
            "fileId": thread.file_id,
            "room": thread.doc_id,
            "path": path,
            "anchor": thread.anchor.to_json(),
            "detached": place.detached,
            "current": place.to_json(),
            "resolved": thread.resolved,
            "resolvedBy": thread.resolved_by,
            "resolvedAt": iso(thread.resolved_at) if thread.resolved_at is not None else None,
            "createdBy": thread.created_by,
            "created": iso(thread.created),
            "updated": iso(thread.updated),
            "participants": thread.participants,
            "comments": [self._comment_json(c) for c in thread.comments],
        }

    async def _users(self, threads: Iterable[Thread], *more: Iterable[str]) -> dict[str, Any]:
        names: set[str | None] = set()
        for thread in threads:
            names.update(thread.participants)
            names.add(thread.resolved_by)
            for comment in thread.comments:
                names.update(comment.mentions)
        for extra in more:
            names.update(extra)
        return await self.people.of(names)

    async def _one(self, thread: Thread, path: str) -> dict[str, Any]:
        place = (await self._places([thread]))[thread.id]
        return self._thread_json(thread, path, place)

    # -- reading ------------------------------------------------------------------------------

    async def list(
        self, path: str, user: Any, cap: Role, resolved: bool | None = None
    ) -> dict[str, Any]:
        role = self._require(path, user, cap, write=False)
        file_id = await self.rooms.file_ids.get_or_create(path)
        threads = await self._call(self.store.threads(file_id))
        if resolved is not None:
            threads = [t for t in threads if t.resolved is resolved]
        places = await self._places(threads)
        return {
            "path": path,
            "fileId": file_id,
            "role": role.value,
            "canComment": role.can_comment,
            "threads": [self._thread_json(t, path, places[t.id]) for t in threads],
            "users": await self._users(threads),
        }

    async def get(self, thread_id: str, user: Any, cap: Role) -> dict[str, Any]:
        thread, path = await self._thread_and_path(thread_id)
        self._require(path, user, cap, write=False)
        return {"thread": await self._one(thread, path), "users": await self._users([thread])}

    # -- writing ------------------------------------------------------------------------------

    def _default_document(self, path: str) -> DocumentKind:
        return KINDS[("json", "notebook")] if path.endswith(".ipynb") else KINDS[("text", "file")]

    async def create(self, path: str, user: Any, cap: Role, body: dict[str, Any]) -> dict[str, Any]:
        self._require(path, user, cap, write=True)
        text = body_text(body.get("body"), self.limits.body)
        try:
            request = parse_request(body.get("anchor"))
        except BadAnchor as exc:
            raise BadComment(str(exc)) from None
        quote = (body.get("anchor") or {}).get("quote")
        if quote is not None and not isinstance(quote, str):
            raise BadComment('anchor "quote" must be a string (the selected text) or absent')
        if quote is not None and len(quote) > self.limits.quote:
            raise TooLarge(
                f'anchor "quote" is at most {self.limits.quote:,} characters (this one has '
                f"{len(quote):,}); the limit is CollabApp.comments_max_quote"
            )
        file_id = await self.rooms.file_ids.get_or_create(path)
        doc_id = body.get("room")
        if doc_id is None:
            doc_id = room_id_for(self._default_document(path), file_id)
        if not isinstance(doc_id, str):
            raise BadComment('"room" must be the room id of the session reply')
        try:
            _, room_file = self.rooms.parse(doc_id)
        except UnknownRoom:
            raise BadComment(f'"room" {doc_id[:80]!r} is not a room id') from None
        if room_file != file_id:
            raise BadComment(f'"room" {doc_id[:80]!r} is not a document of {path}')

        def anchor_in(doc: Doc, kind: str) -> Anchor:
            return make_anchor(doc, kind, request, self.limits.quote)

        if request.cell is None and request.start is None:
            anchor = Anchor(None, None, None, "")  # the whole file: nothing to look up in it
        else:
            try:
                anchor = await self._in_document(doc_id, anchor_in)
            except BadAnchor as exc:
                raise BadComment(str(exc)) from None
            except CommentError:
                raise
            except Exception as exc:  # the file cannot be loaded as that kind of document
                raise Unloadable(
                    f"the document cannot be read to place the comment: {exc}"
                ) from exc
        now = time.time()
        mentions, mentioned, unreachable = await self._mentions(text, path, user.username)
        thread = Thread(uuid.uuid4().hex, file_id, doc_id, anchor, user.username, now, now)
        comment = Comment(uuid.uuid4().hex, thread.id, user.username, text, now, None, mentions)
        await self._call(
            self.store.create_thread(thread, comment, self._max(self.limits.threads_per_file))
        )
        thread = dataclasses.replace(thread, comments=(comment,))
        self._changed(thread, comment.id, "created", user, path)
        await self._notify_mentions(mentioned, thread, comment, user, path)
        return await self._reply(thread, comment, path, mentioned, unreachable)

    async def reply(
        self, thread_id: str, user: Any, cap: Role, body: dict[str, Any]
    ) -> dict[str, Any]:
        thread, path = await self._thread_and_path(thread_id)
        self._require(path, user, cap, write=True)
        text = body_text(body.get("body"), self.limits.body)
        mentions, mentioned, unreachable = await self._mentions(text, path, user.username)
        comment = Comment(
            uuid.uuid4().hex, thread.id, user.username, text, time.time(), None, mentions
        )
        try:
            await self._call(
                self.store.add_comment(comment, self._max(self.limits.comments_per_thread))
            )
        except UnknownThread:  # deleted meanwhile
            raise NotFound(f"no such thread: {thread_id}") from None
        thread = await self._call(self.store.thread(thread.id))
        self._changed(thread, comment.id, "replied", user, path)
        await self._notify_mentions(mentioned, thread, comment, user, path)
        # everyone else in the thread (who wrote in it, or was mentioned in it), once
        others = [*thread.participants, *(m for c in thread.comments for m in c.mentions)]
        told = {user.username, *mentioned}
        for name in dict.fromkeys(others):
            if name not in told and self._may_read(path, name):
                told.add(name)
                await self._notify(
                    name, "reply", user, path, thread, comment,
                )  # fmt: skip
        return await self._reply(thread, comment, path, mentioned, unreachable)

    async def edit(
        self, thread_id: str, comment_id: str, user: Any, cap: Role, body: dict[str, Any]
    ) -> dict[str, Any]:
        thread, path = await self._thread_and_path(thread_id)
        self._require(path, user, cap, write=True)
        old = self._find(thread, comment_id)
        if old.author != user.username:
            raise NotAllowed("only its author may edit a comment")
        text = body_text(body.get("body"), self.limits.body)
        mentions, mentioned, unreachable = await self._mentions(text, path, user.username)
        try:
            comment = await self._call(
                self.store.edit_comment(thread.id, comment_id, text, mentions, time.time())
            )
        except UnknownComment:
            raise NotFound(f"no such comment: {comment_id}") from None
        thread = await self._call(self.store.thread(thread.id))
        self._changed(thread, comment.id, "edited", user, path)
        before = set(old.mentions)
        new = [name for name in mentioned if name not in before]  # only newly mentioned
        await self._notify_mentions(new, thread, comment, user, path)
        fresh_unreachable = [name for name in unreachable if name not in before]
        return await self._reply(thread, comment, path, new, fresh_unreachable)

    async def delete(self, thread_id: str, comment_id: str, user: Any, cap: Role) -> dict[str, Any]:
        thread, path = await self._thread_and_path(thread_id)
        role = self._require(path, user, cap, write=True)
        old = self._find(thread, comment_id)
        if old.author != user.username and role is not Role.OWNER:
            raise NotAllowed("only its author or an owner of the document may delete a comment")
        try:
            gone = await self._call(self.store.delete_comment(thread.id, comment_id, time.time()))
        except UnknownComment:
            raise NotFound(f"no such comment: {comment_id}") from None
        self._changed(thread, comment_id, "deleted", user, path, thread_deleted=gone)
        if gone:
            return {"thread": None, "deletedThread": True, "users": {}}
        thread = await self._call(self.store.thread(thread.id))
        return {
            "thread": await self._one(thread, path),
            "deletedThread": False,
            "users": await self._users([thread]),
        }

    async def resolve(
        self, thread_id: str, user: Any, cap: Role, body: dict[str, Any]
    ) -> dict[str, Any]:
        thread, path = await self._thread_and_path(thread_id)
        self._require(path, user, cap, write=True)
        resolved = body.get("resolved")
        if not isinstance(resolved, bool):
            raise BadComment('"resolved" must be true or false')
        if thread.resolved is not resolved:
            try:
                thread = await self._call(
                    self.store.set_resolved(thread.id, resolved, user.username, time.time())
                )
            except UnknownThread:
                raise NotFound(f"no such thread: {thread_id}") from None
            self._changed(thread, None, "resolved" if resolved else "reopened", user, path)
            # (a reopened thread is shown in the panel; only its resolution is news to people)
            first = thread.comments[0] if thread.comments and resolved else None
            for name in thread.participants if resolved else ():
                if name != user.username and self._may_read(path, name):
                    await self._notify(
                        name, "resolved", user, path, thread, None,
                        excerpt=first.body[:EXCERPT] if first else None,
                    )  # fmt: skip
        return {"thread": await self._one(thread, path), "users": await self._users([thread])}

    @staticmethod
    def _find(thread: Thread, comment_id: str) -> Comment:
        for comment in thread.comments:
            if comment.id == comment_id:
                return comment
        raise NotFound(f"no such comment: {comment_id}")

    async def _reply(
        self, thread: Thread, comment: Comment, path: str, mentioned: list[str],
        unreachable: list[str],
    ) -> dict[str, Any]:  # fmt: skip
        return {
            "thread": await self._one(thread, path),
            "comment": self._comment_json(comment),
            "mentioned": mentioned,
            "unreachable": unreachable,
            "users": await self._users([thread], unreachable),
        }

    # -- mentions and notifications ----------------------------------------------------------

    def _may_read(self, path: str, username: str) -> bool:
        return self.sharing.role(path, username, self.sharing.known_cap(username)).can_read

    async def _mentions(
        self, body: str, path: str, author: str
    ) -> tuple[tuple[str, ...], list[str], list[str]]:
        """(names mentioned that the directory knows, those to notify, those who cannot read
        the document). The author mentioning themselves is neither notified nor unreachable."""
        known: list[str] = []
        for name in mentioned_names(body):
            try:
                found = await self.sharing.users(name, 50)
            except Exception:  # the directory is a convenience: no mention then
                found = []
            if any(u.get("username") == name for u in found):
                known.append(name)
        mentioned = [n for n in known if n != author and self._may_read(path, n)]
        unreachable = [n for n in known if n != author and n not in mentioned]
        return tuple(known), mentioned, unreachable

    async def _notify_mentions(
        self, names: Iterable[str], thread: Thread, comment: Comment, actor: Any, path: str
    ) -> None:
        for name in names:
            await self._notify(
                name, "mentioned", actor, path, thread, comment,
            )  # fmt: skip

    async def _notify(
        self, username: str, kind: str, actor: Any, path: str, thread: Thread,
        comment: Comment | None, **extra: Any,
    ) -> None:  # fmt: skip
        details: dict[str, Any] = {
            "thread": thread.id,
            "comment": comment.id if comment is not None else None,
            "cell": thread.anchor.cell,
            "excerpt": (comment.body[:EXCERPT] if comment is not None else None),
        }
        details.update(extra)
        # (no message of ours: the notification service words comment kinds itself, the same
        # in the bell and in e-mails)
        await self.sharing.notify(username, kind, actor, path, thread.doc_id, None, details)

    # -- the room and the audit log -----------------------------------------------------------

    def _changed(
        self, thread: Thread, comment_id: str | None, action: str, user: Any, path: str,
        *, thread_deleted: bool = False,
    ) -> None:  # fmt: skip
        notice: dict[str, Any] = {
            "type": "comments",
            "thread": thread.id,
            "action": action,
            "comment": comment_id,
            "by": user.username,
        }
        if thread_deleted:
            notice["threadDeleted"] = True
        self.announce(thread.doc_id, notice)
        self.audit.record(
            AuditAction.COMMENT, thread.doc_id, user.username,
            thread=thread.id, comment=comment_id, what=action, path=path,
        )  # fmt: skip

    def announce(self, doc_id: str, notice: dict[str, Any]) -> None:
        """Send ``notice`` to the document's room: through the room open here (which also
        publishes it to the group), else straight to the group's other servers."""
        room = self.rooms.rooms.get(doc_id)
        if room is not None and not room.closed:
            room.notify(notice)
            return
        if not self.group or self.bus is None:
            return

        async def publish() -> None:
            try:
                await self.bus.publish(Topic.ROOM_NOTICE, doc_id, notice)
            except Exception as exc:  # the panel refetches on its next change anyway
                self.log.warning("Sending the comments notice of %s failed: %s", doc_id, exc)

        task = asyncio.ensure_future(publish())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _on_state(state: bytes, fn: Callable[[Doc, str], T], kind: str) -> T:
    doc = Doc()
    doc.apply_update(state)
    return fn(doc, kind)
