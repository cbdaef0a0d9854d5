"""The first update of a text file's document, written directly, is the update yrs writes.

``documents/textupdate.py`` writes the whole state of a freshly loaded text file instead of
asking yrs to encode it (the largest cost of a cold open of a large file). It must be the very
bytes yrs would write for that document (what the log, the merge base and every first client
get), for any text: ASCII, multi-byte UTF-8, characters outside the BMP (two UTF-16 units in
Yjs' clocks), line endings, a large file; and a client must read the same text back.
"""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from jupyter_ydoc import YUnicode
from pycrdt import Doc, Text

from jupyter_collab.documents.textupdate import text_update

from .client import eventually


def _yrs(text: str) -> tuple[int, bytes]:
    doc = Doc()
    jdoc = YUnicode(doc)
    with doc.transaction():
        jdoc.set(text)
    return doc.client_id, doc.get_update()


SAMPLES = [
    "a",
    "one\ntwo\n",
    "é" * 1000,
    "😀 emoji, 𝄞 clef, and text after them",
    "中文字符" * 300,
    "crlf\r\nline\r\n",
    "\x00 nul and \u2028 separators",
]


def test_the_written_update_is_what_yrs_writes():
    for text in SAMPLES:
        client, expected = _yrs(text)
        assert text_update(client, "source", text) == expected, text[:20]


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_the_written_update_is_what_yrs_writes_for_any_text(text):
    client, expected = _yrs(text)
    assert text_update(client, "source", text) == expected


def test_a_large_text_and_large_client_ids():
    text = "".join(f"line {i}: ünïcödé and 😀\n" for i in range(100_000))  # ~3 MB
    client, expected = _yrs(text)
    assert text_update(client, "source", text) == expected
    for client_id in (0, 1, 127, 128, 2**32 - 1, 2**53 - 1):
        update = text_update(client_id, "source", text)
        doc = Doc()
        doc.apply_update(update)
        assert str(doc.get("source", type=Text)) == text


def test_nothing_is_written_for_an_empty_or_invalid_text():
    assert text_update(1, "source", "") is None
    assert text_update(1, "source", "lone \ud800 surrogate") is None


async def test_a_fresh_open_of_a_text_file_is_that_update(jp_root_dir, connect, rooms,
                                                         open_session):
    text = "".join(f"ligne {i} — 😀 {'中' * (i % 7)}\n" for i in range(5000))
    (jp_root_dir / "uni.txt").write_text(text, encoding="utf-8")
    client = await connect("uni.txt")
    assert client.content() == text
    room = rooms.rooms[(await open_session("uni.txt"))["room"]]
    await room.journal.flush()
    (entry,) = await rooms.store.read(room.room_id)
    assert entry.update == text_update(room.ydoc.client_id, "source", text)
    # the room's own document encodes the same, and edits after the load work as before
    assert room.ydoc.get_update() == entry.update
    client.jdoc._ysource.insert(0, "début\n")
    await eventually(lambda: (jp_root_dir / "uni.txt").read_text() == "début\n" + text,
                     what="an edit after the load saved")
    await asyncio.sleep(0)
