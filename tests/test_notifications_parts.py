"""The parts of the notification service on their own, with real components: the push hub on
two in-process buses of one group (out-of-order arrival from two servers, a direct copy and the
bus copy sent once), and the mailer logging in to a real SMTP server (aiosmtpd with AUTH)."""

from __future__ import annotations

import asyncio
import logging
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from jupyter_collab.bus import InProcessBus, LocalHub, Topic
from jupyter_collab.notifications import Mailer, PushHub, SmtpSettings
from jupyter_collab.sharing import MemoryShareStore

from .client import eventually
from .test_notifications_email import Inbox, free_port

LOG = logging.getLogger("test-notifications")


class Socket:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.closed = False

    def push(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def shutdown(self) -> None:
        self.closed = True

    def ids(self) -> list[int]:
        return [m["notification"]["id"] for m in self.messages if m["type"] == "notification"]


def event(nid: int, unread: int = 1) -> dict[str, Any]:
    return {"event": "notification", "notification": {"id": nid, "type": "x"}, "unread": unread}


async def test_two_servers_publish_out_of_order_and_nothing_is_lost_or_doubled() -> None:
    group = LocalHub()
    a, b = InProcessBus(hub=group), InProcessBus(hub=group)
    await a.start()
    await b.start()
    hub = PushHub(b, MemoryShareStore(), LOG)
    socket = Socket()
    await hub.attach("bob", socket, None)
    assert socket.messages[-1]["type"] == "ready"
    # server A published id 11 before server B's 10 reached the bus: both are new to bob
    await a.publish(Topic.NOTIFICATION_EVENT, "bob", event(11))
    await b.publish(Topic.NOTIFICATION_EVENT, "bob", event(10))
    # B could not publish 12 (bus down): its sockets got it directly; the bus copy comes later
    hub.deliver_here("bob", event(12))
    await a.publish(Topic.NOTIFICATION_EVENT, "bob", event(12))
    await a.publish(Topic.NOTIFICATION_EVENT, "alice", event(13))  # someone else's
    await eventually(lambda: len(socket.ids()) >= 3, what="three notifications")
    await asyncio.sleep(0)
    assert socket.ids() == [11, 10, 12]
    # the last socket of bob goes: no more deliveries to it, and the hub holds nothing
    hub.detach("bob", socket)
    await a.publish(Topic.NOTIFICATION_EVENT, "bob", event(14))
    assert socket.ids() == [11, 10, 12] and hub.connected("bob") == 0
    await hub.close()
    await a.close()
    await b.close()


class Accounts:
    """aiosmtpd authenticator: one account."""

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth: Any):
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (
            b"jupyter",
            b"s3cret",
        )
        return AuthResult(success=ok, handled=False)


@pytest.mark.timeout(120)
async def test_the_mailer_logs_in_and_a_wrong_password_is_retried_then_given_up() -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=Accounts(),
        auth_required=True, auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    try:

        def mailer(password: str) -> Mailer:
            return Mailer(
                SmtpSettings("127.0.0.1", port, "none", "jupyter", password, 10.0,
                             "jupyter@example.org"),
                LOG, batch_window=0.1, retry_delay=0.05, retry_max=0.1, max_attempts=3,
            )  # fmt: skip

        good = mailer("s3cret")
        await good.enqueue(
            "bob@example.org", "bob", {"message": "Alice mentioned you", "path": "a"}
        )
        await eventually(lambda: good.sent == 1, timeout=60, what="the e-mail")
        assert [m["To"] for _, m in inbox.messages] == ["bob@example.org"]

        bad = mailer("wrong")
        await bad.enqueue("carol@example.org", "carol", {"message": "x"})
        await eventually(lambda: bad.failed == 1, timeout=60, what="giving up")
        assert bad.failures == 3 and bad.sent == 0
        assert len(inbox.messages) == 1
        await good.close()
        await bad.close()
    finally:
        controller.stop()


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, trusted by this process's default TLS context
    (SSL_CERT_FILE, as a deployer with a private CA would set it)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


@pytest.mark.timeout(120)
@pytest.mark.parametrize("tls", ["starttls", "ssl"])
async def test_the_mailer_speaks_tls(tls: str, certificate: tuple[Path, Path]) -> None:
    """STARTTLS (the server refuses mail before it) and implicit TLS, with the certificate
    checked against the host name."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    inbox = Inbox()
    port = free_port()
    if tls == "ssl":
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context)
    else:
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
        )
    controller.start()
    try:
        mailer = Mailer(
            SmtpSettings("127.0.0.1", port, tls, sender="jupyter@example.org", timeout=10.0),
            LOG, batch_window=0.05, retry_delay=0.05, max_attempts=2,
        )  # fmt: skip
        await mailer.enqueue("bob@example.org", "bob", {"message": "over TLS"})
        await eventually(lambda: mailer.sent + mailer.failed >= 1, timeout=60, what="a result")
        assert (mailer.sent, mailer.failed) == (1, 0)
        assert [m["Subject"] for _, m in inbox.messages] == ["over TLS"]
        await mailer.close()
    finally:
        controller.stop()
