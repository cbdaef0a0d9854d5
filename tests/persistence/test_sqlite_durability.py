"""Every acknowledged append survives SIGKILL of the process that made it.

A real subprocess (``durability_worker.py``) resumes the document from the store, edits it and
prints each seq the store acknowledged; we kill it with SIGKILL at a random point (after a
random number of acks, or a random time), restart it on the same database, and repeat. In the
end every acknowledged update is in the log byte for byte, seqs have no gaps, and the document
loads. Everything is bounded: a worker stops by itself after COUNT edits, reads time out.
"""

from __future__ import annotations

import hashlib
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_collab.persistence import SQLiteStore

from .conftest import run
from .edits import text_of

WORKER = Path(__file__).with_name("durability_worker.py")
REPO = Path(__file__).resolve().parents[2]
ROUNDS = 8
COUNT = 3000  # edits per worker run if it is never killed


def run_worker(db: Path, seed: int, kill_after_acks: int | None, kill_after_s: float | None,
               ) -> tuple[int, dict[int, str], bool]:  # fmt: skip
    """Run one worker until it is killed or done; returns (ready seq, acks, killed)."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(db), str(seed), str(COUNT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # this checkout's package, whatever an editable install elsewhere points to
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    buffer, lines, ready_at = b"", [], None
    deadline = time.monotonic() + 60
    killed = False
    try:
        while time.monotonic() < deadline:
            selector.select(timeout=0.005)
            chunk = proc.stdout.read() or b""
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines += [line.decode() for line in complete]
            if ready_at is None and lines and lines[0].startswith("ready"):
                ready_at = time.monotonic()
            acks = sum(line.startswith("ack") for line in lines)
            if (kill_after_acks is not None and acks >= kill_after_acks) or (
                kill_after_s is not None
                and ready_at
                and time.monotonic() - ready_at >= kill_after_s
            ):
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            if not chunk and proc.poll() is not None:
                break
        else:
            pytest.fail("the worker did not finish in time")
    finally:
        if not killed and proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        selector.close()
    # Lines written before the kill are acknowledgements too; a cut-off last line is not.
    rest = proc.stdout.read() or b""
    lines += [line.decode() for line in (buffer + rest).split(b"\n")[:-1]]
    stderr = (proc.stderr.read() if proc.stderr else b"").decode()
    assert lines and lines[0].startswith("ready"), stderr
    if not killed:
        assert lines[-1] == "done", stderr
    acks = {}
    for line in lines[1:]:
        if line.startswith("ack"):
            _, seq, sha = line.split()
            acks[int(seq)] = sha
    return int(lines[0].split()[1]), acks, killed


def test_acknowledged_appends_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "collab.db"
    rng = random.Random(20261124)
    acked: dict[int, str] = {}
    kills = 0
    for round_ in range(ROUNDS):
        # alternately: after a random number of acks, or a random time after loading
        plan = (None, rng.uniform(0.0, 0.4)) if round_ % 2 else (rng.randrange(1, 600), None)
        ready_seq, acks, killed = run_worker(db, round_ + 1, *plan)
        kills += killed
        # The restarted worker resumes after every update acknowledged before the kill.
        assert ready_seq >= max(acked, default=0)
        assert not set(acks) & set(acked)
        acked.update(acks)
    assert kills >= ROUNDS - 1 and len(acked) > 100

    async def check() -> None:
        async with SQLiteStore(db) as store:
            entries = await store.read("doc-1")
            assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
            stored = {e.seq: hashlib.sha256(e.update).hexdigest()[:16] for e in entries}
            lost = {seq for seq, sha in acked.items() if stored.get(seq) != sha}
            assert not lost, f"{len(lost)} acknowledged updates lost"
            text = text_of(await store.load("doc-1"))
            assert text  # the document loads (and has content)

    run(check())
