"""How long placing comment threads takes: N range anchors in a notebook of C cells (what
``GET /api/collab/comments?path=`` computes, in a thread, for every thread of a document).

    python benchmarks/comments_locate.py --cells 1000 --threads 200
"""

from __future__ import annotations

import argparse
import time

import nbformat
from jupyter_ydoc import YNotebook
from pycrdt import Doc

from jupyter_collab.comments.anchors import AnchorRequest, locate, make_anchor, range_positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=200)
    args = parser.parse_args()
    doc = Doc()
    notebook = YNotebook(doc)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(f"value_{i} = compute({i})\nprint(value_{i})", id=f"c{i}")
        for i in range(args.cells)
    ]
    notebook.set(nb)
    cells = notebook.ycells
    step = max(1, args.cells // args.threads)
    anchors = [
        make_anchor(
            doc,
            "notebook",
            AnchorRequest(f"c{i}", *range_positions(cells[i]["source"], 0, 5)),
        )
        for i in range(0, args.cells, step)
    ][: args.threads]
    update = doc.get_update()
    started = time.perf_counter()
    copy = Doc()
    copy.apply_update(update)  # (the server works on a copy, off the event loop)
    built = time.perf_counter()
    cache: dict = {}
    places = [locate(copy, "notebook", anchor, cache) for anchor in anchors]
    done = time.perf_counter()
    assert all(not p.detached for p in places)
    print(
        f"{len(anchors)} threads, {args.cells} cells, {len(update):,} bytes: copy "
        f"{(built - started) * 1000:.1f} ms, placing {(done - built) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
