"""A real server process killed with SIGKILL and restarted: nothing lost, nothing duplicated."""

from __future__ import annotations

import asyncio

from .client import eventually


async def test_sigkill_loses_nothing_that_reached_another_client(server, tmp_path):
    path = tmp_path / "root" / "log.txt"
    path.write_text("start\n")
    first = server(save_delay=3600, save_max_wait=3600)
    writer = await first.connect("log.txt")
    reader = await first.connect("log.txt")
    for i in range(100):
        writer.jdoc._ysource.insert(len(writer.content()), f"edit {i}\n")
    expected = "start\n" + "".join(f"edit {i}\n" for i in range(100))
    await eventually(lambda: reader.content() == expected, what="edits reach the reader")
    first.kill()  # nothing was saved to disk: the log is all there is
    assert path.read_text() == "start\n"
    second = server(save_delay=0.2, save_max_wait=1)
    again = await second.connect("log.txt")
    assert again.content() == expected
    await eventually(lambda: path.read_text() == expected, what="logged edits saved after restart")


async def test_client_with_offline_edits_merges_without_duplicates(server, tmp_path):
    path = tmp_path / "root" / "offline.txt"
    path.write_text("shared text\n")
    first = server(save_delay=0.2, save_max_wait=1)
    alice = await first.connect("offline.txt")
    alice.jdoc._ysource.insert(0, "online edit, ")
    await eventually(lambda: path.read_text() == "online edit, shared text\n", what="save")
    first.kill()
    alice.close()
    # edits made while the server is down, and a change made on disk meanwhile
    alice.jdoc._ysource.insert(len(alice.content()), "offline edit\n")
    path.write_text("online edit, shared text\nfrom disk\n")
    second = server(save_delay=0.2, save_max_wait=1)
    back = await second.connect("offline.txt", ydoc=alice.ydoc)
    other = await second.connect("offline.txt")
    # both additions were made at the end, concurrently: the CRDT picks their order
    expected = {
        "online edit, shared text\nfrom disk\noffline edit\n",
        "online edit, shared text\noffline edit\nfrom disk\n",
    }
    try:
        await eventually(
            lambda: other.content() == back.content() and other.content() in expected,
            what="merge",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {other.content()!r} / {back.content()!r}") from None
    await eventually(lambda: path.read_text() == other.content(), what="saved, no duplicates")


async def test_sigkill_at_random_points_during_edits(server, tmp_path):
    """Kill the server while a writer is still typing, at a few random moments: whatever the
    reader had received is in the log, in the room after the restart and then on disk."""
    import random

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    path = tmp_path / "root" / "typing.txt"
    path.write_text("")
    received = ""
    written = 0
    for _ in range(3):
        srv = server(save_delay=3600, save_max_wait=3600)
        writer = await srv.connect("typing.txt")
        reader = await srv.connect("typing.txt")
        assert writer.content() == received or writer.content().startswith(received)
        start = written = len(writer.content().splitlines())
        kill_after = rng.uniform(0.05, 0.6)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + kill_after
        # typing until the random moment, and (on a loaded machine that may take longer) until
        # the reader got a line of this round: the kill then always has something to lose
        while loop.time() < deadline or len(reader.content().splitlines()) <= start:
            writer.jdoc._ysource.insert(len(writer.content()), f"line {written}\n")
            written += 1
            await asyncio.sleep(0.005)
            assert loop.time() < deadline + 120, f"seed {seed}: nothing reached the reader"
        srv.kill()
        received = reader.content()
        writer.close()
        reader.close()
        lines = received.splitlines()
        assert lines == [f"line {i}" for i in range(len(lines))], f"seed {seed}"
        assert len(lines) > start, f"seed {seed}: nothing reached the reader"
    last = server(save_delay=0.1, save_max_wait=0.5)
    after = await last.connect("typing.txt")
    assert after.content().startswith(received), f"seed {seed}: lost what the reader had"
    lines = after.content().splitlines()
    assert lines == [f"line {i}" for i in range(len(lines))], f"seed {seed}: duplicated or torn"
    await eventually(lambda: path.read_text() == after.content(), what="saved after restart")


async def test_sigkill_just_after_large_files_are_first_opened(server, tmp_path):
    """A fresh open's bookkeeping (its merge base compressed on a worker thread, its log held
    until the first sync reply is out and the base is durable) opens no window where a kill
    loses what a reader saw, or loads the file afresh over logged edits (the edits would be
    gone, or the file twice in the document). Each file is killed once, while a writer types
    right after the open; the last server must hold each file once, with the reader's lines."""
    import random

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    big = "".join(f"file line {i} of a large file opened the first time\n" for i in range(20000))
    received = {}
    for n in range(3):
        name = f"big-{n}.txt"
        (tmp_path / "root" / name).write_text(big)
        srv = server(save_delay=3600, save_max_wait=3600)
        writer = await srv.connect(name)
        reader = await srv.connect(name)
        kill_after = rng.uniform(0.0, 0.3)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + kill_after
        written = 0
        while loop.time() < deadline or reader.content() == big:
            writer.jdoc._ysource.insert(len(writer.content()), f"typed {written}\n")
            written += 1
            await asyncio.sleep(0.005)
            assert loop.time() < deadline + 120, f"seed {seed}: nothing reached the reader"
        srv.kill()
        received[name] = reader.content()
        writer.close()
        reader.close()
    last = server(save_delay=0.1, save_max_wait=0.5)
    for name, seen in received.items():
        typed = seen[len(big):].splitlines()
        assert seen.startswith(big) and typed == [f"typed {i}" for i in range(len(typed))], seed
        after = await last.connect(name)
        content = after.content()
        assert content.startswith(seen), f"seed {seed}: {name} lost what the reader had"
        more = content[len(big):].splitlines()
        assert more == [f"typed {i}" for i in range(len(more))], f"seed {seed}: {name} doubled"
        await eventually(lambda n=name, c=content: (tmp_path / "root" / n).read_text() == c,
                         what=f"{name} saved after the restart")


async def test_disk_merge_logged_but_its_merge_base_lost(server, tmp_path):
    """A crash right after a change on disk was merged and logged, before its new merge base
    was written: after the restart the change is there once, not twice."""
    import sqlite3

    path = tmp_path / "root" / "window.txt"
    path.write_text("one\n")
    db = tmp_path / "collab.db"
    first = server(save_delay=3600, save_max_wait=3600, file_poll_interval=0.1)
    client = await first.connect("window.txt")
    with sqlite3.connect(db) as conn:
        old_bases = conn.execute(
            "SELECT id, pending, state, digest, written FROM file_merge_bases"
        ).fetchall()
    path.write_text("one\ntwo from disk\n")
    await eventually(lambda: client.content() == "one\ntwo from disk\n", what="disk merged")
    first.kill()
    with sqlite3.connect(db) as conn:  # as if the new base had never been written
        conn.execute("DELETE FROM file_merge_bases")
        conn.executemany("INSERT INTO file_merge_bases VALUES (?, ?, ?, ?, ?)", old_bases)
    second = server(save_delay=0.1, save_max_wait=0.5)
    again = await second.connect("window.txt")
    assert again.content() == "one\ntwo from disk\n"


async def test_a_log_without_a_merge_base_is_started_over_not_loaded_twice(server, tmp_path):
    """A file whose log exists but whose merge base was lost (a base write that failed) is
    loaded afresh; that load starts the history over, so the next resume holds the content
    once (it used to resume the old log and the fresh load on top of each other)."""
    import sqlite3

    path = tmp_path / "root" / "twice.txt"
    path.write_text("")
    db = tmp_path / "collab.db"
    first = server(save_delay=0.1, save_max_wait=0.5)
    client = await first.connect("twice.txt")
    client.jdoc._ysource.insert(0, "one line\n")
    await eventually(lambda: path.read_text() == "one line\n", what="saved")
    assert first.terminate() == 0
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM file_merge_bases")
    second = server(save_delay=0.1, save_max_wait=0.5)
    assert (await second.connect("twice.txt")).content() == "one line\n"  # loaded afresh
    assert second.terminate() == 0
    third = server(save_delay=0.1, save_max_wait=0.5)
    again = await third.connect("twice.txt")
    assert again.content() == "one line\n"  # resumed: once, not twice
    assert third.terminate() == 0  # (it saves what differs from the file)
    assert path.read_text() == "one line\n"
