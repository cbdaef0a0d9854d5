"""Reading notebooks quickly, and trusting them as Jupyter does.

``ContentsManager.get(type="notebook")`` validates the whole notebook against its JSON schema
and computes its signature before returning: most of the time it takes to open a large
notebook. Here the file is read through the same ContentsManager as text, parsed as nbformat
does (v4: rejoin lines, strip transient fields), and the signature is checked in a thread after
the room is open, so the first client does not wait for it. Older formats take the regular path.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from jupyter_core.utils import ensure_async
from nbformat import NotebookNode, from_dict
from nbformat.v4.rwbase import rejoin_lines, strip_transient


async def read_notebook(cm: Any, path: str) -> tuple[dict[str, Any], datetime | None]:
    """The notebook at ``path`` as an nbformat v4 dict; raise ValueError if it is not one."""
    try:
        model = await ensure_async(cm.get(path, content=True, type="file", format="text"))
        notebook = json.loads(model["content"], object_hook=NotebookNode)
    except (ValueError, TypeError, KeyError):
        notebook = None
    if isinstance(notebook, dict) and notebook.get("nbformat") == 4:
        rejoin_lines(notebook)
        strip_transient(notebook)
        return notebook, model.get("last_modified")
    # Not v4 (or not readable as text): the ContentsManager converts and validates it.
    model = await ensure_async(cm.get(path, content=True, type="notebook"))
    return model["content"], model.get("last_modified")


async def is_trusted(cm: Any, notebook: dict[str, Any]) -> bool:
    """Whether the notebook's signature is in the server's trust database."""
    notary = getattr(cm, "notary", None)
    if notary is None:
        return False
    node: NotebookNode = from_dict(notebook)
    signature = await asyncio.to_thread(notary.compute_signature, node)
    # The database lookup stays on the server's thread, where the notary's SQLite lives.
    return bool(signature and notary.store.check_signature(signature, notary.algorithm))
