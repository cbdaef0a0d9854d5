"""An appending process for the PostgreSQL concurrency tests (several run at once on one database).

Usage: ``python pg_worker.py URL WORKER COUNT MODE``. Opens a PostgresStore, prints ``ready``,
waits for ``go`` on stdin (so that every worker starts at the same moment), then makes COUNT
appends with up to 16 in flight, and prints ``ack DOC SEQ HEX`` for each update the store
acknowledged (never before), ``error TEXT`` for a refused one, and ``done`` at the end.

Modes:

- ``bytes``: unique payloads ``w<WORKER>:<i>``, to document ``shared`` (half of them) and to
  ``d0``..``d3``, a third of them as ``append_many`` of two, so a batch holds several documents
  and one request several updates.
- ``crdt``: real pycrdt edits of one document ``crdt`` by this worker's own replica (its own
  client id), so that the merged document can be checked against every acknowledged update.
  Halfway, once its appends so far are acknowledged, it prints ``half`` and waits for another
  ``go`` (so the test can compact the document while it is being appended to).
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import sys
import types

from pycrdt import Doc, Text


def _import_store() -> type:
    """PostgresStore without running ``jupyter_collab/__init__`` (it imports jupyter_server,
    seconds per process): a bare package stands in."""
    if "jupyter_collab" not in sys.modules:
        spec = importlib.util.find_spec("jupyter_collab")
        assert spec is not None and spec.submodule_search_locations is not None
        package = types.ModuleType("jupyter_collab")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["jupyter_collab"] = package
    from jupyter_collab.persistence.postgres import PostgresStore

    return PostgresStore


PostgresStore = _import_store()
from jupyter_collab.persistence.model import NewUpdate  # noqa: E402 (after the stand-in package)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(url: str, worker: int, count: int, mode: str) -> None:
    store = await PostgresStore.open(url, timeout=120)
    rng = random.Random(worker)
    doc = Doc(client_id=1000 + worker)
    text = doc.get("source", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    say("ready")
    await asyncio.to_thread(sys.stdin.readline)  # "go"

    async def append(doc_id: str, batch: list[bytes]) -> None:
        try:
            seqs = await store.append_many(
                doc_id, [NewUpdate(u, "client", f"w{worker}", 1.0) for u in batch]
            )
        except Exception as error:  # reported, and the test fails on it
            say(f"error {type(error).__name__}: {error}")
            return
        for seq, update in zip(seqs, batch, strict=True):
            say(f"ack {doc_id} {seq} {update.hex()}")

    in_flight: set[asyncio.Task[None]] = set()
    i = 0
    while i < count:
        if mode == "crdt" and i == count // 2:
            await asyncio.gather(*in_flight)
            in_flight.clear()
            say("half")
            await asyncio.to_thread(sys.stdin.readline)  # "go"
        if mode == "crdt":
            text.insert(rng.randrange(len(text) + 1), rng.choice("abcdef \n"))
            doc_id, batch = "crdt", [updates[-1]]
        else:
            doc_id = "shared" if rng.random() < 0.5 else f"d{rng.randrange(4)}"
            size = 2 if rng.random() < 0.33 and i + 1 < count else 1
            batch = [f"w{worker}:{i + k}".encode() for k in range(size)]
        i += len(batch)
        in_flight.add(asyncio.ensure_future(append(doc_id, batch)))
        if len(in_flight) >= 16:
            _, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        if rng.random() < 0.1:
            await asyncio.sleep(0.001)
    await asyncio.gather(*in_flight)
    await store.close()
    say("done")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
