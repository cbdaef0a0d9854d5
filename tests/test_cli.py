"""``jupyter collab`` against real stores made by real servers (docs/cli.md).

Every command runs as users run it: a process of its own (``python -m jupyter_collab``) that
reads the server's configuration from the Jupyter config dir (db_path, root_dir) and finds
running servers in Jupyter's runtime dir. The servers are real ``jupyter_server`` processes
(``tests/servers.py``) with several users (``tests/auth.py``), edited by real WebSocket clients
(``tests/client.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from .client import Client, eventually
from .servers import REPO, Server

# Every command is a process of its own, which imports Python's notebook machinery: seconds
# each on a loaded machine; the tests run a few dozen.
pytestmark = pytest.mark.timeout(1800)

# ---------------------------------------------------------------------------------------------


class Setup:
    """A served folder, its database, the configuration both the server and the command read."""

    def __init__(self, tmp: Path, **collab: Any) -> None:
        self.tmp = tmp
        self.root = tmp / "root"
        self.root.mkdir(exist_ok=True)
        self.db = tmp / "collab.db"
        self.cfg = tmp / "cfg"
        self.cfg.mkdir(exist_ok=True)
        self.runtime = tmp / "runtime"
        (self.cfg / "jupyter_server_config.json").write_text(
            json.dumps(
                {
                    "ServerApp": {
                        "root_dir": str(self.root),
                        "identity_provider_class": "tests.auth.TestIdentityProvider",
                    },
                    "CollabApp": {"db_path": str(self.db)},
                }
            )
        )
        self.collab = {"save_delay": 0.1, "save_max_wait": 0.5, "version_quiet_period": 0,
                       **collab}  # fmt: skip
        self.servers: list[Server] = []

    def server(self) -> Server:
        srv = Server(self.root, self.db, **self.collab)
        self.servers.append(srv)
        return srv.start()

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "JUPYTER_CONFIG_DIR": str(self.cfg),
            "JUPYTER_RUNTIME_DIR": str(self.runtime),
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jupyter_collab", *args], capture_output=True, text=True,
            env=self.env(), cwd=self.tmp, timeout=600, check=False,
        )  # fmt: skip

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return json.loads(result.stdout)

    def stop(self) -> None:
        for srv in self.servers:
            srv.stop()


async def arun(setup: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(setup.run, *args)


async def ajson(setup: Setup, *args: str) -> Any:
    return await asyncio.to_thread(setup.json, *args)


async def connect_as(srv: Server, path: str, user: str, type: str = "file") -> Client:
    """A protocol client of ``user`` (tests/auth.py tokens) in the document at ``path``."""
    format = "json" if type == "notebook" else "text"
    status, reply = await srv.request(
        "PUT", f"api/collab/session/{path}", {"format": format, "type": type}
    )
    assert status in (200, 201), reply
    url = f"ws://127.0.0.1:{srv.port}/api/collab/room/{reply['room']}"
    headers = {"Authorization": f"token {user}-token"}
    ws = await websocket_connect(HTTPRequest(url, headers=headers, request_timeout=120))
    client = Client(ws, type)
    await asyncio.wait_for(client.synced.wait(), 120)
    return client


async def name_version(srv: Server, room: str, name: str) -> dict[str, Any]:
    status, body = await srv.request(
        "POST", f"api/collab/documents/{room}/versions", {"name": name}
    )
    assert status == 201, body
    return body["version"]


def text(client: Client) -> str:
    return str(client.jdoc._ysource)


async def until_saved(path: Path, content: str) -> None:
    await eventually(lambda: path.read_text() == content, timeout=120, what=f"{path} saved")


async def history(setup: Setup, srv: Server) -> dict[str, Any]:
    """A text file and a notebook edited by alice and bob, with named versions."""
    (setup.root / "notes.txt").write_text("first line\n")
    alice = await connect_as(srv, "notes.txt", "alice")
    bob = await connect_as(srv, "notes.txt", "bob")
    room = (await srv.session("notes.txt"))["room"]
    alice.jdoc._ysource.insert(len(text(alice)), "alice was here\n")
    await eventually(lambda: "alice" in text(bob), what="bob sees alice")
    await until_saved(setup.root / "notes.txt", "first line\nalice was here\n")
    draft = await name_version(srv, room, "Draft")
    bob.jdoc._ysource.insert(0, "bob's title\n")
    await until_saved(setup.root / "notes.txt", "bob's title\nfirst line\nalice was here\n")
    final = await name_version(srv, room, "Final")

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1", id="c0"), nbformat.v4.new_markdown_cell(
        "# Title", id="m0")]  # fmt: skip
    nbformat.write(nb, setup.root / "analysis.ipynb")
    writer = await connect_as(srv, "analysis.ipynb", "alice", "notebook")
    nb_room = (await srv.session("analysis.ipynb", "notebook"))["room"]
    writer.jdoc.ycells[0]["source"].insert(5, "0")  # a = 10
    await eventually(
        lambda: "a = 10" in (setup.root / "analysis.ipynb").read_text(), timeout=120,
        what="notebook saved",
    )  # fmt: skip
    nb_version = await name_version(srv, nb_room, "Ten")
    return {"room": room, "draft": draft, "final": final, "nb_room": nb_room,
            "nb_version": nb_version, "clients": [alice, bob, writer]}  # fmt: skip


# -- export, versions, documents ---------------------------------------------------------------


async def test_export_at_a_version_is_what_the_history_api_gives(tmp_path: Path) -> None:
    """On the store of a running server: ``versions --json`` lists what the API lists,
    ``export --version`` writes what ``GET .../versions/{id}`` returns (text as text, the
    notebook as .ipynb JSON), ``documents --json`` lists both documents with their versions."""
    setup = Setup(tmp_path)
    try:
        srv = setup.server()
        made = await history(setup, srv)
        for path, room in (("notes.txt", made["room"]), ("analysis.ipynb", made["nb_room"])):
            status, api = await srv.request("GET", f"api/collab/documents/{room}/versions")
            assert status == 200
            listed = await ajson(setup, "versions", path)
            assert listed["room"] == room
            assert listed["versions"] == api["versions"]
            assert len(api["versions"]) >= 2  # (the file as first opened, and the named one)
            for version in api["versions"]:
                status, content = await srv.request(
                    "GET", f"api/collab/documents/{room}/versions/{version['id']}"
                )
                out = tmp_path / f"export-{version['id']}"
                result = await arun(setup, "export", path, "--version", str(version["id"]),
                                    "-o", str(out))  # fmt: skip
                assert result.returncode == 0, result.stderr
                if path.endswith(".ipynb"):
                    assert json.loads(out.read_text()) == content["content"]
                    nbformat.validate(nbformat.reads(out.read_text(), as_version=4))
                else:
                    assert out.read_text() == content["content"]
            reply = await ajson(setup, "export", path, "--version", str(version["id"]))
            assert reply["content"] == content["content"]
            assert reply["version"] == content["version"]
        # by name, and the current content on stdout
        by_name = await arun(setup, "export", "notes.txt", "--version", "Draft")
        assert by_name.stdout == "first line\nalice was here\n"
        current = await arun(setup, "export", "notes.txt")
        assert current.stdout == "bob's title\nfirst line\nalice was here\n"

        documents = (await ajson(setup, "documents"))["documents"]
        by_path = {d["path"]: d for d in documents}
        assert set(by_path) == {"notes.txt", "analysis.ipynb"}
        assert by_path["notes.txt"]["room"] == made["room"]
        assert by_path["analysis.ipynb"]["kind"] == "json:notebook"
        assert by_path["notes.txt"]["versions"] >= 3 and by_path["notes.txt"]["logBytes"] > 0
        assert by_path["notes.txt"]["lastEdit"] is not None
        table = await arun(setup, "documents")
        assert table.returncode == 0 and "notes.txt" in table.stdout
        assert "analysis.ipynb" in table.stdout and "2 document(s)" in table.stdout

        audit = (await ajson(setup, "audit", "--path", "notes.txt", "--limit", "0"))["events"]
        assert {"join", "version-created"} <= {e["action"] for e in audit}
        assert all(e["document"] == made["room"] for e in audit)
        alices = (await ajson(setup, "audit", "--user", "alice", "--since", "1h"))["events"]
        assert alices and all(e["user"] == "alice" for e in alices)
        assert (await ajson(setup, "audit", "--since", "2000-01-01T00:00"))["events"]
        assert not (await ajson(setup, "audit", "--since", "2999-01-01"))["events"]
    finally:
        setup.stop()


# -- restore -------------------------------------------------------------------------------------


async def test_restore_on_a_running_server_reaches_connected_clients(tmp_path: Path) -> None:
    """The command finds the running server in the runtime dir and restores through it: both
    connected clients see the version's content live, the restore is credited to the user of
    the token given, and the content before is kept as a version."""
    setup = Setup(tmp_path)
    try:
        srv = setup.server()
        made = await history(setup, srv)
        alice, bob = made["clients"][:2]
        reply = await ajson(setup, "restore", "notes.txt", "--version", str(made["draft"]["id"]),
                            "--token", "carol-token")  # fmt: skip
        assert reply["server"] and reply["restored"] == made["draft"]["id"]
        assert reply["version"]["kind"] == "restore" and reply["version"]["createdBy"] == "carol"
        expected = "first line\nalice was here\n"
        await eventually(lambda: text(alice) == text(bob) == expected, timeout=60,
                         what="both clients see the restore")  # fmt: skip
        await eventually(lambda: any(n["type"] == "restored" for n in bob.notices), timeout=60,
                         what="the restored notice")  # fmt: skip
        await until_saved(setup.root / "notes.txt", expected)
        before = await ajson(setup, "export", "notes.txt", "--version",
                             str(reply["before"]["id"]))  # fmt: skip
        assert before["content"] == "bob's title\nfirst line\nalice was here\n"
        audit = (await ajson(setup, "audit", "--path", "notes.txt", "--user", "carol"))["events"]
        assert [e["action"] for e in audit if e["action"] == "restore"] == ["restore"]
    finally:
        setup.stop()


async def test_restore_without_a_server_writes_the_file_and_the_log_with_credits(
    tmp_path: Path,
) -> None:
    """Server stopped: the command restores on the store and the file, credited as the
    server credits (the restored lines stay alice's, carol made the restore); a server started
    afterwards opens the restored content once (no disk edit merged twice)."""
    setup = Setup(tmp_path)
    try:
        srv = setup.server()
        made = await history(setup, srv)
        for client in made["clients"]:
            client.close()
        assert srv.terminate() == 0
        result = await arun(setup, "restore", "notes.txt", "--version", "Draft", "--user", "carol")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "no server running" in result.stdout
        expected = "first line\nalice was here\n"
        assert (setup.root / "notes.txt").read_text() == expected
        versions = (await ajson(setup, "versions", "notes.txt"))["versions"]
        assert versions[0]["kind"] == "restore" and versions[0]["createdBy"] == "carol"
        assert versions[0]["restoredFrom"]["name"] == "Draft"
        assert (await ajson(setup, "export", "notes.txt"))["content"] == expected
        assert (await ajson(setup, "audit", "--user", "carol"))["events"][0]["action"] == "restore"

        again = setup.server()
        reader = await connect_as(again, "notes.txt", "bob")
        assert text(reader) == expected
        status, attribution = await again.request(
            "GET", f"api/collab/documents/{made['room']}/attribution"
        )
        assert status == 200, attribution
        lines = {line["line"]: line for line in attribution["lines"]}
        assert lines[2]["user"] == "alice"  # "alice was here": still hers
        assert lines[2]["restoredBy"] in (None, "carol")
        assert (setup.root / "notes.txt").read_text() == expected
    finally:
        setup.stop()


# -- backup and import ---------------------------------------------------------------------------


def _snapshot_of(setup: Setup, *where: str) -> dict[str, Any]:
    """Documents, every version list and the whole audit log of a store."""
    documents = setup.json("documents", *where)["documents"]
    versions = {d["room"]: setup.json("versions", d["room"], *where)["versions"]
                for d in documents}  # fmt: skip
    audit = setup.json("audit", "--limit", "0", *where)["events"]
    return {"documents": documents, "versions": versions, "audit": audit}


async def test_backup_then_import_into_an_empty_store_gives_the_same_history(
    tmp_path: Path,
) -> None:
    """A backup made while the server runs is a sound store; after the server stops, a
    backup imported into an empty store has the same documents, versions, audit and content at
    every version; a non-empty store is refused unless --force."""
    setup = Setup(tmp_path)
    try:
        srv = setup.server()
        made = await history(setup, srv)
        live = tmp_path / "live-backup.db"
        result = await arun(setup, "backup", str(live))
        assert result.returncode == 0, result.stderr
        assert (await arun(setup, "check", "--db", str(live))).returncode == 0
        assert {d["path"] for d in (await ajson(setup, "documents", "--db", str(live)))[
            "documents"]} == {"notes.txt", "analysis.ipynb"}  # fmt: skip
        for client in made["clients"]:
            client.close()
        assert srv.terminate() == 0

        backup = tmp_path / "backup.db"
        made_backup = await ajson(setup, "backup", str(backup))
        assert made_backup["rows"]["collab_updates"] > 0
        assert (await arun(setup, "backup", str(backup))).returncode == 1  # exists: refused
        empty = tmp_path / "restored" / "collab.db"
        imported = await ajson(setup, "import", str(backup), "--db", str(empty))
        assert imported["rows"]["collab_versions"] == made_backup["rows"]["collab_versions"]
        original = await asyncio.to_thread(_snapshot_of, setup)
        copy = await asyncio.to_thread(_snapshot_of, setup, "--db", str(empty))
        assert copy == original
        for version in (made["draft"], made["nb_version"]):
            room = made["room"] if version is made["draft"] else made["nb_room"]
            a = await ajson(setup, "export", room, "--version", str(version["id"]))
            b = await ajson(setup, "export", room, "--version", str(version["id"]),
                            "--db", str(empty))  # fmt: skip
            assert a["content"] == b["content"]

        refused = await arun(setup, "import", str(backup), "--db", str(empty))
        assert refused.returncode == 1 and "not empty" in refused.stderr
        forced = await arun(setup, "import", str(backup), "--db", str(empty), "--force")
        assert forced.returncode == 0, forced.stderr
        assert await asyncio.to_thread(_snapshot_of, setup, "--db", str(empty)) == original

        # a server on the imported store serves the history
        setup.db = empty
        again = setup.server()
        room = made["room"]
        status, listing = await again.request("GET", f"api/collab/documents/{room}/versions")
        assert status == 200 and listing["versions"] == original["versions"][made["room"]]
    finally:
        setup.stop()


async def test_backup_and_import_through_postgresql(tmp_path: Path, postgres_server: Any) -> None:
    """SQLite backup -> PostgreSQL -> backup -> a fresh SQLite store: the same documents,
    versions and audit all the way; ``check`` passes on PostgreSQL and finds a row damaged on
    purpose there."""
    setup = Setup(tmp_path)
    try:
        srv = setup.server()
        made = await history(setup, srv)
        for client in made["clients"]:
            client.close()
        assert srv.terminate() == 0
        original = await asyncio.to_thread(_snapshot_of, setup)
        backup = tmp_path / "backup.db"
        await ajson(setup, "backup", str(backup))
        url = postgres_server.create_database()
        pg = ("--database-url", url)
        await ajson(setup, "import", str(backup), *pg)
        assert await asyncio.to_thread(_snapshot_of, setup, *pg) == original
        assert (await ajson(setup, "check", *pg))["ok"] is True

        again = tmp_path / "from-pg.db"
        assert (await ajson(setup, "backup", str(again), *pg))["engine"] == "postgres"
        fresh = tmp_path / "fresh" / "collab.db"
        await ajson(setup, "import", str(again), "--db", str(fresh))
        assert await asyncio.to_thread(_snapshot_of, setup, "--db", str(fresh)) == original
        # ids keep going up after an import (PostgreSQL's identity sequences were moved on)
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            top = conn.execute("SELECT MAX(id) FROM collab_audit").fetchone()[0]
            new = conn.execute(
                "INSERT INTO collab_audit (time, action, details) VALUES (0, 'save', '{}') "
                "RETURNING id"
            ).fetchone()[0]
            assert new > top
            conn.execute("DELETE FROM collab_audit WHERE id = %s", (new,))
            conn.execute(
                "UPDATE collab_updates SET data = %s WHERE doc_id = %s AND seq = 2",
                (b"\x07garbage", made["room"]),
            )
        damaged = await arun(setup, "check", *pg, "--json")
        assert damaged.returncode == 1
        rows = json.loads(damaged.stdout)["damagedRows"]
        assert {"table": "collab_updates", "key": {"doc_id": made["room"], "seq": 2}} in [
            {"table": r["table"], "key": r["key"]} for r in rows
        ]
    finally:
        setup.stop()


# -- check ---------------------------------------------------------------------------------------


async def test_check_finds_rows_damaged_on_purpose_and_repairs_them(tmp_path: Path) -> None:
    """SQLite's own check finds nothing wrong with a valid row holding garbage; ``check``
    does (an update that is not one, a version whose state does not decompress), names the
    rows, and ``--repair`` leaves a store that checks out and that a server serves."""
    setup = Setup(tmp_path)
    try:
        srv = setup.server()
        made = await history(setup, srv)
        for client in made["clients"]:
            client.close()
        assert srv.terminate() == 0
        assert (await arun(setup, "check")).returncode == 0
        with sqlite3.connect(setup.db) as conn:
            conn.execute(
                "UPDATE collab_updates SET data = ? WHERE doc_id = ? AND seq = 2",
                (b"\x07not an update", made["room"]),
            )
            conn.execute(
                "UPDATE collab_versions SET state = ? WHERE id = ?",
                (b"not zlib", made["nb_version"]["id"]),
            )
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        result = await arun(setup, "check")
        assert result.returncode == 1
        assert f"collab_updates (doc_id={made['room']}, seq=2)" in result.stdout
        assert f"collab_versions (id={made['nb_version']['id']}" in result.stdout
        assert "does not decompress" in result.stdout
        report = json.loads((await arun(setup, "check", "--json")).stdout)
        assert report["ok"] is False and len(report["damagedRows"]) >= 2

        repaired = await arun(setup, "check", "--repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert "starts over from its file" in repaired.stdout
        assert (await arun(setup, "check")).returncode == 0
        again = setup.server()
        reader = await connect_as(again, "notes.txt", "bob")
        assert text(reader) == (setup.root / "notes.txt").read_text()
    finally:
        setup.stop()


# -- compact -------------------------------------------------------------------------------------


async def test_compact_folds_the_log_and_keeps_every_version(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    try:
        srv = setup.server()
        made = await history(setup, srv)
        for client in made["clients"]:
            client.close()
        assert srv.terminate() == 0
        before = {
            room: [
                (await ajson(setup, "export", room, "--version", str(v["id"])))["content"]
                for v in (await ajson(setup, "versions", room))["versions"]
            ]
            for room in (made["room"], made["nb_room"])
        }
        current = (await ajson(setup, "export", "notes.txt"))["content"]
        result = await ajson(setup, "compact", "--CollabApp.history_retention=0")
        assert made["room"] in result["compacted"] and result["trimmedEntries"] > 0
        documents = {d["room"]: d for d in (await ajson(setup, "documents"))["documents"]}
        assert documents[made["room"]]["logEntries"] == 0
        after = {
            room: [
                (await ajson(setup, "export", room, "--version", str(v["id"])))["content"]
                for v in (await ajson(setup, "versions", room))["versions"]
            ]
            for room in (made["room"], made["nb_room"])
        }
        assert after == before
        assert (await ajson(setup, "export", "notes.txt"))["content"] == current
        assert (await arun(setup, "check")).returncode == 0
    finally:
        setup.stop()


# -- the command line itself ----------------------------------------------------------------------


def test_bad_command_lines_exit_with_2_and_say_why(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.db.write_bytes(b"")  # (an empty database: commands get past opening it)
    cases = [
        (("frobnicate",), "unknown command"),
        (("export",), "expected PATH"),
        (("versions", "a", "b"), "expected PATH"),
        (("documents", "--bogus"), "bogus"),
        (("audit", "--since", "yesterday-ish"), "--since"),
        (("audit", "--action", "dance"), "unknown --action"),
        (("audit", "--limit", "-1"), "--limit"),
        (("restore", "notes.txt"), "--version is required"),
        (("backup",), "expected FILE"),
    ]
    for args, message in cases:
        result = setup.run(*args)
        assert result.returncode == 2, f"{args}: {result.returncode} {result.stderr}"
        assert message in result.stderr, f"{args}: {result.stderr}"
    # --json still says it in JSON on stdout
    result = setup.run("export", "--json")
    assert result.returncode == 2 and json.loads(result.stdout)["exitCode"] == 2
    # a well-formed command that cannot do it: 1
    missing = setup.run("export", "nowhere.txt", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 1 and "no database" in missing.stderr
    assert setup.run("--version").returncode == 0  # (the program's own version)


def test_the_commands_read_the_servers_settings_with_its_defaults(tmp_path: Path) -> None:
    """The commands read CollabApp's settings without importing the server: the same
    defaults, and the same values from a configuration."""
    from traitlets.config import Config

    from jupyter_collab import CollabApp
    from jupyter_collab.cli.base import Settings

    names = ("db_path", "database_url", "root_name", "outage_dir", "history_retention",
             "deleted_retention")  # fmt: skip
    server = CollabApp()
    assert {n: getattr(Settings.from_config({}), n) for n in names} == {
        n: getattr(server, n) for n in names
    }
    config = Config({"CollabApp": {"db_path": str(tmp_path / "x.db"), "history_retention": 5.0,
                                   "root_name": "shared"}})  # fmt: skip
    server = CollabApp(config=config)
    assert {n: getattr(Settings.from_config(config.CollabApp), n) for n in names} == {
        n: getattr(server, n) for n in names
    }
