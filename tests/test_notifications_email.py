"""Notification e-mail against a real SMTP server (aiosmtpd on loopback): per-user preferences
and their bad input, delivery, batching, retries after the SMTP server was down, nothing sent
without ``smtp_host``; mail waiting in the outbox sent after a restart, and one message for a
batch made through two servers."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import sqlite3
import threading
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .bus.conftest import started
from .client import eventually
from .servers import Server

pytestmark = pytest.mark.timeout(300)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """aiosmtpd handler: every message the SMTP server accepted."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.messages.append(
                (
                    list(envelope.rcpt_tos),
                    email.message_from_bytes(envelope.content, policy=email.policy.default),
                )
            )
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for rcpt, m in self.messages if address in rcpt]


class SMTPServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Any:
    server = SMTPServer(free_port())
    yield server
    server.stop()


@pytest.fixture
def collab_config(smtp: SMTPServer) -> dict[str, Any]:
    return {
        "freeze_gc_at_start": False,
        "owners": ["alice"],
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_tls": "none",
        "email_from": "Jupyter <jupyter@example.org>",
        "email_address_template": "{username}@example.org",
        "email_batch_window": 1.5,
        "email_retry_delay": 0.2,
        "email_retry_max": 0.5,
        "email_max_attempts": 1000,
        "email_base_url": "https://hub.example.org/user/{username}/lab",
    }


def body(message: Message) -> str:
    return message.get_content()  # type: ignore[attr-defined]


class Actor:
    username = "alice"
    display_name = "Alice"


async def test_preferences_and_bad_input(api):
    status, prefs = await api("GET", "notifications", "preferences", user="bob")
    assert status == 200
    assert prefs == {
        "email": None, "emailKinds": ["mentioned"], "address": "bob@example.org",
        "addressFrom": "template", "emailEnabled": True,
        "kinds": ["shared", "restored", "mentioned", "reply", "resolved"],
    }  # fmt: skip
    status, prefs = await api("PUT", "notifications", "preferences", user="bob",
                              body={"email": " bob@work.example.com ",
                                    "emailKinds": ["reply", "shared", "reply"]})  # fmt: skip
    assert status == 200
    assert prefs["email"] == "bob@work.example.com" and prefs["addressFrom"] == "preference"
    assert prefs["emailKinds"] == ["shared", "reply"]

    bad = [
        {"emailKinds": ["mentioned", "gossip"]},
        {"emailKinds": "mentioned"},
        {"emailKinds": [1]},
        {"email": "bob"},
        {"email": "bob@localhost"},
        {"email": "a b@example.org"},
        {"email": "bob@example.org, eve@example.org"},
        {"email": "bob@example.org\r\nBcc: eve@example.org"},
        {"email": "Bob <bob@example.org>"},
        {"email": "x" * 250 + "@example.org"},
        {"email": 42},
        {"sms": "+1 555"},
        # a good part with a bad one: nothing of it is applied
        {"email": "new@example.org", "emailKinds": ["nope"]},
    ]
    for wrong in bad:
        status, reply = await api("PUT", "notifications", "preferences", user="bob", body=wrong)
        assert status == 400, wrong
        assert reply.get("message"), wrong
    status, reply = await api("PUT", "notifications", "preferences", user="bob", body="[1]")
    assert status == 400
    status, reply = await api("PUT", "notifications", "preferences", user="bob", body="{x")
    assert status == 400
    status, prefs = await api("GET", "notifications", "preferences", user="bob")
    assert prefs["email"] == "bob@work.example.com" and prefs["emailKinds"] == ["shared", "reply"]
    # clearing the address falls back to the deployer's template; each user has their own
    status, prefs = await api("PUT", "notifications", "preferences", user="bob",
                              body={"email": None})  # fmt: skip
    assert prefs["address"] == "bob@example.org" and prefs["emailKinds"] == ["shared", "reply"]
    status, carol = await api("GET", "notifications", "preferences", user="carol")
    assert carol["emailKinds"] == ["mentioned"] and carol["address"] == "carol@example.org"


async def test_delivery_and_preferences_honoured(jp_root_dir, jp_serverapp, api, smtp):
    """bob chose shares and mentions, carol only mentions: a share e-mails bob, not carol;
    the message says who did what, with a link."""
    smtp.start()
    (jp_root_dir / "plan.txt").write_text("x")
    status, _ = await api("PUT", "notifications", "preferences", user="bob",
                          body={"emailKinds": ["shared", "mentioned"]})  # fmt: skip
    assert status == 200
    for user in ("bob", "carol"):
        status, _ = await api("PUT", "shares", "plan.txt", body={"user": user, "role": "viewer"})
        assert status == 200
    sharing = jp_serverapp.web_app.settings["jupyter_collab_sharing"]
    # a mention for carol afterwards: her only e-mail must hold only it (not the share)
    await sharing.notifications.comment(
        "mentioned", "carol", Actor(), "plan.txt", "t9", "hi @carol"
    )

    await eventually(lambda: smtp.inbox.to("bob@example.org"), timeout=60, what="bob's e-mail")
    (mail,) = smtp.inbox.to("bob@example.org")
    assert mail["From"] == "Jupyter <jupyter@example.org>"
    assert mail["Subject"].startswith("Alice changed your access to plan.txt")
    text = body(mail)
    assert "Hello bob," in text and "plan.txt" in text
    assert "https://hub.example.org/user/bob/lab/tree/plan.txt" in text

    await eventually(lambda: smtp.inbox.to("carol@example.org"), timeout=60, what="carol's")
    (mail,) = smtp.inbox.to("carol@example.org")
    assert mail["Subject"] == "Alice mentioned you in plan.txt: “hi @carol”"
    assert "changed your access" not in body(mail)


async def test_ten_mentions_in_the_window_make_one_message(jp_serverapp, smtp):
    smtp.start()
    sharing = jp_serverapp.web_app.settings["jupyter_collab_sharing"]
    for i in range(10):
        await sharing.notifications.comment(
            "mentioned", "dave", Actor(), "nb.ipynb", f"t{i}", f"question {i} for @dave"
        )
    await eventually(lambda: smtp.inbox.to("dave@example.org"), timeout=60, what="the e-mail")
    mailer = sharing.notifications.mailer
    await eventually(mailer.idle, timeout=60, what="the mailer to be idle")
    (mail,) = smtp.inbox.to("dave@example.org")
    assert mail["Subject"] == "10 new notifications in Jupyter"
    text = body(mail)
    assert all(f"question {i} for @dave" in text for i in range(10))
    assert text.count("- Alice mentioned you in nb.ipynb") == 10


async def test_retried_after_the_smtp_server_was_down(jp_serverapp, api, smtp):
    """The SMTP server is down when the batch is due: the mailer retries (with backoff) and
    delivers once it is up; the event loop served requests meanwhile."""
    sharing = jp_serverapp.web_app.settings["jupyter_collab_sharing"]
    mailer = sharing.notifications.mailer
    await sharing.notifications.comment("mentioned", "bob", Actor(), "a.txt", "t1", "@bob")
    await eventually(lambda: mailer.failures >= 2, timeout=60, what="failed attempts")
    assert smtp.inbox.to("bob@example.org") == []
    status, inbox = await api("GET", "notifications", user="bob")  # the server serves on
    assert status == 200 and inbox["unread"] == 1
    smtp.start()
    await eventually(lambda: smtp.inbox.to("bob@example.org"), timeout=60, what="the e-mail")
    assert mailer.sent == 1 and mailer.failed == 0


async def test_no_smtp_host_means_no_mailer() -> None:
    """Without smtp_host (the default) there is no mailer at all, so nothing can be sent;
    smtp_host without a From address is refused the same way (and logged)."""
    from jupyter_collab.app import CollabApp

    app = CollabApp()
    assert app._mailer() is None
    app.smtp_host = "127.0.0.1"
    assert app._mailer() is None
    app.email_from = "j@example.org"
    assert app._mailer() is not None


# -- the outbox: mail that waits survives a stop, and a group sends one batch per address -------

SERVER_CONFIG = """
c.ServerApp.identity_provider_class = "tests.auth.TestIdentityProvider"
c.ServerApp.authorizer_class = "tests.auth.TestAuthorizer"
c.CollabApp.owners = ["alice"]
c.CollabApp.freeze_gc_at_start = False
"""


def mail_settings(port: int, window: float) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none",
        "email_from": "jupyter@example.org", "email_address_template": "{username}@example.org",
        "email_batch_window": window, "email_retry_delay": 0.2, "email_retry_max": 0.5,
        "email_max_attempts": 1000, "smtp_timeout": 5.0,
    }  # fmt: skip


def configured(tmp_path: Any) -> Any:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "jupyter_server_config.py").write_text(SERVER_CONFIG)
    return root


async def as_user(server: Any, method: str, path: str, user: str, body: Any = None) -> Any:
    from .auth import token_header

    request = HTTPRequest(
        f"{server.url}/{path}", method=method, headers=token_header(user),
        body=None if body is None else json.dumps(body), request_timeout=300,
    )  # fmt: skip
    try:
        reply = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as error:
        assert error.response is not None
        return error.code, json.loads(error.response.body or b"{}")
    return reply.code, json.loads(reply.body or b"{}")


async def mention_ready(server: Any, path: str) -> None:
    """bob may read ``path`` and is in the user directory (so ``@bob`` notifies him)."""
    status, _ = await as_user(server, "PUT", f"api/collab/shares/{path}", "alice",
                              {"user": "bob", "role": "viewer"})  # fmt: skip
    assert status == 200

    async def known() -> bool:
        await as_user(server, "GET", "api/collab/comments?path=nothing-here.txt", "bob")
        status, reply = await as_user(server, "GET", "api/collab/users?q=bob", "alice")
        return status == 200 and any(u["username"] == "bob" for u in reply["users"])

    await eventually(known, timeout=120, what="bob in the directory")


async def readable(server: Any, path: str) -> None:
    """bob may read ``path`` on ``server`` (another server learns shares through the bus)."""

    async def reads() -> bool:
        status, _ = await as_user(server, "GET", f"api/collab/comments?path={path}", "bob")
        return status == 200

    await eventually(reads, timeout=120, what=f"bob reading {path}")


async def mention(server: Any, path: str, text: str) -> None:
    status, reply = await as_user(server, "POST", "api/collab/comments", "alice",
                                  {"path": path, "body": text})  # fmt: skip
    assert status == 201 and reply["mentioned"] == ["bob"], reply


def outbox_rows(db: Any) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM collab_mail_outbox").fetchone()[0]


@pytest.mark.timeout(900)
async def test_mail_waiting_for_a_retry_is_sent_after_a_restart(tmp_path, smtp) -> None:
    """The SMTP server is down: the mention's e-mail fails, the server is stopped (its last
    attempt at the stop fails too), the e-mail stays in the database; started again with the
    SMTP server up, it is delivered, once."""
    root = configured(tmp_path)
    (root / "plan.txt").write_text("x\n")
    db = tmp_path / "collab.db"
    settings = mail_settings(smtp.port, 0.5)
    first = Server(root, db, **settings)
    first.log_path = tmp_path / "first.log"
    try:
        started(first)
        await mention_ready(first, "plan.txt")
        await mention(first, "plan.txt", "@bob have a look")
        await eventually(lambda: "E-mail to bob@example.org failed" in first.log(), timeout=120,
                         what="a failed attempt")  # fmt: skip
        assert first.terminate() == 0
        assert outbox_rows(db) == 1
    finally:
        first.stop()
    assert smtp.inbox.to("bob@example.org") == []

    smtp.start()
    second = Server(root, db, **settings)
    second.log_path = tmp_path / "second.log"
    try:
        started(second)
        await eventually(lambda: smtp.inbox.to("bob@example.org"), timeout=120,
                         what="the e-mail after the restart")  # fmt: skip
        await eventually(lambda: outbox_rows(db) == 0, timeout=60, what="the outbox emptied")
        (mail,) = smtp.inbox.to("bob@example.org")
        assert "have a look" in body(mail)
        assert second.terminate() == 0
    finally:
        second.stop()
    assert len(smtp.inbox.to("bob@example.org")) == 1


@pytest.mark.timeout(900)
async def test_ten_mentions_through_two_servers_make_one_message(
    tmp_path, smtp, postgres_url, redis_factory
) -> None:
    """Two servers of a group (one PostgreSQL, one Redis); alice mentions bob ten times,
    alternating servers, within the batch window: bob gets one e-mail with all ten."""
    import psycopg

    smtp.start()
    root = configured(tmp_path)
    (root / "review.txt").write_text("x\n")
    redis = redis_factory()
    servers = []
    try:
        for name in ("a", "b"):
            server = Server(
                root, tmp_path / f"{name}.db", redis_url=redis.url, database_url=postgres_url,
                **mail_settings(smtp.port, 30.0),
            )
            server.log_path = tmp_path / f"server-{name}.log"
            servers.append(started(server))
        await mention_ready(servers[0], "review.txt")
        for server in servers:
            await readable(server, "review.txt")
        for i in range(10):
            await mention(servers[i % 2], "review.txt", f"@bob point {i}")
        await eventually(lambda: smtp.inbox.to("bob@example.org"), timeout=300,
                         what="the e-mail")  # fmt: skip

        def outbox() -> int:
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                return conn.execute("SELECT count(*) FROM collab_mail_batches").fetchone()[0]

        await eventually(lambda: outbox() == 0, timeout=120, what="the outbox emptied")
        for server in servers:  # (a stop sends what is left: nothing may be)
            assert server.terminate() == 0
        (mail,) = smtp.inbox.to("bob@example.org")
        assert mail["Subject"] == "10 new notifications in Jupyter"
        text = body(mail)
        assert all(f"point {i}" in text for i in range(10))
        sent_by = [s for s in servers if "E-mailed 10 notification(s)" in s.log()]
        assert len(sent_by) == 1
    finally:
        for server in servers:
            server.stop()
