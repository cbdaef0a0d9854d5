"""Two servers merging copies of the same lost history at once (issue 9, lostcopy.py).

Two tabs of one user kept their document while the group's shared database lost the history;
the servers loaded the file afresh (the same text under new CRDT items). The tabs reconnect,
one to each server, at the same time: each server sees a copy of another history. Merged
independently, the lines the two copies share but the room lacks were added twice (once by
each server). Real server processes on one folder and one database, a real Redis.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from jupyter_ydoc import YUnicode
from pycrdt import Doc

from .conftest import converged, eventually, text_of
from .test_shares import users

pytestmark = pytest.mark.timeout(900)


def tabs_of_a_lost_history(text: str, shared: str, *own: str) -> list[Doc]:
    """Copies made in another history: ``text`` then ``shared`` (typed before the tabs
    parted), then each tab's own line, all after the text, never sent."""
    first = Doc()
    source = YUnicode(first)._ysource
    source.insert(0, text)
    source.insert(len(text.encode()), shared)
    tabs = []
    for line in own:
        tab = Doc()  # (a client id of its own: another tab)
        tab.apply_update(first.get_update())
        YUnicode(tab)._ysource.insert(len((text + shared).encode()), line)
        tabs.append(tab)
    return tabs


def lines(client: Any) -> list[str]:
    return sorted(text_of(client).splitlines())


async def two_servers_with(group: Any, name: str) -> tuple[list[Any], list[Any], list[Doc]]:
    """Two servers with ``name`` ("a\\nb\\n") open on each (alice on the first, bob on the
    second), and two tabs of a lost history of it, each with its own line."""
    (group.root / name).write_text("a\nb\n")
    servers = users(group, 2)
    clients = [
        await servers[0].connect(name, token="alice-token"),
        await servers[1].connect(name, token="bob-token"),
    ]
    await converged(clients, lambda t: t == "a\nb\n")
    return servers, clients, tabs_of_a_lost_history("a\nb\n", "mine\n", "first\n", "second\n")


EXPECTED = ["a", "b", "first", "mine", "second"]


def merged_as_lost(*tabs: Any) -> int:
    """How many of the tabs were merged as a lost copy (told ``history-reset``): one; the
    other shares its items by then and merges the usual way."""
    return sum(any(n.get("type") == "history-reset" for n in tab.notices) for tab in tabs)


async def test_two_servers_merge_copies_of_one_lost_history_once(group: Any) -> None:
    """Redis is down while the two tabs join (the servers cannot see each other's merge):
    when it is back, every line is there once, everywhere and in the file."""
    (a, b), (alice, bob), (one, two) = await two_servers_with(group, "lost.txt")
    redis = group.redis()
    redis.stop()
    try:
        joins = [
            asyncio.ensure_future(a.connect("lost.txt", ydoc=one, token="alice-token")),
            asyncio.ensure_future(b.connect("lost.txt", ydoc=two, token="alice-token")),
        ]

        def both_seen() -> bool:
            return all("with a copy of another history" in s.log() for s in (a, b))

        await eventually(both_seen, timeout=120, what="both servers to see a lost copy")
    finally:
        redis.start()
    tab_one, tab_two = await asyncio.gather(*joins)
    clients = [alice, bob, tab_one, tab_two]
    await converged(clients, lambda t: sorted(t.splitlines()) == EXPECTED)
    assert merged_as_lost(tab_one, tab_two) == 1
    fresh = [await s.connect("lost.txt", token="alice-token") for s in (a, b)]
    await converged(clients + fresh)
    assert lines(fresh[0]) == EXPECTED
    content = text_of(fresh[0])
    path = group.root / "lost.txt"
    await eventually(lambda: path.read_text() == content, timeout=120, what="the file, once")
    for client in clients + fresh:
        client.close()


async def test_two_servers_merge_one_lost_copy_joining_both_at_once(group: Any) -> None:
    """The same, with the bus up: the two tabs join their servers at the same moment."""
    (a, b), (alice, bob), (one, two) = await two_servers_with(group, "both.txt")
    tab_one, tab_two = await asyncio.gather(
        a.connect("both.txt", ydoc=one, token="alice-token"),
        b.connect("both.txt", ydoc=two, token="alice-token"),
    )
    clients = [alice, bob, tab_one, tab_two]
    await converged(clients, lambda t: sorted(t.splitlines()) == EXPECTED)
    assert merged_as_lost(tab_one, tab_two) == 1
    content = text_of(alice)
    path = group.root / "both.txt"
    await eventually(lambda: path.read_text() == content, timeout=120, what="the file, once")
    for client in clients:
        client.close()
