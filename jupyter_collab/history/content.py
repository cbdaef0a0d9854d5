"""A document's content at a point of its history, in the shape the ContentsManager uses."""

from __future__ import annotations

import base64
from typing import Any

from pycrdt import Doc

from ..documents.kinds import DocumentKind
from ..documents.merge import value_of


def value_at(state: bytes, kind: DocumentKind) -> Any:
    """The value ``jdoc.get()`` returns for the document at ``state`` (str, dict or bytes)."""
    doc = Doc()
    doc.apply_update(state)
    return value_of(kind.ydoc_class(doc))


def json_content(value: Any, kind: DocumentKind) -> Any:
    """A value as it travels in JSON: text as is, a notebook as nbformat JSON, bytes in base64."""
    if kind.format == "base64":
        return base64.b64encode(value).decode("ascii")
    return value
