"""The smallest-edit text diff used to merge changes made on disk."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Doc, Text

from jupyter_collab.documents.textdiff import apply_text_edits, text_edits

texts = st.lists(st.sampled_from(["a", "b", "λ", "😀", "\n", "\r\n", " "]), max_size=60).map(
    "".join
)


@given(old=texts, new=texts)
def test_edits_turn_old_into_new(old, new):
    doc = Doc()
    text = doc.get("source", type=Text)
    text += old
    apply_text_edits(text, text_edits(old, new))
    assert str(text) == new


def test_edit_touches_only_what_changed():
    old = "line 1\n"
    new = "from disk\nline 1\n"
    assert text_edits(old, new) == [(0, 0, "from disk\n")]


def test_large_files_are_diffed_by_lines():
    old = "".join(f"line {i}\n" for i in range(50_000))
    new = old.replace("line 25000\n", "changed\n")
    line_start = old.encode().index(b"line 25000\n")
    line_end = line_start + len("line 25000\n")
    for start, end, replacement in text_edits(old, new):
        assert line_start <= start <= end <= line_end
        assert replacement in "changed\n"


@given(
    old=st.lists(st.sampled_from(["x\n", "y\n", "\n"]), max_size=3_000).map("".join),
    new=st.lists(st.sampled_from(["x\n", "y\n", "\n"]), max_size=3_000).map("".join),
)
def test_edits_of_large_texts_of_repeated_lines_turn_old_into_new(old, new):
    """Past the exact limit the diff may not be the smallest, but it is always right."""
    doc = Doc()
    text = doc.get("source", type=Text)
    text += old
    apply_text_edits(text, text_edits(old, new))
    assert str(text) == new


def test_a_file_of_identical_lines_is_diffed():
    """difflib compares every pair of equal lines: 70,000 identical lines with one changed
    did not diff within ten minutes (the disk merge, on the event loop, froze the server)."""
    old = "same line\n" * 70_000
    new = old[: 35_000 * 10] + "changed\n" + old[35_000 * 10 :]
    assert text_edits(old, new) == [(350_000, 350_000, "changed\n")]
    scattered = "".join("same line\n" if i % 5_000 else f"marker {i}\n" for i in range(70_000))
    moved = scattered.replace("marker 5000\n", "").replace("marker 65000\n", "marker 1\n")
    doc = Doc()
    text = doc.get("source", type=Text)
    text += scattered
    apply_text_edits(text, text_edits(scattered, moved))
    assert str(text) == moved
