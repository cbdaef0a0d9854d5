"""What verifying a client's update costs (collaboration/integrity.py), in process.

A room holding a 1,000-cell notebook; a client types into a cell, edits metadata, adds a cell;
each of its updates goes through ``RoomIntegrity.admit`` (read the update strictly, read the
room's state vector, simulate the integration) and then ``Doc.apply_update``, as the room does,
and the tripwire after it. Also a client's sync step 2 carrying the whole notebook (the largest
update a room normally sees). CPU time of this process (``time.process_time``), so that other
people's processes on a shared machine do not count; median of the repeats.

    python benchmarks/integrity.py [--cells 1000] [--updates 2000]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import nbformat
from jupyter_ydoc import YNotebook
from pycrdt import Doc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jupyter_collab.collaboration.integrity import RoomIntegrity  # noqa: E402


def notebook(cells: int) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"import numpy as np\nx_{i} = np.arange({i})\nprint(x_{i}.sum())",
            outputs=[nbformat.v4.new_output("stream", text=f"{i * (i - 1) // 2}\n")],
            metadata={"tags": ["t"], "collapsed": False},
            execution_count=i,
        )
        for i in range(cells)
    ]
    return nb


def client_updates(room: Doc, count: int) -> list[bytes]:
    """Updates of a client editing a copy of the room: mostly keystrokes."""
    client = Doc()
    client.apply_update(room.get_update())
    jdoc = YNotebook(client)
    updates: list[bytes] = []
    client.observe(lambda event: updates.append(event.update))
    cells = jdoc.ycells
    for i in range(count):
        cell = cells[(i * 7) % len(cells)]
        if i % 50 == 49:
            cell["metadata"]["k"] = i
        elif i % 200 == 199:
            cells.append(jdoc.create_ycell({"cell_type": "markdown", "source": "new"}))
        else:
            text = cell["source"]
            text.insert(len(text), "a")
    return updates


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    room = Doc()
    YNotebook(room).set(notebook(args.cells))
    integrity = RoomIntegrity(logging.getLogger("bench"))
    updates = client_updates(room, args.updates)
    state_bytes = len(room.get_update())

    verify, apply, tripwire = [], [], []
    for update in updates:
        t0 = time.process_time()
        verdict = integrity.admit("bench", False, update, room.get_state())
        t1 = time.process_time()
        room.apply_update(verdict.update)
        t2 = time.process_time()
        integrity.check_applied(verdict.expected, room.get_state(), "bench")
        t3 = time.process_time()
        verify.append(t1 - t0)
        apply.append(t2 - t1)
        tripwire.append(t3 - t2)

    # a client's sync step 2 with the whole notebook (it built it offline)
    author = Doc()
    YNotebook(author).set(notebook(args.cells))
    dump = author.get_update()
    big = []
    for _ in range(args.repeats):
        empty = Doc()
        t0 = time.process_time()
        integrity.admit("bench", True, dump, empty.get_state())
        big.append(time.process_time() - t0)
    big_apply = []
    for _ in range(args.repeats):
        empty = Doc()
        t0 = time.process_time()
        empty.apply_update(dump)
        big_apply.append(time.process_time() - t0)

    sizes = sorted(len(u) for u in updates)
    print(f"room: {args.cells}-cell notebook, {state_bytes / 1024:.0f} KB of state")
    print(f"client updates: {len(updates)}, median {sizes[len(sizes) // 2]} bytes")
    print(f"  verify (read + state vector + simulate): {median_us(verify):7.1f} us median")
    print(f"  tripwire after applying (state vector):    {median_us(tripwire):7.1f} us median")
    print(f"  pycrdt apply_update itself:                {median_us(apply):7.1f} us median")
    print(f"whole-notebook sync step 2: {len(dump) / 1024:.0f} KB")
    print(f"  verify: {statistics.median(big) * 1e3:7.1f} ms median of {args.repeats}")
    print(f"  pycrdt apply_update itself: {statistics.median(big_apply) * 1e3:7.1f} ms median")


if __name__ == "__main__":
    main()
