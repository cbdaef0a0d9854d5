"""Two marks per byte of a text, as runs: who wrote each byte and who last changed it.

Attribution replays every logged edit of a text. Keeping a mark per byte in a Python list made
each edit shift the whole list (a 4 MB file: 32 MB moved per keystroke replayed). Here bytes
with the same pair of marks form one run, and runs are kept in chunks of at most
:data:`MAX_CHUNK`: an edit finds its chunk by bisecting the chunks' end offsets and changes a
few runs of that chunk only.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from itertools import accumulate

# Runs per chunk before it is cut in two (and what a fresh chunk is filled with, half of it).
MAX_CHUNK = 128

Run = tuple[int, int, int]  # (bytes, owner, last): indexes of marks


class ByteRuns:
    """The (owner, last) pair of every byte of a text, edited as the text is."""

    def __init__(self, runs: Iterable[Run] = ()) -> None:
        self._chunks: list[list[list[int]]] = []
        self._sizes: list[int] = []
        chunk: list[list[int]] = []
        size = 0
        for length, owner, last in runs:
            if length <= 0:
                continue
            if chunk and chunk[-1][1] == owner and chunk[-1][2] == last:
                chunk[-1][0] += length
            else:
                chunk.append([length, owner, last])
            size += length
            if len(chunk) >= MAX_CHUNK // 2:
                self._chunks.append(chunk)
                self._sizes.append(size)
                chunk, size = [], 0
        if chunk:
            self._chunks.append(chunk)
            self._sizes.append(size)

    def __len__(self) -> int:
        return sum(self._sizes)

    def runs(self) -> Iterator[Run]:
        """The runs in text order, equal neighbours merged."""
        pending: list[int] | None = None
        for chunk in self._chunks:
            for length, owner, last in chunk:
                if pending is not None and pending[1] == owner and pending[2] == last:
                    pending[0] += length
                    continue
                if pending is not None:
                    yield pending[0], pending[1], pending[2]
                pending = [length, owner, last]
        if pending is not None:
            yield pending[0], pending[1], pending[2]

    # -- edits ----------------------------------------------------------------------------------

    def insert(self, position: int, length: int, owner: int, last: int) -> None:
        if length <= 0:
            return
        index, offset = self._find(position)
        chunk = self._chunks[index]
        i = self._split(chunk, offset)
        self._sizes[index] += length
        if i > 0 and chunk[i - 1][1] == owner and chunk[i - 1][2] == last:
            chunk[i - 1][0] += length  # typing on: the run before grows
            return
        chunk.insert(i, [length, owner, last])
        self._balance(index)

    def delete(self, position: int, length: int) -> None:
        while length > 0 and position < len(self):
            index, offset = self._find(position)
            chunk = self._chunks[index]
            i = self._split(chunk, offset)
            while length > 0 and i < len(chunk):
                run = chunk[i]
                taken = min(run[0], length)
                run[0] -= taken
                self._sizes[index] -= taken
                length -= taken
                if run[0] == 0:
                    del chunk[i]
            if not chunk:
                del self._chunks[index]
                del self._sizes[index]
            else:
                self._balance(index)  # the split may have added a run

    def set_last(self, position: int, last: int) -> None:
        """Who last changed one byte."""
        if not 0 <= position < len(self):
            return
        index, offset = self._find(position)
        chunk = self._chunks[index]
        i = self._split(chunk, offset)
        self._split(chunk, offset + 1)
        chunk[i][2] = last
        self._balance(index)

    # -- finding bytes --------------------------------------------------------------------------

    def _find(self, position: int) -> tuple[int, int]:
        """(chunk, byte offset in it) of ``position`` (0 to the length): a position where
        chunks meet is in the chunk it begins, the end is in the last chunk."""
        if not self._chunks:
            self._chunks.append([])
            self._sizes.append(0)
        ends = list(accumulate(self._sizes))
        index = min(bisect_right(ends, position), len(self._chunks) - 1)
        return index, position - (ends[index] - self._sizes[index])

    @staticmethod
    def _split(chunk: list[list[int]], offset: int) -> int:
        """The index of the run that begins at byte ``offset`` of the chunk, cutting one run
        in two if the offset falls inside it (the chunk's length if it is the end)."""
        start = 0
        for i, run in enumerate(chunk):
            if start == offset:
                return i
            if offset < start + run[0]:
                head = offset - start
                chunk.insert(i + 1, [run[0] - head, run[1], run[2]])
                run[0] = head
                return i + 1
            start += run[0]
        return len(chunk)

    def _balance(self, index: int) -> None:
        chunk = self._chunks[index]
        if len(chunk) <= MAX_CHUNK:
            return
        half = len(chunk) // 2
        tail = chunk[half:]
        del chunk[half:]
        moved = sum(run[0] for run in tail)
        self._chunks.insert(index + 1, tail)
        self._sizes[index] -= moved
        self._sizes.insert(index + 1, moved)
