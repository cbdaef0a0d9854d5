"""The load tool in the suite: 50 protocol clients and several writers in one document.

This runs the very code of ``benchmarks/load.py`` (``fanout.run_fanout``: spawned client
processes, raw y-websocket frames, writers editing concurrently at random places) against
the pytest-jupyter server, with every client holding a real pycrdt document. It checks
correctness only: every edit reaches every client, all 50 documents end identical and hold
every edit exactly once, and the file on disk comes to hold that same text. The timings the
tool measures are ignored here (see benchmarks/RESULTS.md for those).
"""

from __future__ import annotations

import asyncio
import resource
import sys
from pathlib import Path
from typing import Any

import pytest

from .client import eventually

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
CLIENTS = 50
WRITERS = 5
RATE = 20.0  # edits per second, all writers together
DURATION = 4.0


@pytest.fixture
def fanout() -> Any:
    """benchmarks/fanout.py; its client processes import the benchmark modules by name, so
    the folder goes on sys.path (inherited by the spawned processes) for this test."""
    sys.path.insert(0, str(BENCH_DIR))
    try:
        import fanout

        assert Path(fanout.__file__).parent == BENCH_DIR
        yield fanout
    finally:
        sys.path.remove(str(BENCH_DIR))


class ServerInThisProcess:
    """What ``run_fanout`` needs of a server: its root, how to reach it, and its CPU and
    memory (the pytest-jupyter server runs in this process, so they are this process's)."""

    def __init__(self, root_dir: Path, port: int, base_url: str) -> None:
        self.root_dir = root_dir
        self._info = {
            "base_url": f"http://127.0.0.1:{port}{base_url.rstrip('/')}",
            "ws_base": f"ws://127.0.0.1:{port}{base_url.rstrip('/')}",
            "token": "alice-token",  # tests/auth.py: alice, an owner
            "api": "collab",
        }

    def info(self) -> dict[str, str]:
        return dict(self._info)

    def cpu_seconds(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def rss_bytes(self) -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0


async def test_fifty_clients_several_writers_converge(
    http_server: Any, jp_root_dir: Path, jp_http_port: int, jp_base_url: str, fanout: Any
) -> None:
    # http_server: the pytest-jupyter server, listening on jp_http_port for clients that
    # come from other processes
    server = ServerInThisProcess(jp_root_dir, jp_http_port, jp_base_url)
    # run_fanout blocks (it waits on its client processes): run it beside the server's loop.
    result = await asyncio.to_thread(
        fanout.run_fanout, server, "test", CLIENTS, RATE, DURATION,
        writers=WRITERS, procs=2, probes_per_proc=CLIENTS,  # every receiver holds a document
        drain_timeout=120.0, warmup_edits=WRITERS, save_timeout=60.0, log=lambda _msg: None,
    )  # fmt: skip
    edits = int(RATE * DURATION)

    assert result["connected"] == CLIENTS, result["connect_errors"]
    assert result["closes"] == {}, "the server closed clients"
    assert result["edits"] == edits
    assert result["deliveries_expected"] == edits * (CLIENTS - 1)
    assert result["deliveries_missing"] == 0
    assert result["duplicates"] == 0

    # All 50 clients (5 writers, 45 receivers) hold a real document, and they are identical.
    assert result["doc_clients_checked"] == CLIENTS
    assert result["content_converged"] is True
    text = result["text"]
    for writer in range(WRITERS):
        for seq in range(edits // WRITERS):
            assert text.count(f"\u27e8w{writer}:{seq}:") == 1, (writer, seq)
    assert text.count("\u27e8w") == edits
    assert text.count("warm-up line") == WRITERS
    # Every edit inserted one whole line at a line start: without them, the file as it was.
    inserted = ("\u27e8w", "warm-up line")
    kept = [line for line in text.splitlines(keepends=True) if not line.startswith(inserted)]
    assert "".join(kept) == fanout.fanout_initial_text()

    # The server saved that content: the file on disk holds it.
    assert result["file_matches_content"] is True
    path = jp_root_dir / "fanout-test.txt"
    await eventually(lambda: path.read_text(encoding="utf-8") == text, what="file saved")
