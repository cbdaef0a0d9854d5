"""Real database failures for tests: nothing of ours is replaced, the database itself fails.

- :func:`pragma` on a store's own writing connection: ``query_only`` (every write refused, as
  with a read-only file) or ``max_page_count`` (full, as a full disk);
- :class:`SmallDisk`: the database directory on a tmpfs of a few MB that can be filled (ENOSPC)
  or remounted read-only (EROFS), for real server processes. Needs the right to mount (root
  with CAP_SYS_ADMIN, as on this project's machines); tests that need it skip otherwise.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest


async def pragma(store: Any, statement: str) -> Any:
    """Run ``PRAGMA statement`` on the store's writing connection; its first value, if any."""

    def run(db: Any) -> Any:
        rows = db.execute(f"PRAGMA {statement}").fetchall()
        return rows[0][0] if rows else None

    return await store.db.run(run)


def can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class SmallDisk:
    """A tmpfs mounted at ``path`` (``size`` bytes)."""

    def __init__(self, path: Path, size: int = 4 * 1024 * 1024) -> None:
        self.path = path
        self.size = size
        self.filler = path / "filler"

    def mount(self) -> SmallDisk:
        self.path.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        return self

    def fill(self) -> None:
        """Write until the file system is full (ENOSPC)."""
        chunk = b"\0" * 65536
        with open(self.filler, "ab") as f:
            try:
                while True:
                    f.write(chunk)
                    f.flush()
            except OSError:
                pass

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def read_only(self, on: bool = True) -> None:
        mode = "ro" if on else "rw"
        subprocess.run(
            ["mount", "-o", f"remount,{mode}", str(self.path)], check=True, capture_output=True
        )

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False, capture_output=True)


class ReadOnlyFiles:
    """Make files read-only for everyone, root included, even through descriptors already open
    (``chattr +i``: writes then fail with EPERM, SQLite says "disk I/O error"). The database's
    shared-memory index (``-shm``) is left alone: SQLite maps it in memory, and no real-life
    read-only database has that file read-only while a server has it mapped."""

    def __init__(self, *paths: Path) -> None:
        self.paths = [p for p in paths if p.exists()]

    def __enter__(self) -> ReadOnlyFiles:
        result = subprocess.run(
            ["chattr", "+i", *map(str, self.paths)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            pytest.skip(f"cannot make files immutable here: {result.stderr.strip()}")
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["chattr", "-i", *map(str, self.paths)], capture_output=True, check=False)
