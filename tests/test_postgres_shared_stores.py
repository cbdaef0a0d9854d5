"""File ids and shares in PostgreSQL, as several servers use them at once (each "server" here is
a registry or store with a connection pool of its own, on a real PostgreSQL:
tests/services/postgres.py). The single-server contract is in test_fileids.py and
test_sharing_store.py, which run against PostgreSQL too."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from jupyter_collab.comments import sqlite as sqlite_comments
from jupyter_collab.documents import fileids as sqlite_fileids
from jupyter_collab.documents.pgfileids import PostgresFileIds
from jupyter_collab.persistence import SchemaTooNew
from jupyter_collab.persistence.pgdatabase import PostgresDatabase
from jupyter_collab.persistence.pgschema import COMPONENT as HISTORY
from jupyter_collab.pgstores import COMPONENTS
from jupyter_collab.sharing import Notification, Role, SQLiteShareStore
from jupyter_collab.sharing import sqlite as sqlite_sharing
from jupyter_collab.sharing.postgres import PostgresShareStore

from .services.postgres import PostgresServer


def _sql(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


async def test_servers_opening_new_files_at_once_give_each_file_one_id(postgres_url: str) -> None:
    """Four registries with pools of their own open the same 30 new files at once: every file
    gets one id, the same for all of them, and one row."""
    servers = [PostgresFileIds(postgres_url, root="/team") for _ in range(4)]
    try:
        paths = [f"dir/new {i}.txt" for i in range(30)]
        answers = await asyncio.gather(
            *(server.get_or_create(path) for path in paths for server in servers)
        )
        by_path: dict[str, set[str]] = {}
        for i, file_id in enumerate(answers):
            by_path.setdefault(paths[i // len(servers)], set()).add(file_id)
        assert all(len(ids) == 1 for ids in by_path.values())
        assert len({next(iter(ids)) for ids in by_path.values()}) == len(paths)
        (count,) = _sql(postgres_url, "SELECT count(*) FROM collab_files")
        assert count == (len(paths),)
        for path, ids in by_path.items():  # and every server resolves it back
            for server in servers:
                assert await server.path_of(next(iter(ids))) == path
    finally:
        for server in servers:
            await server.close()


async def test_a_folder_move_is_seen_whole_by_another_server(postgres_url: str) -> None:
    """A folder move is one transaction: another server finds every file at its new path; a
    file that sat at a destination keeps its history under its last path; LIKE's wildcards in
    folder names match only themselves."""
    one = PostgresFileIds(postgres_url, root="/team")
    two = PostgresFileIds(postgres_url, root="/team")
    try:
        ids = {p: await one.get_or_create(p) for p in ("a_b/x.txt", "a_b/s/y.txt", "axb/z.txt")}
        replaced = await one.get_or_create("c/x.txt")
        assert await one.moved("a_b", "c") == {
            ids["a_b/x.txt"]: "c/x.txt", ids["a_b/s/y.txt"]: "c/s/y.txt"
        }  # fmt: skip
        assert await two.get_or_create("c/x.txt") == ids["a_b/x.txt"]
        assert await two.get_or_create("c/s/y.txt") == ids["a_b/s/y.txt"]
        assert await two.path_of(ids["axb/z.txt"]) == "axb/z.txt"  # not under "a_b"
        assert await two.path_of(replaced) is None and await two.last_path(replaced) == "c/x.txt"
        assert sorted(await two.deleted("c")) == sorted([ids["a_b/x.txt"], ids["a_b/s/y.txt"]])
        assert await one.path_of(ids["a_b/x.txt"]) is None
    finally:
        await one.close()
        await two.close()


async def test_tables_are_versioned_like_sqlites_and_a_newer_schema_is_refused(
    postgres_url: str,
) -> None:
    """One migration mechanism: the PostgreSQL components carry the SQLite components' names
    and versions; a database migrated by a newer jupyter-collab is refused, never guessed at."""
    database = PostgresDatabase(postgres_url)
    try:
        await database.ready(*COMPONENTS)
    finally:
        await database.close()
    versions = dict(_sql(postgres_url, "SELECT component, version FROM collab_schema_version"))
    assert versions == {
        "persistence": HISTORY.version,
        "files": sqlite_fileids.COMPONENT.version,
        "sharing": sqlite_sharing.COMPONENT.version,
        "comments": sqlite_comments.COMPONENT.version,
    }

    _sql(postgres_url, "UPDATE collab_schema_version SET version = 99 WHERE component = 'files'")
    with pytest.raises(SchemaTooNew, match="'files'"):
        await PostgresFileIds.open(postgres_url, root="/team")
    shares = await PostgresShareStore.open(postgres_url, "/team")  # (other components still go)
    await shares.close()


async def test_a_shared_store_behaves_like_sqlite_on_moves_over_shares(
    postgres_url: str, tmp_path: Path
) -> None:
    """A share moved onto a path where the same user had one replaces it, on both engines."""
    for store in (SQLiteShareStore(tmp_path / "s.db", "/team"),
                  PostgresShareStore(postgres_url, "/team")):  # fmt: skip
        try:
            await store.set_share("a/x.txt", "bob", Role.VIEWER, "alice", 1.0)
            await store.set_share("b/x.txt", "bob", Role.EDITOR, "alice", 2.0)
            await store.set_share("b/x.txt", "carol", Role.EDITOR, "alice", 2.0)
            await store.moved("a", "b")
            found = await store.shares(["a/x.txt", "b/x.txt"])
            assert {u: s.role for u, s in found["b/x.txt"].items()} == {
                "bob": Role.VIEWER, "carol": Role.EDITOR,
            }, type(store).__name__  # fmt: skip
            assert "a/x.txt" not in found
        finally:
            await store.close()


async def test_notification_ids_are_a_cursor_across_servers(postgres_url: str) -> None:
    """Three servers notify one user at once while a fourth polls with ``after=`` the last id it
    saw (as the frontend does): it gets every notification exactly once, in id order."""
    writers = [PostgresShareStore(postgres_url, "/team") for _ in range(3)]
    reader = PostgresShareStore(postgres_url, "/team")
    per_writer = 40
    try:
        await reader.unread("bob")  # (tables made before the race)

        async def write(n: int, store: PostgresShareStore) -> None:
            for i in range(per_writer):
                await store.notify(
                    Notification(0, "bob", "shared", 1.0, "alice", "Alice", "x", None, f"{n}-{i}")
                )

        seen: list[Notification] = []
        done = asyncio.Event()

        async def poll() -> None:
            while True:
                finished = done.is_set()
                after = seen[-1].id if seen else 0
                seen.extend(await reader.notifications("bob", after, 7))
                if finished and len(seen) >= per_writer * len(writers):
                    return
                await asyncio.sleep(0)

        polling = asyncio.ensure_future(poll())
        await asyncio.gather(*(write(n, s) for n, s in enumerate(writers)))
        done.set()
        await asyncio.wait_for(polling, 120)
        assert sorted(n.message for n in seen) == sorted(
            f"{n}-{i}" for n in range(len(writers)) for i in range(per_writer)
        )
        assert [n.id for n in seen] == sorted({n.id for n in seen})
        assert await reader.unread("bob") == per_writer * len(writers)
    finally:
        for store in (*writers, reader):
            await store.close()


async def test_a_file_opened_while_the_database_is_down_keeps_its_id(
    postgres_factory: Callable[..., PostgresServer],
) -> None:
    """Opening a document never waits on the database: a file opened for the first time while
    PostgreSQL is down gets an id at once (after the database's timeout), kept in memory; once
    the database is back it is written, so the file keeps that id everywhere."""
    server = postgres_factory()
    url = server.create_database()
    database = PostgresDatabase(url + "?connect_timeout=2", timeout=2)
    ids = await PostgresFileIds.open(database, root="/team")
    await database.release()  # (the registry holds it now)
    try:
        known = await ids.get_or_create("known.txt")
        await asyncio.to_thread(server.stop)
        offline = await ids.get_or_create("new.txt")
        assert await ids.get_or_create("new.txt") == offline  # (still down: the same one)
        assert await ids.path_of(offline) == "new.txt"
        await asyncio.to_thread(server.start)
        for _ in range(60):
            try:
                assert await ids.get_or_create("new.txt") == offline
                break
            except Exception:  # (the pool may take a moment to reconnect)
                await asyncio.sleep(1)
        other = await PostgresFileIds.open(url, root="/team")
        try:
            assert await other.get_or_create("new.txt") == offline
            assert await other.get_or_create("known.txt") == known
        finally:
            await other.close()
    finally:
        await ids.close()
