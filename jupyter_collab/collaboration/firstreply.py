"""What a freshly opened document leaves until its first client has it.

Opening a file nobody has open yet does two kinds of work: what the first client waits for
(read the file, fill the shared document, encode it once, send it) and bookkeeping that can
follow (the load's entry in the history log, the merge base, compressed, the version of the
file as first opened, the file's fingerprint, a notebook's signature). On a busy machine the
bookkeeping, started at once on other threads, competed for the same cores as the reply: for
a 4 MiB text it is more CPU than the reply itself. :class:`FirstReply` is the point the
bookkeeping waits for: a moment (``FIRST_REPLY_GRACE``) after the first sync reply was handed
to the kernel, while the client takes the document in, or at once when someone edits.

It never trades durability for speed. Nothing a client sent is acknowledged before it is
durable (the journal releases an update only once it is logged, and the load's log entry and
its merge base are written first, in that order); whoever needs the history written now (a
save, a version point, a restore, a group's load, the room closing, an edit after the reply)
opens the gate rather than waiting behind it; and a room nobody joins (opened for a restore,
or by a session request whose client never connects) opens it after ``fallback`` seconds.
"""

from __future__ import annotations

import asyncio
from typing import Any

# Seconds a loaded room waits for a client's sync request before doing its bookkeeping anyway.
FIRST_REPLY_WAIT = 3.0
# Seconds the bookkeeping waits after the first reply was written: the client is reading and
# applying the document meanwhile (a browser then lays out and highlights it for a second or
# more), and on a busy machine the bookkeeping's CPU (compressing the base, logging the whole
# document, making the first version) is taken from the client's. Someone's edit, a save, a
# version point or the room closing cut it short.
FIRST_REPLY_GRACE = 1.0


class FirstReply:
    """Opened once: shortly after the first sync reply was sent (at once if someone edits),
    by someone who needs the history now, or by the fallback timer armed when the document
    has loaded."""

    __slots__ = ("_opened", "_replied", "_timer")

    def __init__(self) -> None:
        self._opened = asyncio.Event()
        self._replied = False  # a first sync reply was handed to a socket
        self._timer: asyncio.TimerHandle | None = None

    @property
    def is_open(self) -> bool:
        return self._opened.is_set()

    def open(self) -> None:
        """Let the deferred work run now."""
        self._opened.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def arm(self, fallback: float | None = None) -> None:
        """The document has loaded: open within ``fallback`` seconds (``FIRST_REPLY_WAIT``)
        even if nobody asks."""
        if self.is_open or self._timer is not None:
            return
        wait = FIRST_REPLY_WAIT if fallback is None else fallback
        self._timer = asyncio.get_running_loop().call_later(wait, self.open)

    def after_sent(self, written: Any) -> None:
        """A sync reply was written: open ``FIRST_REPLY_GRACE`` seconds after the socket took
        all of it (``written`` is the stream's future for its last piece, or None when it went
        out at once), or sooner if someone edits meanwhile (:meth:`edited`)."""
        if self.is_open or self._replied:
            return
        self._replied = True
        if written is None or written.done():
            self._grace()
        else:
            written.add_done_callback(self._sent)

    def _sent(self, written: Any) -> None:
        if not written.cancelled():
            written.exception()  # (a closed socket: the bookkeeping goes ahead all the same)
        self._grace()

    def _grace(self) -> None:
        if self.is_open:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(FIRST_REPLY_GRACE, self.open)

    def edited(self) -> None:
        """The document was edited: once the first client has its reply, the bookkeeping goes
        ahead now (the edit is logged, hence released to the others, only after it). An edit
        that comes before the reply waits for the reply, with the bookkeeping."""
        if self._replied and not self.is_open:
            self.open()

    async def wait(self) -> None:
        await self._opened.wait()
