"""SQLite schema of the history store (update log, snapshots, versions, audit).

The database file is shared with other components (file ids, sharing), so every table here is
prefixed ``collab_``; :mod:`.migrations` brings each component's tables forward on its own.
"""

from __future__ import annotations

from .migrations import Component

NAME = "persistence"

# Append only: migration N brings the schema from version N-1 to N. Never edit a shipped one.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE collab_docs (
            doc_id TEXT PRIMARY KEY,
            last_seq INTEGER NOT NULL,
            created REAL NOT NULL,
            deleted_at REAL
        )""",
        """CREATE TABLE collab_updates (
            doc_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            origin TEXT NOT NULL,
            user TEXT,
            time REAL NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (doc_id, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE collab_snapshots (
            doc_id TEXT PRIMARY KEY,
            upto_seq INTEGER NOT NULL,
            time REAL NOT NULL,
            state BLOB NOT NULL
        )""",
        """CREATE TABLE collab_versions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            doc_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            name TEXT,
            kind TEXT NOT NULL,
            user TEXT,
            time REAL NOT NULL,
            authors TEXT NOT NULL,
            change_bytes INTEGER NOT NULL,
            state_size INTEGER NOT NULL,
            state BLOB NOT NULL
        )""",
        "CREATE INDEX collab_versions_doc ON collab_versions (doc_id, id)",
        "CREATE INDEX collab_versions_seq ON collab_versions (doc_id, seq)",
        """CREATE TABLE collab_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL,
            action TEXT NOT NULL,
            doc_id TEXT,
            user TEXT,
            details TEXT NOT NULL
        )""",
        "CREATE INDEX collab_audit_doc ON collab_audit (doc_id, id)",
        "CREATE INDEX collab_audit_user ON collab_audit (user, id)",
        "CREATE INDEX collab_audit_action ON collab_audit (action, id)",
    ],
    [
        # 2: versions stored as deltas from the previous version point (persistence/history.py)
        "ALTER TABLE collab_versions ADD COLUMN base_id INTEGER",
        "ALTER TABLE collab_versions ADD COLUMN depth INTEGER NOT NULL DEFAULT 0",
    ],
    [
        # 3: a restore credits who wrote what it brought back (history/provenance.py), a
        # version keeps what the history layer says about it (a restore: what it restored)
        "ALTER TABLE collab_updates ADD COLUMN credits TEXT",
        "ALTER TABLE collab_updates ADD COLUMN provenance BLOB",
        "ALTER TABLE collab_versions ADD COLUMN details TEXT",
        # ... and who wrote what in a snapshot (DocumentStore.annotator)
        "ALTER TABLE collab_snapshots ADD COLUMN note BLOB",
    ],
    [
        # 4: deletions refused to a user (a viewer's edits), remembered beyond the room's life
        # (collaboration/integrity.py)
        """CREATE TABLE collab_refused (
            doc_id TEXT NOT NULL,
            user TEXT NOT NULL,
            ranges TEXT NOT NULL,
            PRIMARY KEY (doc_id, user)
        )""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)
COMPONENT = Component(NAME, tuple(MIGRATIONS))
