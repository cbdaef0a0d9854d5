"""Reading and writing Yjs document updates (format v1), strictly.

The room has to know what an update would do before it takes it: which clock ranges it
inserts, which items it depends on, which items it deletes. pycrdt applies updates but does
not describe them, and it integrates whatever it can of an update whose dependencies are
missing (see ``collaboration/integrity.py``), so updates from the network are read here first.

Every length is checked and anything that the Yjs decoder would read differently from yrs
(integers past JavaScript's safe range, strings that are not UTF-8, a client written twice,
empty structs, unknown content, trailing bytes) raises :class:`MalformedMessage`.

Format (y-protocols / Yjs ``UpdateEncoderV1``)::

    update      = varUint(#clients) { varUint(#structs) varUint(client) varUint(clock) struct* }
                  deleteSet
    struct      = info:uint8 ...      info & 0x1f: 0 GC, 10 Skip, 1..9 item content
    item        = [origin ID if info&0x80] [right origin ID if info&0x40]
                  [if neither: varUint(1) varString(root) | varUint(0) ID(parent item)]
                  [if neither and info&0x20: varString(parentSub)] content
    deleteSet   = varUint(#clients)
                  { varUint(client) varUint(#ranges) { varUint(clock) varUint(len) } }
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pycrdt import write_var_uint

from .framing import MalformedMessage

MAX_SAFE_INTEGER = 2**53 - 1  # what lib0 reads in JavaScript
MAX_ANY_DEPTH = 64

GC_REF = 0
DELETED_REF = 1
STRING_REF = 4
TYPE_REF = 7
SKIP_REF = 10

_ORIGIN = 0x80
_RIGHT_ORIGIN = 0x40
_PARENT_SUB = 0x20
_CONTENT = 0x1F

ID = tuple[int, int]  # (client, clock)


@dataclass(slots=True)
class Struct:
    """One struct of an update: a GC range, a Skip, or an item."""

    client: int
    clock: int
    length: int
    ref: int  # content ref: GC_REF, SKIP_REF or an item's content (1..9)
    origin: ID | None = None
    right_origin: ID | None = None
    parent_item: ID | None = None  # parent given as an item ID
    parent_root: str | None = None  # parent given as a root type's name
    parent_sub: str | None = None  # the map key, when the item is a map entry (no origins)
    keyed: bool = False  # a map entry: Yjs and yrs flag it (info & 0x20) even with origins
    start: int = 0  # where the struct starts in the update it was read from
    content_at: int = 0  # where its content starts there (items)
    end_at: int = 0  # and where the struct ends (to copy it, or write it with other anchors)

    @property
    def end(self) -> int:
        return self.clock + self.length

    @property
    def is_item(self) -> bool:
        return self.ref not in (GC_REF, SKIP_REF)

    def dependencies(self) -> tuple[ID, ...]:
        """IDs that must exist before this struct can be integrated (besides its own
        predecessor in clock order)."""
        if not self.is_item:
            return ()
        deps = []
        if self.origin is not None:
            deps.append(self.origin)
        if self.right_origin is not None:
            deps.append(self.right_origin)
        if self.parent_item is not None:
            deps.append(self.parent_item)
        return tuple(deps)


@dataclass(slots=True)
class Update:
    """A decoded update: its structs per client (in clock order) and its delete set."""

    blocks: dict[int, list[Struct]] = field(default_factory=dict)
    delete_set: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # (clock, len)
    structs_end: int = 0  # byte offset where the delete set starts

    def ranges(self) -> dict[int, tuple[int, int]]:
        """Per client, the clock range [start, end) its structs cover (Skips excluded)."""
        out = {}
        for client, structs in self.blocks.items():
            items = [s for s in structs if s.ref != SKIP_REF]
            if items:
                out[client] = (items[0].clock, items[-1].end)
        return out

    @property
    def empty(self) -> bool:
        return not self.blocks and not self.delete_set


class _Reader:
    """A cursor over an update. Reading past the end raises IndexError, which
    :func:`read_update` reports as a truncated update."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def uint8(self) -> int:
        byte = self.data[self.pos]
        self.pos += 1
        return byte

    def var_uint(self) -> int:
        data = self.data
        pos = self.pos
        byte = data[pos]
        if byte < 0x80:  # the common case: one byte
            self.pos = pos + 1
            return byte
        result = byte & 0x7F
        shift = 7
        while True:
            pos += 1
            byte = data[pos]
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 56:
                raise MalformedMessage("integer too large in update")
        self.pos = pos + 1
        if result > MAX_SAFE_INTEGER:
            raise MalformedMessage("integer out of range in update")
        return result

    def var_int(self) -> int:
        byte = self.uint8()
        negative = bool(byte & 0x40)
        result = byte & 0x3F
        shift = 6
        while byte & 0x80:
            byte = self.uint8()
            result |= (byte & 0x7F) << shift
            shift += 7
            if shift > 60:
                raise MalformedMessage("integer too large in update")
        if result > MAX_SAFE_INTEGER:
            raise MalformedMessage("integer out of range in update")
        return -result if negative else result

    def bytes_(self, length: int) -> bytes:
        start = self.pos
        end = start + length
        if end > len(self.data):
            raise IndexError("truncated")
        self.pos = end
        return self.data[start:end]

    def var_bytes(self) -> bytes:
        return self.bytes_(self.var_uint())

    def var_string(self) -> str:
        raw = self.bytes_(self.var_uint())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedMessage("string in update is not UTF-8") from exc

    def string_length(self) -> int:
        """Read a string; return its length in UTF-16 code units (Yjs' clock units)."""
        raw = self.bytes_(self.var_uint())
        if raw.isascii():
            return len(raw)
        try:
            return len(raw.decode("utf-8").encode("utf-16-le")) // 2
        except UnicodeDecodeError as exc:
            raise MalformedMessage("string in update is not UTF-8") from exc
        except UnicodeEncodeError as exc:  # lone surrogates cannot come from UTF-8
            raise MalformedMessage("string in update is not UTF-16") from exc

    def id(self) -> ID:
        client = self.var_uint()
        return client, self.var_uint()

    def any(self, depth: int = 0) -> None:
        """Skip one lib0 ``any`` value (checking it)."""
        if depth > MAX_ANY_DEPTH:
            raise MalformedMessage("value nested too deeply in update")
        kind = self.uint8()
        if kind in (127, 126, 121, 120):  # undefined, null, false, true
            return
        if kind == 125:
            self.var_int()
        elif kind == 124:
            self.bytes_(4)
        elif kind in (123, 122):
            self.bytes_(8)
        elif kind == 119:
            self.var_string()
        elif kind == 118:
            for _ in range(self.var_uint()):
                self.var_string()
                self.any(depth + 1)
        elif kind == 117:
            for _ in range(self.var_uint()):
                self.any(depth + 1)
        elif kind == 116:
            self.var_bytes()
        else:
            raise MalformedMessage(f"unknown value type {kind} in update")


def _content_length(reader: _Reader, ref: int) -> int:
    """Read an item's content; return its length in clock units."""
    if ref == DELETED_REF:
        return reader.var_uint()
    if ref == 2:  # JSON: strings
        length = reader.var_uint()
        for _ in range(length):
            reader.var_string()
        return length
    if ref == 3:  # binary
        reader.var_bytes()
        return 1
    if ref == STRING_REF:
        return reader.string_length()
    if ref == 5:  # embed: a JSON string
        reader.var_string()
        return 1
    if ref == 6:  # format: key and JSON value
        reader.var_string()
        reader.var_string()
        return 1
    if ref == TYPE_REF:
        type_ref = reader.var_uint()
        if type_ref in (3, 5):  # XmlElement's name, XmlHook's key
            reader.var_string()
        elif type_ref > 6:
            raise MalformedMessage(f"unknown shared type {type_ref} in update")
        return 1
    if ref == 8:  # any values
        length = reader.var_uint()
        for _ in range(length):
            reader.any()
        return length
    if ref == 9:  # subdocument: guid and options
        reader.var_string()
        reader.any()
        return 1
    raise MalformedMessage(f"unknown content type {ref} in update")


def read_update(data: bytes) -> Update:
    """Decode an update (v1); raise :class:`MalformedMessage` for anything out of the format."""
    try:
        return _read_update(_Reader(bytes(data)))
    except IndexError as exc:
        raise MalformedMessage("update truncated") from exc
    except RecursionError as exc:
        raise MalformedMessage("value nested too deeply in update") from exc


def _read_update(reader: _Reader) -> Update:
    update = Update()
    for _ in range(reader.var_uint()):
        count = reader.var_uint()
        client = reader.var_uint()
        clock = reader.var_uint()
        if client in update.blocks:
            raise MalformedMessage("client written twice in update")
        structs: list[Struct] = []
        for _ in range(count):
            start = reader.pos
            info = reader.uint8()
            ref = info & _CONTENT
            if ref in (GC_REF, SKIP_REF):
                s = Struct(client, clock, reader.var_uint(), ref, start=start)
                s.end_at = reader.pos
            else:
                origin = reader.id() if info & _ORIGIN else None
                right = reader.id() if info & _RIGHT_ORIGIN else None
                parent_item = parent_root = parent_sub = None
                if origin is None and right is None:
                    if reader.var_uint() == 1:
                        parent_root = reader.var_string()
                    else:
                        parent_item = reader.id()
                    if info & _PARENT_SUB:
                        parent_sub = reader.var_string()
                at = reader.pos
                length = _content_length(reader, ref)
                s = Struct(
                    client, clock, length, ref, origin, right, parent_item, parent_root,
                    parent_sub, bool(info & _PARENT_SUB), start, at, reader.pos,
                )  # fmt: skip
            if s.length <= 0:
                raise MalformedMessage("empty struct in update")
            clock += s.length
            if clock > MAX_SAFE_INTEGER:
                raise MalformedMessage("clock out of range in update")
            structs.append(s)
        if structs:
            update.blocks[client] = structs
    update.structs_end = reader.pos
    for _ in range(reader.var_uint()):
        client = reader.var_uint()
        ranges = update.delete_set.setdefault(client, [])
        for _ in range(reader.var_uint()):
            start = reader.var_uint()
            length = reader.var_uint()
            if start + length > MAX_SAFE_INTEGER:
                raise MalformedMessage("clock out of range in update")
            if length:
                ranges.append((start, length))
        if not ranges:
            del update.delete_set[client]
    if reader.pos != len(reader.data):
        raise MalformedMessage("trailing bytes after update")
    return update


# -- writing -------------------------------------------------------------------------------


def encode_delete_set(delete_set: dict[int, list[tuple[int, int]]]) -> bytes:
    parts = [write_var_uint(len(delete_set))]
    for client, ranges in sorted(delete_set.items(), reverse=True):
        parts += [write_var_uint(client), write_var_uint(len(ranges))]
        for start, length in ranges:
            parts += [write_var_uint(start), write_var_uint(length)]
    return b"".join(parts)


def with_delete_set(
    data: bytes, update: Update, delete_set: dict[int, list[tuple[int, int]]]
) -> bytes:
    """``data`` (decoded as ``update``) with its delete set replaced."""
    return bytes(data[: update.structs_end]) + encode_delete_set(delete_set)


def encode_item(
    s: Struct,
    content: bytes,
    *,
    ref: int | None = None,
    origin: ID | None = None,
    right_origin: ID | None = None,
    parent_item: ID | None = None,
    parent_root: str | None = None,
    parent_sub: str | None = None,
) -> bytes:
    """The item ``s`` (its content encoded as ``content``) placed by the anchors given: an
    origin and/or a right origin, or, with neither, a parent (a root's name or a type's item
    ID, and the key for a map entry). Written the way Yjs' ``Item.write`` does, the map-entry
    flag included."""
    info = (s.ref if ref is None else ref) & _CONTENT
    if origin is not None:
        info |= _ORIGIN
    if right_origin is not None:
        info |= _RIGHT_ORIGIN
    if s.keyed or parent_sub is not None:
        info |= _PARENT_SUB
    parts = [bytes((info,))]
    for anchor in (origin, right_origin):
        if anchor is not None:
            parts += [write_var_uint(anchor[0]), write_var_uint(anchor[1])]
    if origin is None and right_origin is None:
        if parent_root is not None:
            name = parent_root.encode()
            parts += [write_var_uint(1), write_var_uint(len(name)), name]
        elif parent_item is not None:
            client, clock = parent_item
            parts += [write_var_uint(0), write_var_uint(client), write_var_uint(clock)]
        else:
            raise ValueError("an item needs an origin, a right origin or a parent")
        if info & _PARENT_SUB:
            if parent_sub is None:
                raise ValueError("a map entry without origins needs its key")
            key = parent_sub.encode()
            parts += [write_var_uint(len(key)), key]
    parts.append(content)
    return b"".join(parts)


def moved(s: Struct, data: bytes, anchors: Struct) -> bytes:
    """The item ``s`` (read from ``data``) with the anchors (origins, or parent and key) of
    ``anchors`` instead of its own."""
    return encode_item(
        s,
        data[s.content_at : s.end_at],
        origin=anchors.origin,
        right_origin=anchors.right_origin,
        parent_item=anchors.parent_item,
        parent_root=anchors.parent_root,
        parent_sub=anchors.parent_sub,
    )


def tombstone(
    s: Struct, hidden_root: str, in_place: bool = False, key: str | None = None
) -> bytes:
    """A deleted item standing for ``s``: same ID and length, no content.

    ``in_place``: the tombstone has the anchors of ``s`` (origins, or parent), so that it sits
    where ``s`` would and later items anchored on ``s`` land where the client that wrote them
    sees them; the caller has checked that this hides nothing (a deleted map entry in its map
    would hide the value it replaced) and that the room has those anchors. Otherwise it goes
    to ``hidden_root``, a root nobody reads: as a map entry under ``key`` if given (a
    deleted entry keeps its key in every encoding of the document, so whoever reads the
    document later can learn from it what the caller wrote there), else as a list item.
    """
    content = write_var_uint(s.length)
    if in_place and s.is_item:
        return encode_item(
            s, content, ref=DELETED_REF, origin=s.origin, right_origin=s.right_origin,
            parent_item=s.parent_item, parent_root=s.parent_root, parent_sub=s.parent_sub,
        )  # fmt: skip
    if key is not None and s.is_item:
        return encode_item(s, content, ref=DELETED_REF, parent_root=hidden_root, parent_sub=key)
    name = hidden_root.encode()
    return b"".join(
        [bytes((DELETED_REF,)), write_var_uint(1), write_var_uint(len(name)), name, content]
    )


def encode_structs(blocks: dict[int, list[bytes]], starts: dict[int, int]) -> bytes:
    """The struct section of an update from already encoded structs per client."""
    parts = [write_var_uint(len(blocks))]
    for client, encoded in sorted(blocks.items(), reverse=True):
        parts += [
            write_var_uint(len(encoded)),
            write_var_uint(client),
            write_var_uint(starts[client]),
        ]
        parts += encoded
    return b"".join(parts)


def decode_state_vector(data: bytes) -> dict[int, int]:
    reader = _Reader(bytes(data))
    state = {}
    for _ in range(reader.var_uint()):
        client = reader.var_uint()
        state[client] = reader.var_uint()
    return state
