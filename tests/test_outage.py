"""The outage log: writes the database refused, replayed exactly once by the next start."""

from __future__ import annotations

import os

from jupyter_collab.documents.fileids import SQLiteFileIds
from jupyter_collab.persistence import NewUpdate, SQLiteStore
from jupyter_collab.persistence.outage import OutageLog, database_key, replay


def update(n: int) -> NewUpdate:
    return NewUpdate(bytes([n]) * 8, "client", "ada", float(n))


async def test_replay_writes_what_the_database_lacks_once_and_in_order(tmp_path):
    db, spill = tmp_path / "collab.db", tmp_path / "outage"
    store = await SQLiteStore.open(db)
    ids = await SQLiteFileIds.open(db, root="/srv")
    await store.append_many("doc", [update(1), update(2)])
    outage = OutageLog(spill, db)
    # An outage began after seq 1: update 2 made it into the log after all (the catch-up
    # wrote it before the process died), 3 and 4 did not.
    for n in (2, 3, 4):
        assert await outage.update("doc", update(n), after=1, reset=False)
    assert await outage.base("f1", b"state", "digest", pending=True, fresh=False, written=5)
    assert await outage.file_id("/srv", "new.txt", "f1")
    live = OutageLog(spill, db)  # another server, still running: its log is not touched
    live.path = spill / f"{database_key(db)}-{os.getpid() + 1}.outage"
    assert await live.update("doc", update(9), after=4, reset=False)
    await outage.close()  # (the process "dies" with these pending: the file stays)
    assert outage.path.exists()

    done = await replay(spill, db, store, ids)
    assert (done.updates, done.skipped, done.bases, done.ids) == (2, 1, 1, 1)
    assert [e.update[0] for e in await store.read("doc")] == [1, 2, 3, 4]
    assert await ids.path_of("f1") == "new.txt"
    assert await ids.base("f1", "digest") == b"state"
    assert not outage.path.exists() and live.path.exists()
    again = await replay(spill, db, store, ids)  # nothing left to replay
    assert again.files == [] and len(await store.read("doc")) == 4
    await live.close()
    await store.close()
    await ids.close()


async def test_a_log_with_nothing_pending_is_removed_and_an_empty_outage_truncated(tmp_path):
    db, spill = tmp_path / "collab.db", tmp_path / "outage"
    outage = OutageLog(spill, db)
    assert await outage.update("doc", update(1), after=0, reset=False)
    outage.settled("doc", "doc")  # the database took it
    await outage.close()
    assert not outage.path.exists()


async def test_a_replayed_restore_keeps_its_credits_and_provenance(tmp_path):
    """Issue 8 leftover: a restore logged while the store was down (kept in the outage log)
    and replayed by the next start kept its bytes but lost who wrote what it brought back, so
    the history credited the restorer with everyone's text."""
    db, spill = tmp_path / "collab.db", tmp_path / "outage"
    store = await SQLiteStore.open(db)
    ids = await SQLiteFileIds.open(db, root="/srv")
    await store.append_many("doc", [update(1)])
    outage = OutageLog(spill, db)
    restore = NewUpdate(
        b"\x05" * 8, "restore", "carol", 7.0, ("ada", "bob"), b"who-wrote-which-line"
    )
    assert await outage.update("doc", restore, after=1, reset=False)
    assert await outage.update("doc", update(3), after=1, reset=False)
    await outage.close()  # (the process dies with them pending)

    done = await replay(spill, db, store, ids)
    assert done.updates == 2
    replayed, plain = (await store.read("doc"))[1:]
    assert (replayed.user, replayed.credits, replayed.provenance) == (
        "carol", ("ada", "bob"), b"who-wrote-which-line"
    )
    assert replayed.authors == ("ada", "bob")
    assert (plain.credits, plain.provenance) == (None, None)
    await store.close()
    await ids.close()
