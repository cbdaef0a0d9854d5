"""``GET /api/collab/status``: what works, so the frontend (and people) can say what does not.

The store's health is there: whether history is being recorded, and if not, why and since when
(a read-only or full disk, a damaged database, one written by a newer version, PostgreSQL out
of reach), and what helps for the store in use (`jupyter collab check` for an SQLite file,
PostgreSQL's own tools for database_url). When the database could not be opened at all, the
history endpoints answer 503 with that reason instead of disappearing (docs/protocol.md).
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .._version import __version__
from ..persistence.health import StoreHealth
from .handlers import CollabMixin

HEALTH = "jupyter_collab_store_health"


class StatusHandler(CollabMixin, APIHandler):
    """``GET /api/collab/status``"""

    @web.authenticated
    @authorized("read")
    async def get(self) -> None:
        health: StoreHealth = self.settings[HEALTH]
        rooms = list(self.rooms.rooms.values())
        failing = [r for r in rooms if r.journal is not None and not r.journal.logging]
        store = health.as_json()
        if health.help is not None:
            store["help"] = health.help
        store["roomsWithoutHistory"] = len(failing)
        self.finish(
            json.dumps(
                {
                    "version": __version__,
                    "store": store,
                    "rooms": len(rooms),
                    "sharing": {"sharesKnown": self.sharing.unknown is None},
                }
            )
        )


class HistoryOffHandler(CollabMixin, APIHandler):
    """The history endpoints of a server whose database could not be opened: 503, and why."""

    def _refuse(self, *args: Any) -> None:
        health: StoreHealth = self.settings[HEALTH]
        raise web.HTTPError(
            503, f"history is off on this server: {health.error}; {health.help}",
            reason="History Unavailable",
        )  # fmt: skip

    @web.authenticated
    @authorized("read")
    async def get(self, *args: Any) -> None:
        self._refuse()

    @web.authenticated
    @authorized("write")
    async def post(self, *args: Any) -> None:
        self._refuse()
