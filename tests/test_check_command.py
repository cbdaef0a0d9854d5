"""``jupyter collab check [--repair]``: says what is wrong with the database, and salvages it.

The command runs as users run it (a process of its own, the server's configuration read from
the Jupyter config dir); the repaired database is then used by a real server.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_collab.persistence import SQLiteStore

from .servers import REPO


def collab(*args: str, config_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if config_dir is not None:
        env["JUPYTER_CONFIG_DIR"] = str(config_dir)
    return subprocess.run(
        [sys.executable, "-m", "jupyter_collab", *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


def test_the_console_script_is_the_command():
    """``pip install`` puts ``jupyter-collab`` on the PATH, which ``jupyter collab`` runs."""
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["jupyter-collab"].partition(":")
    assert callable(getattr(importlib.import_module(module), name))
    usage = collab()
    assert usage.returncode == 2 and "check" in usage.stdout


def test_a_sound_database_and_the_server_configuration(tmp_path):
    db = tmp_path / "data" / "collab.db"

    async def make() -> None:
        async with await SQLiteStore.open(db) as store:
            await store.append("text:file:x", b"\x00\x00", origin="load", user=None, time=1.0)

    asyncio.run(make())
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"CollabApp": {"db_path": str(db)}})
    )
    result = collab("check", config_dir=config)  # no --db: the server's db_path
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(db) in result.stdout and "OK: no problem found." in result.stdout
    assert "persistence: schema version" in result.stdout and "logged updates: 1" in result.stdout


def test_garbage_is_diagnosed_and_replaced_keeping_it_aside(tmp_path):
    db = tmp_path / "collab.db"
    junk = b"overwritten by something else " * 100
    db.write_bytes(junk)
    result = collab("check", "--db", str(db))
    assert result.returncode == 1 and "not an SQLite database" in result.stdout
    assert "--repair" in result.stdout
    repaired = collab("check", "--db", str(db), "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    (aside,) = tmp_path.glob("collab.db.damaged-*")
    assert aside.read_bytes() == junk  # never changed
    assert collab("check", "--db", str(db)).returncode == 0


def test_a_newer_schema_is_never_repaired_by_an_older_version(tmp_path):
    db = tmp_path / "collab.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER)")
        conn.execute("INSERT INTO schema_version VALUES ('persistence', 999)")
    before = db.read_bytes()
    result = collab("check", "--db", str(db), "--repair")
    assert result.returncode == 1
    assert "newer jupyter-collab" in result.stdout and "Not repaired" in result.stdout
    assert db.read_bytes() == before and not list(tmp_path.glob("*.damaged-*"))


async def test_a_truncated_database_is_salvaged_and_served_again(server, tmp_path):
    """Real history from a real server, the file then cut: the repair keeps what it can read,
    and a server on the repaired file opens every document with its file's content, once."""
    root = tmp_path / "root"
    db = tmp_path / "collab.db"
    first = server(save_delay=0.1, save_max_wait=0.5)
    for i in range(12):
        (root / f"n{i}.txt").write_text("")
        writer = await first.connect(f"n{i}.txt")
        for k in range(40):
            writer.jdoc._ysource.insert(len(writer.content()), f"{i}:{k} {'x' * 100}\n")
        expected = writer.content()
        await asyncio.to_thread(_wait_for_file, root / f"n{i}.txt", expected)
        writer.close()
    assert first.terminate() == 0
    texts = {i: (root / f"n{i}.txt").read_text() for i in range(12)}
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.truncate(size * 2 // 3)
    result = await asyncio.to_thread(collab, "check", "--db", str(db))
    assert result.returncode == 1 and "truncated" in result.stdout
    repaired = await asyncio.to_thread(collab, "check", "--db", str(db), "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "collab_files:" in repaired.stdout and "kept as" in repaired.stdout
    second = server(save_delay=0.1, save_max_wait=0.5)
    for i in range(12):
        client = await second.connect(f"n{i}.txt")
        assert client.content() == texts[i], f"n{i}.txt"
    status, body = await second.request("GET", "api/collab/status")
    assert body["store"]["state"] == "ok"


def _wait_for_file(path: Path, text: str) -> None:
    import time

    deadline = time.monotonic() + 60
    while path.read_text() != text:
        assert time.monotonic() < deadline, f"{path} was not saved"
        time.sleep(0.05)
