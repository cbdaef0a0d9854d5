"""The collaboration metrics on Jupyter Server's own /metrics (jupyter_collab/metrics.py),
read the way Prometheus reads them, after real clients edited, were refused and left."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import HTTPClientError

from jupyter_collab import metrics
from jupyter_collab.persistence.errors import UnknownDocument
from jupyter_collab.protocol.framing import notice_frame

from .auth import token_header
from .client import eventually

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(jp_fetch: Any) -> Samples:
    """Every jupyter_collab_ sample on /metrics: (name, labels) -> value."""
    response = await jp_fetch("metrics", method="GET")
    assert response.code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(response.body.decode()):
        for sample in family.samples:
            if sample.name.startswith("jupyter_collab_"):
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples) -> dict[str, float]:
    """How much each counter (``_total``, ``_count``) moved, labels written ``name{k=v}``."""
    deltas: dict[str, float] = defaultdict(float)
    for key, now in after.items():
        name, labels = key
        if name.endswith(("_total", "_count")):
            shown = name + ("{" + ",".join(f"{k}={v}" for k, v in labels) + "}" if labels else "")
            delta = now - before.get(key, 0.0)
            if delta:
                deltas[shown] = delta
    return dict(deltas)


@pytest.fixture
def collab_config(collab_config: dict[str, Any]) -> dict[str, Any]:
    # rooms close quickly once empty, so the gauges can be seen back at 0
    return {**collab_config, "document_cleanup_delay": 0.2}


async def test_metrics_move_with_activity(jp_fetch, jp_root_dir, connect, rooms):
    (jp_root_dir / "secret-plans").mkdir()
    (jp_root_dir / "secret-plans" / "notes.txt").write_text("start\n")
    path = "secret-plans/notes.txt"
    before = await scrape(jp_fetch)
    # every series of a labelled counter exists from the start, at 0 if nothing happened
    for reason in metrics.REFUSAL_REASONS:
        assert ("jupyter_collab_refused_messages_total", (("reason", reason),)) in before
    for reason in metrics.DISCONNECT_REASONS:
        assert ("jupyter_collab_disconnects_total", (("reason", reason),)) in before
    assert not any(k[0] == "jupyter_collab_bus_lag_seconds" for k in before)  # no bus yet
    assert value(before, "jupyter_collab_rooms", kind="text:file") == 0

    alice = await connect(path, headers=token_header("alice"))
    bob = await connect(path, headers=token_header("bob"))
    vera = await connect(path, headers=token_header("viewer"))  # read only: a viewer
    opened = await scrape(jp_fetch)
    assert value(opened, "jupyter_collab_rooms", kind="text:file") == 1
    assert value(opened, "jupyter_collab_clients", kind="text:file") == 3
    assert value(opened, "jupyter_collab_clients", kind="json:notebook") == 0

    # two editors edit (each edit one update, sent to the two others)
    alice.jdoc._ysource.insert(0, "alice ")
    await eventually(lambda: all("alice" in str(c.jdoc._ysource) for c in (bob, vera)))
    bob.jdoc._ysource.insert(0, "bob ")
    await eventually(lambda: all("bob" in str(c.jdoc._ysource) for c in (alice, vera)))
    # the viewer's edit is refused; the server's tombstones for it go to all three
    vera.jdoc._ysource.insert(0, "vera ")
    await eventually(lambda: any(n.get("what") == "edit" for n in vera.notices), what="refused")
    # and so is the viewer's save
    vera.send(notice_frame({"type": "save"}))
    await eventually(lambda: any(n.get("what") == "save" for n in vera.notices), what="refused")
    # an awareness state over awareness_max_state_bytes is dropped
    vera.set_awareness({"cursor": "x" * 40_000})
    await eventually(lambda: any(n["type"] == "awareness-refused" for n in vera.notices))
    await eventually(lambda: (jp_root_dir / path).read_text() == "bob alice start\n", what="saved")
    room = next(iter(rooms.rooms.values()))
    await eventually(lambda: not room.file.dirty and not room.journal.pending, what="settled")
    active = await scrape(jp_fetch)
    deltas = moved(before, active)

    def saved() -> int:
        return sum(n["type"] == "saved" for n in alice.notices)

    # every save the server counted told the room (the last notice may still be on its way)
    saves = deltas["jupyter_collab_saves_total"]
    await eventually(lambda: saved() == saves, what=f"{saves} saved notices")

    assert deltas["jupyter_collab_updates_received_total"] == 3  # alice, bob, vera
    # alice's and bob's to 2 clients each, the tombstones of vera's edit to 3
    assert deltas["jupyter_collab_updates_delivered_total"] == 2 + 2 + 3
    assert deltas["jupyter_collab_fanout_seconds_count"] == 3  # one per broadcast
    assert deltas["jupyter_collab_refused_messages_total{reason=read_only_edit}"] == 1
    assert deltas["jupyter_collab_refused_messages_total{reason=read_only_save}"] == 1
    assert deltas["jupyter_collab_refused_messages_total{reason=awareness_state_too_large}"] == 1
    assert saves >= 1
    assert deltas["jupyter_collab_save_seconds_count"] == saves
    assert "jupyter_collab_save_failures_total" not in deltas
    assert deltas["jupyter_collab_store_append_seconds_count"] >= 1  # batched: 1 to 3 appends
    assert "jupyter_collab_store_append_failures_total" not in deltas
    assert deltas["jupyter_collab_received_bytes_total"] > 0
    assert deltas["jupyter_collab_sent_bytes_total"] > 0
    assert not any(k.startswith("jupyter_collab_disconnects_total") for k in deltas)
    # the histogram's buckets add up to its count
    top = value(active, "jupyter_collab_fanout_seconds_bucket", le="+Inf")
    assert top == value(active, "jupyter_collab_fanout_seconds_count")

    # a message that is not the protocol: refused, its sender disconnected
    bob.send(b"\x07garbage")
    await eventually(lambda: bob.closed.is_set(), what="bob disconnected")
    assert bob.close_code == 4400
    # alice closes her tab; the viewer is left, then goes too
    alice.close()
    vera.close()
    await eventually(lambda: not rooms.rooms, what="the room closed")
    closed = await scrape(jp_fetch)
    deltas = moved(before, closed)
    assert deltas["jupyter_collab_refused_messages_total{reason=malformed}"] == 1
    assert deltas["jupyter_collab_disconnects_total{reason=malformed}"] == 1
    assert deltas["jupyter_collab_disconnects_total{reason=client_closed}"] == 2
    assert sum(v for k, v in deltas.items() if "disconnects" in k) == 3
    for kind in metrics.KIND_LABELS:
        assert closed[("jupyter_collab_rooms", (("kind", kind),))] == 0
        assert closed[("jupyter_collab_clients", (("kind", kind),))] == 0

    # labels stay bounded: only values from the fixed lists, never a path, room or user
    allowed = {
        *metrics.KIND_LABELS, *metrics.REFUSAL_REASONS, *metrics.DISCONNECT_REASONS,
    }  # fmt: skip
    for (name, labels), _ in closed.items():
        for label, label_value in labels:
            if label == "le":
                continue
            assert label_value in allowed, (name, label, label_value)
            for private in ("secret", "notes", "alice", "bob", "vera", room.file_id):
                assert private not in label_value


async def test_failed_saves_are_counted(jp_fetch, jp_root_dir, jp_serverapp, connect, rooms):
    """A ContentsManager that fails to write (a full disk, say): each failed save is counted,
    and the save that finally works too."""
    (jp_root_dir / "f.txt").write_text("x\n")
    cm = jp_serverapp.contents_manager
    write = cm.save
    failures = 0

    def full_disk(model: dict[str, Any], path: str) -> Any:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise OSError(28, "No space left on device")
        return write(model, path)

    before = await scrape(jp_fetch)
    alice = await connect("f.txt", headers=token_header("alice"))
    cm.save = full_disk
    try:
        alice.jdoc._ysource.insert(0, "y")
        await eventually(lambda: (jp_root_dir / "f.txt").read_text() == "yx\n", what="saved")
    finally:
        del cm.save  # the class's method again
    deltas = moved(before, await scrape(jp_fetch))
    assert sum(n["type"] == "save-error" for n in alice.notices) == 2
    assert deltas["jupyter_collab_save_failures_total"] == 2
    assert deltas["jupyter_collab_saves_total"] == 1
    assert deltas["jupyter_collab_save_seconds_count"] == 3
    # alice was alone: her update was received, and delivered to nobody
    assert deltas["jupyter_collab_updates_received_total"] == 1
    assert "jupyter_collab_updates_delivered_total" not in deltas
    assert "jupyter_collab_fanout_seconds_count" not in deltas
    alice.close()
    await eventually(lambda: not rooms.rooms, what="the room closed")


async def test_store_append_failures_are_counted(jp_fetch, jp_root_dir, connect, rooms):
    """A store that fails an append: counted, the updates still delivered, and logged with the
    next append."""
    (jp_root_dir / "s.txt").write_text("")
    before = await scrape(jp_fetch)
    alice = await connect("s.txt", headers=token_header("alice"))
    bob = await connect("s.txt", headers=token_header("bob"))
    store = rooms.store
    append_many = store.append_many
    calls = 0

    async def failing_once(doc_id: str, entries: Any) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError(5, "Input/output error")
        return await append_many(doc_id, entries)

    store.append_many = failing_once
    try:
        alice.jdoc._ysource.insert(0, "a")
        await eventually(lambda: str(bob.jdoc._ysource) == "a", what="delivered anyway")
        alice.jdoc._ysource.insert(1, "b")
        await eventually(lambda: str(bob.jdoc._ysource) == "ab", what="second delivered")
        room = next(iter(rooms.rooms.values()))

        async def both_logged() -> bool:
            # the journal retries in the background (1 s, 2 s, ...) after a failure
            try:
                return len(await store.read(room.room_id)) >= 2
            except UnknownDocument:
                return False

        await eventually(both_logged, timeout=60, what="both updates logged in the end")
        await eventually(lambda: not room.journal.pending, what="logged")
    finally:
        del store.append_many
    deltas = moved(before, await scrape(jp_fetch))
    assert deltas["jupyter_collab_store_append_failures_total"] == 1
    assert deltas["jupyter_collab_store_append_seconds_count"] == calls
    alice.close()
    bob.close()
    await eventually(lambda: not rooms.rooms, what="the room closed")


def test_dashboard_and_docs_show_only_metrics_that_exist():
    """docs/grafana-dashboard.json and docs/metrics.md name only metrics the server exports
    (a renamed metric must not leave an empty panel or a silent alert behind)."""
    docs = Path(__file__).parent.parent / "docs"
    dashboard = json.loads((docs / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    collab = [f for f in REGISTRY.collect() if f.name.startswith("jupyter_collab_")]
    families = {f.name for f in collab} | {"jupyter_collab_bus_lag_seconds"}  # (once a bus is)
    samples = {s.name for f in collab for s in f.samples} | {"jupyter_collab_bus_lag_seconds"}
    used = set(re.findall(r"jupyter_collab_\w+", " ".join(exprs)))
    assert used <= samples, used - samples
    documented = set(re.findall(r"jupyter_collab_\w+", (docs / "metrics.md").read_text()))
    assert documented <= samples | families, documented - samples - families
    for family in families:  # every metric is on the dashboard and in the docs
        assert any(name.startswith(family) for name in used), family
        assert any(name.startswith(family) for name in documented), family


async def test_metrics_need_a_login_by_default(jp_fetch):
    """As docs/metrics.md says: with authenticate_prometheus (the default) an anonymous scrape
    is refused, so document activity is not public."""
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("metrics", method="GET", headers={"Authorization": ""})
    assert refused.value.code == 403
