"""``jupyter collab export PATH [--version N] [-o FILE]``: a document's content at a version.

The content is computed as the history API computes it (``history/content.py`` from the
version's stored state), so ``export --version N`` gives what
``GET /api/collab/documents/{room}/versions/N`` gives: a notebook as nbformat 4 JSON (written
as nbformat writes ``.ipynb`` files), text as text, a binary file as its bytes. Without
``--version``, the current content of the history (the log as the server logged it).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from traitlets import Unicode

from ..history.content import json_content, value_at
from ..history.roomversions import version_json
from ..persistence.catalog import room_kind
from .base import ALIASES, OK, CollabCommandBase, CommandError, VersionOption, find_version
from .documents import resolve


def file_bytes(value: Any, kind: Any) -> bytes:
    """The bytes of the file for a content (a notebook as nbformat writes it)."""
    if kind.format == "base64":
        return bytes(value)
    if kind.type == "notebook":
        # nbformat.writes: sorted keys, indent 1, not ASCII-escaped, a final newline
        return (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()
    return str(value).encode()


async def content_at(store: Any, doc_id: str, version: str | None) -> tuple[Any, Any, Any]:
    """(kind, value, version info or None) of ``doc_id`` at ``version`` (None: current)."""
    kind, _ = room_kind(doc_id)
    if version is None:
        state = await store.load(doc_id)
        if state is None:
            raise CommandError(f"{doc_id} has no history")
        return kind, await asyncio.to_thread(value_at, state, kind), None
    found = await find_version(store, doc_id, version)
    return kind, await asyncio.to_thread(value_at, found.state, kind), found


class ExportApp(VersionOption, CollabCommandBase):
    name = "jupyter-collab-export"
    description = """Write a document's content at a version (default: its current content)
    to FILE or stdout: .ipynb JSON for a notebook, text for a text file. With --json, the
    reply of the history API's GET .../versions/{id} instead."""
    examples = """
    jupyter collab export analysis.ipynb --version 12 -o analysis-v12.ipynb
    jupyter collab export notes.md --version "Before the refactoring"
    jupyter collab export notes.md > notes-now.md
    """

    version = Unicode("", config=True, help="The version: its id (see `versions`) or its name.")
    output = Unicode("", config=True, help="Write to this file (default: stdout).")
    aliases = {
        **ALIASES,
        "at-version": "ExportApp.version",
        ("o", "output"): "ExportApp.output",
    }

    def run(self) -> int:
        (spelling,) = self.positional("path")
        where = self.where()
        doc_id = resolve(where, spelling)
        settings = self.collab_settings()
        from .base import run_with_store

        async def work(store: Any, _ids: Any) -> tuple[Any, Any, Any]:
            return await content_at(store, doc_id, self.version or None)

        kind, value, version = run_with_store(where, work, retention=settings.history_retention)
        if self.json:
            reply = {
                "path": spelling,
                "room": doc_id,
                "version": version_json(version) if version is not None else None,
                "type": kind.type,
                "format": kind.format,
                "content": json_content(value, kind),
            }
            if self.output and self.output != "-":
                with open(self.output, "w", encoding="utf-8") as f:
                    json.dump(reply, f, indent=2, ensure_ascii=False)
            else:
                self.emit(reply)
            return OK
        data = file_bytes(value, kind)
        if self.output and self.output != "-":
            tmp = f"{self.output}.tmp-{os.getpid()}"
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, self.output)
            except OSError as error:
                raise CommandError(f"cannot write {self.output}: {error}") from None
            print(f"Wrote {self.output} ({len(data):,} bytes)", file=sys.stderr)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        return OK
