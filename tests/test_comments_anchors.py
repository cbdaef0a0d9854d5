"""Anchors: relative positions that Yjs reads as we write them (and the reverse), checked
against the document, found again after concurrent edits, detached when their text is gone."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jupyter_ydoc import YNotebook
from pycrdt import Assoc, Doc, StickyIndex, Text

from jupyter_collab.comments.anchors import (
    Anchor,
    AnchorRequest,
    BadAnchor,
    locate,
    make_anchor,
    parse_position,
    parse_request,
    range_positions,
)

from .stock import NODE_DIR, ensure_node_modules


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def text_doc(content: str) -> tuple[Doc, Text]:
    doc = Doc()
    text = doc.get("source", type=Text)
    text += content
    return doc, text


def notebook_doc(sources: list[str]) -> tuple[Doc, YNotebook]:
    doc = Doc()
    notebook = YNotebook(doc)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s, id=f"c{i}") for i, s in enumerate(sources)]
    notebook.set(nb)
    return doc, notebook


async def yjs(request: dict[str, Any]) -> dict[str, Any]:
    """Run tests/node/relpos.mjs (stock yjs) on one request."""
    node = ensure_node_modules()
    process = await asyncio.create_subprocess_exec(
        node, str(NODE_DIR / "relpos.mjs"), cwd=str(NODE_DIR),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(json.dumps(request).encode()), 120)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


# -- Yjs interoperability ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["file", "cell"])
async def test_yjs_reads_our_positions_and_we_read_its_byte_for_byte(where):
    content = "héllo wörld, ça va? ünïcode ok\nsecond line"
    if where == "file":
        doc, text = text_doc(content)
        cell = None
    else:
        doc, notebook = notebook_doc(["first cell", content])
        text, cell = notebook.ycells[1]["source"], "c1"
    indexes = [0, 1, 6, 12, 20, len(content) - 1, len(content)]
    ours = {
        (i, assoc): StickyIndex.new(text, i, Assoc(assoc)).encode()
        for i in indexes
        for assoc in (0, -1)
        if not (assoc == 0 and i == len(content))  # (yrs cannot make that one: see below)
    }
    reply = await yjs(
        {
            "update": b64(doc.get_update()),
            "cell": cell,
            "resolve": [b64(raw) for raw in ours.values()],
            "make": [list(key) for key in ours],
        }
    )
    assert reply["text"] == content
    # Yjs resolves every position we made to the index we made it at, in the same text
    assert reply["resolved"] == [i for i, _ in ours]
    # ... and makes exactly the same bytes for the same index and association
    assert reply["made"] == [b64(raw) for raw in ours.values()]

    # a range Yjs makes is a valid anchor here, with the quote we expect
    made = await yjs({"update": b64(doc.get_update()), "cell": cell, "make": [[6, 0], [11, -1]]})
    anchor = make_anchor(
        doc,
        "notebook" if cell else "file",
        parse_request({"cell": cell, "start": made["made"][0], "end": made["made"][1]}),
    )
    assert anchor.quote == "wörld"
    assert locate(doc, "notebook" if cell else "file", anchor).text == "wörld"


async def test_yjs_end_of_text_positions_are_accepted():
    """Yjs names the end of a text (assoc >= 0) by the text itself, not by a character:
    such a position (from a client's selection to the end) is accepted too."""
    doc, text = text_doc("to the very end")
    made = await yjs({"update": b64(doc.get_update()), "cell": None, "make": [[7, 0], [15, 0]]})
    end = parse_position(base64.b64decode(made["made"][1]))
    assert end.kind == "tname" and end.name == "source"
    anchor = make_anchor(doc, "file", parse_request({"start": made["made"][0],
                                                     "end": made["made"][1]}))  # fmt: skip
    assert anchor.quote == "very end"
    text += "!"
    assert locate(doc, "file", anchor).text == "very end!"


# -- checks ---------------------------------------------------------------------------------------


def test_positions_of_another_text_or_document_are_refused():
    doc, notebook = notebook_doc(["alpha beta", "gamma delta"])
    cells = notebook.ycells
    start, end = range_positions(cells[0]["source"], 0, 5)
    with pytest.raises(BadAnchor, match="not in the anchored text"):
        make_anchor(doc, "notebook", AnchorRequest("c1", start, end))  # c0's text, c1 named
    assert make_anchor(doc, "notebook", AnchorRequest("c0", start, end)).quote == "alpha"
    other, other_text = text_doc("alpha beta")
    foreign = range_positions(other_text, 0, 5)
    file_doc, _ = text_doc("alpha beta")
    with pytest.raises(BadAnchor, match="not in the document"):
        make_anchor(file_doc, "file", AnchorRequest(None, *foreign))


def test_positions_on_deleted_text_are_refused():
    doc, text = text_doc("keep drop keep")
    start, end = range_positions(text, 5, 9)
    del text[5:10]
    with pytest.raises(BadAnchor):
        make_anchor(doc, "file", AnchorRequest(None, start, end))


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x07", b"\x00", b"\x00\x01", b"\x01\x05ab", b"\x00\x01\x02\x00\x00",
     b"\x00" + b"\xff" * 12, b"\x01\x02\xff\xfe\x00"],
)  # fmt: skip
def test_malformed_positions_never_reach_yrs(raw):
    with pytest.raises(BadAnchor):
        parse_request({"cell": None, "start": b64(raw), "end": b64(raw)})


def test_anchor_json_checks():
    for bad in ("x", 3, [], {"cell": 5}, {"cell": ""}, {"start": "AA=="}, {"what": 1}):
        with pytest.raises(BadAnchor):
            parse_request(bad)
    assert parse_request(None) == AnchorRequest(None, None, None)
    assert parse_request({"cell": "c", "quote": "ignored"}) == AnchorRequest("c", None, None)


# -- concurrent edits -----------------------------------------------------------------------------

# Distinct ASCII characters: pycrdt 0.14 counts Text.insert/delete/len offsets in UTF-8 bytes
# (sticky indexes count UTF-16 units, as Yjs): with ASCII all three agree.
ORIGINAL = [chr(c) for c in [*range(ord("A"), ord("Z") + 1), *range(ord("a"), ord("n"))]]

edit = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 60), st.text("+-*\n", min_size=1, max_size=4)),
    st.tuples(st.just("delete"), st.integers(0, 60), st.integers(1, 6)),
)


def apply(text: Text, op: tuple[Any, ...]) -> None:
    length = len(str(text))
    if op[0] == "insert":
        text.insert(min(op[1], length), op[2])
    elif length:
        at = min(op[1], length - 1)
        del text[at : min(length, at + op[2])]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(5, len(ORIGINAL)),  # (39 characters: 40 made a range past the end)
    data=st.data(),
    edits_a=st.lists(edit, max_size=8),
    edits_b=st.lists(edit, max_size=8),
)
def test_anchors_survive_concurrent_edits_or_are_detached(size, data, edits_a, edits_b):
    """Two replicas edit concurrently, then merge. The anchor, made on one replica before the
    edits, resolves on both to the same place; that place holds every anchored character that
    survived, and no character that was outside the range; it is detached only when none
    survived; with no edit inside or at its ends it is exactly the quoted text."""
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start + 1, size))
    a, text_a = text_doc("".join(ORIGINAL[:size]))
    b = Doc()
    b.apply_update(a.get_update())
    text_b = b.get("source", type=Text)
    first, last = range_positions(text_a, start, end)
    anchor = make_anchor(a, "file", AnchorRequest(None, first, last))
    anchored = set(ORIGINAL[start:end])
    assert anchor.quote == "".join(ORIGINAL[start:end])

    for op in edits_a:
        apply(text_a, op)
    for op in edits_b:
        apply(text_b, op)
    a_update, b_update = a.get_update(b.get_state()), b.get_update(a.get_state())
    a.apply_update(b_update)
    b.apply_update(a_update)
    final = str(text_a)
    assert final == str(text_b)

    place_a, place_b = locate(a, "file", anchor), locate(b, "file", anchor)
    assert place_a == place_b
    surviving = [c for c in final if c in anchored]
    if place_a.detached:
        assert surviving == []
        return
    assert place_a.start is not None and place_a.end is not None
    inside = final[place_a.start : place_a.end]
    assert place_a.text == inside
    assert [c for c in inside if c in anchored] == surviving
    assert all(c in anchored or c not in ORIGINAL for c in inside)  # nothing from outside
    if surviving == ORIGINAL[start:end] and all(c in anchored or c in ORIGINAL for c in inside):
        assert inside == anchor.quote


def test_a_deleted_range_is_detached_and_keeps_its_quote():
    doc, text = text_doc("one two three")
    anchor = make_anchor(doc, "file", AnchorRequest(None, *range_positions(text, 4, 7)))
    del text[3:7]
    place = locate(doc, "file", anchor)
    assert place.detached and place.to_json() is None and anchor.quote == "two"
    text.insert(3, " 2")  # typing where it was does not bring it back
    assert locate(doc, "file", anchor).detached


def test_a_whole_cell_anchor_is_detached_when_the_cell_is_deleted():
    doc, notebook = notebook_doc(["a = 1", "b = 2"])
    anchor = make_anchor(doc, "notebook", AnchorRequest("c1", None, None))
    assert anchor == Anchor("c1", None, None, "b = 2")
    assert not locate(doc, "notebook", anchor).detached
    del notebook.ycells[1]
    assert locate(doc, "notebook", anchor).detached


async def test_offsets_are_utf16_units_as_in_yjs():
    """An emoji is two units in Yjs (and in sticky indexes): offsets and quotes agree."""
    doc, text = text_doc("ab😀cd😀ef")
    first, last = range_positions(text, 4, 6)
    anchor = make_anchor(doc, "file", AnchorRequest(None, first, last))
    assert anchor.quote == "cd"
    place = locate(doc, "file", anchor)
    assert (place.start, place.end, place.text) == (4, 6, "cd")
    reply = await yjs({"update": b64(doc.get_update()), "cell": None,
                       "resolve": [b64(first), b64(last)]})  # fmt: skip
    assert reply["resolved"] == [4, 6]
    around = make_anchor(doc, "file", AnchorRequest(None, *range_positions(text, 1, 5)))
    assert around.quote == "b😀c"


cell_edit = st.one_of(
    edit,
    st.tuples(st.just("add-cell"), st.integers(0, 5)),
    st.tuples(st.just("drop-cell"), st.integers(0, 5)),
)


def apply_to_notebook(notebook: YNotebook, op: tuple[Any, ...]) -> None:
    cells = notebook.ycells
    if op[0] == "add-cell":
        cell = notebook.create_ycell(nbformat.v4.new_code_cell("+", id=f"n{op[1]}-{len(cells)}"))
        cells.insert(min(op[1], len(cells)), cell)
    elif op[0] == "drop-cell":
        if len(cells):
            del cells[min(op[1], len(cells) - 1)]
    else:  # an edit of the anchored cell's source, while it is there
        for cell in cells:
            if cell["id"] == "c1":
                apply(cell["source"], op)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    edits_a=st.lists(cell_edit, max_size=6),
    edits_b=st.lists(cell_edit, max_size=6),
)
def test_cell_anchors_survive_concurrent_notebook_edits_or_are_detached(data, edits_a, edits_b):
    """The same property in a notebook, where whole cells come and go concurrently too: the
    anchor in cell c1 resolves to the same place on both replicas, holds every surviving
    anchored character and nothing from outside, and is detached when its cell is gone."""
    size = 20
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start + 1, size))
    a, notebook_a = notebook_doc(["x = 0", "".join(ORIGINAL[:size]), "y = 1"])
    b = Doc()
    b.apply_update(a.get_update())
    notebook_b = YNotebook(b)
    source = notebook_a.ycells[1]["source"]
    anchor = make_anchor(a, "notebook", AnchorRequest("c1", *range_positions(source, start, end)))
    anchored = set(ORIGINAL[start:end])
    for op in edits_a:
        apply_to_notebook(notebook_a, op)
    for op in edits_b:
        apply_to_notebook(notebook_b, op)
    a_update, b_update = a.get_update(b.get_state()), b.get_update(a.get_state())
    a.apply_update(b_update)
    b.apply_update(a_update)
    place = locate(a, "notebook", anchor)
    assert place == locate(b, "notebook", anchor)
    sources = [str(c["source"]) for c in notebook_a.ycells if c["id"] == "c1"]
    if not sources:
        assert place.detached
        return
    (final,) = sources
    surviving = [c for c in final if c in anchored]
    if place.detached:
        assert surviving == []
        return
    assert place.start is not None and place.end is not None
    inside = final[place.start : place.end]
    assert [c for c in inside if c in anchored] == surviving
    assert all(c in anchored or c not in ORIGINAL for c in inside)


def test_a_moved_cell_finds_a_range_longer_than_the_quote_cap_again():
    """A range longer than the quote cap is stored with its quote cut ("…"). A moved cell
    (same id, new CRDT items) is found again by its quote: the cut one was never found, and
    the thread showed as detached although its text was there."""
    source = "".join(f"line {i}\n" for i in range(300))
    doc, notebook = notebook_doc([source])
    start, end = range_positions(notebook.ycells[0]["source"], 0, 1_500)
    anchor = make_anchor(doc, "notebook", AnchorRequest("c0", start, end), quote_limit=1_000)
    assert anchor.quote.endswith("…") and len(anchor.quote) == 1_000
    moved, _ = notebook_doc([source])  # (the same cell, as JupyterLab's move re-creates it)
    place = locate(moved, "notebook", anchor)
    assert not place.detached
    assert (place.start, place.end) == (0, 999)
