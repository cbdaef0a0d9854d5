"""What every chaos test shares: people editing a text document at random, each edit a line
of its own that names who wrote it, and the one check every test ends with.

An edit inserts a whole line (``<writer>-<n>``) at the start of a random line of the writer's
own copy, or deletes a random whole line it sees: however clients drop, reconnect and merge
offline work, a line is never cut by another edit, so the document must end as exactly the
lines inserted minus the lines deleted, each once. :func:`assert_converged` checks that for
every client, for the room (a fresh client), for the file on disk once saved, and for the
history (a server started again on the store).

Randomness is seeded; the seed is printed (``-s`` shows it; failures name it) and
``CHAOS_SEED=<n>`` replays a run.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client import Client, eventually


def seeded(name: str) -> tuple[int, random.Random]:
    """A seed (``CHAOS_SEED`` or a fresh one, printed) and its generator."""
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1 << 31))
    print(f"{name}: CHAOS_SEED={seed}")
    return seed, random.Random(seed)


@dataclass
class Edits:
    """The lines sent by everyone, and the lines deleted (by anyone)."""

    rng: random.Random
    seed: int
    inserted: list[str] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)

    def expected(self) -> list[str]:
        """The lines the document must hold, sorted (the CRDT chooses their order)."""
        return sorted(line for line in self.inserted if line not in self.deleted)

    def edit(self, client: Client, who: str, delete_ratio: float = 0.15) -> None:
        """One random edit on ``client``'s own copy (sent at once if it is online, kept for the
        next sync if not)."""
        text = client.content()
        lines = text.splitlines(keepends=True)
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))
        source = client.jdoc._ysource
        if lines and self.rng.random() < delete_ratio:
            k = self.rng.randrange(len(lines))
            line = lines[k]
            self.deleted.add(line.rstrip("\n"))
            del source[starts[k] : starts[k + 1]]
            return
        n = self.counters.get(who, 0)
        self.counters[who] = n + 1
        line = f"{who}-{n}"
        self.inserted.append(line)
        source.insert(starts[self.rng.randrange(len(starts))], line + "\n")

    def check(self, text: str, what: str) -> None:
        lines = text.splitlines()
        duplicated = sorted({line for line in lines if lines.count(line) > 1})
        assert not duplicated, f"seed {self.seed}: {what} has lines twice: {duplicated[:10]}"
        missing = sorted(set(self.expected()) - set(lines))
        assert not missing, f"seed {self.seed}: {what} lost {len(missing)} lines: {missing[:10]}"
        extra = sorted(set(lines) - set(self.expected()))
        assert not extra, f"seed {self.seed}: {what} has lines nobody kept: {extra[:10]}"
        assert text == "" or text.endswith("\n"), f"seed {self.seed}: {what} torn: {text[-40:]!r}"


async def converged(clients: Iterable[Client], edits: Edits, timeout: float = 120) -> str:
    """Wait until every client holds the same text, and that it is what was sent."""
    clients = list(clients)

    def same() -> bool:
        return len({c.content() for c in clients}) == 1

    try:
        await eventually(same, timeout=timeout, what="every client to converge")
    except AssertionError:
        raise AssertionError(
            f"seed {edits.seed}: clients differ: "
            + "; ".join(f"{len(c.content().splitlines())} lines" for c in clients)
        ) from None
    text = clients[0].content()
    edits.check(text, "the clients' document")
    return text


async def assert_converged(
    server: Any, path: str, clients: Iterable[Client], edits: Edits, file: Path
) -> str:
    """Every client, the room (a fresh client of ``server``) and the file on disk (once
    saved) hold exactly the lines sent minus those deleted, each once; the text."""
    clients = list(clients)
    fresh = await server.connect(path)
    text = await converged([*clients, fresh], edits)
    try:
        await eventually(lambda: file.read_text() == text, timeout=120, what="the save")
    except AssertionError:
        edits.check(file.read_text(), "the file on disk")
        raise AssertionError(f"seed {edits.seed}: the file differs from the room") from None
    fresh.close()
    return text


def drop(client: Client, rng: random.Random) -> None:
    """Take ``client`` offline: a clean close (a tab closed) or, at random, the connection cut
    without a close frame (a laptop lid, a network gone)."""
    if rng.random() < 0.5:
        client.close()
        return
    client.online = False  # (its edits are kept in its document for the next sync)
    if client._subscription is not None:
        client.ydoc.unobserve(client._subscription)
        client._subscription = None
    stream = getattr(getattr(client.ws, "protocol", None), "stream", None)
    if stream is not None:
        stream.close()  # the TCP connection goes, no WebSocket close handshake
    else:
        client.ws.close()
    client._task.cancel()

