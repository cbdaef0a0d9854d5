"""Deterministic pycrdt editing sessions that produce real updates."""

from __future__ import annotations

import random

from pycrdt import Doc, Text


class Editor:
    """A pycrdt document whose every transaction's update is collected."""

    def __init__(self, client_id: int | None = None, state: bytes | None = None) -> None:
        self.doc = Doc(client_id=client_id) if client_id is not None else Doc()
        if state is not None:
            self.doc.apply_update(state)
        self.text = self.doc.get("source", type=Text)
        self.updates: list[bytes] = []
        self.doc.observe(lambda event: self.updates.append(event.update))

    def edit(self, rng: random.Random) -> bytes:
        """One single-character insert or delete; returns its update."""
        length = len(self.text)
        if length and rng.random() < 0.3:
            del self.text[rng.randrange(length)]
        else:
            self.text.insert(rng.randrange(length + 1), rng.choice("abcdefgh \n"))
        return self.updates[-1]

    def insert(self, index: int, chunk: str) -> bytes:
        self.text.insert(index, chunk)
        return self.updates[-1]


def text_of(update: bytes | None) -> str:
    doc = Doc()
    if update is not None:
        doc.apply_update(update)
    return str(doc.get("source", type=Text))
