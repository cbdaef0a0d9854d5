"""The contract every DocumentStore implementation keeps (run against each of them)."""

from __future__ import annotations

import asyncio
import random

import pytest

from jupyter_collab.persistence import (
    AuditAction,
    AuditEvent,
    DocumentDeleted,
    DocumentStore,
    ForeignVersion,
    HistoryCompacted,
    InvalidInput,
    NewUpdate,
    StoreClosed,
    UnknownDocument,
    UnknownVersion,
)

from .conftest import StoreFactory, run
from .edits import Editor, text_of

DAY = 24 * 3600.0


async def session(store: DocumentStore, doc_id: str, n: int, *, seed: int = 0,
                  t0: float = 1000.0, user: str = "ada") -> tuple[Editor, list[str]]:  # fmt: skip
    """Append ``n`` real single-character edits; returns the editor and the text after each."""
    editor, rng, texts = Editor(), random.Random(seed), []
    for i in range(n):
        await store.append(doc_id, editor.edit(rng), origin="client", user=user, time=t0 + i)
        texts.append(str(editor.text))
    return editor, texts


def test_harness_runs_the_scenarios() -> None:
    """A failing assertion inside a scenario fails the test (nothing passes without running)."""

    async def failing() -> None:
        await asyncio.sleep(0)
        raise AssertionError("ran")

    with pytest.raises(AssertionError, match="ran"):
        run(failing())


def test_append_read_order_and_seqs(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            assert await store.last_seq("a") == 0
            editor, _ = await session(store, "a", 20)
            await store.append("b", b"\x00\x00", origin="server", user=None, time=5.0)
            entries = await store.read("a")
            assert [e.seq for e in entries] == list(range(1, 21))
            assert [e.update for e in entries] == editor.updates
            assert {(e.origin, e.user) for e in entries} == {("client", "ada")}
            assert [e.time for e in entries] == [1000.0 + i for i in range(20)]
            assert [e.seq for e in await store.read("a", after_seq=15)] == [16, 17, 18, 19, 20]
            assert await store.read("a", after_seq=20) == []
            assert await store.last_seq("a") == 20
            assert [e.seq for e in await store.read("b")] == [1]  # seqs are per document

    run(scenario())


def test_concurrent_appends_get_unique_increasing_seqs(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            updates = [bytes([1, i % 256, i // 256]) for i in range(300)]
            seqs = await asyncio.gather(
                *(store.append("a", u, origin="client", user="u", time=1.0) for u in updates)
            )
            assert sorted(seqs) == list(range(1, 301))
            # Issued in order, stored in order: seq order is call order.
            assert seqs == list(range(1, 301))
            assert [e.update for e in await store.read("a")] == updates

    run(scenario())


def test_append_many_is_all_or_nothing(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            ok = NewUpdate(b"\x01", "client", "ada", 1.0)
            assert await store.append_many("a", [ok, ok, ok]) == [1, 2, 3]
            for bad in (
                NewUpdate(b"\x02", "keyboard", "ada", 1.0),  # unknown origin
                NewUpdate(b"", "client", "ada", 1.0),  # empty update
                NewUpdate(b"\x02", "client", "ada", float("nan")),  # bad time
                NewUpdate(b"\x02", "client", 7, 1.0),  # type: ignore[arg-type]
            ):
                with pytest.raises(InvalidInput):
                    await store.append_many("a", [ok, bad, ok])
            with pytest.raises(InvalidInput):
                await store.append_many("a", [])
            assert await store.last_seq("a") == 3
            await store.mark_deleted("a", 2.0)
            with pytest.raises(DocumentDeleted):
                await store.append_many("a", [ok, ok])
            assert await store.last_seq("a") == 3
            # Concurrent requests commit independently: one refused, the others stored.
            results = await asyncio.gather(
                store.append_many("b", [ok, ok]),
                store.append_many("a", [ok]),
                store.append_many("c", [ok]),
                store.append_many("b", [ok]),
                return_exceptions=True,
            )
            assert results[0] == [1, 2] and results[2] == [1] and results[3] == [3]
            assert isinstance(results[1], DocumentDeleted)
            assert len(await store.read("a")) == 3

    run(scenario())


def test_load_equals_the_document_built_from_all_updates(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            assert await store.load("a") is None
            editor, _ = await session(store, "a", 300, seed=1)
            # a second user editing concurrently from their own replica
            other = Editor(state=await store.load("a"))
            rng = random.Random(2)
            for i in range(50):
                update = other.edit(rng)
                editor.doc.apply_update(update)
                await store.append("a", update, origin="client", user="bob", time=2000.0 + i)
            loaded = await store.load("a")
            assert text_of(loaded) == str(editor.text) == str(other.text)
            # Same CRDT history: applying the load to a replica adds nothing new to it.
            replica = Editor(state=loaded)
            assert replica.doc.get_state() == editor.doc.get_state()

    run(scenario())


def test_a_reset_starts_the_document_over_and_keeps_its_past(make_store: StoreFactory) -> None:
    """A file loaded afresh over an older log (its merge base was lost) starts the history
    over: loading gives the new document alone, not both histories merged (the content
    twice), while versions and entries from before stay readable."""

    async def scenario() -> None:
        async with make_store(retention=DAY) as store:
            old, _ = await session(store, "a", 10)
            version = await store.add_version("a", 10, time=1010.0)
            fresh = Editor()  # another CRDT history of the same file
            fresh.insert(0, "from the file")
            seq = await store.reset(
                "a", NewUpdate(fresh.doc.get_update(), "load", None, 2000.0)
            )
            assert seq == 11 and await store.last_seq("a") == 11
            assert text_of(await store.load("a")) == "from the file"
            assert text_of((await store.get_version("a", version)).state) == str(old.text)
            assert len(await store.read("a")) == 11  # within the retention: kept
            after = fresh.insert(len("from the file"), "!")
            await store.append("a", after, origin="client", user="bo", time=2001.0)
            assert text_of(await store.load("a")) == "from the file!"
            await store.compact("a", now=2002.0)
            assert text_of(await store.load("a")) == "from the file!"
            # a document without history: the reset is its first entry
            assert await store.reset("new", NewUpdate(b"\x00\x00", "load", None, 1.0)) == 1
            assert await store.load("new") is not None

    run(scenario())


def test_compaction_keeps_current_content_and_every_version(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store(retention=0) as store:
            editor, texts = await session(store, "a", 200, seed=3)
            kinds = {40: "auto", 90: "save", 150: "named"}
            ids = {}
            for seq, kind in kinds.items():
                name = "draft" if kind == "named" else None
                ids[seq] = await store.add_version(
                    "a", seq, name=name, kind=kind, user="ada", time=5000.0 + seq
                )
            before = await store.size_bytes("a")
            snap = await store.compact("a", now=1e9)
            assert snap is not None and snap.upto_seq == 200
            assert await store.read("a") == []  # retention 0: every covered entry trimmed
            assert await store.size_bytes("a") < before
            assert text_of(await store.load("a")) == str(editor.text)
            for seq, version_id in ids.items():
                version = await store.get_version("a", version_id)
                assert (version.seq, version.kind, version.id) == (seq, kinds[seq], version_id)
                assert text_of(version.state) == texts[seq - 1]
            # Editing goes on after compaction; versions then build on the snapshot.
            rng = random.Random(4)
            for i in range(30):
                update = editor.edit(rng)
                await store.append("a", update, origin="client", user="bob", time=6000.0 + i)
            after = await store.add_version("a", 230, kind="auto", time=7000.0)
            assert text_of((await store.get_version("a", after)).state) == str(editor.text)
            assert text_of(await store.load("a")) == str(editor.text)
            # Rebuilding a seq that only the trimmed log knew is refused, not guessed.
            with pytest.raises(HistoryCompacted):
                await store.add_version("a", 120, time=7001.0)
            # ... but a seq a version point covers can still be versioned.
            again = await store.add_version("a", 90, kind="restore", user="bob", time=7002.0)
            assert text_of((await store.get_version("a", again)).state) == texts[89]
            with pytest.raises(HistoryCompacted):
                await store.read("a", after_seq=100)
            assert [e.seq for e in await store.read("a", after_seq=200)] == list(range(201, 231))
            # A second compaction still keeps every version's content.
            await store.compact("a", now=1e9)
            for seq, version_id in ids.items():
                assert text_of((await store.get_version("a", version_id)).state) == texts[seq - 1]

    run(scenario())


def test_retention_keeps_recent_fine_grained_history(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store(retention=DAY) as store:
            editor, _ = await session(store, "a", 100, t0=0.0)  # times 0..99
            now = DAY + 50  # entries with time >= 50 are inside the window
            trimmed = await store.write_snapshot("a", editor.doc.get_update(), 100, now=now)
            assert trimmed == 50
            assert [e.seq for e in await store.read("a")] == list(range(51, 101))
            assert text_of(await store.load("a")) == str(editor.text)
            # Only a prefix is trimmed: one young entry keeps everything after it.
            await store.append("b", b"\x00\x00", origin="client", user=None, time=0.0)
            await store.append("b", b"\x00\x00", origin="client", user=None, time=DAY)
            await store.append("b", b"\x00\x00", origin="client", user=None, time=0.0)
            assert await store.write_snapshot("b", b"\x00\x00", 3, now=DAY + 1) == 1
            assert [e.seq for e in await store.read("b")] == [2, 3]
            # Snapshots cover only logged updates and never go backwards.
            with pytest.raises(InvalidInput):
                await store.write_snapshot("a", editor.doc.get_update(), 101, now=now)
            with pytest.raises(InvalidInput):
                await store.write_snapshot("a", editor.doc.get_update(), 99, now=now)
            with pytest.raises(InvalidInput):
                await store.write_snapshot("a", b"", 100, now=now)
            snap = await store.snapshot("a")
            assert snap is not None and snap.upto_seq == 100
            assert text_of(snap.state) == str(editor.text)
            # Later, with nothing new, compacting again trims what has left the window.
            assert (await store.compact("a", now=DAY + 80)).upto_seq == 100  # type: ignore[union-attr]
            assert [e.seq for e in await store.read("a")] == list(range(81, 101))
            await store.compact("a", now=3 * DAY)
            assert await store.read("a") == []
            assert text_of(await store.load("a")) == str(editor.text)

    run(scenario())


def test_versions_list_newest_first_with_authors(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            await session(store, "a", 10, user="ada")
            first = await store.add_version("a", 10, kind="save", user="ada", time=1.0)
            editor = Editor(state=await store.load("a"))
            for i in range(5):
                update = editor.insert(0, "x")
                await store.append("a", update, origin="client", user="bob", time=20.0 + i)
            update = editor.insert(0, "y")
            await store.append("a", update, origin="disk", user=None, time=30.0)
            second = await store.add_version("a", 16, name="v2", kind="named", user="bob", time=2.0)
            third = await store.add_version("a", 16, kind="auto", time=3.0)
            versions = await store.list_versions("a")
            assert [v.id for v in versions] == [third, second, first]
            assert versions[1].name == "v2" and versions[1].user == "bob"
            assert versions[2].authors == ("ada",)
            assert versions[1].authors == ("bob",)
            assert versions[1].change_bytes > 0
            assert versions[0].authors == () and versions[0].change_bytes == 0
            assert [v.id for v in await store.list_versions("a", limit=1)] == [third]
            assert [v.id for v in await store.list_versions("a", before=third)] == [second, first]
            version = await store.get_version("a", second)
            assert text_of(version.state) == str(editor.text)
            assert version.state_size == len(version.state)

    run(scenario())


def test_audit_filters_and_stable_paging(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            rng = random.Random(5)
            events = []
            for i in range(137):
                event = AuditEvent(
                    action=rng.choice([a.value for a in AuditAction]),
                    time=float(rng.randrange(100)),  # not in recording order
                    doc_id=rng.choice(["a", "b", None]),
                    user=rng.choice(["ada", "bob", None]),
                    details={"i": i},
                )
                event_id = await store.audit(event)
                events.append((event_id, event))
            ids = [i for i, _ in events]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)
            stored, _ = await store.query_audit(limit=1000)
            assert [(e.id, e.action, e.time, e.doc_id, e.user, e.details) for e in stored] == [
                (i, e.action, e.time, e.doc_id, e.user, e.details) for i, e in reversed(events)
            ]

            noise: set[int] = set()

            async def all_pages(limit: int, **filters: object) -> list[int]:
                seen: list[int] = []
                added: set[int] = set()
                cursor = None
                while True:
                    page, cursor = await store.query_audit(**filters, limit=limit, cursor=cursor)
                    assert len(page) <= limit
                    seen += [e.id for e in page if e.id is not None]
                    if cursor is None:
                        break
                    # Events recorded while paging do not shift later pages.
                    added.add(await store.audit(AuditEvent("join", 50.0, "a", "ada")))
                assert seen == sorted(set(seen), reverse=True)  # no duplicates, newest first
                assert not added & set(seen)
                noise.update(added)
                return [i for i in seen if i not in noise]

            cases = [
                {},
                {"doc_id": "a"},
                {"user": "bob"},
                {"action": "save"},
                {"action": AuditAction.JOIN},
                {"since": 20.0, "until": 60.0},
                {"doc_id": "b", "user": "ada", "since": 10.0},
            ]
            for filters in cases:
                action = filters.get("action")
                action = getattr(action, "value", action)
                expected = [
                    i
                    for i, e in reversed(events)
                    if filters.get("doc_id", e.doc_id) == e.doc_id
                    and filters.get("user", e.user) == e.user
                    and (action is None or e.action == action)
                    and e.time >= filters.get("since", -1.0)  # type: ignore[operator]
                    and e.time < filters.get("until", 1e9)  # type: ignore[operator]
                ]
                for limit in (3, 7, 50):
                    got = await all_pages(limit, **filters)
                    assert got == expected, (filters, limit)
            page, cursor = await store.query_audit(doc_id="nowhere")
            assert (page, cursor) == ([], None)
            # only the exact spelling the store hands out, with an id SQLite can hold
            # (was: "a007", "a\u0663" and a 20-digit id taken, "a\u00b2" a ValueError)
            for bad in (
                "", "x", "a-1", "12", "a", "a007", "a+1", " a1", "a1 ", "a1\n", "a\u0663",
                "a\u00b2", "a" + "9" * 19, "a" + "1" * 40, "A1", 7,
            ):  # fmt: skip
                with pytest.raises(InvalidInput):
                    await store.query_audit(cursor=bad)
            for limit in (0, -1, 1001):
                with pytest.raises(InvalidInput):
                    await store.query_audit(limit=limit)
            with pytest.raises(InvalidInput):
                await store.audit(AuditEvent("", 1.0))
            with pytest.raises(InvalidInput):
                await store.audit(AuditEvent("join", 1.0, details={"x": object()}))

    run(scenario())


def test_deleted_documents_are_kept_until_purged(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            editor, _ = await session(store, "gone", 10)
            await session(store, "kept", 5)
            await session(store, "late", 5)
            version = await store.add_version("gone", 5, time=1.0)
            await store.audit(AuditEvent("delete", 100.0, "gone", "ada"))
            await store.mark_deleted("gone", 100.0)
            await store.mark_deleted("late", 300.0)
            assert await store.deleted_at("gone") == 100.0
            assert await store.deleted_at("kept") is None
            # Deleted: no new updates, but the history is still there to restore.
            with pytest.raises(DocumentDeleted):
                await store.append("gone", b"\x00\x00", origin="client", user="ada", time=2.0)
            assert text_of(await store.load("gone")) == str(editor.text)
            assert (await store.get_version("gone", version)).seq == 5
            await store.undelete("gone")
            await store.append("gone", editor.insert(0, "!"), origin="restore", user="ada", time=3)
            await store.mark_deleted("gone", 150.0)
            assert await store.purge_deleted(older_than=120.0) == []
            assert await store.purge_deleted(older_than=200.0) == ["gone"]
            for call in (
                store.read("gone"),
                store.snapshot("gone"),
                store.list_versions("gone"),
                store.get_version("gone", version),
                store.deleted_at("gone"),
            ):
                with pytest.raises(UnknownDocument):
                    await call
            assert await store.load("gone") is None
            assert await store.last_seq("gone") == 0
            assert await store.deleted_at("late") == 300.0
            assert len(await store.read("kept")) == 5
            # The audit trail outlives the document.
            page, _ = await store.query_audit(doc_id="gone")
            assert [e.action for e in page] == ["delete"]
            # A purged id starts afresh.
            assert await store.append("gone", b"\x00\x00", origin="load", user=None, time=9) == 1

    run(scenario())


def test_bad_input_gets_clear_errors(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            await session(store, "a", 10)
            await session(store, "b", 10)
            va = await store.add_version("a", 3, time=1.0)
            vb = await store.add_version("b", 3, time=1.0)
            for call in (
                store.read("nope"),
                store.snapshot("nope"),
                store.history("nope"),
                store.write_snapshot("nope", b"\x00\x00", 1),
                store.add_version("nope", 1, time=1.0),
                store.list_versions("nope"),
                store.get_version("nope", va),
                store.mark_deleted("nope", 1.0),
                store.undelete("nope"),
                store.size_bytes("nope"),
            ):
                with pytest.raises(UnknownDocument):
                    await call
            with pytest.raises(UnknownVersion) as unknown:
                await store.get_version("a", 10_000)
            assert not isinstance(unknown.value, ForeignVersion)
            with pytest.raises(ForeignVersion, match="not a version of document 'a'"):
                await store.get_version("a", vb)
            assert (await store.get_version("b", vb)).doc_id == "b"
            for call in (
                store.add_version("a", 0, time=1.0),
                store.add_version("a", 11, time=1.0),
                store.add_version("a", -1, time=1.0),
                store.add_version("a", 2, kind="weekly", time=1.0),  # type: ignore[arg-type]
                store.add_version("a", 2, kind="named", time=1.0),  # a named version needs a name
                store.add_version("a", 2, name="  ", kind="named", time=1.0),
                store.add_version("a", 2, time=float("inf")),
                store.get_version("a", "1"),  # type: ignore[arg-type]
                store.read("a", after_seq=-1),
                store.list_versions("a", limit=0),
                store.append("", b"\x00", origin="client", user=None, time=1.0),
                store.append("a", b"\x00", origin="nowhere", user=None, time=1.0),
            ):
                with pytest.raises(InvalidInput):
                    await call
            assert await store.last_seq("a") == 10
            assert len(await store.list_versions("a")) == 1
        with pytest.raises(InvalidInput):
            make_store(retention=-1.0)

    run(scenario())


def test_size_and_closed_store(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        store = make_store()
        await session(store, "a", 10)
        await session(store, "b", 10)
        size_a, size_b = await store.size_bytes("a"), await store.size_bytes("b")
        assert size_a > 0 and size_b > 0
        assert await store.size_bytes() == size_a + size_b
        await store.close()
        await store.close()  # idempotent
        with pytest.raises(StoreClosed):
            await store.read("a")
        with pytest.raises(StoreClosed):
            await store.append("a", b"\x00", origin="client", user=None, time=1.0)

    run(scenario())


def test_many_versions_are_exact_and_stored_as_deltas(make_store: StoreFactory) -> None:
    """Past the delta chain length every version still reads back exactly, also out of seq
    order and after compaction, and versions of a large document with small edits between them
    cost far less than one full state each."""
    from jupyter_collab.persistence.history import VERSION_CHAIN

    async def scenario() -> None:
        async with make_store() as store:
            editor = Editor()
            rng = random.Random(11)
            big = editor.insert(0, "".join(rng.choice("abcdefgh \n") for _ in range(20_000)))
            await store.append("a", big, origin="load", user=None, time=1.0)
            expected: dict[int, str] = {}
            text_at = {1: str(editor.text)}
            n = VERSION_CHAIN + 8
            for i in range(n):
                for _ in range(3):
                    seq = await store.append("a", editor.edit(rng), origin="client", user="ada",
                                             time=2.0 + i)  # fmt: skip
                    text_at[seq] = str(editor.text)
                expected[await store.add_version("a", seq, time=2.0 + i)] = str(editor.text)
            # a version made later at an older point (between two others)
            old = await store.add_version("a", 10, time=99.0)
            size_before = await store.size_bytes("a")
            full = len((await store.get_version("a", max(expected))).state)
            await store.compact("a", now=1e12)
            for version_id, text in expected.items():
                assert text_of((await store.get_version("a", version_id)).state) == text
            assert text_of((await store.get_version("a", old)).state) == text_at[10]
            # n versions of a ~20 KB document: well under n compressed copies of it
            assert size_before < full * n / 4

    run(scenario())


def test_compaction_encodes_snapshots_compactly_but_keeps_pending_updates(
    make_store: StoreFactory,
) -> None:
    """A typing session's snapshot is a document's own (squashed) encoding, far smaller than
    the merged log; an update whose dependency is missing is kept, not dropped."""

    async def scenario() -> None:
        async with make_store(retention=0) as store:
            editor = Editor()
            for i in range(3000):
                update = editor.insert(len(editor.text), "abcdefgh \n"[i % 10])
                await store.append("a", update, origin="client", user="ada", time=1.0)
            logged = await store.size_bytes("a")
            await store.compact("a", now=1e12)
            assert await store.size_bytes("a") < logged / 4
            assert text_of(await store.load("a")) == str(editor.text)

            other = Editor()
            updates = [other.insert(i, "x") for i in range(10)]
            for update in updates[:4] + updates[5:]:  # the 5th never arrives
                await store.append("b", update, origin="client", user="bob", time=1.0)
            await store.compact("b", now=1e12)
            await store.append("b", updates[4], origin="client", user="bob", time=2.0)
            assert text_of(await store.load("b")) == "x" * 10  # the held-back ones were kept

    run(scenario())


def test_credits_provenance_details_and_notes_are_kept(make_store: StoreFactory) -> None:
    """What the history layer keeps beside the bytes (a restore's credits and provenance, a
    version's details, a snapshot's note) comes back as it was given, and credits decide a
    version's authors."""

    async def scenario() -> None:
        async with make_store() as store:
            editor, _ = await session(store, "a", 3)
            restore = NewUpdate(
                editor.edit(random.Random(7)), "restore", "ada", 2000.0, ("bob", "cy"), b"\x01p"
            )
            await store.append_many("a", [restore])
            entries = await store.read("a")
            assert (entries[-1].credits, entries[-1].provenance) == (("bob", "cy"), b"\x01p")
            assert entries[-1].authors == ("bob", "cy") and entries[0].authors == ("ada",)
            assert (entries[0].credits, entries[0].provenance) == (None, None)
            first = await store.add_version("a", 3, kind="opened", time=1.0)
            second = await store.add_version(
                "a", 4, kind="restore", user="ada", time=2.0, details={"restoredFrom": {"id": 1}}
            )
            infos = {v.id: v for v in await store.list_versions("a")}
            assert infos[second].authors == ("bob", "cy")  # not the restorer
            assert infos[second].details == {"restoredFrom": {"id": 1}}
            assert infos[first].details == {} and infos[first].kind == "opened"
            assert (await store.get_version("a", second)).details == {"restoredFrom": {"id": 1}}
            with pytest.raises(InvalidInput):
                await store.add_version("a", 4, time=3.0, details={"x": object()})
            with pytest.raises(InvalidInput):
                await store.append_many("a", [NewUpdate(b"\x01", "client", "a", 1.0, ("a", 1))])

            seen = []

            def annotator(doc_id, snapshot, folded):
                seen.append((doc_id, snapshot, [e.seq for e in folded]))
                return b"note %d" % folded[-1].seq

            store.annotator = annotator
            snap = await store.compact("a", now=1e9)
            assert snap is not None and snap.note == b"note 4"
            assert seen == [("a", None, [1, 2, 3, 4])]
            again = await store.compact("a", now=1e9)  # nothing new: the note stays
            assert again is not None and again.note == b"note 4"

            def broken(doc_id, snapshot, folded):
                raise RuntimeError("a note is a nicety")

            store.annotator = broken
            await store.append("a", editor.edit(random.Random(8)), origin="client", user="ada",
                               time=3000.0)  # fmt: skip
            snap = await store.compact("a", now=1e9)  # compacts all the same, without a note
            assert snap is not None and snap.upto_seq == 5 and snap.note is None

    run(scenario())


def test_refused_deletions_are_kept_per_user_until_purged(make_store: StoreFactory) -> None:
    """Deletions a room refused to a user outlive the room (collaboration/integrity.py)."""

    async def scenario() -> None:
        async with make_store() as store:
            await session(store, "doc", 3)
            assert await store.refused_deletions("doc") == {}
            await store.remember_refused("doc", "bob", '{"7": [[0, 6]]}')
            await store.remember_refused("doc", "eve", '{"9": [[1, 2]]}')
            await store.remember_refused("doc", "bob", '{"7": [[0, 8]]}')  # replaced
            assert await store.refused_deletions("doc") == {
                "bob": '{"7": [[0, 8]]}', "eve": '{"9": [[1, 2]]}'
            }
            assert await store.refused_deletions("other") == {}
            with pytest.raises(InvalidInput):
                await store.remember_refused("doc", "", "{}")
            with pytest.raises(InvalidInput):
                await store.remember_refused("doc", "bob", None)  # type: ignore[arg-type]
            await store.mark_deleted("doc", 100.0)
            assert await store.purge_deleted(older_than=200.0) == ["doc"]
            assert await store.refused_deletions("doc") == {}

    run(scenario())
