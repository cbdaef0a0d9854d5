"""Editing process for the SIGKILL test: resumes a document from the store, edits, appends.

Usage: ``python durability_worker.py DB SEED COUNT``. Prints ``ready LAST_SEQ`` once the
document is loaded, then ``ack SEQ SHA`` for every append the store acknowledged (never before),
with up to 8 appends in flight as a busy room would have. Stops by itself after COUNT edits.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import random
import sys
import types

from pycrdt import Doc, Text


def _import_store() -> type:
    """SQLiteStore without running ``jupyter_collab/__init__`` (it imports jupyter_server,
    about 4 s per start): a bare package stands in, so the many restarts stay quick."""
    if "jupyter_collab" not in sys.modules:
        spec = importlib.util.find_spec("jupyter_collab")
        assert spec is not None and spec.submodule_search_locations is not None
        package = types.ModuleType("jupyter_collab")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["jupyter_collab"] = package
    from jupyter_collab.persistence.sqlite import SQLiteStore

    return SQLiteStore


SQLiteStore = _import_store()

DOC = "doc-1"


def digest(update: bytes) -> str:
    return hashlib.sha256(update).hexdigest()[:16]


async def main(db: str, seed: int, count: int) -> None:
    store = await SQLiteStore.open(db)
    doc = Doc()
    state = await store.load(DOC)
    if state is not None:
        doc.apply_update(state)  # resume the same CRDT history, as a room will
    text = doc.get("source", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    print("ready", await store.last_seq(DOC), flush=True)

    async def append(update: bytes) -> None:
        seq = await store.append(DOC, update, origin="client", user="worker", time=seed)
        sys.stdout.write(f"ack {seq} {digest(update)}\n")
        sys.stdout.flush()

    rng = random.Random(seed)
    in_flight: set[asyncio.Task[None]] = set()
    for _ in range(count):
        if len(text) and rng.random() < 0.3:
            del text[rng.randrange(len(text))]
        else:
            text.insert(rng.randrange(len(text) + 1), rng.choice("abc \n"))
        in_flight.add(asyncio.ensure_future(append(updates[-1])))
        if len(in_flight) >= 8:
            _, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        if rng.random() < 0.2:
            await asyncio.sleep(0.001)
    await asyncio.gather(*in_flight)
    await store.close()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
