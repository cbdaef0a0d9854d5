"""A real ``redis-server`` for the tests, on 127.0.0.1 and a free port, in a temporary directory.

Debian's ``redis-server`` is installed with apt-get when it is missing (CI runs as root on a
fresh machine). Nothing is persisted (``--save "" --appendonly no``), so a restart empties it, as
a crashed cache would be. Fixtures:

* ``redis_server``: one server for the whole session; tests keep apart by key prefix.
* ``redis_factory``: servers of the test's own, which it may stop, kill and restart (outages).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REDIS_SERVER = "redis-server"


def redis_server_binary() -> str:
    """The path of ``redis-server``, installing Debian's package first when it is missing."""
    found = shutil.which(REDIS_SERVER)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail("redis-server is missing: apt-get install redis-server (Redis 7 or later)")
    subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "redis-server"],
        check=True,
        timeout=900,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    found = shutil.which(REDIS_SERVER)
    if not found:
        pytest.fail("apt-get installed redis-server but it is not on PATH")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One ``redis-server`` process; :meth:`restart` keeps its port (and loses its data)."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.binary = redis_server_binary()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60) -> None:
        if self.running:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 (the child owns it)
        self.process = subprocess.Popen(
            [
                self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.directory),
                "--protected-mode", "yes", "--daemonize", "no",
            ],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self.process.returncode}: {self.log_tail()}"
                )
            if self.ping():
                return
            time.sleep(0.05)
        self.stop(kill=True)
        raise RuntimeError(f"redis-server did not answer on port {self.port}: {self.log_tail()}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, kill: bool = False, timeout: float = 30) -> None:
        """Stop it: SIGTERM (a clean shutdown) or SIGKILL (a crash)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self.process = None

    def restart(self, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def log_tail(self, size: int = 2000) -> str:
        try:
            return (self.directory / "redis.log").read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def client(self):  # type: ignore[no-untyped-def]
        """A synchronous redis-py client, to look at or disturb the server from a test."""
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=30)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis shared by the session's tests (keep apart with a key prefix of your own)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start Redis servers of the test's own (stopped at its end): ``redis_factory()``."""
    servers: list[RedisServer] = []

    def make(port: int | None = None) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", port)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop(kill=True)
