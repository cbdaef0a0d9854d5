"""The Jupyter Server extension: every setting a traitlet, as deployers expect.

Configure with ``--CollabApp.save_delay=2`` on the command line or
``c.CollabApp.save_delay = 2`` in ``jupyter_server_config.py``.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from jupyter_core.paths import jupyter_data_dir, jupyter_runtime_dir
from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Enum, Float, Int, List, TraitError, Unicode, default, validate

from . import metrics
from ._version import __version__
from .bus import REDIS_SCHEMES, EventBus, create_bus
from .bus.redis_streams import redacted
from .collaboration.manager import RoomManager
from .collaboration.room import RoomSettings
from .collaboration.roombus import RoomBus
from .comments import CommentStore, MemoryCommentStore, SQLiteCommentStore
from .comments.service import CommentLimits, Comments
from .comments.store import UnavailableCommentStore
from .documents.fileids import FileIds, MemoryFileIds, SQLiteFileIds
from .documents.folders import adopt_folder, folder_name
from .documents.paths import BadPath, canonical_path
from .events import RoomEvents
from .gateway.comment_handlers import COMMENTS
from .gateway.comment_handlers import HANDLERS as COMMENT_HANDLERS
from .gateway.handlers import (
    MAX_MESSAGE_SIZE,
    ROOMS,
    SHARING,
    OpenHandler,
    RoomHandler,
    SessionHandler,
)
from .gateway.history_handlers import HANDLERS as HISTORY_HANDLERS
from .gateway.history_handlers import HISTORY
from .gateway.notification_handlers import HANDLERS as NOTIFICATION_HANDLERS
from .gateway.sharing_handlers import HANDLERS as SHARING_HANDLERS
from .gateway.status_handlers import HEALTH, HistoryOffHandler, StatusHandler
from .history.audit import AuditLog
from .history.maintenance import Maintenance
from .history.service import History
from .notifications import Mailer, Notifications, SmtpSettings
from .notifications.outbox import (
    MailOutbox,
    MemoryMailOutbox,
    PostgresMailOutbox,
    SQLiteMailOutbox,
)
from .persistence import DocumentStore, MemoryStore, SQLiteDatabase, SQLiteStore, StoreHealth
from .persistence.health import describe
from .persistence.outage import OutageLog, replay
from .sharing import MemoryShareStore, Role, ShareStore, SQLiteShareStore
from .sharing.authorizer import KernelGuard, ShareEnforcingAuthorizer
from .sharing.kernels import guarded_connection_class
from .sharing.service import Sharing
from .sharing.sharebus import ShareFeed, folder_key
from .tables import COMPONENTS

CONTENTS_SCHEMA_ID = "https://events.jupyter.org/jupyter_server/contents_service/v1"
T = TypeVar("T")


async def _now(step: Callable[[], None]) -> None:
    """A synchronous step of a sequence of awaited ones (stop_extension)."""
    step()


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from the server's start-up, which is synchronous (and may
    happen while an event loop exists but is not serving yet): on an event loop of its own, in
    a thread. The work it awaits runs on the database's threads, as always."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="collab-start") as pool:
        return pool.submit(asyncio.run, coro).result()


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
        help="SQLite database of file ids, shares and the durable update log; empty keeps them "
        "in memory only (nothing survives a restart). If it cannot be opened (damaged, written "
        "by a newer version, no writable folder) the server still starts, without history: see "
        "GET /api/collab/status and `jupyter collab check`.",
    )
    db_busy_timeout = Float(
        10.0,
        config=True,
        help="Seconds a database write waits for a lock held by another process (another "
        "server using the same file) before it counts as failing; history then catches up "
        "later, and edits meanwhile are saved to their files before others see them.",
    )
    database_url = Unicode(
        "",
        config=True,
        help="PostgreSQL database shared by several servers that serve one folder "
        "(postgresql://user:password@host:5432/dbname): document history, file ids and shares "
        "go there instead of db_path, so every server sees the same documents (see "
        "docs/scale-out.md). Needs `pip install 'jupyter-collab[postgres]'`. Empty: the "
        "embedded SQLite database at db_path. If it cannot be reached at start, the server "
        "still starts, without history and with shares unknown (only owners get in), and says "
        "so in GET /api/collab/status.",
    )
    database_timeout = Float(
        30.0,
        config=True,
        help="Seconds an operation waits for the PostgreSQL database of database_url "
        "(a connection, a restart or failover, the outcome of a commit) before it counts as "
        "failing; history then catches up later, as with a failing db_path.",
    )
    root_name = Unicode(
        "",
        config=True,
        help="Name of the served folder in the database (database_url, or db_path shared by "
        "servers of one machine): servers with "
        "the same name share file ids (one document per file) and shares. Empty: the real path "
        "of the server's root_dir (links resolved), the same for every server of one machine; "
        "set one name on every server when they reach the folder through different mounts "
        "(a JupyterHub whose members' servers mount it at different paths).",
    )
    outage_dir = Unicode(
        config=True,
        help="Folder where writes the database refuses (during an outage: read-only or damaged "
        "file, lock held too long) are kept until it takes them, so that a crash meanwhile "
        "loses no history; the next start replays them. Best on another disk than db_path. "
        "Default: jupyter_collab in Jupyter's runtime dir.",
    )
    store_retry_max = Float(
        30.0,
        config=True,
        help="Longest wait (seconds) between two attempts to write history the database "
        "refused (read-only, full disk...): the first is after 1 s, then twice as long each "
        "time, up to this.",
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

    test_write_pause = Float(
        0.0,
        config=True,
        help="For tests only (off: 0). Seconds a group's writer waits in each save of a "
        "document's file, at test_write_pause_at, so that a test can pause the server (SIGSTOP) "
        "exactly there and check the fencing of writes. Never set it in a deployment.",
    )
    test_write_pause_at = Enum(
        ["fence", "rename"],
        "rename",
        config=True,
        help="For tests only: where test_write_pause waits: 'fence' (the content is in its "
        "temporary file, the lease not checked yet) or 'rename' (checked, not renamed yet).",
    )
    test_takeover_delay = Float(
        0.0,
        config=True,
        help="For tests only (off: 0). Seconds a server that took a document's writer lease "
        "over waits before adopting the previous writer's merge base, so that its first poll "
        "or save comes first. Never set it in a deployment.",
    )

    smtp_host = Unicode(
        "",
        config=True,
        help="SMTP server that sends notification e-mails (docs/notifications.md). Empty: no "
        "e-mail is ever sent (notifications still reach JupyterLab).",
    )
    smtp_port = Int(
        0,
        config=True,
        help="Port of smtp_host; 0 picks the usual one for smtp_tls: 25 (none), 587 "
        "(starttls), 465 (ssl).",
    )
    smtp_tls = Enum(
        ["none", "starttls", "ssl"],
        default_value="starttls",
        config=True,
        help="How the SMTP connection is encrypted: 'starttls' (upgrade after connecting, the "
        "default; fails if the server does not offer it), 'ssl' (TLS from the start, port 465) "
        "or 'none' (plain text: only for a relay on the same machine or network).",
    )
    smtp_username = Unicode("", config=True, help="SMTP login name; empty: no login.")
    smtp_password = Unicode("", config=True, help="SMTP password (with smtp_username).")
    smtp_timeout = Float(
        30.0, config=True, help="Seconds one SMTP conversation may take before it is retried."
    )
    email_from = Unicode(
        "",
        config=True,
        help="From address of notification e-mails (required when smtp_host is set), e.g. "
        "'Jupyter <jupyter@example.org>'.",
    )
    email_address_template = Unicode(
        "",
        config=True,
        help="A user's e-mail address when they gave none in their notification preferences, "
        "made from their username, e.g. '{username}@example.org'. Empty: only users who gave "
        "an address get e-mail.",
    )
    email_default_kinds = List(
        Unicode(),
        default_value=["mentioned"],
        config=True,
        help="Notification kinds sent by e-mail to users who never chose (of: shared, "
        "restored, mentioned, reply, resolved).",
    )
    email_batch_window = Float(
        60.0,
        config=True,
        help="Seconds the notifications for one address are gathered into one e-mail (ten "
        "mentions within it make one message); 0 sends each at once.",
    )
    email_retry_delay = Float(
        5.0,
        config=True,
        help="Seconds before retrying an e-mail the SMTP server refused or could not take; "
        "doubled after each failure, up to email_retry_max.",
    )
    email_retry_max = Float(
        300.0, config=True, help="Longest wait between two attempts to send an e-mail (seconds)."
    )
    email_max_attempts = Int(
        8, config=True, help="Attempts to send one e-mail before it is given up (logged)."
    )
    email_base_url = Unicode(
        "",
        config=True,
        help="Public URL of JupyterLab for links in e-mails, e.g. "
        "'https://hub.example.org/user/{username}/lab'; empty: e-mails carry no links.",
    )

    comments_max_threads = Int(
        1000,
        config=True,
        help="Most comment threads one file may have (resolved ones count); a new thread "
        "beyond it is refused with 409. 0: no cap.",
    )
    comments_max_comments = Int(
        500,
        config=True,
        help="Most comments (the first one and replies) one thread may have; a reply beyond "
        "it is refused with 409. 0: no cap.",
    )
    comments_max_body = Int(
        10_000,
        config=True,
        help="Most characters of one comment's text; a longer one is refused with 413.",
    )
    comments_max_quote = Int(
        1000,
        config=True,
        help="Most characters of the selected text a thread keeps as its quote (shown when its "
        "text is gone); a longer selection is kept cut, a client-sent quote longer than this "
        "is refused with 413.",
    )

    @validate("comments_max_threads", "comments_max_comments")
    def _count_cap(self, proposal: Any) -> int:
        if proposal["value"] < 0:
            raise TraitError(f"{proposal['trait'].name} must be at least 0 (0: no cap)")
        return proposal["value"]

    @validate("comments_max_body", "comments_max_quote")
    def _size_cap(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError(f"{proposal['trait'].name} must be at least 1 character")
        return proposal["value"]

    @validate("email_default_kinds")
    def _check_email_kinds(self, proposal: Any) -> list[str]:
        from .notifications import EMAIL_KINDS

        unknown = [k for k in proposal["value"] if k not in EMAIL_KINDS]
        if unknown:
            raise TraitError(
                f"email_default_kinds: unknown kind(s) {unknown} (of {', '.join(EMAIL_KINDS)})"
            )
        return list(proposal["value"])

    @validate("smtp_port")
    def _check_smtp_port(self, proposal: Any) -> int:
        if not 0 <= proposal["value"] <= 65535:
            raise TraitError("smtp_port must be from 0 to 65535")
        return proposal["value"]

    @validate("email_batch_window", "email_retry_delay", "email_retry_max", "smtp_timeout")
    def _check_email_seconds(self, proposal: Any) -> float:
        if proposal["value"] < 0:
            raise TraitError(f"{proposal['trait'].name} must be at least 0 seconds")
        return proposal["value"]

    def _mailer(self) -> Mailer | None:
        """The e-mail sender, or None without smtp_host (then nothing is ever sent)."""
        if not self.smtp_host:
            return None
        if not self.email_from:
            self.log.error(
                "jupyter-collab: smtp_host is set but email_from is not: no notification "
                "e-mail will be sent (set CollabApp.email_from)"
            )
            return None
        return Mailer(
            SmtpSettings(
                self.smtp_host, self.smtp_port, self.smtp_tls, self.smtp_username,
                self.smtp_password, self.smtp_timeout, self.email_from,
            ),
            self.log,
            batch_window=self.email_batch_window,
            retry_delay=self.email_retry_delay,
            retry_max=self.email_retry_max,
            max_attempts=self.email_max_attempts,
            base_url=self.email_base_url,
            outbox=self._outbox(),
        )  # fmt: skip

    def _outbox(self) -> MailOutbox:
        """Where e-mail waits: the database the notifications are in (it survives a stop and
        is shared by a group's servers), else memory."""
        if self.shared_database is not None:
            return PostgresMailOutbox(self.shared_database)
        if self.database is not None:
            return SQLiteMailOutbox(self.database)
        return MemoryMailOutbox()

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
        "from it, its comment threads with it) before it is purged, with those threads.",
    )
    maintenance_interval = Float(
        600.0,
        config=True,
        help="Seconds between compactions of open documents' history and purges of deleted "
        "documents; 0 disables the periodic run (rooms are still compacted when they close).",
    )

    default_role = Enum(
        ["owner", "editor", "commenter", "viewer"],
        default_value="editor",
        config=True,
        help="Role of every user but the server's own (see 'owners') on files and folders "
        "nobody shared: 'editor' (the default) may edit but not change who has access; "
        "'commenter' reads and comments but does not edit; "
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

    @validate("database_url")
    def _check_database_url(self, proposal: Any) -> str:
        url = proposal["value"].strip()
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise TraitError(
                "database_url must be a PostgreSQL URL (postgresql://user@host:5432/dbname), "
                f"not {url.split('://')[0]!r}..."
            )
        return url

    @default("outage_dir")
    def _default_outage_dir(self) -> str:
        return os.path.join(jupyter_runtime_dir(), "jupyter_collab")

    @default("db_path")
    def _default_db_path(self) -> str:
        # Outside the served directory, in Jupyter's data dir, like other server state.
        return os.path.join(jupyter_data_dir(), "jupyter_collab", "collab.db")

    rooms: RoomManager

    database: SQLiteDatabase | None = None
    shared_database: Any = None  # the PostgresDatabase of database_url
    store: DocumentStore | None = None
    outage: OutageLog | None = None

    def _open_database(self) -> str | None:
        """Open the database and migrate every component's tables; None when it works, else
        why not (the server then runs without it, and says so)."""
        self.health = StoreHealth(self.db_path or None, self.log, state="ok")
        try:
            database = SQLiteDatabase.acquire(
                self.db_path, sync=self.store_sync, busy_timeout=self.db_busy_timeout,
                health=self.health,
            )  # fmt: skip
        except Exception as exc:
            self.health.unavailable(exc)
            return describe(exc)
        try:
            database.open_blocking(*COMPONENTS)
        except Exception as exc:
            self.health.unavailable(exc)
            database.release_blocking()
            return describe(exc)
        self.database = database
        database.check_in_background()
        return None

    def initialize_settings(self) -> None:
        cm = self.serverapp.contents_manager
        root = str(getattr(cm, "root_dir", "") or "")
        if self.database_url:
            unavailable = self._open_postgres(root)
        else:
            unavailable = self._open_database() if self.db_path else None
            if not self.db_path:
                self.health = StoreHealth(None, self.log, state="memory")
        database = self.database
        if self.database_url:
            pass  # (the stores were chosen by _open_postgres)
        elif database is not None:
            self.outage = OutageLog(self.outage_dir, self.db_path)
            folder = self._sqlite_folder(database, root)
            self.file_ids: FileIds = SQLiteFileIds(database, root=folder, outage=self.outage)
            self.store = SQLiteStore(database, retention=self.history_retention)
            self.shares: ShareStore = SQLiteShareStore(database, root=folder)
            self.comment_store: CommentStore = SQLiteCommentStore(database)
            self._replay_outages()
        else:
            # In memory: by choice (no db_path), or because the database cannot be used. Then
            # documents still open, sync and save; history is off and rooms say so.
            self.file_ids = MemoryFileIds()
            self.store = None if unavailable else MemoryStore(retention=self.history_retention)
            self.shares = MemoryShareStore()
            # (comments accepted in memory while the database fails would go at the restart)
            self.comment_store = (
                UnavailableCommentStore(unavailable) if unavailable else MemoryCommentStore()
            )
        file_ids = self.file_ids
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
            log=self.log,
            writer_ttl=self.writer_lease_ttl,
            test_write_pause=self.test_write_pause,
            test_write_pause_at=self.test_write_pause_at,
            test_takeover_delay=self.test_takeover_delay,
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
            store_unavailable=unavailable,
            store_retry_max=self.store_retry_max,
            outage=self.outage,
        )
        metrics.watch(self.rooms)  # open rooms and connected clients on /metrics
        metrics.watch_bus(self.bus)  # its consumer lag, for a bus between servers
        self.sharing = Sharing(
            self.shares,
            self.rooms,
            self.audit,
            self.log,
            default_role=Role(self.default_role),
            owners=self.owners,
            everyone_owns=self._everyone_owns(),
            known_users=self.known_users,
            notifications=Notifications(
                self.shares, self.bus, self.log, mailer=self._mailer(),
                address_template=self.email_address_template,
                default_email_kinds=self.email_default_kinds,
            ),
        )  # fmt: skip
        self.notifications = self.sharing.notifications
        self._load_shares(unavailable)
        # A group of servers: share changes made on one reach the others' rooms live.
        self.share_feed = (
            ShareFeed(self.sharing, self.bus, folder_name(root, self.root_name), self.log)
            if self.redis_url
            else None
        )
        self.history = (
            History(self.store, self.rooms, self.audit, self.log, self.sharing)
            if self.store is not None
            else None
        )
        self.comments = Comments(
            self.comment_store, self.rooms, self.sharing, self.audit, self.log,
            history=self.store, bus=self.bus, group=bool(self.redis_url),
            limits=CommentLimits(
                self.comments_max_threads, self.comments_max_comments, self.comments_max_body,
                self.comments_max_quote,
            ),
        )  # fmt: skip
        self.maintenance = (
            Maintenance(
                self.store,
                self.rooms,
                interval=self.maintenance_interval,
                deleted_retention=self.deleted_retention,
                log=self.log,
                bus=self.bus if self.redis_url else None,
                lease_name=f"maintenance:{folder_key(folder_name(root, self.root_name))}",
                comments=self.comment_store,
            )
            if self.store is not None
            else None
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
                COMMENTS: self.comments,
                HEALTH: self.health,
            }
        )

    def _sqlite_folder(self, database: SQLiteDatabase, root: str) -> str:
        """The folder's name for its file ids and shares: its real path (or ``root_name``), so
        servers whose root dirs are different paths to one folder (a link) share one document
        per file; what an earlier version kept under the path as given follows."""
        folder = folder_name(root, self.root_name)
        if root and folder != root:
            try:
                moved = run_blocking(database.write(adopt_folder, root, folder))
            except Exception as exc:
                self.log.error("Renaming the folder %s to %s failed: %s", root, folder, exc)
            else:
                if moved:
                    self.log.info("The ids of %d files of %s now belong to %s", moved, root, folder)
        return folder

    def _replay_outages(self) -> None:
        """History a server that died during an outage kept aside: into the database first,
        before any room resumes from it."""
        assert isinstance(self.store, SQLiteStore) and isinstance(self.file_ids, SQLiteFileIds)
        try:
            done = run_blocking(replay(self.outage_dir, self.db_path, self.store, self.file_ids))
        except Exception as exc:
            self.log.error(
                "Replaying the history kept during an earlier outage failed (kept for the next "
                "start): %s", describe(exc),
            )  # fmt: skip
            return
        if done.files:
            self.log.warning(
                "Replayed the history a server kept during an outage of the database: %d "
                "updates (%d were there already), %d merge bases, %d file ids, from %s",
                done.updates, done.skipped, done.bases, done.ids,
                ", ".join(str(p) for p in done.files),
            )  # fmt: skip

    def _open_postgres(self, root: str) -> str | None:
        """Reach the PostgreSQL database of ``database_url``, migrate every component's tables,
        replay outage logs of dead servers and read this folder's shares, then choose its
        stores; None when that works, else why not (the server then runs without history and
        with shares unknown, and says so)."""
        self.health = StoreHealth("database_url", self.log, state="ok", engine="postgresql")
        try:
            from .pgstores import masked, open_stores, outage_key, prepare, root_name

            self.health.path = masked(self.database_url)
            name = root_name(root, self.root_name)
            self._shared_shares, done = run_blocking(
                prepare(
                    self.database_url, name, timeout=self.database_timeout,
                    outage_dir=self.outage_dir,
                )
            )  # fmt: skip
        except Exception as exc:
            self.health.unavailable(exc)
            self.file_ids = MemoryFileIds()
            self.store = None
            self.shares = MemoryShareStore()
            self.comment_store = UnavailableCommentStore(describe(exc, "postgresql"))
            return describe(exc, "postgresql")
        if done.files:
            self.log.warning(
                "Replayed the history a server kept during an outage of the database: %d "
                "updates (%d were there already), %d merge bases, %d file ids, from %s",
                done.updates, done.skipped, done.bases, done.ids,
                ", ".join(str(p) for p in done.files),
            )  # fmt: skip
        self.outage = OutageLog(self.outage_dir, outage_key(self.database_url))
        stores = open_stores(
            self.database_url, name, retention=self.history_retention,
            timeout=self.database_timeout, health=self.health, outage=self.outage,
        )  # fmt: skip
        self.shared_database = stores.database
        self.store = stores.store
        self.file_ids = stores.file_ids
        self.shares = stores.shares
        self.comment_store = stores.comments
        return None

    def _load_shares(self, unavailable: str | None) -> None:
        """Read the shares into memory; if they cannot be known, say so (and fail closed)."""
        if self.database_url:
            if unavailable is not None:
                self.sharing.shares_unknown(unavailable)
            else:
                from .pgstores import load_into

                run_blocking(load_into(self.sharing, self._shared_shares))
            return
        if unavailable is not None:
            if os.path.exists(self.db_path):  # shares may be in there: do not guess
                self.sharing.shares_unknown(unavailable)
            return
        try:
            run_blocking(self.sharing.load())
        except Exception as exc:
            self.sharing.shares_unknown(describe(exc))

    def initialize_handlers(self) -> None:
        history = (
            HISTORY_HANDLERS
            if self.store is not None
            else [(pattern, HistoryOffHandler) for pattern, _ in HISTORY_HANDLERS]
        )
        self.handlers.extend(
            [
                (r"/api/collab/session/(.*)", SessionHandler),
                (r"/api/collab/room/(.+)", RoomHandler),
                (r"/api/collab/open/(.*)", OpenHandler),
                (r"/api/collab/status", StatusHandler),
                *history,
                *SHARING_HANDLERS,
                *NOTIFICATION_HANDLERS,
                *COMMENT_HANDLERS,
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
        await self.audit.attach(self.bus)  # audit.log: every server's events, live
        self.notifications.start()  # (e-mail a stopped server left in the outbox)
        if self.share_feed is not None:
            await self.share_feed.start()
        if self.maintenance is not None:
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
        # Together: each applies its change in memory before its first database write, so
        # rooms and shares follow at once (a file deleted and created again right away must
        # not inherit the old file's shares while the room manager waits for the database).
        if action == "rename" and source:
            await asyncio.gather(
                self.rooms.file_moved(source, path), self.sharing.moved(source, path)
            )
        elif action == "delete" and path:
            await asyncio.gather(self.rooms.file_deleted(path), self.sharing.deleted(path))

    async def stop_extension(self) -> None:
        """Save and close every room, then the stores. Each step runs whatever the ones before
        did: a failure here must never keep the server from stopping (SIGTERM)."""
        steps: list[Any] = [
            self.maintenance.stop() if getattr(self, "maintenance", None) else None,
            self.rooms.stop() if getattr(self, "rooms", None) else None,
            self.roombus.close() if getattr(self, "roombus", None) else None,
            # (before the bus: sockets unsubscribe; pending e-mail batches are sent now)
            self.notifications.close() if getattr(self, "notifications", None) else None,
            self.share_feed.close() if getattr(self, "share_feed", None) else None,
            _now(self.audit.detach) if getattr(self, "audit", None) else None,
            self.bus.close() if getattr(self, "bus", None) else None,
            self.audit.flush() if getattr(self, "audit", None) else None,
            self.sharing.flush() if getattr(self, "sharing", None) else None,
            self.comments.flush() if getattr(self, "comments", None) else None,
            self.outage.close() if self.outage is not None else None,
            self.store.close() if self.store is not None else None,
            self.shares.close() if getattr(self, "shares", None) else None,
            self.comment_store.close() if getattr(self, "comment_store", None) else None,
            self.file_ids.close() if getattr(self, "file_ids", None) else None,
            self.database.release() if self.database is not None else None,
            self.shared_database.release() if self.shared_database is not None else None,
        ]
        for step in steps:
            if step is None:
                continue
            try:
                await step
            except Exception:
                self.log.exception("Stopping jupyter-collab: a step failed")
        if getattr(self, "rooms", None) is not None:
            metrics.unwatch(self.rooms)
        if getattr(self, "bus", None) is not None:
            metrics.unwatch_bus(self.bus)
