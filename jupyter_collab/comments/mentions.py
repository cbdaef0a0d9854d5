"""``@username`` mentions in a comment's body.

A mention is ``@`` followed by a username as user directories spell them (letters, digits,
``._-+@``: JupyterHub's usernames may be e-mail addresses), where the ``@`` does not follow a
letter, a digit or one of those characters (``bob@example.org`` is an address, not a mention
of ``example.org``). A trailing ``.`` is the sentence's, not the name's.
"""

from __future__ import annotations

import re

MAX_MENTIONS = 50  # distinct names looked up per comment; more are plain text

_MENTION = re.compile(r"(?<![\w.+\-@])@([\w.+\-@]+)")


def mentioned_names(body: str) -> list[str]:
    """The distinct names mentioned in ``body``, in order of first mention."""
    names: dict[str, None] = {}
    for match in _MENTION.finditer(body):
        name = match.group(1).rstrip(".")
        if name:
            names.setdefault(name)
        if len(names) >= MAX_MENTIONS:
            break
    return list(names)
