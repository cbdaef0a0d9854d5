"""The first update of a text file's document, written directly.

A text file opened for the first time becomes one string item in the document's ``source``
text, and its whole state, the update every first client is sent (and the log and the merge
base keep), is that item. yrs encodes it at ~10 ns per byte (~35 ms for 4 MiB of text, with
the GIL held: the largest part of a cold open), while the bytes are the file's UTF-8 behind a
header of a few bytes. Here they are written directly and the document is filled by applying
them (~3 ms for 4 MiB: yrs reads a string faster than it writes one), so the document is by
construction exactly what the update says.

The layout is Yjs' update format v1 (``y-protocols``, ``Y.encodeStateAsUpdate``), the same
bytes yrs writes for that document (``tests/test_textupdate.py`` compares them):

- one client: ``varUint(1)``, then its structs: ``varUint(1)`` struct, ``varUint(client)``,
  ``varUint(0)`` (its first clock);
- the item: info byte ``4`` (string content; no left or right origin, no parent key), its
  parent as a root type named ``varUint(1)`` + ``varString(root)``, its content
  ``varString(text)`` (UTF-8 byte length, then the bytes);
- an empty delete set: ``varUint(0)``.
"""

from __future__ import annotations

from pycrdt import write_var_uint

_STRING_ITEM_OF_ROOT = b"\x04\x01"  # info (string content, no origins), parent is a root name


def _var_string(data: bytes) -> bytes:
    return write_var_uint(len(data)) + data


def text_update(client_id: int, root: str, text: str) -> bytes | None:
    """The update of an empty document after ``text`` was inserted into its root text
    ``root`` by client ``client_id``; None for an empty text (nothing to insert) or one
    that is not valid Unicode (lone surrogates: left to the library)."""
    if not text:
        return None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return utf8_text_update(client_id, root, data)


def utf8_text_update(client_id: int, root: str, data: bytes) -> bytes | None:
    """:func:`text_update` for a text already in UTF-8 (``data``, which the caller has
    checked is valid UTF-8): a file's bytes as read, never decoded and encoded again."""
    if not data:
        return None
    head = (
        b"\x01\x01" + write_var_uint(client_id) + b"\x00" + _STRING_ITEM_OF_ROOT
        + _var_string(root.encode("utf-8")) + write_var_uint(len(data))
    )  # fmt: skip
    return b"".join((head, data, b"\x00"))
