"""Writing a document's file in a group of servers, when the writer changes (issue 9).

* **Fencing** (``FileSync._fenced_write``): the writer writes a temporary file, proves its lease
  and fencing token on the bus, renames, and proves them again. A writer paused (SIGSTOP) at
  either point while another server takes over does not win: the other server's content is
  the file's, nothing doubled or lost. The pause lands exactly there through the test hook
  ``CollabApp.test_write_pause`` (off by default).
* **Take-over** (``FileSync._stale_base`` / ``_adopt_writer_base``): a new writer's first poll
  may come before the ``became_writer`` task (forced here by ``CollabApp.test_takeover_delay``);
  it must adopt the merge base of the previous writer's last save, else it merges that save from
  its own older base and the file gets the previous writer's lines twice.

Real server processes on one folder and one SQLite database, a real Redis.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from .conftest import converged, eventually, text_of
from .test_writer import lease_held, saves_in, writer_of

pytestmark = pytest.mark.timeout(900)


def once_each(text: str, lines: list[str]) -> bool:
    return all(text.count(line) == 1 for line in lines)


@pytest.mark.parametrize("point", ["fence", "rename"])
async def test_a_writer_paused_inside_a_save_does_not_win(group: Any, point: str) -> None:
    """SIGSTOP the writer inside a save (``fence``: its content in the temporary file, the
    lease not checked yet; ``rename``: checked, not renamed yet); another server takes over
    and saves; SIGCONT: the paused save does not stay on disk (not written at all, or put back
    at once), the new writer's content is the file, every line once."""
    path = group.root / "f.txt"
    path.write_text("start\n")
    (a,) = group(1, test_write_pause=4.0, test_write_pause_at=point)
    (b,) = group(1)
    ca = await a.connect("f.txt")
    await eventually(lambda: lease_held(group), timeout=180, what="a writer")
    assert writer_of(group, [a, b]) == 0  # (b has not opened the document yet)
    cb = await b.connect("f.txt")
    ca.jdoc._ysource.insert(len(text_of(ca)), "before\n")
    await converged([ca, cb], lambda t: "before\n" in t)
    await eventually(lambda: "before" in path.read_text(), timeout=180, what="the first save")
    await eventually(lambda: saves_in(a.log(), "f.txt") >= 1, timeout=180, what="its log line")
    saved_before = saves_in(a.log(), "f.txt")
    pauses = a.log().count("Test hook: pausing")

    ca.jdoc._ysource.insert(len(text_of(ca)), "from a\n")
    await eventually(
        lambda: a.log().count("Test hook: pausing") > pauses, timeout=180, what="the pause"
    )
    assert a.process is not None
    os.kill(a.process.pid, signal.SIGSTOP)
    try:
        cb.jdoc._ysource.insert(len(text_of(cb)), "typed on b\n")
        await eventually(lambda: "now writes f.txt" in b.log(), timeout=180, what="the take-over")
        await eventually(
            lambda: "typed on b" in path.read_text(), timeout=180, what="the new writer's save"
        )
    finally:
        os.kill(a.process.pid, signal.SIGCONT)
    if point == "rename":
        await eventually(
            lambda: "after another server took its writing over" in a.log(),
            timeout=180, what="the stale write found and undone",
        )  # fmt: skip
        assert "the file it replaced is back" in a.log()
    else:
        await eventually(
            lambda: "no longer holds its lease" in a.log(), timeout=180, what="the fence"
        )
    wanted = ["start\n", "before\n", "from a\n", "typed on b\n"]
    await converged([ca, cb], lambda t: once_each(t, wanted))
    final = text_of(cb)
    await eventually(lambda: path.read_text() == final, timeout=180, what="the file")
    assert saves_in(a.log(), "f.txt") == saved_before  # the paused save never counted
    # And on: the new writer keeps saving; the resumed one writes nothing.
    ca.jdoc._ysource.insert(len(text_of(ca)), "after resuming\n")
    await converged([ca, cb], lambda t: "after resuming\n" in t)
    final = text_of(cb)
    await eventually(lambda: path.read_text() == final, timeout=180, what="the last save")
    assert once_each(path.read_text(), wanted + ["after resuming\n"])
    assert saves_in(a.log(), "f.txt") == saved_before
    # No temporary file left (one exists only while a save is under way).
    await eventually(
        lambda: not [p for p in os.listdir(group.root) if "collab-" in p], timeout=60,
        what="no temporary files",
    )  # fmt: skip
    ca.close()
    cb.close()


async def test_a_new_writer_adopts_the_last_saves_base_before_its_first_poll(group: Any) -> None:
    """The writer saves an edit, then dies (SIGKILL) before saving the next one. The server
    that takes over delays its ``became_writer`` task (test hook), so its disk poll runs first:
    the poll must adopt the merge base of the last save (the file as the dead writer left it),
    not merge that save again from the base this server loaded with."""
    path = group.root / "t.txt"
    path.write_text("start\n")
    (a,) = group(1)
    (b,) = group(1, test_takeover_delay=15.0)
    ca = await a.connect("t.txt")
    await eventually(lambda: lease_held(group), timeout=180, what="a writer")
    assert writer_of(group, [a, b]) == 0
    cb = await b.connect("t.txt")
    ca.jdoc._ysource.insert(len(text_of(ca)), "saved by a\n")
    await converged([ca, cb], lambda t: "saved by a\n" in t)
    await eventually(lambda: "saved by a" in path.read_text(), timeout=180, what="a's save")
    a.kill()
    ca.close()
    cb.jdoc._ysource.insert(len(text_of(cb)), "typed after\n")
    await eventually(lambda: "Test hook: taking t.txt over" in b.log(), timeout=180,
                     what="the take-over")  # fmt: skip
    await eventually(
        lambda: "typed after" in path.read_text(), timeout=180, what="the new writer's save"
    )
    # The save came from the poll, before the delayed take-over task ran.
    assert "now writes t.txt" in b.log()
    wanted = ["start\n", "saved by a\n", "typed after\n"]
    await eventually(lambda: once_each(text_of(cb), wanted), timeout=60, what="b's content")
    assert text_of(cb) == "start\nsaved by a\ntyped after\n"
    await eventually(lambda: path.read_text() == text_of(cb), timeout=180, what="the file")
    cb.close()
