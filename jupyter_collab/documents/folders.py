"""What names the served folder in a database that several servers (or restarts) share.

File ids and shares are kept per folder, so that ``notes.txt`` under two different root
directories is two files with two histories. Servers that serve *one* folder must name it the
same, even when their ``root_dir`` settings are different paths to it (a symbolic link, a bind
mount seen at another path): by default the folder is named by its real path, links resolved;
a deployer whose servers reach the folder through different mounts (where real paths differ)
sets one ``CollabApp.root_name`` on all of them.
"""

from __future__ import annotations

import os
import sqlite3


def folder_name(root_dir: str, configured: str = "") -> str:
    """``configured`` if set, else the real path of ``root_dir`` ("" for no root)."""
    if configured:
        return configured
    return os.path.realpath(root_dir) if root_dir else ""


def adopt_folder(db: sqlite3.Connection, old: str, new: str) -> int:
    """Earlier versions named a SQLite folder by ``root_dir`` as given: move what was kept
    under that name (``old``, a link's path) to the folder's name now (``new``), unless the
    new name has its own row for the same path already. Runs on the database's writer thread;
    how many file ids moved."""
    if old == new:
        return 0
    moved = db.execute(
        "UPDATE OR IGNORE collab_files SET root = ? WHERE root = ?", (new, old)
    ).rowcount
    db.execute("UPDATE OR IGNORE collab_shares SET root = ? WHERE root = ?", (new, old))
    return moved
