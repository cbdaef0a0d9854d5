"""The content of a collaboration store checked row by row, on either engine.

SQLite's own integrity check (``repair.py``) finds a damaged *file*; a row can be intact for the
database and still be wrong for us: an update that does not decode, a compressed state that
does not decompress, a log with a hole or whose updates wait for others that are not there (it
does not replay), a version whose chain of deltas lost a link, a file with history but no merge
base. :func:`verify` reads every row through a :class:`~.catalog.Catalog` (SQLite or
PostgreSQL) and reports each such row by what identifies it, and what a repair does about it.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from pycrdt import Doc, get_update

from .catalog import Catalog, room_kind
from .consistency import broken_chains, start_over
from .history import decompress, merge


@dataclass
class Damage:
    """One damaged row: which table, which row, what is wrong."""

    table: str
    key: dict[str, object]
    problem: str

    def __str__(self) -> str:
        key = ", ".join(f"{k}={v}" for k, v in self.key.items())
        return f"{self.table} ({key}): {self.problem}"


@dataclass
class Findings:
    damaged: list[Damage] = field(default_factory=list)
    documents: int = 0
    updates: int = 0
    versions: int = 0


def _decodes(update: bytes) -> str | None:
    """Why ``update`` is not a Yjs update (None if it is one)."""
    try:
        Doc().apply_update(update)
    except Exception as error:
        return f"not a Yjs update ({error})"
    return None


def _replays(snapshot: bytes | None, updates: list[bytes]) -> str | None:
    """Why the log does not replay onto its snapshot (None if it does): updates that wait for
    content which is nowhere in the history stay pending, and are lost to every reader."""
    merged = merge(snapshot, updates)
    if merged is None:
        return None
    doc = Doc()
    try:
        doc.apply_update(merged)
    except Exception as error:
        return f"its log does not replay ({error})"
    known = doc.get_state()
    if get_update(merged, known) != get_update(doc.get_update(), known):
        return "its log does not replay: some updates depend on content that is not in it"
    return None


def verify(catalog: Catalog, progress: Callable[[int, int], None] | None = None) -> Findings:
    found = Findings()
    tables = catalog.tables()
    if "collab_docs" not in tables:
        return found
    docs = catalog.rows("SELECT doc_id, last_seq, deleted_at FROM collab_docs ORDER BY doc_id")
    found.documents = len(docs)
    with_content = set()
    for index, (doc_id, last_seq, deleted) in enumerate(docs):
        if _document(catalog, found, doc_id, int(last_seq)) and deleted is None:
            with_content.add(doc_id)
        if progress is not None:
            progress(index + 1, len(docs))
    _versions(catalog, found)
    if "file_merge_bases" in tables and "collab_files" in tables:
        _bases(catalog, found, with_content)
    return found


def _document(catalog: Catalog, found: Findings, doc_id: str, last_seq: int) -> bool:
    """Check one document's snapshot and log; whether it has any (a document whose log a
    repair dropped has none: it starts over from its file, and needs no merge base)."""
    snapshot_state = None
    upto = 0
    rows = catalog.rows("SELECT upto_seq, state FROM collab_snapshots WHERE doc_id = ?", (doc_id,))
    if rows:
        upto = int(rows[0][0])
        try:
            snapshot_state = decompress(bytes(rows[0][1]))
        except zlib.error as error:
            found.damaged.append(Damage("collab_snapshots", {"doc_id": doc_id},
                                        f"its state does not decompress ({error})"))  # fmt: skip
            return True
        problem = _decodes(snapshot_state)
        if problem:
            found.damaged.append(Damage("collab_snapshots", {"doc_id": doc_id}, problem))
            return True
    updates: list[bytes] = []
    seqs: list[int] = []
    broken = False
    for seq, data in catalog.stream(
        "SELECT seq, data FROM collab_updates WHERE doc_id = ? ORDER BY seq", (doc_id,)
    ):
        found.updates += 1
        data = bytes(data)
        problem = _decodes(data)
        if problem:
            found.damaged.append(Damage("collab_updates", {"doc_id": doc_id, "seq": seq}, problem))
            broken = True
            continue
        seqs.append(int(seq))
        if seq > upto:
            updates.append(data)
    if broken:
        return True
    if not seqs and snapshot_state is None:
        return False  # no history left (a repair dropped it): it starts over from its file
    if seqs:
        expected = list(range(seqs[0], seqs[-1] + 1))
        if seqs != expected:
            missing = sorted(set(expected) - set(seqs))
            hole = f"the log has a hole: seq {missing[:5]} missing"
            found.damaged.append(Damage("collab_updates", {"doc_id": doc_id}, hole))
            return True
        if seqs[0] > upto + 1:
            found.damaged.append(Damage(
                "collab_updates", {"doc_id": doc_id},
                f"the log starts at seq {seqs[0]} but the snapshot covers up to {upto} only",
            ))  # fmt: skip
            return True
    top = max([upto, *seqs])
    if top != last_seq:
        wrong = f"last_seq is {last_seq} but the history goes to {top}"
        found.damaged.append(Damage("collab_docs", {"doc_id": doc_id}, wrong))
    problem = _replays(snapshot_state, updates)
    if problem:
        found.damaged.append(Damage("collab_docs", {"doc_id": doc_id}, problem))
    return True


def _versions(catalog: Catalog, found: Findings) -> None:
    rows = catalog.rows(
        "SELECT id, doc_id, base_id, authors, details FROM collab_versions ORDER BY id"
    )
    found.versions = len(rows)
    bases = {r[0]: r[2] for r in rows}
    cache: dict[int, bytes] = {}  # full states of recent versions (their successors use them)
    bad: dict[int, str] = {}

    def state_of(version_id: int) -> bytes:
        """The version's full state (ValueError says why it cannot be had)."""
        if version_id in bad:
            raise ValueError(f"its base version {version_id} is damaged")
        if version_id in cache:
            return cache[version_id]
        if version_id not in bases:
            raise ValueError(f"its base version {version_id} is gone (stored as a delta)")
        (blob,) = catalog.rows("SELECT state FROM collab_versions WHERE id = ?", (version_id,))[0]
        try:
            delta = decompress(bytes(blob))
        except zlib.error as error:
            raise ValueError(f"its state does not decompress ({error})") from None
        base_id = bases[version_id]
        state = delta if base_id is None else merge(state_of(base_id), [delta])
        problem = _decodes(state or b"")
        if problem:
            raise ValueError(problem)
        cache[version_id] = state or b""
        if len(cache) > 64:
            cache.pop(next(iter(cache)))
        return cache[version_id]

    for version_id, doc_id, _base_id, authors, details in rows:
        key = {"id": version_id, "doc_id": doc_id}
        for name, value in (("authors", authors), ("details", details)):
            if isinstance(value, str):
                try:
                    json.loads(value)
                except ValueError:
                    found.damaged.append(Damage("collab_versions", key, f"{name} is not JSON"))
        try:
            state_of(version_id)
        except ValueError as error:
            bad[version_id] = str(error)
            found.damaged.append(Damage("collab_versions", key, str(error)))


def _bases(catalog: Catalog, found: Findings, live_docs: set[str]) -> None:
    with_base = set()
    for file_id, pending, state in catalog.rows(
        "SELECT id, pending, state FROM file_merge_bases ORDER BY id"
    ):
        key = {"id": file_id, "pending": bool(pending)}
        try:
            problem = _decodes(zlib.decompress(bytes(state)))
        except zlib.error as error:
            problem = f"its state does not decompress ({error})"
        if problem:
            found.damaged.append(Damage("file_merge_bases", key, problem))
        with_base.add(file_id)
    files = {
        file_id for (file_id,) in catalog.rows("SELECT id FROM collab_files WHERE path IS NOT NULL")
    }
    for doc_id in sorted(live_docs):
        file_id = doc_id.rpartition(":")[2]
        if file_id in files and file_id not in with_base:
            found.damaged.append(Damage(
                "file_merge_bases", {"id": file_id},
                f"missing: {doc_id} has history but no merge base (a change made to the file "
                "while no server runs cannot be merged as an edit)",
            ))  # fmt: skip


# -- repair -----------------------------------------------------------------------------------


def repair_rows(catalog: Catalog, found: Findings) -> list[str]:
    """Deal with every damaged row of ``found`` the way ``repair.py`` deals with a damaged
    file (what stays must be consistent, never merely incomplete), in one transaction; what
    was done, for people. The servers using the store must be stopped.

    - a document whose log or snapshot is damaged, or does not replay, loses its log, snapshot
      and merge bases: its next opening loads its file afresh (the file being the truth); its
      version points stay;
    - a damaged version point goes, with the points stored as deltas on top of it;
    - a damaged merge base goes; a missing one is made from the history's current content
      (a file changed while no server ran is then merged as the edit from it, as it should).
    """
    from ..documents.filesync import _digest
    from ..history.content import value_at

    done: list[str] = []
    reset: set[str] = set()
    versions: set[int] = set()
    bases: list[tuple[str, bool]] = []
    missing: list[str] = []
    for damage in found.damaged:
        key = damage.key
        if damage.table in ("collab_updates", "collab_snapshots", "collab_docs"):
            reset.add(str(key["doc_id"]))
        elif damage.table == "collab_versions":
            versions.add(int(key["id"]))  # type: ignore[call-overload]
        elif damage.table == "file_merge_bases":
            if "pending" in key:
                bases.append((str(key["id"]), bool(key["pending"])))
            else:
                missing.append(str(key["id"]))
    catalog.execute("BEGIN")
    try:
        for doc_id in sorted(reset):
            start_over(catalog.execute, doc_id)
            done.append(f"{doc_id}: log and snapshot dropped; it starts over from its file")
        # the points stored as deltas on top of a removed one go too
        removed = broken_chains(catalog.rows("SELECT id, base_id FROM collab_versions"), versions)
        for version_id in sorted(removed):
            catalog.execute("DELETE FROM collab_versions WHERE id = ?", (version_id,))
        if removed:
            done.append(f"version points removed: {', '.join(map(str, sorted(removed)))}")
        for file_id, pending in bases:
            catalog.execute(
                "DELETE FROM file_merge_bases WHERE id = ? AND pending = ?", (file_id, pending)
            )
            done.append(f"damaged merge base of {file_id} dropped")
        for file_id in missing:
            docs = catalog.rows(
                "SELECT doc_id FROM collab_docs WHERE doc_id LIKE ?", (f"%:{file_id}",)
            )
            for (doc_id,) in docs:
                if doc_id in reset:
                    continue
                try:
                    kind, _ = room_kind(doc_id)
                except LookupError:
                    continue
                snapshot = catalog.rows(
                    "SELECT state FROM collab_snapshots WHERE doc_id = ?", (doc_id,)
                )
                updates = [
                    bytes(r[0])
                    for r in catalog.rows(
                        "SELECT data FROM collab_updates WHERE doc_id = ? AND seq > COALESCE("
                        "(SELECT upto_seq FROM collab_snapshots WHERE doc_id = ?), 0) "
                        "ORDER BY seq",
                        (doc_id, doc_id),
                    )
                ]
                state = merge(decompress(bytes(snapshot[0][0])) if snapshot else None, updates)
                if state is None:
                    continue
                catalog.execute(
                    "INSERT INTO file_merge_bases (id, pending, state, digest, written) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (file_id, False, zlib.compress(state, 1), _digest(value_at(state, kind)),
                     time.time_ns()),
                )  # fmt: skip
                done.append(f"merge base of {doc_id} made from its history")
                break
        catalog.execute("COMMIT")
    except BaseException:
        catalog.execute("ROLLBACK")
        raise
    return done
