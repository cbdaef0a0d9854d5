"""Structured events through the server's event_logger."""

from __future__ import annotations

from jupyter_collab.events import ROOM_SCHEMA_ID

from .client import eventually


async def test_room_lifecycle_events(jp_serverapp, jp_root_dir, connect):
    seen: list[dict] = []

    async def listener(logger, schema_id, data):
        seen.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=ROOM_SCHEMA_ID, listener=listener)
    path = jp_root_dir / "ev.txt"
    path.write_text("a")
    client = await connect("ev.txt")
    client.jdoc._ysource.insert(0, "b")
    await eventually(lambda: path.read_text() == "ba", what="save")
    path.write_text("bac")
    await eventually(lambda: client.content() == "bac", what="disk merge")
    client.close()
    await eventually(lambda: any(e["action"] == "room_closed" for e in seen), what="close")
    actions = [e["action"] for e in seen]
    for expected in ("room_opened", "join", "save", "disk_merged", "leave", "room_closed"):
        assert expected in actions
    assert actions.index("room_opened") < actions.index("join") < actions.index("leave")
    join = next(e for e in seen if e["action"] == "join")
    assert join["username"] and join["path"] == "ev.txt" and join["room"].startswith("text:file:")
