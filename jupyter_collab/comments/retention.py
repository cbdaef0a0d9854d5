"""The threads of deleted files: hidden at once, purged after the retention.

A file deleted through Jupyter keeps its id (``FileIds.deleted``) with no path: its threads
are then found by no path and no thread id (the service answers 404), and they come back with
the file when its history is restored within ``CollabApp.deleted_retention``
(``History.restore_deleted`` revives the same id). After that retention the history is purged
and nothing can bring the file back, so its threads go too: the maintenance pass
(``history/maintenance.py``) and ``jupyter collab compact`` call :func:`purge_deleted_threads`.
"""

from __future__ import annotations

from ..documents.fileids import FileIds
from .store import CommentStore


async def purge_deleted_threads(store: CommentStore, file_ids: FileIds, before: float) -> int:
    """Delete the threads of files deleted before ``before`` (time.time()) and not restored
    since, and of file ids no longer known; how many threads went."""
    with_threads = await store.file_ids()
    if not with_threads:
        return 0
    expired = await file_ids.expired(with_threads, before)
    return await store.purge_files(expired) if expired else 0
