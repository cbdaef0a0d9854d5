"""The cold open of a text file: read directly from disk, and the same document as before.

``documents/filesync.py`` reads a text file by itself (one worker thread: its bytes, checked
as UTF-8, and the document's first update written from them) when the server's contents
manager reads files exactly as Jupyter's own file managers do, and asks the contents manager
otherwise. These tests check that what a client gets, what the log keeps and what a save
writes are what the contents manager's own reading gives: for line endings, characters
outside the BMP, a file that is not UTF-8, and a contents manager that reads files its own way
(which must still be the one asked).
"""

from __future__ import annotations

from typing import Any

import pytest
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

from jupyter_collab.collaboration.fullstate import FullState
from jupyter_collab.documents.filesync import _read_text, _stock_file_reader
from jupyter_collab.documents.textupdate import text_update

from .client import eventually


class ShoutingContentsManager(AsyncLargeFileManager):
    """A contents manager of a deployment that changes how text files read (upper case)."""

    async def get(self, path: str, content: bool = True, type: Any = None,
                  format: Any = None, require_hash: bool = False) -> dict[str, Any]:
        model = await super().get(path, content, type, format, require_hash)
        if content and model.get("format") == "text":
            model["content"] = model["content"].upper()
        return model


def test_only_jupyters_own_way_of_reading_files_is_read_directly(tmp_path):
    assert _stock_file_reader(AsyncLargeFileManager(root_dir=str(tmp_path)))
    assert not _stock_file_reader(ShoutingContentsManager(root_dir=str(tmp_path)))
    assert not _stock_file_reader(object())


def test_a_file_read_directly_is_its_text_with_its_line_endings_remembered(tmp_path):
    text = "".join(f"ligne {i} 😀 𝄞 {'中' * (i % 5)}\r\n" for i in range(2000))
    (tmp_path / "a.txt").write_bytes(text.encode("utf-8"))
    read = _read_text(str(tmp_path / "a.txt"), 12345)
    assert read.value == text.replace("\r\n", "\n")
    assert read.eol == "\r\n"
    assert read.update == text_update(12345, "source", read.value)
    assert _read_text(str(tmp_path / "a.txt"), None).update is None
    (tmp_path / "b.txt").write_bytes(b"plain\nlines\n")
    read = _read_text(str(tmp_path / "b.txt"), 7)
    assert (read.value, read.eol) == ("plain\nlines\n", "\n")
    assert read.update == text_update(7, "source", "plain\nlines\n")


async def test_a_crlf_file_outside_the_bmp_opens_as_its_text_and_saves_with_crlf(
    jp_root_dir, connect, rooms, open_session
):
    text = "".join(f"line {i} — 😀 {'é' * (i % 3)}\r\n" for i in range(3000))
    (jp_root_dir / "crlf.txt").write_bytes(text.encode("utf-8"))
    client = await connect("crlf.txt")
    shown = text.replace("\r\n", "\n")
    assert client.content() == shown
    room = rooms.rooms[(await open_session("crlf.txt"))["room"]]
    await room.journal.flush()
    (entry,) = await rooms.store.read(room.room_id)
    assert entry.update == text_update(room.ydoc.client_id, "source", shown)
    client.jdoc._ysource.insert(0, "top 😀\n")
    await eventually(
        lambda: (jp_root_dir / "crlf.txt").read_bytes() == ("top 😀\r\n" + text).encode("utf-8"),
        what="the edit saved with the file's CRLF endings",
    )


async def test_a_file_that_is_not_utf8_is_refused_as_the_contents_manager_would(
    jp_root_dir, connect
):
    (jp_root_dir / "half.txt").write_bytes(b"valid start, \xff\xfe then bytes")
    client = await connect("half.txt", wait_sync=False)
    await client.closed.wait()
    assert client.close_code == 4415
    assert "half.txt is not UTF-8" in client.close_reason
    # (Jupyter's own message names the file by its path on the server's disk)
    assert str(jp_root_dir) not in client.close_reason


async def test_a_broken_notebook_is_refused_by_its_api_path_not_its_disk_path(
    jp_root_dir, connect
):
    # Jupyter's message for it is "Unreadable Notebook: /the/server's/disk/path ...": the
    # reason goes to the client, who needs the file's name and has no business knowing where
    # the server keeps its files
    (jp_root_dir / "sub").mkdir()
    (jp_root_dir / "sub" / "broken.ipynb").write_text('{"cells": [ {"cell_type": ')
    client = await connect("sub/broken.ipynb", "json", "notebook", wait_sync=False)
    await client.closed.wait()
    assert client.close_code == 4415
    assert "Unreadable Notebook: sub/broken.ipynb" in client.close_reason
    assert str(jp_root_dir) not in client.close_reason


@pytest.fixture
def server_app_config(request) -> dict[str, Any]:
    if "shouting" in request.node.name:
        return {"contents_manager_class": "tests.test_cold_open.ShoutingContentsManager"}
    return {}


async def test_a_shouting_contents_manager_is_asked_for_the_file(jp_root_dir, connect):
    (jp_root_dir / "quiet.txt").write_text("hello there\n")
    client = await connect("quiet.txt")
    assert client.content() == "HELLO THERE\n"


async def test_joiners_of_a_loaded_room_share_one_encoding_per_version_of_the_document(
    jp_root_dir, connect, rooms, open_session, monkeypatch
):
    """The second and later openers are sent the whole state encoded once per version of the
    document (the load's own bytes until the first change), never once per joiner."""
    text = "".join(f"line {i} of a document several people open\n" for i in range(3000))
    (jp_root_dir / "shared.txt").write_text(text)
    encodings: list[str] = []
    state = FullState.state

    def counted(self: FullState) -> bytes:
        if not self.cached:
            encodings.append("encoded")
        return state(self)

    monkeypatch.setattr(FullState, "state", counted)
    first = await connect("shared.txt")
    assert encodings == []  # the load's update, written once, is the first reply
    joiners = [await connect("shared.txt") for _ in range(3)]
    assert [j.content() for j in joiners] == [text] * 3
    assert encodings == []  # ... and every later joiner's
    first.jdoc._ysource.insert(0, "changed\n")
    await eventually(lambda: all(j.content() == "changed\n" + text for j in joiners),
                     what="the change reaching everyone")
    later = [await connect("shared.txt") for _ in range(3)]
    assert [j.content() for j in later] == ["changed\n" + text] * 3
    assert encodings == ["encoded"]  # once for the new version, shared by the three
