"""Keeping CPython's cyclic garbage collector out of a room's load.

Parsing a large notebook and building its shared document allocate ~10,000 containers in a few
tens of milliseconds. Each 700 of them starts a young-generation collection, every tenth of
those an older one, and now and then that ends in a full collection of the server's whole heap
(~90-120 ms with JupyterLab's server loaded): in the middle of the load, while the first
clients wait for the document. With the collector paused for the load, the allocations are
counted but not collected; the first allocation after the pause runs one young collection
(a few ms), and the older generations advance by one step instead of a dozen, so a full
collection rarely lands in a load. Reference counting frees memory as usual meanwhile; only
reference cycles wait for the end of the load.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_holders = 0  # loads in progress that paused the collector
_paused_here = False  # whether this module disabled it (never re-enable someone else's pause)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the body; nests (concurrent loads) and respects a
    collector someone else has disabled."""
    global _holders, _paused_here
    if _holders == 0:
        _paused_here = gc.isenabled()
        if _paused_here:
            gc.disable()
    _holders += 1
    try:
        yield
    finally:
        _holders -= 1
        if _holders == 0 and _paused_here:
            _paused_here = False
            gc.enable()
