"""E-mail of notifications: gathered per address for a short window, sent in the background.

The standard library's ``smtplib`` runs on a worker thread (``asyncio.to_thread``), so the event
loop never waits for an SMTP server; no new dependency is needed for a client that speaks
plain SMTP, STARTTLS and implicit TLS. The first notification for an address opens a batch that
gathers everything for that address during ``batch_window`` seconds into one message (ten
mentions in a minute make one e-mail); a send that fails is retried with exponential backoff.
Queued mail lives in memory on the server that made the notifications (documented).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import quote

from .kinds import shorten, subject

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


@dataclass
class _Batch:
    user: str
    items: list[dict[str, Any]]
    task: asyncio.Task[None] | None = None


class Mailer:
    """Batches and sends notification e-mails; every method is called on the event loop."""

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
    ) -> None:
        self.smtp = smtp
        self.log = log
        self.batch_window = batch_window
        self.retry_delay = retry_delay
        self.retry_max = retry_max
        self.max_attempts = max(1, max_attempts)
        self.base_url = base_url.rstrip("/")
        self._batches: dict[str, _Batch] = {}  # address -> the batch gathering now
        self._sending: set[asyncio.Task[None]] = set()
        self.sent = 0  # messages delivered to the SMTP server (for tests and logs)
        self.failed = 0  # messages given up after every attempt
        self.failures = 0  # attempts that failed (each retried or given up)
        self._closed = False

    def enqueue(self, address: str, user: str, notification: Mapping[str, Any]) -> None:
        """Add a notification to ``address``'s batch (opening one, with its timer, if none)."""
        if self._closed:
            return
        batch = self._batches.get(address)
        if batch is None:
            batch = self._batches[address] = _Batch(user, [])
            batch.task = asyncio.ensure_future(self._gather(address, batch))
            self._sending.add(batch.task)
            batch.task.add_done_callback(self._sending.discard)
        batch.items.append(dict(notification))

    async def _gather(self, address: str, batch: _Batch) -> None:
        # cancelled by close(): send what was gathered now (close() waits for it)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(self.batch_window)
        if self._batches.get(address) is batch:
            del self._batches[address]  # later notifications open the next batch
        await self._deliver(address, batch)

    async def _deliver(self, address: str, batch: _Batch) -> None:
        message = self.compose(address, batch.user, batch.items)
        delay = self.retry_delay
        attempts = 1 if self._closed else self.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                await asyncio.to_thread(self._send_blocking, message)
            except Exception as exc:  # refused, unreachable, TLS, login: all retried
                self.failures += 1
                if attempt == attempts:
                    self.failed += 1
                    self.log.error(
                        "E-mail of %d notification(s) to %s for %s given up after %d "
                        "attempt(s): %s", len(batch.items), address, batch.user, attempt, exc,
                    )  # fmt: skip
                    return
                self.log.warning(
                    "E-mail to %s failed (attempt %d of %d, next in %.1f s): %s",
                    address, attempt, attempts, delay, exc,
                )  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
            else:
                self.sent += 1
                self.log.info(
                    "E-mailed %d notification(s) to %s for %s", len(batch.items), address,
                    batch.user,
                )  # fmt: skip
                return

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
        """Send the batches still gathering now (one attempt each), give up those waiting to
        be retried (logged), and stop."""
        self._closed = True
        gathering = {batch.task for batch in self._batches.values()}
        for task in list(self._sending):
            task.cancel()  # gathering: sends now; waiting for a retry: gives up
        for task in self._sending - gathering:
            task.add_done_callback(lambda t: t.cancelled() and self.log.warning(
                "An e-mail waiting to be retried was dropped: the server is stopping"
            ))  # fmt: skip
        if self._sending:
            _, pending = await asyncio.wait(set(self._sending), timeout=timeout)
            for task in pending:
                task.cancel()
