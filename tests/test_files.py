"""Loading, autosaving, disk changes, renames and deletes, through a real server."""

from __future__ import annotations

import json
import os
import threading
import time

import nbformat
import pytest
from pycrdt import Text

from .client import eventually


def disk(path) -> str:
    return path.read_bytes().decode()


async def test_text_save_reaches_disk_and_keeps_crlf(jp_root_dir, connect):
    path = jp_root_dir / "crlf.txt"
    path.write_bytes(b"one\r\ntwo\r\n")
    a = await connect("crlf.txt")
    assert a.content() == "one\ntwo\n"  # the editor works in \n
    a.jdoc._ysource.insert(len(a.content()), "three\n")
    await eventually(lambda: disk(path) == "one\r\ntwo\r\nthree\r\n", what="save with CRLF")
    await eventually(lambda: any(n["type"] == "saved" for n in a.notices), what="saved notice")


async def test_notebook_save_is_valid_and_keeps_everything(jp_root_dir, connect):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "P"}})
    code = nbformat.v4.new_code_cell("print(1)", execution_count=3)
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="1\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=3),
    ]
    md = nbformat.v4.new_markdown_cell("![x](attachment:x.png)")
    md.attachments = {"x.png": {"image/png": "iVBORw0KGgo="}}
    md.metadata = {"tags": ["keep"]}
    nb.cells = [code, md]
    path = jp_root_dir / "keep.ipynb"
    nbformat.write(nb, path)
    a = await connect("keep.ipynb", "json", "notebook")
    source: Text = a.jdoc.ycells[0]["source"]
    source += "\nprint(2)"
    await eventually(lambda: "print(2)" in disk(path), what="notebook save")
    saved = nbformat.read(path, as_version=4)
    nbformat.validate(saved)
    assert saved.metadata.kernelspec.name == "python3"
    assert [c.id for c in saved.cells] == [code.id, md.id]
    assert saved.cells[0].outputs == code.outputs
    assert saved.cells[0].execution_count == 3
    assert saved.cells[1].attachments == md.attachments
    assert saved.cells[1].metadata == {"tags": ["keep"]}
    assert saved.cells[0].source == "print(1)\nprint(2)"


async def test_what_reaches_disk_equals_the_room(jp_root_dir, connect):
    path = jp_root_dir / "same.txt"
    path.write_text("")
    a = await connect("same.txt")
    b = await connect("same.txt")
    for i in range(30):
        client = (a, b)[i % 2]
        client.jdoc._ysource.insert(0 if i % 3 else len(client.content()), f"<{i}>")
    await eventually(lambda: a.content() == b.content(), what="convergence")
    await eventually(lambda: disk(path) == a.content(), what="disk equals room")


@pytest.fixture
def slow_save(collab_config):
    """Autosave far away, so edits stay unsaved while the disk changes."""
    collab_config.update(save_delay=60, save_max_wait=120)


@pytest.mark.usefixtures("slow_save")
async def test_disk_change_is_merged_once_keeping_unsaved_edits(jp_root_dir, connect):
    path = jp_root_dir / "merge.txt"
    path.write_text("alpha\nbeta\ngamma\n")
    a = await connect("merge.txt")
    b = await connect("merge.txt")
    a.jdoc._ysource.insert(0, "# header\n")  # unsaved
    await eventually(lambda: b.content().startswith("# header\n"), what="edit reaching b")
    time.sleep(0.01)
    path.write_text("alpha\nBETA\ngamma\ndelta\n")  # changed on disk, without the header
    expected = "# header\nalpha\nBETA\ngamma\ndelta\n"
    await eventually(lambda: a.content() == b.content() == expected, what="disk merge")
    await eventually(lambda: any(n["type"] == "disk-merged" for n in a.notices), what="notice")


async def test_a_disk_change_is_diffed_off_the_event_loop(jp_root_dir, connect, monkeypatch):
    """The line diff of a large file takes a while (and difflib was quadratic on repeated
    lines): it runs on a worker thread, so the server keeps serving everyone meanwhile."""
    from jupyter_collab.documents import filesync

    threads = []
    diff = filesync.edit_from_base

    def watched(*args):
        threads.append(threading.current_thread())
        return diff(*args)

    monkeypatch.setattr(filesync, "edit_from_base", watched)
    path = jp_root_dir / "repeated.txt"
    path.write_text("same line\n" * 70_000)
    a = await connect("repeated.txt")
    time.sleep(0.01)
    changed = "same line\n" * 35_000 + "changed\n" + "same line\n" * 35_000
    path.write_text(changed)
    await eventually(lambda: a.content() == changed, timeout=120, what="disk merge")
    assert threads and all(t is not threading.main_thread() for t in threads)


@pytest.mark.usefixtures("slow_save")
async def test_notebook_disk_change_merged_cell_by_cell(jp_root_dir, connect):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"c{i}") for i in range(3)]
    path = jp_root_dir / "m.ipynb"
    nbformat.write(nb, path)
    a = await connect("m.ipynb", "json", "notebook")
    first_cell = a.jdoc.ycells[0]
    source: Text = a.jdoc.ycells[2]["source"]
    source += " # mine"  # unsaved edit in the room
    changed = nbformat.read(path, as_version=4)
    changed.cells[0].source = "c0 changed on disk"
    changed.cells.append(nbformat.v4.new_markdown_cell("added on disk"))
    time.sleep(0.01)
    nbformat.write(changed, path)
    await eventually(
        lambda: (
            [c["source"] for c in a.content()["cells"]]
            == ["c0 changed on disk", "c1", "c2 # mine", "added on disk"]
        ),
        what="notebook disk merge",
    )
    # the cell was edited in place, not replaced: the same shared cell object survives
    assert a.jdoc.ycells[0]["id"] == first_cell["id"] == nb.cells[0].id


@pytest.mark.usefixtures("slow_save")
async def test_save_never_overwrites_a_newer_file(jp_root_dir, connect, rooms):
    path = jp_root_dir / "newer.txt"
    path.write_text("line 1\n")
    a = await connect("newer.txt")
    a.jdoc._ysource.insert(len(a.content()), "from room\n")
    await eventually(lambda: "from room" in rooms.rooms[next(iter(rooms.rooms))].jdoc.get())
    room = next(iter(rooms.rooms.values()))
    room.file.poll_interval = 0  # only the save may notice the change
    time.sleep(0.01)
    path.write_text("from disk\nline 1\n")
    os.utime(path, None)
    assert await room.file.save()
    assert disk(path) == "from disk\nline 1\nfrom room\n"


async def test_autosave_under_constant_editing(jp_root_dir, connect, collab_config):
    path = jp_root_dir / "busy.txt"
    path.write_text("")
    a = await connect("busy.txt")
    seen_on_disk_while_typing = False
    for i in range(40):  # edits every 50 ms never leave the quiet delay of 100 ms... almost
        a.jdoc._ysource.insert(len(a.content()), f"{i} ")
        if disk(path):
            seen_on_disk_while_typing = True
        await _sleep(0.05)
    assert seen_on_disk_while_typing, "the maximum wait must force a save during editing"


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_rename_while_open(jp_root_dir, jp_fetch, connect, open_session):
    (jp_root_dir / "old.txt").write_text("text\n")
    a = await connect("old.txt")
    before = await open_session("old.txt")
    (jp_root_dir / "sub").mkdir()
    move = json.dumps({"path": "sub/new.txt"})
    await jp_fetch("api", "contents", "old.txt", method="PATCH", body=move)
    await eventually(
        lambda: any(n.get("type") == "renamed" for n in a.notices), what="rename notice"
    )
    # (the "opened" version's notice may come before or after it: the first version is made
    # once the first sync reply is out)
    renamed = [n for n in a.notices if n.get("type") == "renamed"]
    assert renamed[-1]["path"] == "sub/new.txt"
    after = await open_session("sub/new.txt")
    assert after["room"] == before["room"]
    assert after["fileId"] == before["fileId"]
    a.jdoc._ysource.insert(0, "still ")
    await eventually(lambda: disk(jp_root_dir / "sub" / "new.txt") == "still text\n", what="save")
    assert not (jp_root_dir / "old.txt").exists()


async def test_delete_while_open_closes_the_room(jp_root_dir, jp_fetch, connect, rooms):
    (jp_root_dir / "gone.txt").write_text("bye")
    a = await connect("gone.txt")
    await jp_fetch("api", "contents", "gone.txt", method="DELETE")
    await a.closed.wait()
    assert a.close_code == 4410
    assert "deleted" in a.close_reason
    await eventually(lambda: not rooms.rooms, what="room dropped")
    assert not (jp_root_dir / "gone.txt").exists()


async def test_file_removed_on_disk_closes_the_room(jp_root_dir, connect):
    (jp_root_dir / "rm.txt").write_text("bye")
    a = await connect("rm.txt")
    (jp_root_dir / "rm.txt").unlink()
    await a.closed.wait()
    assert a.close_code == 4410


@pytest.mark.parametrize(
    ("name", "content", "format", "type"),
    [
        ("broken.ipynb", b"{not json", "json", "notebook"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "text", "file"),
    ],
)
async def test_unloadable_file_gets_a_clear_close(
    jp_root_dir, connect, name, content, format, type
):
    (jp_root_dir / name).write_bytes(content)
    a = await connect(name, format, type, wait_sync=False)
    await a.closed.wait()
    assert a.close_code == 4415
    assert "cannot be loaded" in a.close_reason


async def test_blob_round_trip(jp_root_dir, connect):
    data = bytes(range(256)) * 4
    (jp_root_dir / "b.bin").write_bytes(data)
    a = await connect("b.bin", "base64", "blob")
    assert a.content() == data
    a.jdoc.set(data + b"!")
    await eventually(lambda: (jp_root_dir / "b.bin").read_bytes() == data + b"!", what="blob save")


async def test_room_cleanup_after_last_client_leaves(jp_root_dir, connect, rooms):
    path = jp_root_dir / "idle.txt"
    path.write_text("v1")
    a = await connect("idle.txt")
    assert len(rooms.rooms) == 1
    a.close()
    await eventually(lambda: not rooms.rooms, what="idle room dropped")
    path.write_text("v2 from disk")
    b = await connect("idle.txt")
    assert b.content() == "v2 from disk"


async def test_room_is_kept_if_a_client_comes_back_in_time(
    jp_root_dir, connect, rooms, collab_config
):
    (jp_root_dir / "back.txt").write_text("x")
    a = await connect("back.txt")
    room = next(iter(rooms.rooms.values()))
    a.close()
    b = await connect("back.txt")
    await _sleep(collab_config["document_cleanup_delay"] * 2)
    assert next(iter(rooms.rooms.values())) is room
    assert b.content() == "x"


async def test_signed_notebook_is_trusted_for_clients(jp_root_dir, jp_serverapp, connect):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1")]
    jp_serverapp.contents_manager.notary.sign(nb)
    nbformat.write(nb, jp_root_dir / "signed.ipynb")
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("2")])
    nbformat.write(other, jp_root_dir / "unsigned.ipynb")
    signed = await connect("signed.ipynb", "json", "notebook")
    unsigned = await connect("unsigned.ipynb", "json", "notebook")
    await eventually(
        lambda: signed.content()["cells"][0]["metadata"].get("trusted") is True, what="trust"
    )
    assert not unsigned.content()["cells"][0]["metadata"].get("trusted")
    # the mark is not an edit: nothing is written back
    assert nbformat.read(jp_root_dir / "signed.ipynb", as_version=4) == nb


@pytest.mark.usefixtures("slow_save")
async def test_shutdown_saves_and_tells_clients(jp_root_dir, connect, rooms):
    path = jp_root_dir / "stop.txt"
    path.write_text("a")
    client = await connect("stop.txt")
    client.jdoc._ysource.insert(1, "b")
    await eventually(lambda: "ab" in [r.jdoc.get() for r in rooms.rooms.values()], what="edit")
    await rooms.stop()
    assert path.read_text() == "ab"
    await client.closed.wait()
    assert client.close_code == 1001


@pytest.mark.usefixtures("slow_save")
async def test_client_asks_for_a_save(jp_root_dir, connect):
    from jupyter_collab.protocol.framing import notice_frame

    from .auth import token_header

    path = jp_root_dir / "ctrl-s.txt"
    path.write_text("a")
    editor = await connect("ctrl-s.txt")
    viewer = await connect("ctrl-s.txt", headers=token_header("viewer"))
    editor.jdoc._ysource.insert(1, "b")
    editor.send(notice_frame({"type": "save"}))
    await eventually(lambda: path.read_text() == "ab", what="save on request")
    await eventually(lambda: any(n["type"] == "saved" for n in viewer.notices), what="saved")
    viewer.send(notice_frame({"type": "save"}))
    viewer.send(notice_frame({"type": "from-the-future", "x": 1}))
    await eventually(lambda: any(n["type"] == "refused" for n in viewer.notices), what="refused")
    assert viewer.close_code is None


@pytest.fixture
def sync_contents_manager(server_app_config):
    """The classic synchronous FileContentsManager, as custom managers often are."""
    server_app_config["contents_manager_class"] = (
        "jupyter_server.services.contents.filemanager.FileContentsManager"
    )


@pytest.mark.usefixtures("sync_contents_manager")
async def test_synchronous_contents_manager(jp_root_dir, jp_serverapp, connect):
    assert not jp_serverapp.contents_manager.__class__.__name__.startswith("Async")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a")])
    nbformat.write(nb, jp_root_dir / "sync.ipynb")
    (jp_root_dir / "sync.txt").write_text("t")
    notebook = await connect("sync.ipynb", "json", "notebook")
    text = await connect("sync.txt")
    source: Text = notebook.jdoc.ycells[0]["source"]
    source += "b"
    text.jdoc._ysource.insert(1, "u")
    await eventually(lambda: (jp_root_dir / "sync.txt").read_text() == "tu", what="text save")
    await eventually(
        lambda: nbformat.read(jp_root_dir / "sync.ipynb", as_version=4).cells[0].source == "ab",
        what="notebook save",
    )
