"""The Jupyter Server extension: every setting a traitlet, as deployers expect.

Configure with ``--CollabApp.save_delay=2`` on the command line or
``c.CollabApp.save_delay = 2`` in ``jupyter_server_config.py``.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Enum, Float, Int, List, TraitError, Unicode, default, validate

from ._version import __version__
from .bus import REDIS_SCHEMES, EventBus, create_bus
from .bus.redis_streams import redacted
from .collaboration.manager import RoomManager
from .collaboration.room import RoomSettings
from .collaboration.roombus import RoomBus
from .documents.fileids import FileIds, MemoryFileIds, SQLiteFileIds
from .documents.paths import BadPath, canonical_path
from .events import RoomEvents
from .gateway.handlers import MAX_MESSAGE_SIZE, ROOMS, SHARING, RoomHandler, SessionHandler
from .gateway.history_handlers import HANDLERS as HISTORY_HANDLERS
from .gateway.history_handlers import HISTORY
from .gateway.sharing_handlers import HANDLERS as SHARING_HANDLERS
from .history.audit import AuditLog
from .history.maintenance import Maintenance
from .history.service import History
from .persistence import DocumentStore, MemoryStore, SQLiteStore
from .sharing import MemoryShareStore, Role, ShareStore, SQLiteShareStore
from .sharing.authorizer import KernelGuard, ShareEnforcingAuthorizer
from .sharing.kernels import guarded_connection_class
from .sharing.service import Sharing

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
    awareness_interval = Float(
        0.05,
        config=True,
        help="Seconds between a room's awareness (presence) frames: the cursor and selection "
        "changes of everyone in the room are sent together, one frame per room per interval, "
        "so a crowd moving cursors cannot starve document updates. 0 sends them at the next "
        "turn of the event loop.",
    )
    awareness_max_states = Int(
        4,
        config=True,
        help="Awareness client ids one connection may hold (JupyterLab uses one per open "
        "document); states for more are dropped and the client gets an 'awareness-refused' "
        "notice.",
    )
    awareness_max_state_bytes = Int(
        32 * 1024,
        config=True,
        help="Largest awareness state (bytes of JSON) a client may publish; a larger one is "
        "dropped (the previous state stays) and the client gets an 'awareness-refused' notice.",
    )
    awareness_max_rate = Int(
        256 * 1024,
        config=True,
        help="Awareness bytes per second a client is sent at most: when a crowd moves its "
        "cursors, a room's awareness frames are spaced further apart than awareness_interval "
        "(each with the latest state of everyone who moved), so presence cannot fill the "
        "clients' connections ahead of document updates. 0: no limit.",
    )
    db_path = Unicode(
        config=True,
        help="SQLite database of file ids and the durable update log; empty keeps them in "
        "memory only (nothing survives a restart).",
    )

    redis_url = Unicode(
        "",
        config=True,
        help="Redis that joins this server to a group of servers serving the same folder "
        "(redis://host:port/db): edits, presence and the file's writer are shared through "
        "Redis Streams. The servers of a group must share the database too (the same db_path "
        "on one machine). Empty: everything stays in this process (one server).",
    )
    writer_lease_ttl = Float(
        10.0,
        config=True,
        help="Seconds after which another server of the group takes over writing a "
        "document's file (saving, watching it on disk) when the server doing it died.",
    )

    @validate("redis_url")
    def _check_redis_url(self, proposal: Any) -> str:
        url = proposal["value"].strip()
        if url and not url.startswith(REDIS_SCHEMES):
            raise TraitError(f"redis_url must be a redis:// URL (or empty), not {url!r}")
        return url

    @validate("writer_lease_ttl")
    def _check_writer_lease_ttl(self, proposal: Any) -> float:
        if proposal["value"] <= 0:
            raise TraitError("writer_lease_ttl must be positive")
        return proposal["value"]

    version_quiet_period = Float(
        60.0,
        config=True,
        help="Seconds without edits after which an automatic version point is made; 0 makes "
        "no automatic points.",
    )
    version_interval = Float(
        300.0,
        config=True,
        help="While edits keep coming, an automatic version point at least this often (seconds).",
    )
    history_retention = Float(
        7 * 24 * 3600.0,
        config=True,
        help="Seconds of fine-grained history (every update, with its author) kept by "
        "compaction; older updates are folded into a snapshot. Version points are always kept.",
    )
    deleted_retention = Float(
        30 * 24 * 3600.0,
        config=True,
        help="Seconds the history of a deleted file is kept (and the file can be restored "
        "from it) before it is purged.",
    )
    maintenance_interval = Float(
        600.0,
        config=True,
        help="Seconds between compactions of open documents' history and purges of deleted "
        "documents; 0 disables the periodic run (rooms are still compacted when they close).",
    )

    default_role = Enum(
        ["owner", "editor", "viewer"],
        default_value="editor",
        config=True,
        help="Role of every user but the server's own (see 'owners') on files and folders "
        "nobody shared: 'editor' (the default) may edit but not change who has access; "
        "'viewer' only reads until an owner shares a file with them; 'owner' lets everyone who "
        "reaches the server share and unshare everything, as if it were theirs. The Jupyter "
        "Authorizer stays the limit: a user it lets only read is a viewer at most.",
    )
    owners = List(
        Unicode(),
        config=True,
        help="Usernames who are owners of every file whatever the shares say (so nobody can "
        "lock them out). Default: the server's own user: $JUPYTERHUB_USER on JupyterHub; with "
        "jupyter_server's own token/password login, everyone who signs in (they hold the "
        "server's credential). With any other identity provider nobody is, unless listed here.",
    )
    known_users = List(
        Unicode(),
        config=True,
        help="Usernames offered by the sharing dialog's user search before they ever signed in "
        "(users who signed in are offered anyway).",
    )

    store_sync = Enum(
        ["background", "commit"],
        default_value="background",
        config=True,
        help="When an edit counts as logged (and others may see it): 'background' once the "
        "commit reached the operating system, which a crash or kill -9 of the server cannot "
        "undo, with the fsync to the disk right after on a thread of its own (a power loss can "
        "take the last few milliseconds); 'commit' only after the fsync (survives a power loss, "
        "adds the disk's flush latency to every edit).",
    )
    freeze_gc_at_start = Bool(
        True,
        config=True,
        help="Move the objects of the started server out of the cyclic garbage collector's "
        "reach (gc.freeze), so full collections stay short and do not stall edits.",
    )
    enforce_shares_on_contents = Bool(
        True,
        config=True,
        help="Apply shares to Jupyter's own routes that read, write or run a document too "
        "(/api/contents, /files, /view, /nbconvert, and the kernels and sessions of shared "
        "documents), by narrowing the server's Authorizer; without it a viewer could still "
        "save over a shared file through the contents API, or run code in its kernel.",
    )

    @default("owners")
    def _default_owners(self) -> list[str]:
        hub_user = os.environ.get("JUPYTERHUB_USER")
        return [hub_user] if hub_user else []

    def _everyone_owns(self) -> bool:
        """Whether everyone who signs in is the server's own user: with jupyter_server's stock
        token/password identity provider (not a subclass: those name their users) and no
        owner named, signing in takes the server's one credential."""
        if self.owners:
            return False
        provider = getattr(self.serverapp, "identity_provider", None)
        return type(provider) in (IdentityProvider, PasswordIdentityProvider)

    @validate("awareness_interval", "awareness_max_rate")
    def _awareness_non_negative(self, proposal: Any) -> float:
        if proposal["value"] < 0:
            raise TraitError(f"{proposal['trait'].name} must be at least 0")
        return proposal["value"]

    @validate("awareness_max_states", "awareness_max_state_bytes")
    def _at_least_one(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError(f"{proposal['trait'].name} must be at least 1")
        return proposal["value"]

    @validate("history_retention", "deleted_retention")
    def _non_negative(self, proposal: Any) -> float:
        if proposal["value"] < 0:
            raise ValueError(f"{proposal['trait'].name} must be at least 0 seconds")
        return proposal["value"]

    @default("db_path")
    def _default_db_path(self) -> str:
        # Outside the served directory, in Jupyter's data dir, like other server state.
        return os.path.join(jupyter_data_dir(), "jupyter_collab", "collab.db")

    rooms: RoomManager

    def initialize_settings(self) -> None:
        cm = self.serverapp.contents_manager
        root = str(getattr(cm, "root_dir", "") or "")
        self.file_ids: FileIds = (
            SQLiteFileIds(self.db_path, root=root) if self.db_path else MemoryFileIds()
        )
        file_ids = self.file_ids
        self.store: DocumentStore = (
            SQLiteStore(self.db_path, retention=self.history_retention, sync=self.store_sync)
            if self.db_path
            else MemoryStore(retention=self.history_retention)
        )
        self.shares: ShareStore = (
            SQLiteShareStore(self.db_path, root=root) if self.db_path else MemoryShareStore()
        )
        event_logger = getattr(self.serverapp, "event_logger", None)
        self.audit = AuditLog(self.store, event_logger, self.log)
        room_events = RoomEvents(event_logger)

        def emit(action: str, **data: Any) -> None:
            room_events(action, **data)
            self.audit.room_event(action, **data)

        self.bus: EventBus = create_bus(self.redis_url)
        self.roombus = RoomBus(
            self.bus,
            group=bool(self.redis_url),
            store=self.store,
            file_ids=self.file_ids,
            log=self.log,
            writer_ttl=self.writer_lease_ttl,
        )

        self.rooms = RoomManager(
            self.serverapp.contents_manager,
            file_ids,
            RoomSettings(
                save_delay=self.save_delay,
                save_max_wait=self.save_max_wait,
                poll_interval=self.file_poll_interval,
                max_client_backlog=self.max_client_backlog,
                awareness_interval=self.awareness_interval,
                awareness_max_states=self.awareness_max_states,
                awareness_max_state_bytes=self.awareness_max_state_bytes,
                awareness_max_rate=self.awareness_max_rate,
            ),
            idle_delay=self.document_cleanup_delay,
            log=self.log,
            emit=emit,
            store=self.store,
            audit=self.audit,
            version_quiet=self.version_quiet_period,
            version_interval=self.version_interval,
            hooks=self.roombus.attach,
        )
        self.sharing = Sharing(
            self.shares,
            self.rooms,
            self.audit,
            self.log,
            default_role=Role(self.default_role),
            owners=self.owners,
            everyone_owns=self._everyone_owns(),
            known_users=self.known_users,
        )
        self.history = History(self.store, self.rooms, self.audit, self.log, self.sharing)
        self.maintenance = Maintenance(
            self.store,
            self.rooms,
            interval=self.maintenance_interval,
            deleted_retention=self.deleted_retention,
            log=self.log,
        )
        if event_logger is not None:
            event_logger.add_listener(schema_id=CONTENTS_SCHEMA_ID, listener=self._contents_event)
        # (self.settings holds a copy of the web app's settings and is written back into it)
        if self.enforce_shares_on_contents and self.settings.get("authorizer") is not None:
            self.settings["authorizer"] = ShareEnforcingAuthorizer(
                self.settings["authorizer"], self.sharing
            )
            connection_class = self.settings.get("kernel_websocket_connection_class")
            if connection_class is not None:
                self.settings["kernel_websocket_connection_class"] = guarded_connection_class(
                    connection_class, KernelGuard(self.sharing).refusal
                )
        self.settings.update(
            {
                ROOMS: self.rooms,
                MAX_MESSAGE_SIZE: self.max_message_size,
                HISTORY: self.history,
                SHARING: self.sharing,
            }
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(
            [
                (r"/api/collab/session/(.*)", SessionHandler),
                (r"/api/collab/room/(.+)", RoomHandler),
                *HISTORY_HANDLERS,
                *SHARING_HANDLERS,
            ]
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Jupyter's hook once its event loop runs: join the bus, start the history upkeep."""
        try:
            await self.bus.start()
        except Exception as error:
            self.log.error("jupyter-collab cannot join its group at %s: %s", self.redis_url, error)
            raise
        if self.redis_url:
            self.log.info(
                "jupyter-collab joined the group of servers at %s as server %s",
                redacted(self.redis_url),
                self.bus.server_id,
            )
        self.maintenance.start()
        if self.freeze_gc_at_start:
            # The objects of a started server (~180k) live as long as it does; frozen, the
            # cyclic GC stops scanning them in every full collection, which otherwise pauses
            # the event loop for ~100 ms in the middle of delivering edits.
            gc.freeze()

    async def _contents_event(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        """Follow renames, moves and deletes made through Jupyter."""
        action = data.get("action")
        # The event carries the paths as the request spelled them ("sub/../a.txt"): file ids
        # and shares are keyed by the canonical path (documents/paths.py).
        try:
            path = canonical_path(data.get("path") or "")
            source = canonical_path(data.get("source_path") or "")
        except BadPath:
            return
        if action == "rename" and source:
            self.rooms.file_moved(source, path)
            self.sharing.moved(source, path)
        elif action == "delete" and path:
            self.rooms.file_deleted(path)
            self.sharing.deleted(path)

    async def stop_extension(self) -> None:
        await self.maintenance.stop()
        await self.rooms.stop()
        await self.roombus.close()
        await self.bus.close()
        await self.audit.flush()
        await self.store.close()
        self.shares.close()
        self.file_ids.close()
