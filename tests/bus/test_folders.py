"""One folder, one document per file, whatever path each server was given to it (issue 9): servers
whose root dirs are a folder and a symbolic link to it share file ids (one room, one history)
on SQLite too, and ids an earlier version kept under a link's path are kept."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from jupyter_collab.documents.fileids import SQLiteFileIds
from jupyter_collab.sharing.roles import Role
from jupyter_collab.sharing.sqlite import SQLiteShareStore

from ..servers import Server
from .conftest import converged, eventually, started, text_of

pytestmark = pytest.mark.timeout(600)


async def test_servers_through_a_link_share_one_document_on_sqlite(
    group: Any, tmp_path: Path
) -> None:
    """Server A serves the folder, server B a symbolic link to it (one SQLite database, one
    Redis): the same file is the same room on both, edits converge and reach the file once."""
    link = tmp_path / "link"
    link.symlink_to(group.root, target_is_directory=True)
    (group.root / "l.txt").write_text("one\n")
    (a,) = group(1)
    (b,) = group(1, root_dir=link)
    assert (await a.session("l.txt"))["room"] == (await b.session("l.txt"))["room"]
    ca, cb = await a.connect("l.txt"), await b.connect("l.txt")
    ca.jdoc._ysource.insert(len(text_of(ca)), "from a\n")
    cb.jdoc._ysource.insert(len(text_of(cb)), "from b\n")
    await converged([ca, cb], lambda t: "from a\n" in t and "from b\n" in t)
    final = text_of(ca)
    path = group.root / "l.txt"
    await eventually(lambda: path.read_text() == final, timeout=120, what="the file")
    assert all(path.read_text().count(x) == 1 for x in ("one\n", "from a\n", "from b\n"))
    ca.close()
    cb.close()


async def test_ids_kept_under_a_links_path_follow_the_folder(tmp_path: Path) -> None:
    """A database where an earlier version named the folder by the link it was served through:
    a server started on the link now names it by its real path and keeps the file's id (its
    history) and its shares."""
    root, link, db = tmp_path / "root", tmp_path / "link", tmp_path / "collab.db"
    root.mkdir()
    link.symlink_to(root, target_is_directory=True)
    (root / "kept.txt").write_text("kept\n")
    ids = await SQLiteFileIds.open(db, root=str(link))
    shares = SQLiteShareStore(db, root=str(link))
    try:
        old_id = await ids.get_or_create("kept.txt")
        await shares.set_share("kept.txt", "bob", Role.VIEWER, "alice", 1.0)
    finally:
        await ids.close()
        await shares.close()

    server = Server(link, db)
    server.log_path = tmp_path / "server.log"
    started(server)
    try:
        reply = await server.session("kept.txt")
        assert reply["fileId"] == old_id
        status, listing = await server.request("GET", "api/collab/shares/kept.txt")
        assert status == 200, listing
        assert [(s["user"], s["role"]) for s in listing["shares"]] == [("bob", "viewer")]
    finally:
        server.stop()
    await asyncio.sleep(0)
