"""Fixtures shared by the persistence tests.

Tests here are plain functions that drive their own event loop with ``asyncio.run`` (see
:func:`run`): the suite disables pytest-asyncio and pytest-jupyter's loop is meant for server
tests, so an ``async def`` test could otherwise be collected and pass without running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from jupyter_collab.persistence import DocumentStore, MemoryStore, SQLiteStore

T = TypeVar("T")
StoreFactory = Callable[..., DocumentStore]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """A factory of stores of one implementation; SQLite ones share one file per test,
    PostgreSQL ones one fresh database per test (tests/services/postgres.py)."""
    if request.param == "postgres":
        from jupyter_collab.persistence.postgres import PostgresStore

        url = request.getfixturevalue("postgres_url")

    def make(**kwargs: Any) -> DocumentStore:
        if request.param == "memory":
            return MemoryStore(**kwargs)
        if request.param == "postgres":
            return PostgresStore(url, **kwargs)
        return SQLiteStore(tmp_path / "collab.db", **kwargs)

    return make
