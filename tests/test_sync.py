"""Several clients converge on one document through a real server."""

from __future__ import annotations

import nbformat
from pycrdt import Map, Text

from .client import eventually


async def test_text_clients_converge(jp_root_dir, connect):
    (jp_root_dir / "a.txt").write_text("hello\n")
    a = await connect("a.txt")
    b = await connect("a.txt")
    assert a.content() == b.content() == "hello\n"
    a.jdoc._ysource.insert(0, "A")
    b.jdoc._ysource.insert(len(b.content()), "B")
    await eventually(lambda: a.content() == b.content() == "Ahello\nB", what="convergence")


async def test_one_room_per_document(jp_root_dir, open_session):
    (jp_root_dir / "a.txt").write_text("x")
    first = await open_session("a.txt")
    second = await open_session("a.txt")
    assert first["room"] == second["room"]
    assert first["role"] == "editor"  # no shares: the default role of collaborators
    assert first["path"] == "a.txt"


async def test_notebook_clients_converge(jp_root_dir, connect):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x = {i}") for i in range(3)]
    nbformat.write(nb, jp_root_dir / "n.ipynb")
    a = await connect("n.ipynb", "json", "notebook")
    b = await connect("n.ipynb", "json", "notebook")
    assert [c["source"] for c in a.content()["cells"]] == ["x = 0", "x = 1", "x = 2"]
    # a adds a cell and edits metadata, b deletes one and edits a source
    a.jdoc.append_cell(nbformat.v4.new_markdown_cell("# new"))
    with a.ydoc.transaction():
        a.jdoc._ymeta["metadata"]["custom"] = "yes"
    del b.jdoc.ycells[0]
    source: Text = b.jdoc.ycells[0]["source"]
    source += " + 1"
    await eventually(lambda: a.content() == b.content(), what="notebook convergence")
    cells = a.content()["cells"]
    assert [c["source"] for c in cells] == ["x = 1 + 1", "x = 2", "# new"]
    assert a.content()["metadata"]["custom"] == "yes"
    assert isinstance(b.jdoc.ycells[0], Map)
