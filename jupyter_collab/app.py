"""The Jupyter Server extension: every setting a traitlet, as deployers expect.

Configure with ``--CollabApp.save_delay=2`` on the command line or
``c.CollabApp.save_delay = 2`` in ``jupyter_server_config.py``.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int, Unicode, default

from ._version import __version__
from .collaboration.manager import RoomManager
from .collaboration.room import RoomSettings
from .documents.fileids import FileIds, MemoryFileIds, SQLiteFileIds
from .events import RoomEvents
from .gateway.handlers import MAX_MESSAGE_SIZE, ROOMS, RoomHandler, SessionHandler
from .persistence import DocumentStore, MemoryStore, SQLiteStore

CONTENTS_SCHEMA_ID = "https://events.jupyter.org/jupyter_server/contents_service/v1"


class CollabApp(ExtensionApp):
    name = "jupyter_collab"
    version = __version__
    description = "Real-time collaboration for Jupyter: shared notebooks and files."

    document_cleanup_delay = Float(
        60.0,
        config=True,
        help="Seconds a room stays loaded after its last client left, so a reload is instant.",
    )
    save_delay = Float(
        1.0, config=True, help="Seconds without edits before a changed document is saved."
    )
    save_max_wait = Float(
        10.0,
        config=True,
        help="Longest a changed document waits for a save while edits keep coming (seconds).",
    )
    file_poll_interval = Float(
        1.0,
        config=True,
        help="Seconds between checks for changes made to open files on disk; 0 disables them.",
    )
    max_message_size = Int(
        64 * 1024 * 1024,
        config=True,
        help="Largest WebSocket message a client may send (bytes); larger ones close it (1009).",
    )
    max_client_backlog = Int(
        32 * 1024 * 1024,
        config=True,
        help="Bytes that may wait for a client that does not read its socket before it is "
        "disconnected (4429) to reconnect and resync.",
    )
    db_path = Unicode(
        config=True,
        help="SQLite database of file ids and the durable update log; empty keeps them in "
        "memory only (nothing survives a restart).",
    )

    @default("db_path")
    def _default_db_path(self) -> str:
        # Outside the served directory, in Jupyter's data dir, like other server state.
        return os.path.join(jupyter_data_dir(), "jupyter_collab", "collab.db")

    rooms: RoomManager

    def initialize_settings(self) -> None:
        self.file_ids: FileIds = SQLiteFileIds(self.db_path) if self.db_path else MemoryFileIds()
        file_ids = self.file_ids
        self.store: DocumentStore = SQLiteStore(self.db_path) if self.db_path else MemoryStore()
        event_logger = getattr(self.serverapp, "event_logger", None)
        self.rooms = RoomManager(
            self.serverapp.contents_manager,
            file_ids,
            RoomSettings(
                save_delay=self.save_delay,
                save_max_wait=self.save_max_wait,
                poll_interval=self.file_poll_interval,
                max_client_backlog=self.max_client_backlog,
            ),
            idle_delay=self.document_cleanup_delay,
            log=self.log,
            emit=RoomEvents(event_logger),
            store=self.store,
        )
        if event_logger is not None:
            event_logger.add_listener(schema_id=CONTENTS_SCHEMA_ID, listener=self._contents_event)
        self.settings.update({ROOMS: self.rooms, MAX_MESSAGE_SIZE: self.max_message_size})

    def initialize_handlers(self) -> None:
        self.handlers.extend(
            [
                (r"/api/collab/session/(.*)", SessionHandler),
                (r"/api/collab/room/(.+)", RoomHandler),
            ]
        )

    async def _contents_event(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        """Follow renames, moves and deletes made through Jupyter."""
        action = data.get("action")
        if action == "rename" and data.get("source_path"):
            self.rooms.file_moved(data["source_path"], data["path"])
        elif action == "delete":
            self.rooms.file_deleted(data["path"])

    async def stop_extension(self) -> None:
        await self.rooms.stop()
        await self.store.close()
        self.file_ids.close()
