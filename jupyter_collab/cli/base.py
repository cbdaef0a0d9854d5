"""What every ``jupyter collab`` subcommand shares: the server's configuration, the store,
output for people (tables) and for scripts (``--json``), progress bars and exit codes.

Exit codes (docs/cli.md): 0 done / nothing wrong; 1 the command ran and found problems or could
not do what was asked (no such document, a damaged store, a refused restore); 2 the command
line itself is wrong (unknown option, missing or malformed argument).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NoReturn, TypeVar

from jupyter_core.application import JupyterApp, base_aliases, base_flags
from traitlets import Bool, Unicode

T = TypeVar("T")

OK, FAILED, USAGE = 0, 1, 2

ALIASES = {
    **base_aliases,
    "db": "CollabCommandBase.db",
    "database-url": "CollabCommandBase.database_url",
    "root-dir": "CollabCommandBase.root_dir",
}
FLAGS = {
    **base_flags,
    "json": (
        {"CollabCommandBase": {"json": True}},
        "Print JSON for scripts instead of tables for people.",
    ),
}


class CommandError(Exception):
    """The command cannot do what was asked; exits with ``code`` after saying why."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


class UsageError(CommandError):
    """The command line is wrong (exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)


@dataclass
class Settings:
    """What the commands read of ``CollabApp``'s settings. Read from the configuration without
    importing the server (jupyter_server and jupyter_events take seconds to import); the
    defaults are ``CollabApp``'s (``tests/test_cli.py`` checks they stay the same)."""

    db_path: str
    database_url: str
    root_name: str
    outage_dir: str
    history_retention: float
    deleted_retention: float

    @classmethod
    def from_config(cls, section: Any) -> Settings:
        from jupyter_core.paths import jupyter_data_dir, jupyter_runtime_dir

        def get(name: str, default: Any) -> Any:
            return section.get(name, default)

        return cls(
            db_path=str(get("db_path", "") or os.path.join(
                jupyter_data_dir(), "jupyter_collab", "collab.db")),
            database_url=str(get("database_url", "")).strip(),
            root_name=str(get("root_name", "")),
            outage_dir=str(get("outage_dir", "") or os.path.join(
                jupyter_runtime_dir(), "jupyter_collab")),
            history_retention=float(get("history_retention", 7 * 24 * 3600.0)),
            deleted_retention=float(get("deleted_retention", 30 * 24 * 3600.0)),
        )  # fmt: skip


@dataclass
class Where:
    """The store a command works on, as the server would choose it."""

    db_path: str  # the SQLite file (when url is empty)
    url: str  # PostgreSQL (database_url)
    root: str  # the served folder's name in the database (file ids are keyed by it)
    root_dir: str  # the served folder on this machine

    @property
    def engine(self) -> str:
        return "postgres" if self.url else "sqlite"

    @property
    def shown(self) -> str:
        if self.url:
            from ..persistence.pgdatabase import masked

            return masked(self.url)
        return self.db_path


class UsageExitStatus(JupyterApp):
    """traitlets turns a bad option into exit code 1; a wrong command line is 2 here (for the
    top-level command and every subcommand alike), so scripts can tell it from a failure."""

    _initializing = False

    def initialize(self, argv: Any = None) -> None:
        self._initializing = True
        try:
            super().initialize(argv)
        finally:
            self._initializing = False

    def exit(self, exit_status: int | None = 0) -> NoReturn:
        if self._initializing and exit_status == 1:
            exit_status = USAGE
        super().exit(exit_status)
        raise SystemExit(exit_status)  # (for the type checker: exit raises)


class CollabCommandBase(UsageExitStatus):
    """A subcommand: reads ``jupyter_server_config`` (where ``CollabApp`` and ``ServerApp``
    are configured), so ``db_path``, ``database_url`` and the served folder are the server's
    unless given on the command line."""

    config_file_name = Unicode("jupyter_server_config", config=True)
    db = Unicode(
        "",
        config=True,
        help="The SQLite database to work on (default: CollabApp.db_path of the server's "
        "configuration).",
    )
    database_url = Unicode(
        "",
        config=True,
        help="The PostgreSQL database to work on (default: CollabApp.database_url of the "
        "server's configuration).",
    )
    root_dir = Unicode(
        "",
        config=True,
        help="The folder the server serves (default: ServerApp.root_dir of the server's "
        "configuration, else the current folder): paths are relative to it.",
    )
    json = Bool(False, config=True, help="Print JSON for scripts instead of tables for people.")
    aliases = ALIASES
    flags = FLAGS
    # (argument names shown in usage messages; subcommands set it)
    usage_line = ""

    # -- configuration ------------------------------------------------------------------------

    def collab_settings(self) -> Settings:
        """The server extension's settings this command needs, from the same configuration
        files and options (``CollabApp`` section), with the server's defaults."""
        return Settings.from_config(self.config.get("CollabApp", {}))

    @property
    def db_path(self) -> str:
        return self.db or self.collab_settings().db_path

    @property
    def outage_dir(self) -> str:
        return self.collab_settings().outage_dir

    def where(self) -> Where:
        settings = self.collab_settings()
        url = self.database_url or ("" if self.db else settings.database_url)
        root_dir = self.root_dir
        if not root_dir:
            server = self.config.get("ServerApp", {})
            root_dir = server.get("root_dir", "") or server.get("notebook_dir", "") or os.getcwd()
        root_dir = os.path.abspath(os.path.expanduser(root_dir))
        if url:
            from ..pgstores import root_name

            root = root_name(root_dir, settings.root_name)
        else:
            root = root_dir  # the server keys SQLite file ids by its contents root_dir
        return Where(self.db or settings.db_path, url, root, root_dir)

    # -- arguments ----------------------------------------------------------------------------

    def positional(self, *names: str) -> list[str]:
        """The positional arguments, exactly ``names`` of them."""
        if len(self.extra_args) != len(names):
            wanted = " ".join(n.upper() for n in names) or "no arguments"
            got = " ".join(self.extra_args) or "nothing"
            raise UsageError(f"expected {wanted}, got {got}")
        return list(self.extra_args)

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        # psycopg's pool logs every failed connection attempt while it retries; the command
        # says once why it could not reach the database.
        logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
        try:
            code = self.run()
        except CommandError as error:
            self.fail(str(error), error.code)
        except KeyboardInterrupt:
            self.fail("interrupted", FAILED)
        self.exit(code or OK)

    def run(self) -> int:
        """The command; returns its exit code (or raises :class:`CommandError`)."""
        raise NotImplementedError

    def fail(self, message: str, code: int) -> NoReturn:
        print(f"{self.name}: {'usage error' if code == USAGE else 'error'}: {message}",
              file=sys.stderr)  # fmt: skip
        if code == USAGE:
            print(f"Run `{self.name.replace('-', ' ', 2)} --help` for its options.",
                  file=sys.stderr)  # fmt: skip
        if self.json:
            self.emit({"error": message, "exitCode": code})
        self.exit(code)

    def asyncio_run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(coro)

    # -- output -------------------------------------------------------------------------------

    def emit(self, data: Any) -> None:
        """JSON for scripts, on stdout."""
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        sys.stdout.flush()

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """A table for people: columns as wide as their widest cell."""
        cells = [[_cell(v) for v in row] for row in rows]
        widths = [len(h) for h in headers]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
        print(line)
        print("  ".join("-" * w for w in widths))
        for row in cells:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

    def progress(self, total: int | None, what: str, unit: str = "it") -> Any:
        """A progress bar on stderr, only when it is a terminal (never in scripts' output)."""
        from tqdm import tqdm

        return tqdm(
            total=total, desc=what, unit=unit, file=sys.stderr, leave=False,
            disable=self.json or not sys.stderr.isatty(),
            unit_scale=unit == "B", dynamic_ncols=True,
        )  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def when(epoch: float | None) -> str:
    """A time for people: local, to the second."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def size(n: int) -> str:
    """Bytes for people."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def run_with_store(
    where: Where, work: Callable[[Any, Any], Coroutine[Any, Any, T]], *, retention: float
) -> T:
    """``work(store, file_ids)`` on the store ``where`` says, closed after."""

    async def go() -> T:
        if where.url:
            from ..documents.pgfileids import PostgresFileIds
            from ..persistence.pgdatabase import PostgresDatabase
            from ..persistence.postgres import PostgresStore
            from ..pgstores import COMPONENTS

            database = PostgresDatabase(where.url, timeout=30, min_size=1, max_size=2)
            try:
                await database.ready(*COMPONENTS)
                store = PostgresStore(database, retention=retention)
                ids = PostgresFileIds(database, where.root)
                try:
                    return await work(store, ids)
                finally:
                    await store.close()
                    await ids.close()
            finally:
                await database.close()
        from ..documents.fileids import SQLiteFileIds
        from ..persistence import SQLiteStore

        if not os.path.exists(where.db_path):
            raise CommandError(f"no database at {where.db_path}")
        store = await SQLiteStore.open(where.db_path, retention=retention)
        try:
            ids = await SQLiteFileIds.open(store.db, where.root)
            try:
                return await work(store, ids)
            finally:
                await ids.close()
        finally:
            await store.close()

    return asyncio.run(go())


class VersionOption:
    """Mixin for commands with ``--version N``: traitlets takes a bare ``--version`` as "print
    the program's version", so it is read as ``--at-version`` before traitlets sees it."""

    def parse_command_line(self, argv: Any = None) -> None:
        if argv is None:
            argv = sys.argv[1:]
        argv = ["--at-version" if arg == "--version" else arg for arg in argv]
        super().parse_command_line(argv)  # type: ignore[misc]


async def find_version(store: Any, doc_id: str, spelling: str) -> Any:
    """The version a ``--version`` names: its id (as `jupyter collab versions` shows), or its
    name (the newest version of that name)."""
    from ..persistence import ForeignVersion, UnknownVersion

    text = spelling.strip()
    if text.lstrip("-").isdigit():
        try:
            return await store.get_version(doc_id, int(text))
        except (UnknownVersion, ForeignVersion):
            raise CommandError(
                f"{doc_id} has no version {text} (`jupyter collab versions` lists them)"
            ) from None
    before = None
    while True:
        page = await store.list_versions(doc_id, limit=1000, before=before)
        for info in page:
            if info.name == text:
                return await store.get_version(doc_id, info.id)
        if len(page) < 1000:
            raise CommandError(f"{doc_id} has no version named {text!r}")
        before = page[-1].id
