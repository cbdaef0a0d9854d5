"""What a repair keeps consistent, in one place for both repairs.

``repair.py`` salvages a damaged SQLite *file* into a fresh one; ``verify.py`` finds damaged
*rows* (either engine) and ``repair_rows`` deals with them. Both follow one rule: what stays must
be consistent, never merely incomplete. So both

- start a document over from its file the same way (:func:`start_over`): its log, snapshot and
  merge bases go, its version points stay, ``last_seq`` comes back to the last point's seq;
- remove version points the same way (:func:`broken_chains`): with a removed (or lost) point go
  the points stored as deltas on top of it, and the ones on top of those.

The statements are in SQLite's dialect; ``Catalog.execute`` translates them for PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

Execute = Callable[[str, Sequence[Any]], Any]


def start_over(execute: Execute, doc_id: str) -> None:
    """Make ``doc_id`` start over from its file at its next opening (its version points
    stay), with ``execute(sql, params)`` of the connection or catalog being repaired."""
    file_id = doc_id.rpartition(":")[2]
    execute("DELETE FROM collab_updates WHERE doc_id = ?", (doc_id,))
    execute("DELETE FROM collab_snapshots WHERE doc_id = ?", (doc_id,))
    execute("DELETE FROM file_merge_bases WHERE id = ?", (file_id,))
    execute(
        "UPDATE collab_docs SET last_seq = (SELECT COALESCE(MAX(seq), 0) FROM "
        "collab_versions WHERE doc_id = ?) WHERE doc_id = ?",
        (doc_id, doc_id),
    )


def broken_chains(versions: Iterable[tuple[int, int | None]], removed: Iterable[int]) -> set[int]:
    """The version points to remove: ``removed``, and every point stored as a delta on one
    that is removed or not there (``versions``: ``(id, base_id)`` of every point), over and
    over until every remaining chain is complete."""
    bases = dict(versions)
    gone = set(removed)
    while True:
        more = {
            version for version, base in bases.items()
            if version not in gone and base is not None and (base in gone or base not in bases)
        }  # fmt: skip
        if not more:
            return gone
        gone |= more
