"""Deterministic workloads: the documents the benchmark opens and the edits it sends.

Everything is generated from a fixed seed so both targets get byte-identical files and the
same edit schedule in the same run (and across runs).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

WORDS = (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi",
    "chi", "psi", "omega", "data", "frame", "array", "value", "index", "column", "model",
    "train", "test", "plot", "figure", "result", "error", "print", "return", "import", "from",
    "def", "class", "self", "for", "while", "if", "else",
)

# Markers are inserted by writer clients. They carry the writer id, a sequence number and
# the send time (CLOCK_MONOTONIC, system-wide on Linux), so any receiver in any process can
# compute the delivery latency from the raw update bytes alone: Yjs v1 updates store
# inserted strings verbatim as UTF-8, so the marker shows up intact in the frame.
MARK_OPEN, MARK_CLOSE = "\u27e8", "\u27e9"  # ⟨ ⟩
MARKER_RE = re.compile(
    MARK_OPEN.encode() + rb"w(\d+):(\d+):(\d+)" + MARK_CLOSE.encode()
)


def marker(writer: int, seq: int, t_ns: int) -> str:
    """The text a writer inserts for edit ``seq``; ends with a newline to stay a whole line."""
    return f"{MARK_OPEN}w{writer}:{seq}:{t_ns}{MARK_CLOSE}\n"


def _line(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def make_text(size_bytes: int, seed: int = 1) -> str:
    """ASCII prose with newlines, exactly ``size_bytes`` long."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size_bytes:
        line = _line(rng, rng.randint(4, 16)) + "\n"
        parts.append(line)
        total += len(line)
    return "".join(parts)[:size_bytes]


def _cell_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def make_notebook(n_cells: int, target_bytes: int, seed: int = 2) -> dict:
    """An nbformat 4.5 notebook of code cells with sources and outputs of about the given size.

    Every cell has a unique id, an execution count, a stream output and an execute_result,
    which is what a real, executed notebook looks like to the collaboration server.
    """
    rng = random.Random(seed)
    # ~24% of the file is JSON structure (keys, indentation, line lists), not content.
    per_cell = max(200, int(target_bytes * 0.76) // max(1, n_cells))
    cells = []
    for i in range(n_cells):
        src_lines = [f"# cell {i}"]
        while sum(len(s) + 1 for s in src_lines) < per_cell * 0.35:
            src_lines.append(f"x_{i}_{len(src_lines)} = {rng.randint(0, 10**6)}  # "
                             + _line(rng, rng.randint(3, 8)))
        out_lines = []
        while sum(len(s) + 1 for s in out_lines) < per_cell * 0.4:
            out_lines.append(_line(rng, rng.randint(5, 12)))
        result = repr([rng.random() for _ in range(max(1, int(per_cell * 0.012)))])
        cells.append({
            "cell_type": "code",
            "execution_count": i + 1,
            "id": _cell_id(rng),
            "metadata": {},
            "outputs": [
                {"name": "stdout", "output_type": "stream",
                 "text": [ln + "\n" for ln in out_lines]},
                {"data": {"text/plain": [result]}, "execution_count": i + 1,
                 "metadata": {}, "output_type": "execute_result"},
            ],
            "source": [ln + "\n" for ln in src_lines[:-1]] + [src_lines[-1]],
        })
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.11"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# What ipykernel writes into a notebook it has run: JupyterLab picks the cells' editor mode
# (and its syntax highlighting) from ``codemirror_mode``/``mimetype`` here.
KERNEL_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                   "name": "python3"},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.11.7",
    },
}


def executed_notebook(n_cells: int, target_bytes: int, seed: int = 2) -> dict:
    """:func:`make_notebook` with the metadata a kernel leaves behind (full language_info)."""
    nb = make_notebook(n_cells, target_bytes, seed)
    nb["metadata"] = json.loads(json.dumps(KERNEL_METADATA))
    return nb


def make_python(size_bytes: int, seed: int = 4) -> str:
    """A Python module of about ``size_bytes`` (whole functions), first and last lines comments.

    Functions with docstrings, comments, numbers and strings: what a syntax highlighter
    has to colour in a large source file.
    """
    rng = random.Random(seed)
    parts = [f"# generated module, about {size_bytes} bytes\n", "import math\n\n"]
    total = sum(len(x) for x in parts)
    i = 0
    while total < size_bytes - 40:
        words = _line(rng, rng.randint(3, 8))
        body = [f"def f_{i}(x, y={rng.randint(0, 99)}):\n",
                f'    """{words.capitalize()}."""\n',
                f"    # {_line(rng, rng.randint(3, 10))}\n",
                f"    z = x * {rng.random():.6f} + math.sqrt(y + {rng.randint(1, 10**6)})\n",
                f"    label = \"{_line(rng, rng.randint(2, 5))}\"\n",
                "    return z, label\n\n\n"]
        chunk = "".join(body)
        parts.append(chunk)
        total += len(chunk)
        i += 1
    parts.append(f"# end of module: {i} functions\n")
    return "".join(parts)


def dump_notebook(nb: dict) -> str:
    """Serialize like nbformat does (indent=1, sorted keys, trailing newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def small_notebook(index: int, n_cells: int = 10) -> dict:
    """A small notebook, different per index (for the memory-per-room figure)."""
    return make_notebook(n_cells, n_cells * 400, seed=1000 + index)


def validate_notebook(nb: dict) -> str:
    """Validate with nbformat if it is installed; return a short verdict."""
    try:
        import nbformat
    except ImportError:
        return "nbformat not installed; not validated"
    nbformat.validate(nbformat.from_dict(nb))
    return "valid nbformat 4.5"


def write_file(root: Path, name: str, content: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def fanout_initial_text(seed: int = 3) -> str:
    """The starting content of the fan-out room: ~20 KB of lines, like a small script."""
    return make_text(20_000, seed)


def edit_schedule(total_rate: float, duration: float, writers: int) -> list[tuple[float, int]]:
    """(offset seconds, writer index) for each edit: evenly spaced, round-robin over writers.

    A fixed schedule (not "as fast as possible") keeps the offered load identical for both
    targets, so latency is measured at the same rate rather than at each one's saturation.
    """
    n = max(1, int(round(total_rate * duration)))
    return [(k / total_rate, k % writers) for k in range(n)]
