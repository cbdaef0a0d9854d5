"""Every component with tables in the collaboration database, in the order they are migrated.

The server migrates them all when it opens the database; ``jupyter collab check --repair``
creates the same tables in a fresh file.
"""

from __future__ import annotations

from .comments import sqlite as comments
from .documents import fileids
from .persistence import schema
from .persistence.migrations import Component
from .sharing import sqlite as sharing

COMPONENTS: tuple[Component, ...] = (
    schema.COMPONENT, fileids.COMPONENT, sharing.COMPONENT, comments.COMPONENT,
)
