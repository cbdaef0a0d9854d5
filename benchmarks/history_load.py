"""Workloads of the durable-history benchmark: a realistic editing session, precomputed.

:func:`typing_session` simulates two people writing one text file together for a while:
each has a cursor, types at about ``chars_per_s`` keystrokes per second with pauses, fixes
typos with backspace, sometimes deletes a word, pastes a line or jumps elsewhere. Every
keystroke is its own pycrdt transaction, hence its own y-websocket update, as an editor sends
them. The two users' documents are kept in sync instantly (each update is applied to the
other's document at once), so the updates are exactly what two live clients would send, and
the benchmark can replay them over two sockets without doing any CRDT work while it sends.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from loads import WORDS
from pycrdt import Doc, Text


@dataclass
class Session:
    """``updates[i]`` was made by user ``users[i]`` at ``times[i]`` seconds of the session."""

    updates: list[bytes]
    users: list[int]
    times: list[float]
    final_text: str
    keystrokes: int
    inserts: int
    deletes: int

    @property
    def duration(self) -> float:
        return self.times[-1] if self.times else 0.0


def typing_session(seconds: float, users: int = 2, chars_per_s: float = 5.0,
                   seed: int = 11) -> Session:
    """``users`` people typing for ``seconds`` of session time into an empty text file."""
    rng = random.Random(seed)
    docs = [Doc(client_id=1000 + i) for i in range(users)]  # same updates in every run
    texts = [doc.get("source", type=Text) for doc in docs]
    captured: list[bytes] = []
    subs = [doc.observe(lambda event: captured.append(event.update)) for doc in docs]
    shared = ""  # the text as every user sees it (ASCII only: byte offsets = char offsets)
    cursors = [0] * users
    pending: list[str] = ["" for _ in range(users)]  # words a user is in the middle of typing
    # Keystroke times: ~chars_per_s each, in bursts with thinking pauses (mean stays right).
    events: list[tuple[float, int]] = []
    for u in range(users):
        t = rng.uniform(0, 2)
        while t < seconds:
            events.append((t, u))
            gap = rng.expovariate(chars_per_s * 1.25)
            if rng.random() < 0.02:  # a pause to think, every ~50 keystrokes
                gap += rng.uniform(1, 5) * 0.6
            t += gap
    events.sort()
    out = Session([], [], [], "", 0, 0, 0)

    def apply(u: int, edit) -> None:  # noqa: ANN001 - a callable editing texts[u]
        captured.clear()
        with docs[u].transaction():
            edit(texts[u])
        assert len(captured) == 1
        update = captured[0]
        for v, other in enumerate(docs):
            if v != u:
                other.apply_update(update)
        out.updates.append(update)
        out.users.append(u)

    for t, u in events:
        cur = cursors[u]
        r = rng.random()
        if shared and r < 0.01:  # jump to the start of another line of the file
            starts = [0] + [i + 1 for i, c in enumerate(shared) if c == "\n"]
            cursors[u] = rng.choice(starts)
            pending[u] = ""
            continue  # a cursor move: an awareness update, not a document update
        if cur > 0 and r < 0.13:  # backspace
            pos, n = cur - 1, 1
            if r < 0.015:  # select the previous word and delete it
                n = min(cur, rng.randint(3, 12))
                pos = cur - n
            apply(u, lambda text, pos=pos, n=n: text.__delitem__(slice(pos, pos + n)))
            shared = shared[:pos] + shared[pos + n:]
            out.deletes += 1
            for v in range(users):
                if cursors[v] > pos:
                    cursors[v] = max(pos, cursors[v] - n)
        else:
            if r > 0.995:  # paste a line
                s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30))) + "\n"
            else:
                if not pending[u]:
                    pending[u] = rng.choice(WORDS) + (" " if rng.random() < 0.9 else "\n")
                s, pending[u] = pending[u][0], pending[u][1:]
            apply(u, lambda text, cur=cur, s=s: text.insert(cur, s))
            shared = shared[:cur] + s + shared[cur:]
            out.inserts += 1
            for v in range(users):
                if v == u or cursors[v] > cur:
                    cursors[v] += len(s)
        out.times.append(t)
        out.keystrokes += 1
    del subs
    assert str(texts[0]) == shared == str(texts[-1])
    out.final_text = shared
    return out
