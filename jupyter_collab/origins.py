"""Typed origins of document changes.

Every transaction on a room's document carries an :class:`Origin` so that persistence, autosave,
the bus and fan-out can tell a client's keystroke from a merge of the file on disk or a restore,
and never loop or apply a change twice (the Hocuspocus model).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class OriginKind(str, Enum):
    CLIENT = "client"
    DISK = "disk"
    RESTORE = "restore"
    BUS = "bus"
    SERVER = "server"
    LOAD = "load"
    RESUME = "resume"  # replaying the room's own durable log: never logged again
    # BUS: another server's update (it logged it): applied and fanned out here, never logged
    # or published again


@dataclass(frozen=True, eq=False)
class Origin:
    """Who or what made a change.

    ``connection`` is the client connection that sent the change (to skip echoing it back);
    ``user`` is the Jupyter username responsible, when there is one. ``credits`` and
    ``provenance`` go into the log with the change when its content is somebody else's work
    (a restore brings back what others wrote: ``history/provenance.py``).
    """

    kind: OriginKind
    user: str | None = None
    connection: Any = None
    credits: tuple[str, ...] | None = None
    provenance: bytes | None = None

    @property
    def logged(self) -> bool:
        """Whether a change of this origin goes into the durable log (the server that received
        a change logs it; a replay of the log or another server's update is not logged again)."""
        return self.kind not in (OriginKind.RESUME, OriginKind.BUS)

    @property
    def shared(self) -> bool:
        """Whether a change of this origin is published to the other servers of the group.

        Loads and replays of the log are each server's own (the others load the same log);
        changes that came from the bus are already everywhere.
        """
        return self.kind not in (OriginKind.LOAD, OriginKind.RESUME, OriginKind.BUS)

    @property
    def marks_dirty(self) -> bool:
        """Whether a change of this origin makes the room differ from the file on disk.

        Loads and disk merges bring the room in line with the file, and the server's own
        bookkeeping (the ``dirty`` flag) is not content.
        """
        return self.kind in (OriginKind.CLIENT, OriginKind.RESTORE, OriginKind.BUS)


LOAD = Origin(OriginKind.LOAD)
RESUME = Origin(OriginKind.RESUME)
DISK = Origin(OriginKind.DISK)
SERVER = Origin(OriginKind.SERVER)
BUS = Origin(OriginKind.BUS)
