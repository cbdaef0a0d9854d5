"""A real PostgreSQL for the tests, on 127.0.0.1 and a free port, in a temporary directory.

Debian's ``postgresql`` is installed with apt-get when no server binaries are found (CI runs as
root on a fresh machine). PostgreSQL refuses to run as root, so as root every server command
(``initdb``, ``pg_ctl``) runs as the ``postgres`` user through ``runuser``, in a directory that
user owns under ``/tmp`` (readable all the way down); as any other user they run as that user.

The cluster is made once per session with ``initdb`` and copied for each further server, which is
much quicker than running ``initdb`` again. Servers run with ``fsync=off``: the tests kill and
restart PostgreSQL but never the machine, and a killed server loses nothing the operating system
already holds, so they exercise the same crash recovery while sparing a shared disk.

Fixtures:

* ``postgres_server``: one server for the whole session (started on first use, stopped at the
  end even when tests fail); tests keep apart by database.
* ``postgres_url``: a fresh, empty database on it for one test (``postgresql://...``), dropped
  afterwards.
* ``postgres_factory``: servers of the test's own, which it may stop, kill and restart
  (outages); stopped at the end of the test.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PG_USER = "postgres"  # the database superuser initdb creates, and (as root) the system user
MIN_MAJOR = 13  # pg_xact_status, DROP DATABASE ... WITH (FORCE)


def _as_root() -> bool:
    return os.geteuid() == 0


def _bin_dirs() -> list[Path]:
    """Server binary directories, newest major version first."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        major = Path(initdb).parent.parent.name
        if major.isdigit() and int(major) >= MIN_MAJOR:
            found.append((int(major), Path(initdb).parent))
    on_path = shutil.which("initdb")
    dirs = [path for _, path in sorted(found, reverse=True)]
    if on_path and Path(on_path).resolve().parent not in dirs:
        dirs.append(Path(on_path).resolve().parent)
    return dirs


def postgres_bin_dir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are, installing Debian's package when they are missing."""
    dirs = _bin_dirs()
    if dirs:
        return dirs[0]
    if not _as_root() or not shutil.which("apt-get"):
        pytest.fail("PostgreSQL is missing: apt-get install postgresql (PostgreSQL 13 or later)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
        check=True, timeout=900, env=env,
    )  # fmt: skip
    dirs = _bin_dirs()
    if not dirs:
        pytest.fail("apt-get installed postgresql, but no initdb is in /usr/lib/postgresql")
    return dirs[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_as_owner(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a server command as the user that owns the cluster (``postgres`` when we are root)."""
    command = ["runuser", "-u", PG_USER, "--", *args] if _as_root() else args
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _private_dir(prefix: str) -> Path:
    """A new directory the server's user owns, with every parent searchable by that user."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp" if _as_root() else None))
    if _as_root():
        shutil.chown(path, PG_USER, PG_USER)
    return path


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


class Cluster:
    """A cluster made by ``initdb`` once, copied for every server (``trust`` auth, loopback)."""

    _template: Path | None = None

    @classmethod
    def template(cls) -> Path:
        if cls._template is None:
            bin_dir = postgres_bin_dir()
            root = _private_dir("collab-pg-template-")
            atexit.register(_remove, root)
            data = root / "data"
            done = _run_as_owner([
                str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", PG_USER,
                "-E", "UTF8", "--locale=C", "--no-sync",
            ], timeout=300)  # fmt: skip
            if done.returncode != 0:
                pytest.fail(f"initdb failed: {done.stdout}\n{done.stderr}")
            cls._template = data
        return cls._template


class PostgresServer:
    """One PostgreSQL server in a directory of its own; :meth:`restart` keeps port and data."""

    def __init__(self, port: int | None = None, *, fsync: bool = False) -> None:
        self.bin_dir = postgres_bin_dir()
        self.root = _private_dir("collab-pg-")
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = port or free_port()
        self._own_port = port is None  # may move to another free port if this one gets taken
        self.fsync = fsync
        copied = _run_as_owner(["cp", "-a", str(Cluster.template()), str(self.data)])
        if copied.returncode != 0:
            pytest.fail(f"copying the cluster failed: {copied.stderr}")
        self._started = False
        self._started_once = False  # (then the port is known to its clients: it stays)
        atexit.register(self.destroy)  # a safety net if the session dies before its finalizer

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    def _pg_ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return _run_as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args],
                             timeout=timeout)  # fmt: skip

    @property
    def running(self) -> bool:
        return self._pg_ctl("status", timeout=30).returncode == 0

    def start(self, timeout: float = 120) -> None:
        for attempt in range(3):
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=200"
            )
            done = self._pg_ctl("start", "-w", "-t", str(int(timeout)), "-l", str(self.log),
                                "-o", options, timeout=timeout + 30)  # fmt: skip
            if done.returncode == 0:
                break
            taken = "could not bind" in self.log_tail() or "in use" in self.log_tail()
            if not (taken and self._own_port and attempt < 2 and not self._started_once):
                raise RuntimeError(
                    f"pg_ctl start failed: {done.stdout}{done.stderr}{self.log_tail()}"
                )
            self.port = free_port()  # another process took the port meanwhile
        self._started = self._started_once = True
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, mode: str = "fast", timeout: float = 120) -> None:
        """Stop it: ``fast`` (a clean shutdown that ends every session, as an administrator's
        restart does) or ``immediate`` (every process quits at once, like a crash: the next
        start runs crash recovery)."""
        if not self._started:
            return
        done = self._pg_ctl("stop", "-w", "-t", str(int(timeout)), "-m", mode,
                            timeout=timeout + 30)  # fmt: skip
        if done.returncode != 0 and self.running:
            raise RuntimeError(f"pg_ctl stop failed: {done.stdout}{done.stderr}")
        self._started = False

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        """Stop the server whatever state it is in and remove its directory."""
        with contextlib.suppress(Exception):
            if self._started or self.running:
                self._pg_ctl("stop", "-w", "-t", "60", "-m", "immediate", timeout=90)
        self._started = False
        _remove(self.root)

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    # -- databases --------------------------------------------------------------------------

    def admin(self):  # type: ignore[no-untyped-def]
        """A synchronous autocommit psycopg connection to the ``postgres`` database."""
        import psycopg

        return psycopg.connect(self.url(), autocommit=True, connect_timeout=30)

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL shared by the session's tests (each takes a database of its own)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for this test, dropped at its end."""
    url = postgres_server.create_database()
    yield url
    with contextlib.suppress(Exception):
        postgres_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def postgres_factory() -> Iterator[Callable[..., PostgresServer]]:
    """Start PostgreSQL servers of the test's own (destroyed at its end): ``postgres_factory()``.

    The test may stop, kill (``stop("immediate")``) and restart them."""
    servers: list[PostgresServer] = []

    def make(port: int | None = None, *, fsync: bool = False) -> PostgresServer:
        server = PostgresServer(port, fsync=fsync)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.destroy()
