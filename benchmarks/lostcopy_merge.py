"""What merging a copy kept across a lost history costs (``collaboration/lostcopy.py``).

A room holds a text file loaded afresh (``--mib`` MiB of distinct lines); a kept copy holds
the same text under other items plus an offline line. CPU time of each step the room runs,
medians of ``--repeat`` runs: checking the copy and reading its content (worker threads in
the server), applying it as tombstones and taking the room's state (event loop), diffing its
lines on a private copy (worker thread), applying them (loop).

Run: ``python benchmarks/lostcopy_merge.py --mib 4``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from jupyter_ydoc import YUnicode
from pycrdt import Doc

from jupyter_collab.collaboration.integrity import RoomIntegrity
from jupyter_collab.collaboration.lostcopy import content_of, missing_update, retirement
from jupyter_collab.documents.kinds import document_kind


def text_of(mib: float) -> str:
    lines, size, n = [], 0, 0
    while size < mib * 1024 * 1024:
        line = f"x{n} = compute(alpha, beta, {n * 7 % 1000}) + {n}  # line {n} of a file\n"
        lines.append(line)
        size += len(line)
        n += 1
    return "".join(lines)


def run(mib: float) -> dict[str, float]:
    text = text_of(mib)
    room = Doc()
    jroom = YUnicode(room)
    jroom._ysource.insert(0, text)
    old = Doc()
    YUnicode(old)._ysource.insert(0, text)
    kept = Doc()
    kept.apply_update(old.get_update())
    YUnicode(kept)._ysource.insert(0, "offline line\n")
    copy = kept.get_update()
    kind = document_kind("text", "file")
    times = {}
    t = time.process_time()
    import logging

    verdict = RoomIntegrity(logging.getLogger("bench")).check("u", True, copy, room.get_state())
    times["check (thread)"] = time.process_time() - t
    t = time.process_time()
    theirs = content_of(kind, copy)
    times["content (thread)"] = time.process_time() - t
    t = time.process_time()
    with room.transaction():
        room.apply_update(verdict.update)
        room.apply_update(retirement(verdict.parsed))
    times["tombstones (loop)"] = time.process_time() - t
    t = time.process_time()
    base = room.get_update()
    times["room state (loop)"] = time.process_time() - t
    t = time.process_time()
    added = missing_update(kind, base, theirs)
    times["lines (thread)"] = time.process_time() - t
    t = time.process_time()
    room.apply_update(added)
    times["apply lines (loop)"] = time.process_time() - t
    assert str(jroom._ysource) == "offline line\n" + text
    times["copy bytes"] = len(copy)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=float, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runs = [run(args.mib) for _ in range(args.repeat)]
    print(f"{args.mib} MiB text, {args.repeat} runs, load {os.getloadavg()[0]:.1f}")
    for key in runs[0]:
        values = [r[key] for r in runs]
        shown = f"{statistics.median(values):.0f}" if key == "copy bytes" else \
            f"{statistics.median(values) * 1000:.0f} ms"  # fmt: skip
        print(f"  {key}: {shown}")


if __name__ == "__main__":
    main()
