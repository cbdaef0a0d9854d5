"""PostgreSQL schema of the history store (update log, snapshots, versions, audit).

The same tables, columns and version numbers as the SQLite schema (:mod:`.schema`), in
PostgreSQL's dialect: ``BYTEA`` for blobs, ``DOUBLE PRECISION`` for times (exactly the floats
the SQLite side stores), identity columns for ids, ``JSONB`` for audit details and version
authors. The SQLite column ``user`` is ``user_name`` here (``user`` is a reserved word in
PostgreSQL). Every table is prefixed ``collab_``: the database may hold other applications'
tables too.
"""

from __future__ import annotations

from .pgmigrations import PostgresComponent

NAME = "persistence"  # the SQLite component's name: one version numbering for both dialects

# Append only: step N brings the schema from version N-1 to N. Never edit a shipped one.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE collab_docs (
            doc_id TEXT PRIMARY KEY,
            last_seq BIGINT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            deleted_at DOUBLE PRECISION
        )""",
        """CREATE TABLE collab_updates (
            doc_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            origin TEXT NOT NULL,
            user_name TEXT,
            time DOUBLE PRECISION NOT NULL,
            data BYTEA NOT NULL,
            PRIMARY KEY (doc_id, seq)
        )""",
        """CREATE TABLE collab_snapshots (
            doc_id TEXT PRIMARY KEY,
            upto_seq BIGINT NOT NULL,
            time DOUBLE PRECISION NOT NULL,
            state BYTEA NOT NULL
        )""",
        """CREATE TABLE collab_versions (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            doc_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            name TEXT,
            kind TEXT NOT NULL,
            user_name TEXT,
            time DOUBLE PRECISION NOT NULL,
            authors JSONB NOT NULL,
            change_bytes BIGINT NOT NULL,
            state_size BIGINT NOT NULL,
            state BYTEA NOT NULL
        )""",
        "CREATE INDEX collab_versions_doc ON collab_versions (doc_id, id)",
        "CREATE INDEX collab_versions_seq ON collab_versions (doc_id, seq)",
        """CREATE TABLE collab_audit (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            time DOUBLE PRECISION NOT NULL,
            action TEXT NOT NULL,
            doc_id TEXT,
            user_name TEXT,
            details JSONB NOT NULL
        )""",
        "CREATE INDEX collab_audit_doc ON collab_audit (doc_id, id)",
        "CREATE INDEX collab_audit_user ON collab_audit (user_name, id)",
        "CREATE INDEX collab_audit_action ON collab_audit (action, id)",
    ],
    [
        # 2: versions stored as deltas from the previous version point (persistence/history.py)
        "ALTER TABLE collab_versions ADD COLUMN base_id BIGINT",
        "ALTER TABLE collab_versions ADD COLUMN depth INTEGER NOT NULL DEFAULT 0",
    ],
    [
        # 3: a restore credits who wrote what it brought back (history/provenance.py), a
        # version keeps what the history layer says about it, a snapshot who wrote what in it
        "ALTER TABLE collab_updates ADD COLUMN credits JSONB",
        "ALTER TABLE collab_updates ADD COLUMN provenance BYTEA",
        "ALTER TABLE collab_versions ADD COLUMN details JSONB",
        "ALTER TABLE collab_snapshots ADD COLUMN note BYTEA",
    ],
    [
        # 4: deletions refused to a user (a viewer's edits), remembered beyond the room's life
        # (collaboration/integrity.py)
        """CREATE TABLE collab_refused (
            doc_id TEXT NOT NULL,
            user_name TEXT NOT NULL,
            ranges TEXT NOT NULL,
            PRIMARY KEY (doc_id, user_name)
        )""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)
COMPONENT = PostgresComponent(NAME, tuple(MIGRATIONS))
