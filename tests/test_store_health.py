"""What the store's health says to do, per engine: SQLite's salvage command for an SQLite file,
PostgreSQL's own checks for database_url (the status endpoint and the 503s show it; the real
outages are in tests/chaos/test_store_failing.py and tests/test_store_failures.py)."""

from __future__ import annotations

import logging

import pytest

from jupyter_collab.persistence.errors import SchemaTooNew
from jupyter_collab.persistence.health import StoreHealth, describe


def test_sqlite_advice_is_the_check_command():
    health = StoreHealth("/data/collab.db", logging.getLogger("test"))
    assert health.help is None
    health.failed(OSError("disk I/O error"))
    assert health.state == "failing" and "jupyter collab check" in (health.help or "")
    assert health.as_json()["engine"] == "sqlite"


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ('connection failed: connection to server at "10.0.0.5", port 5432 failed: Connection '
         "refused", "cannot reach PostgreSQL"),
        ('FATAL:  password authentication failed for user "collab"', "refused the login"),
        ('FATAL:  database "collab" does not exist', "createdb"),
        ("permission denied for schema public", "lacks rights"),
        ("cannot execute INSERT in a read-only transaction", "standby"),
        ('could not extend file "base/16384/16390": No space left on device', "disk of the "
         "PostgreSQL server is full"),
        ("sorry, too many clients already", "max_connections"),
    ],
)  # fmt: skip
def test_postgres_errors_say_what_to_check_there(message, says):
    health = StoreHealth("postgresql://collab@db/collab", logging.getLogger("test"),
                         engine="postgresql")  # fmt: skip
    health.failed(Exception(message))
    assert says in (health.error or ""), health.error
    assert "make the file and its folder writable" not in (health.error or "")  # (SQLite's)
    assert "pg_isready" in (health.help or "") and "jupyter collab check" not in (health.help or "")
    assert health.as_json()["engine"] == "postgresql"


def test_postgres_unavailable_at_start_says_restart_after_fixing():
    health = StoreHealth("postgresql://collab@db/collab", logging.getLogger("test"),
                         engine="postgresql")  # fmt: skip
    health.unavailable(SchemaTooNew("the database was migrated by a newer jupyter-collab"))
    assert "database_url to another database" in (health.error or "")
    assert "restart this server" in (health.help or "")
    assert "db_path" not in (health.error or "")
    assert "newer jupyter-collab" in describe(SchemaTooNew("newer jupyter-collab"))
