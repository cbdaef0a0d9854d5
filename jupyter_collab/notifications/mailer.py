"""E-mail of notifications: gathered per address for a short window, sent in the background.

The standard library's ``smtplib`` runs on a worker thread (``asyncio.to_thread``), so the event
loop never waits for an SMTP server; no new dependency is needed for a client that speaks
plain SMTP, STARTTLS and implicit TLS. The first notification for an address opens a batch that
gathers everything for that address during ``batch_window`` seconds into one message (ten
mentions in a minute make one e-mail); a send that fails is retried with exponential backoff.

What waits (for its window or a retry) is in the outbox (``outbox.py``): in the database, it
survives a stop and is sent by the next start, and the servers of a group share it, so each
batch is claimed and sent by one of them (one message per address, whichever server made its
notifications). Every server runs the same loop: claim what is due, send it, sleep until the
next due time (or until a notification of its own is queued, or ``poll`` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import smtplib
import socket
import ssl
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import quote

from .kinds import shorten, subject
from .outbox import MailBatch, MailOutbox, MemoryMailOutbox

DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 0
    tls: str = "starttls"  # none | starttls | ssl
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    sender: str = ""

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.tls]


class Mailer:
    """Queues notification e-mails in the outbox and sends the batches that fall due; every
    method is called on the event loop."""

    def __init__(
        self,
        smtp: SmtpSettings,
        log: logging.Logger,
        *,
        batch_window: float = 60.0,
        retry_delay: float = 5.0,
        retry_max: float = 300.0,
        max_attempts: int = 8,
        base_url: str = "",
        outbox: MailOutbox | None = None,
    ) -> None:
        self.smtp = smtp
        self.log = log
        self.batch_window = batch_window
        self.retry_delay = retry_delay
        self.retry_max = retry_max
        self.max_attempts = max(1, max_attempts)
        self.base_url = base_url.rstrip("/")
        self.outbox = outbox if outbox is not None else MemoryMailOutbox()
        # who holds a claimed batch (unique per process: a restarted server is another owner)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # a claim outlives the longest send (every SMTP step may take the timeout); a server
        # that dies holding one delays that batch by at most this long
        self.lease = 4 * smtp.timeout + 30.0
        # how often the outbox is looked at when nothing of ours is due (another server's or
        # a dead one's batches)
        self.poll = max(0.2, min(batch_window, 15.0))
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.sent = 0  # messages delivered to the SMTP server (for tests and logs)
        self.failed = 0  # messages given up after every attempt
        self.failures = 0  # attempts that failed (each retried or given up)
        self._closed = False

    def start(self) -> None:
        """Run the sending loop (idempotent; on the running event loop)."""
        if self._closed or self._loop_task is not None:
            return
        self._loop_task = asyncio.ensure_future(self._run())

    async def enqueue(self, address: str, user: str, notification: Mapping[str, Any]) -> None:
        """Add a notification to ``address``'s batch (opening one, due after the window, if
        none is open). Logged, never raised: a notification never fails what caused it."""
        if self._closed:
            return
        self.start()
        now = time.time()
        key = str(notification.get("id") or uuid.uuid4().hex)
        try:
            await self.outbox.add(address, user, key, notification, now + self.batch_window, now)
        except Exception as exc:
            self.log.error("Queueing an e-mail to %s for %s failed: %s", address, user, exc)
            return
        self._wake.set()

    async def _run(self) -> None:
        while not self._closed:
            self._wake.clear()
            wait = self.poll
            try:
                await self._send_due(time.time())
                due = await self.outbox.next_due()
                if due is not None:
                    wait = min(max(due - time.time(), 0.05), self.poll)
            except Exception as exc:  # a failing database: tried again next time
                self.log.warning("Reading the e-mail outbox failed: %s", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _send_due(self, due_by: float, *, once: bool = False) -> None:
        """Claim what is due by ``due_by`` and send each batch in the background."""
        for batch in await self.outbox.claim(self.owner, time.time(), self.lease, due_by):
            task = asyncio.ensure_future(self._deliver(batch, once=once))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _deliver(self, batch: MailBatch, *, once: bool = False) -> None:
        """One attempt at a claimed batch; then the outbox learns how it went."""
        if not batch.items:  # (its items went with an earlier send: nothing to say)
            await self.outbox.done(batch.address, self.owner, batch.upto, self.batch_window)
            return
        message = self.compose(batch.address, batch.user, batch.items)
        try:
            await asyncio.to_thread(self._send_blocking, message)
        except Exception as exc:  # refused, unreachable, TLS, login: all retried
            self.failures += 1
            attempts = batch.attempts + 1
            if attempts >= self.max_attempts:
                self.failed += 1
                self.log.error(
                    "E-mail of %d notification(s) to %s for %s given up after %d "
                    "attempt(s): %s", len(batch.items), batch.address, batch.user, attempts, exc,
                )  # fmt: skip
                await self._settle(self.outbox.done(
                    batch.address, self.owner, batch.upto, self.batch_window
                ))  # fmt: skip
                return
            delay = min(self.retry_delay * 2 ** (attempts - 1), self.retry_max)
            self.log.warning(
                "E-mail to %s failed (attempt %d of %d, next in %.1f s%s): %s",
                batch.address, attempts, self.max_attempts, delay,
                ", kept in the outbox" if once else "", exc,
            )  # fmt: skip
            await self._settle(self.outbox.failed(batch.address, self.owner, time.time() + delay))
        else:
            self.sent += 1
            self.log.info(
                "E-mailed %d notification(s) to %s for %s", len(batch.items), batch.address,
                batch.user,
            )  # fmt: skip
            await self._settle(
                self.outbox.done(batch.address, self.owner, batch.upto, self.batch_window)
            )
        self._wake.set()

    async def _settle(self, step: Any) -> None:
        try:
            await step
        except Exception as exc:  # the lease runs out, and the batch is tried again
            self.log.warning("Recording an e-mail in the outbox failed: %s", exc)

    async def idle(self) -> bool:
        """Whether nothing is being sent and the outbox is empty (for tests)."""
        return not self._sending and await self.outbox.next_due() is None

    def _send_blocking(self, message: EmailMessage) -> None:
        """One SMTP conversation (on a worker thread)."""
        s = self.smtp
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if s.tls == "ssl":
            client = smtplib.SMTP_SSL(s.host, s.effective_port, timeout=s.timeout, context=context)
        else:
            client = smtplib.SMTP(s.host, s.effective_port, timeout=s.timeout)
        with client:
            if s.tls == "starttls":
                client.starttls(context=context)
            if s.username:
                client.login(s.username, s.password)
            client.send_message(message)

    def link(self, user: str, path: str | None) -> str | None:
        if not self.base_url or not path:
            return None
        base = self.base_url.replace("{username}", quote(user, safe=""))
        return f"{base}/tree/{quote(path)}"

    def compose(self, address: str, user: str, items: Sequence[Mapping[str, Any]]) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = address
        message["Subject"] = subject(items)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        domain = self.smtp.sender.rpartition("@")[2] or None
        message["Message-ID"] = make_msgid("jupyter-collab", domain=domain)
        message["Auto-Submitted"] = "auto-generated"
        lines = [f"Hello {user},", ""]
        if len(items) > 1:
            lines += [f"{len(items)} things happened in Jupyter:", ""]
        for item in items:
            lines.append(f"- {item.get('message') or item.get('type')}")
            excerpt = (item.get("details") or {}).get("excerpt")
            if excerpt:
                lines.append(f"    “{shorten(str(excerpt), 300)}”")
            link = self.link(user, item.get("path"))
            if link:
                lines.append(f"    {link}")
        lines += [
            "",
            "You get these e-mails because you chose these kinds of notifications in "
            "JupyterLab (the bell's menu: E-mail notifications).",
        ]
        message.set_content("\n".join(lines))
        return message

    async def close(self, timeout: float = 10.0) -> None:
        """Stop: one attempt now at every batch nobody else holds, whether due or not (a
        server stopped for days must not sit on a mention); what fails stays in a durable
        outbox for the next start or another server (with a memory outbox it is lost, and
        logged); leases are let go."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._sending:  # (sends under way finish first: their batches are claimed)
            await asyncio.wait(set(self._sending), timeout=timeout)
        try:
            await asyncio.wait_for(self._send_due(float("inf"), once=True), timeout)
            if self._sending:
                await asyncio.wait(set(self._sending), timeout=timeout)
        except Exception as exc:
            self.log.warning("Sending the queued e-mails at stop failed: %s", exc)
        for task in list(self._sending):
            task.cancel()
        try:
            if not self.outbox.durable and await self.outbox.next_due() is not None:
                self.log.warning("E-mails waiting to be retried were dropped: the server is "
                                 "stopping and has no database to keep them")  # fmt: skip
            await self.outbox.release(self.owner)
        except Exception as exc:
            self.log.warning("Releasing the e-mail outbox failed: %s", exc)
        await self.outbox.close()
