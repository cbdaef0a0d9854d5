"""Where a comment thread sits in a document, in a way that survives everyone's edits.

A thread is anchored to a notebook cell (by its id), to a text range in a cell's source, or to
a text range in a text file's ``source``. A range is two CRDT *relative positions*: pycrdt's
``StickyIndex``, which is yrs' port of Yjs' ``RelativePosition``. A relative position names the
character it sticks to by that character's CRDT id (client, clock), so it keeps pointing at the
same text whatever is inserted or deleted around it, concurrently or not. Encoded with the v1
encoding (``StickyIndex.encode()``, byte for byte ``Y.encodeRelativePosition``), and in JSON as
standard base64, clients in JavaScript make and resolve them with Yjs itself.

The v1 layout, for the checks made here before anything reaches yrs (whose decoder panics on
malformed bytes): a varuint tag, then ``0`` an item id (varuint client, varuint clock), ``1``
a root type's name (varstring), ``2`` a nested type's id; then an optional signed varint
``assoc`` (``>= 0`` sticks to the character after the position, ``< 0`` to the one before).

What is computed here, always from the document as it is now (the open room, or the stored
state): whether an anchor a client sends is really in the text it claims (a position must name
a live character of *that* text, or that text itself), the quote it covers, and later where it
is, or that it is ``detached``: its cell is gone or all of its text was deleted. A detached
thread keeps its quote; nothing about a thread is ever dropped because its text went.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from pycrdt import Array, Assoc, Doc, Map, StickyIndex, Text

MAX_QUOTE = 1000  # characters of quote (and of current text) kept and sent
MAX_POSITION_BYTES = 64  # a v1 relative position is ~12 bytes; a root name makes it longer
ANCHOR_KEYS = frozenset({"cell", "start", "end", "quote"})


class BadAnchor(ValueError):
    """An anchor that is malformed, or not in the document (a 400 for the client)."""


@dataclass(frozen=True)
class Anchor:
    """A thread's anchor as stored: ``cell`` id or None, encoded positions or None, quote.

    ``scope`` (server-side only) is the anchored text itself as a relative position names it
    (its root name, or the id of its own CRDT item): a cell deleted and inserted again as a
    copy (how JupyterLab moves cells) keeps its id but is another text, whose characters the
    positions cannot name; ``locate`` then finds the range again by its quote.
    """

    cell: str | None
    start: bytes | None
    end: bytes | None
    quote: str
    scope: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "start": _b64(self.start),
            "end": _b64(self.end),
            "quote": self.quote,
        }

    @property
    def is_range(self) -> bool:
        return self.start is not None


@dataclass(frozen=True)
class Place:
    """Where an anchor is now. ``detached``: what it was on is gone (its ``quote`` remains)."""

    detached: bool
    cell: str | None = None
    start: int | None = None
    end: int | None = None
    text: str | None = None
    whole_document: bool = False

    def to_json(self) -> dict[str, Any] | None:
        if self.detached or self.whole_document:
            return None
        return {"cell": self.cell, "start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class AnchorRequest:
    """An anchor as a client sent it, well formed but not yet checked against the document."""

    cell: str | None
    start: bytes | None
    end: bytes | None


# -- parsing --------------------------------------------------------------------------------------


def parse_request(data: Any) -> AnchorRequest:
    """The anchor of a request body (None: the whole document); BadAnchor when malformed."""
    if data is None:
        return AnchorRequest(None, None, None)
    if not isinstance(data, dict):
        raise BadAnchor("anchor must be an object or null")
    unknown = set(data) - ANCHOR_KEYS
    if unknown:
        raise BadAnchor(f"unknown anchor field(s): {', '.join(sorted(map(str, unknown)))}")
    cell = data.get("cell")
    if cell is not None and (not isinstance(cell, str) or not cell or len(cell) > 200):
        raise BadAnchor('anchor "cell" must be a cell id (a non-empty string) or null')
    start, end = data.get("start"), data.get("end")
    if (start is None) != (end is None):
        raise BadAnchor('anchor "start" and "end" are both given or both null')
    return AnchorRequest(
        cell,
        None if start is None else _position_bytes(start, "start"),
        None if end is None else _position_bytes(end, "end"),
    )


def _position_bytes(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or len(value) > MAX_POSITION_BYTES * 2:
        raise BadAnchor(f'anchor "{name}" must be a base64 relative position')
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadAnchor(f'anchor "{name}" is not base64') from None
    parse_position(raw, name)
    return raw


@dataclass(frozen=True)
class Position:
    """A decoded v1 relative position: ``kind`` is ``item``, ``tname`` or ``type``."""

    kind: str
    client: int = 0
    clock: int = 0
    name: str = ""
    assoc: int = 0


def parse_position(raw: bytes, name: str = "position") -> Position:
    """Decode the v1 bytes of a relative position; BadAnchor for anything else."""
    reader = _Reader(raw, name)
    tag = reader.uint()
    if tag in (0, 2):
        client, clock = reader.uint(), reader.uint()
        kind, label = ("item" if tag == 0 else "type"), ""
    elif tag == 1:
        kind, client, clock, label = "tname", 0, 0, reader.string()
    else:
        raise BadAnchor(f'anchor "{name}" is not a relative position (tag {tag})')
    assoc = reader.int() if reader.left() else 0
    if reader.left():
        raise BadAnchor(f'anchor "{name}" has bytes after its relative position')
    if client >= 2**53 or clock >= 2**53:  # Yjs' ids are JavaScript safe integers
        raise BadAnchor(f'anchor "{name}" is not a relative position (id out of range)')
    return Position(kind, client, clock, label, assoc)


class _Reader:
    """lib0's varuint / varint / varstring, only as far as relative positions use them."""

    def __init__(self, data: bytes, name: str, limit: int | None = MAX_POSITION_BYTES) -> None:
        if limit is not None and len(data) > limit:
            raise BadAnchor(f'anchor "{name}" is too long for a relative position')
        self.data, self.i, self.name = data, 0, name

    def left(self) -> int:
        return len(self.data) - self.i

    def _byte(self) -> int:
        if self.i >= len(self.data):
            raise BadAnchor(f'anchor "{self.name}" is cut short')
        byte = self.data[self.i]
        self.i += 1
        return byte

    def uint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self._byte()
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value
            if shift > 63:
                raise BadAnchor(f'anchor "{self.name}" has a number too large')

    def int(self) -> int:
        byte = self._byte()
        negative = bool(byte & 0x40)
        value, shift = byte & 0x3F, 6
        while byte & 0x80:
            byte = self._byte()
            value |= (byte & 0x7F) << shift
            shift += 7
            if shift > 63:
                raise BadAnchor(f'anchor "{self.name}" has a number too large')
        return -value if negative else value

    def string(self) -> str:
        length = self.uint()
        if length > self.left():
            raise BadAnchor(f'anchor "{self.name}" is cut short')
        chunk = self.data[self.i : self.i + length]
        self.i += length
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise BadAnchor(f'anchor "{self.name}" holds a name that is not UTF-8') from None


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


# -- the texts of a document ----------------------------------------------------------------------


def find_cell(doc: Doc, cell_id: str) -> Map | None:
    """The cell with id ``cell_id`` in a notebook document (its ``cells`` array), or None."""
    cells = doc.get("cells", type=Array)
    for cell in cells:
        if isinstance(cell, Map) and cell.get("id") == cell_id:
            return cell
    return None


def cell_index(doc: Doc) -> dict[str, Map]:
    """Every cell of a notebook document by id, in one pass (one transaction: pycrdt opens one
    per read otherwise). Placing 200 threads in a 1,000-cell notebook cell by cell read the
    cells 200 times over (seconds); with the index, once."""
    found: dict[str, Map] = {}
    with doc.transaction():
        for cell in doc.get("cells", type=Array):
            if isinstance(cell, Map):
                cell_id = cell.get("id")
                if isinstance(cell_id, str):
                    found.setdefault(cell_id, cell)
    return found


def text_of(doc: Doc, notebook: bool, cell_id: str | None) -> Text | None:
    """The text an anchor's positions live in: the cell's source, or the file's source."""
    if notebook:
        if cell_id is None:
            return None
        cell = find_cell(doc, cell_id)
        source = cell.get("source") if cell is not None else None
        return source if isinstance(source, Text) else None
    return doc.get("source", type=Text)


class Content:
    """A text's string, indexed as Yjs and pycrdt's sticky indexes count: in UTF-16 code
    units (a character outside the BMP, an emoji, counts two), not Python's code points."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.astral = len(_ASTRAL.findall(text)) if not text.isascii() else 0
        self.length = len(text) + self.astral

    def slice(self, start: int, end: int) -> str:
        if not self.astral:
            return self.text[start:end]
        units = self.text.encode("utf-16-le", "surrogatepass")[2 * start : 2 * end]
        return units.decode("utf-16-le", "replace")  # (a cut surrogate pair: U+FFFD)

    def find(self, part: str) -> int:
        """The UTF-16 offset of ``part`` in the text, or -1."""
        found = self.text.find(part)
        if found <= 0 or not self.astral:
            return found
        return found + len(_ASTRAL.findall(self.text[:found]))

    @staticmethod
    def units(part: str) -> int:
        return len(part) + (len(_ASTRAL.findall(part)) if not part.isascii() else 0)


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def clip(text: str, limit: int = MAX_QUOTE) -> str:
    """``text``, cut to at most ``limit`` characters (an ellipsis where it was cut)."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _type_reference(text: Text) -> dict[str, Any]:
    """How a relative position names ``text`` itself (its root name, or its own item's id)."""
    found = StickyIndex.new(text, 0, Assoc.BEFORE).to_json()
    found.pop("assoc", None)
    return found


def _scope(text: Text) -> bytes:
    """``text`` itself, encoded as a relative position (see :attr:`Anchor.scope`)."""
    return StickyIndex.new(text, 0, Assoc.BEFORE).encode()


def _same_reference(position: Position, reference: dict[str, Any]) -> bool:
    if position.kind == "tname":
        return reference.get("tname") == position.name
    named = reference.get("type")
    return position.kind == "type" and named == {"client": position.client, "clock": position.clock}


def _seen(doc: Doc, position: Position) -> bool:
    """Whether the document has the character ``position`` names (its state vector covers its
    id): yrs panics on a position it has never seen, and a panic prints a backtrace."""
    state = doc.get_state()
    reader = _Reader(state, "state vector", limit=None)
    for _ in range(reader.uint()):
        client, clock = reader.uint(), reader.uint()
        if client == position.client:
            return position.clock < clock
    return False


def _index(text: Text, raw: bytes, position: Position, length: int) -> int | None:
    """The index ``raw`` resolves to in the text it belongs to (``length`` UTF-16 units long),
    or None when yrs cannot resolve it (its character was never seen here, or was garbage
    collected with its cell)."""
    if position.kind != "item":
        return 0 if position.assoc < 0 else length
    if not _seen(text.doc, position):
        return None
    try:
        return StickyIndex.decode(raw, text).get_index()
    except BaseException as exc:  # pycrdt raises a PanicException (a BaseException) here
        if isinstance(exc, Exception) or type(exc).__name__ == "PanicException":
            return None
        raise


def _live_index(text: Text, raw: bytes, name: str, length: int) -> int:
    """The index of a position that names a live character of ``text`` (or ``text``);
    BadAnchor for a position anywhere else."""
    position = parse_position(raw, name)
    if position.kind != "item":
        if not _same_reference(position, _type_reference(text)):
            raise BadAnchor(f'anchor "{name}" is not in the anchored text')
        return 0 if position.assoc < 0 else length
    index = _index(text, raw, position, length)
    if index is None:
        raise BadAnchor(f'anchor "{name}" is not in the document')
    # The character the position sticks to must be the one this text has at that index: a
    # position in another cell, or on deleted text, is not an anchor in this one.
    assoc = Assoc.AFTER if position.assoc >= 0 else Assoc.BEFORE
    at = index if assoc is Assoc.AFTER else index - 1
    if not 0 <= at < length:
        raise BadAnchor(f'anchor "{name}" is not in the anchored text')
    here = StickyIndex.new(text, index, assoc).to_json().get("item")
    if here != {"client": position.client, "clock": position.clock}:
        raise BadAnchor(f'anchor "{name}" is not in the anchored text')
    return index


# -- making and finding anchors -------------------------------------------------------------------


def make_anchor(
    doc: Doc, kind: str, request: AnchorRequest, quote_limit: int = MAX_QUOTE
) -> Anchor:
    """Check ``request`` against the document as it is now and make the anchor to store,
    with the quote the server reads from the document (cut to ``quote_limit`` characters).
    ``kind`` is the document's type: ``notebook``, ``file`` (text) or ``blob`` (binary: only
    whole-document threads)."""
    if request.cell is None and request.start is None:
        return Anchor(None, None, None, "")
    if kind == "blob":
        raise BadAnchor("a binary file takes comments on the whole file only (anchor null)")
    notebook = kind == "notebook"
    if not notebook and request.cell is not None:
        raise BadAnchor('a text file has no cells: anchor "cell" must be null')
    if notebook and request.cell is None:
        raise BadAnchor('a range in a notebook is in a cell: anchor "cell" is needed')
    if notebook:
        assert request.cell is not None
        cell = find_cell(doc, request.cell)
        if cell is None:
            raise BadAnchor(f"the notebook has no cell {request.cell!r}")
        source = cell.get("source")
        if request.start is None:
            whole = str(source) if isinstance(source, Text) else str(source or "")
            return Anchor(request.cell, None, None, clip(whole, quote_limit))
        if not isinstance(source, Text):
            raise BadAnchor(f"cell {request.cell!r} has no text to anchor a range in")
        text = source
    else:
        text = doc.get("source", type=Text)
    assert request.start is not None and request.end is not None
    content = Content(str(text))
    start = _live_index(text, request.start, "start", content.length)
    end = _live_index(text, request.end, "end", content.length)
    if end <= start:
        raise BadAnchor('anchor "end" must come after "start" (a range of at least one character)')
    return Anchor(
        request.cell, request.start, request.end, clip(content.slice(start, end), quote_limit),
        _scope(text),
    )


def range_positions(text: Text, start: int, end: int) -> tuple[bytes, bytes]:
    """The encoded positions of ``text[start:end]``, as the API recommends clients make them:
    the start sticks to the first character (typing before the range stays outside), the end
    to the last one (typing after it stays outside). Offsets in UTF-16 code units, as Yjs'."""
    length = Content(str(text)).length
    if not 0 <= start < end <= length:
        raise BadAnchor(f"range {start}..{end} is outside the text (length {length})")
    return (
        StickyIndex.new(text, start, Assoc.AFTER).encode(),
        StickyIndex.new(text, end, Assoc.BEFORE).encode(),
    )


def locate(doc: Doc, kind: str, anchor: Anchor, texts: dict[Any, Any] | None = None) -> Place:
    """Where ``anchor`` is in the document now; ``texts`` caches what is read (each text's
    string, the notebook's cells by id) across the threads of one document (a long file is
    read once per request, not once per thread)."""
    if anchor.cell is None and anchor.start is None:
        return Place(False, whole_document=True)
    notebook = kind == "notebook"
    cache = texts if texts is not None else {}
    if notebook:
        assert anchor.cell is not None
        if "cells" not in cache:
            cache["cells"] = cell_index(doc)
        cell = cache["cells"].get(anchor.cell)
        if cell is None:
            return Place(True, anchor.cell)  # the cell was deleted
        if anchor.start is None:
            return Place(False, anchor.cell)
        source = cell.get("source")
        if not isinstance(source, Text):
            return Place(True, anchor.cell)
        text = source
    else:
        text = doc.get("source", type=Text)
    assert anchor.start is not None and anchor.end is not None
    key = (anchor.cell, id(text))
    if key not in cache:
        cache[key] = Content(str(text))
    content = cache[key]
    start: int | None = None
    end: int | None = None
    if anchor.scope is None or anchor.scope == _scope(text):
        start = _index(text, anchor.start, parse_position(anchor.start, "start"), content.length)
        end = _index(text, anchor.end, parse_position(anchor.end, "end"), content.length)
    if start is None or end is None:
        # The characters are unknown to this text: a cell moved by deleting it and inserting a
        # copy (JupyterLab moves cells so) keeps its id and text but not its CRDT items. The
        # quote, if the cell's text still holds it, is where the thread belongs.
        quote = anchor.quote
        found = content.find(quote) if quote else -1
        if found < 0 and quote.endswith("…") and len(quote) > 1:
            # A quote longer than the cap was stored cut (``clip``): its start is known, so
            # the thread covers at least that much of its text again.
            quote = quote[:-1]
            found = content.find(quote)
        if found < 0:
            return Place(True, anchor.cell)
        start, end = found, found + Content.units(quote)
    start, end = max(0, min(start, content.length)), max(0, min(end, content.length))
    if end <= start:
        return Place(True, anchor.cell)  # everything it covered was deleted
    return Place(False, anchor.cell, start, end, clip(content.slice(start, end)))
