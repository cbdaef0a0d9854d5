"""The audit log on the bus (issue 9): an event is written once, by the server where it happened,
and followed live on every server of the group (``AuditLog.watch``), on both bus
implementations (in-process and a real Redis); and followed from the command line
(``jupyter collab audit --follow``) through one server of a group of real server processes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from typing import Any

from jupyter_collab.history.audit import AuditLog
from jupyter_collab.persistence import AuditAction, AuditEvent, MemoryStore

from ..servers import REPO
from .conftest import Buses, eventually, text_of
from .test_shares import users

LOG = logging.getLogger("test-audit")


async def test_an_audit_event_is_written_once_and_followed_on_every_server(buses: Buses) -> None:
    store = MemoryStore()  # the group's one store
    logs = [AuditLog(store, None, LOG) for _ in range(3)]
    seen: list[list[AuditEvent]] = [[] for _ in logs]
    for log, events in zip(logs, seen, strict=True):
        await log.attach(await buses())
        log.watch(events.append)

    logs[1].record(AuditAction.PERMISSION_CHANGE, "text:file:x", "alice", path="a.txt",
                   target="bob", role="viewer")  # fmt: skip
    await logs[1].flush()

    def everywhere() -> bool:
        return all(len(events) == 1 for events in seen)

    await eventually(everywhere, timeout=60, what="the event on every server")
    for events in seen:
        (event,) = events
        assert (event.action, event.doc_id, event.user) == ("permission-change", "text:file:x",
                                                           "alice")  # fmt: skip
        assert dict(event.details) == {"path": "a.txt", "target": "bob", "role": "viewer"}
    stored, _ = await store.query_audit(doc_id="text:file:x")
    assert [(e.action, e.user) for e in stored] == [("permission-change", "alice")]
    await asyncio.sleep(0.2)  # nothing more arrives (no echo, no second write)
    assert all(len(events) == 1 for events in seen)
    assert len((await store.query_audit(doc_id="text:file:x"))[0]) == 1
    for log in logs:
        log.detach()


def _ctrl_c_default() -> None:
    """In the follower's process: Ctrl+C (SIGINT) as in a terminal. A test run started in the
    background by a shell without job control (as CI may be) ignores SIGINT, and the children
    inherit that: Python then installs no KeyboardInterrupt handler and the follower ignored
    the test's Ctrl+C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def test_audit_follow_through_one_server_shows_what_happens_on_another(group: Any) -> None:
    """``jupyter collab audit --follow`` started against server A prints, live, an action
    made on server B (B's join and save of a document); a follow for one document only prints
    that document's events; a follow without rights is refused with a clear message."""
    (group.root / "seen.txt").write_text("one\n")
    (group.root / "other.txt").write_text("two\n")
    a, b = users(group, 2)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "JUPYTER_CONFIG_DIR": str(group.root.parent / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(group.root.parent / "runtime-cli"),
    }

    async def follow(*args: str, token: str = "alice-token") -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jupyter_collab", "audit", "--follow", "--json",
            f"--url={a.url}/", f"--token={token}", f"--root-dir={group.root}", *args,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            preexec_fn=_ctrl_c_default,
        )  # fmt: skip

    async def started(process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        line = await asyncio.wait_for(process.stderr.readline(), 300)
        assert b"Following the audit log through" in line, line

    status, reply = await a.request(
        "GET", "api/collab/audit/follow?action=nope", token="alice-token"
    )
    assert status == 400 and "unknown action" in reply["message"], reply
    everything = await follow()
    other_room = (await b.session("other.txt", token="alice-token"))["room"]
    only_other = await follow(f"--path={other_room}")
    refused = await follow(token="bob-token")  # bob is an editor, not an owner of the folder
    await asyncio.gather(started(everything), started(only_other))

    bob = await b.connect("seen.txt", token="bob-token")  # on B: B records bob's join
    bob.jdoc._ysource.insert(len(text_of(bob)), "more\n")
    await eventually(
        lambda: "more" in (group.root / "seen.txt").read_text(), timeout=180, what="the save"
    )
    carol = await b.connect("other.txt", token="carol-token")

    async def events_until(process: asyncio.subprocess.Process, wanted: Any) -> list[Any]:
        assert process.stdout is not None
        seen: list[Any] = []
        while not wanted(seen):
            line = await asyncio.wait_for(process.stdout.readline(), 300)
            assert line, "the follow ended"
            seen.append(json.loads(line))
        return seen

    def has(action: str, user: str | None, path: str) -> Any:
        return lambda seen: any(
            e["action"] == action and e["user"] == user and e["path"] == path for e in seen
        )

    seen = await events_until(
        everything,
        lambda s: has("join", "bob", "seen.txt")(s) and has("save", None, "seen.txt")(s)
        and has("join", "carol", "other.txt")(s),
    )
    assert all(e["time"] and e["document"] for e in seen)
    mine = await events_until(only_other, has("join", "carol", "other.txt"))
    assert {e["path"] for e in mine} == {"other.txt"}
    _, err = await asyncio.wait_for(refused.communicate(), 300)
    assert refused.returncode == 1
    assert b"403" in err and b"owners" in err, err
    for process in (everything, only_other):
        process.send_signal(signal.SIGINT)
        # (communicate, not wait: it reads what the follow still prints, so a child blocked
        # on a full pipe cannot look like one that ignores Ctrl+C; asyncio's docs warn so)
        _, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err
    bob.close()
    carol.close()
