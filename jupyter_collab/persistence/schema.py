"""SQLite schema of the persistence layer and its migrations.

The database file is shared with other modules (``file_ids`` lives there), so every table here
is prefixed ``collab_`` and ``schema_version`` has one row per component: each module migrates
its own tables and never touches the others'.
"""

from __future__ import annotations

import sqlite3

from .errors import SchemaTooNew

COMPONENT = "persistence"

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
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection) -> int:
    """Bring the tables of this component to :data:`SCHEMA_VERSION`, in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        row = db.execute(
            "SELECT version FROM schema_version WHERE component = ?", (COMPONENT,)
        ).fetchone()
        current = row[0] if row else 0
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the database has schema version {current} of {COMPONENT!r}; "
                f"this jupyter-collab knows up to {SCHEMA_VERSION}"
            )
        for statements in MIGRATIONS[current:]:
            for statement in statements:
                db.execute(statement)
        db.execute(
            "INSERT OR REPLACE INTO schema_version (component, version) VALUES (?, ?)",
            (COMPONENT, SCHEMA_VERSION),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
