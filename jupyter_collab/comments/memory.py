"""Comment threads in memory: for servers that keep nothing on disk, and the contract's
reference."""

from __future__ import annotations

from dataclasses import replace

from .store import (
    Comment,
    CommentStore,
    LimitReached,
    Thread,
    UnknownComment,
    UnknownThread,
)


class MemoryCommentStore(CommentStore):
    def __init__(self) -> None:
        self._threads: dict[str, Thread] = {}

    def _get(self, thread_id: str) -> Thread:
        try:
            return self._threads[thread_id]
        except KeyError:
            raise UnknownThread(thread_id) from None

    async def create_thread(
        self, thread: Thread, first: Comment, max_threads: int | None = None
    ) -> None:
        if thread.id in self._threads:
            return
        count = sum(t.file_id == thread.file_id for t in self._threads.values())
        if max_threads is not None and count >= max_threads:
            raise LimitReached("threads", max_threads)
        self._threads[thread.id] = replace(thread, comments=(first,))

    async def thread(self, thread_id: str) -> Thread:
        return self._get(thread_id)

    async def threads(self, file_id: str) -> list[Thread]:
        found = [t for t in self._threads.values() if t.file_id == file_id]
        return sorted(found, key=lambda t: (t.created, t.id))

    async def add_comment(self, comment: Comment, max_comments: int | None = None) -> None:
        thread = self._get(comment.thread)
        if any(c.id == comment.id for c in thread.comments):
            return
        if max_comments is not None and len(thread.comments) >= max_comments:
            raise LimitReached("comments", max_comments)
        self._threads[thread.id] = replace(
            thread, comments=(*thread.comments, comment), updated=comment.created
        )

    def _comment(self, thread_id: str, comment_id: str) -> tuple[Thread, int]:
        thread = self._threads.get(thread_id)
        if thread is not None:
            for i, comment in enumerate(thread.comments):
                if comment.id == comment_id:
                    return thread, i
        raise UnknownComment(comment_id)

    async def edit_comment(
        self, thread_id: str, comment_id: str, body: str, mentions: tuple[str, ...], time: float
    ) -> Comment:
        thread, i = self._comment(thread_id, comment_id)
        edited = replace(thread.comments[i], body=body, mentions=mentions, edited=time)
        comments = (*thread.comments[:i], edited, *thread.comments[i + 1 :])
        self._threads[thread_id] = replace(thread, comments=comments, updated=time)
        return edited

    async def delete_comment(self, thread_id: str, comment_id: str, time: float) -> bool:
        thread, i = self._comment(thread_id, comment_id)
        comments = (*thread.comments[:i], *thread.comments[i + 1 :])
        if not comments:
            del self._threads[thread_id]
            return True
        self._threads[thread_id] = replace(thread, comments=comments, updated=time)
        return False

    async def set_resolved(self, thread_id: str, resolved: bool, user: str, time: float) -> Thread:
        thread = replace(
            self._get(thread_id),
            resolved=resolved,
            resolved_by=user if resolved else None,
            resolved_at=time if resolved else None,
            updated=time,
        )
        self._threads[thread_id] = thread
        return thread

    async def file_ids(self) -> list[str]:
        return sorted({t.file_id for t in self._threads.values()})

    async def purge_files(self, file_ids: list[str]) -> int:
        gone = [i for i, t in self._threads.items() if t.file_id in set(file_ids)]
        for thread_id in gone:
            del self._threads[thread_id]
        return len(gone)
