"""y-websocket protocol clients used by the benchmark.

Three kinds, from expensive to cheap:

* :class:`DocClient` keeps a real pycrdt ``Doc`` (text or notebook), answers sync step 1 and
  applies every update, like JupyterLab would. Used for time-to-open, for writers and for
  the probe receivers that check the room converges to the right content.
* :class:`DrainClient` only does the handshake and then drains frames, timestamping the
  edit markers it finds in the raw bytes. It lets one client process hold hundreds of
  connections without its own CPU dominating a 2-core machine.

Both speak to either target; only the session PUT and the room URL differ (:func:`open_session`).
The PUT uses tornado's HTTP client (a jupyter_server dependency); the WebSockets use the small
client in :mod:`wsclient`, which is several times cheaper per frame than tornado's (see there).
"""

from __future__ import annotations

import asyncio
import json
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import wsclient
from loads import MARKER_RE
from pycrdt import Doc, Text, create_sync_message, create_update_message, handle_sync_message
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

SYNC, AWARENESS = 0, 1
STEP1, STEP2, UPDATE = 0, 1, 2
# Handshake frames of a client that holds nothing: step 1 with an empty state vector, and the
# empty step 2 it answers the server's step 1 with.
EMPTY_STEP1 = create_sync_message(Doc())
EMPTY_STEP2 = bytes([SYNC, STEP2, 2, 0, 0])


@dataclass
class Session:
    """Result of the session PUT: where to connect, and the server's reply for the record."""

    ws_url: str
    status: int
    reply: dict


def auth_headers(info: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"token {info['token']}"}


async def open_session(info: dict[str, str], path: str, fmt: str, typ: str,
                       timeout: float = 60.0) -> Session:
    """PUT the session for ``path`` and build the room's WebSocket URL for this target.

    ours: ``PUT /api/collab/session/{path}`` → ``{"room", ...}``, room at
    ``/api/collab/room/{room}``.
    jc: ``PUT /api/collaboration/session/{path}`` → ``{format,type,fileId,sessionId}``, room at
    ``/api/collaboration/room/{format}:{type}:{fileId}?sessionId=...``.
    """
    api = info["api"]
    url = f"{info['base_url']}/api/{api}/session/{quote(path)}"
    body = json.dumps({"format": fmt, "type": typ})
    req = HTTPRequest(url, method="PUT", body=body, headers={**auth_headers(info),
                      "Content-Type": "application/json"},
                      connect_timeout=timeout, request_timeout=timeout)
    try:
        resp = await AsyncHTTPClient().fetch(req)
    except HTTPClientError as e:
        detail = e.response.body[:500] if e.response is not None else b""
        raise RuntimeError(f"PUT {url} -> {e.code}: {detail!r}") from e
    reply = json.loads(resp.body)
    if api == "collab":
        ws_url = f"{info['ws_base']}/api/collab/room/{reply['room']}"
    else:
        room = f"{reply['format']}:{reply['type']}:{reply['fileId']}"
        ws_url = (f"{info['ws_base']}/api/collaboration/room/{room}"
                  f"?sessionId={quote(reply['sessionId'])}")
    return Session(ws_url, resp.code, reply)


async def ws_connect(info: dict[str, str], ws_url: str, on_frame: wsclient.OnFrame,
                     timeout: float = 30.0) -> wsclient.WebSocket:
    """Open the room WebSocket with the token header; frames go to ``on_frame``."""
    return await wsclient.connect(ws_url, auth_headers(info), on_frame, timeout)


class LatencySink:
    """Latencies of one client process: every delivery, plus per edit the fastest and the
    slowest delivery (so the report can tell "reaches the first client" from "reaches all")."""

    def __init__(self) -> None:
        self.values = array("q")
        self.first: dict[tuple[int, int], int] = {}
        self.last: dict[tuple[int, int], int] = {}
        self.sent_ns: dict[tuple[int, int], int] = {}

    def add(self, key: tuple[int, int], sent_ns: int, latency: int) -> None:
        self.values.append(latency)
        first = self.first.get(key)
        if first is None:
            self.first[key] = self.last[key] = latency
            self.sent_ns[key] = sent_ns
        elif latency < first:
            self.first[key] = latency
        elif latency > self.last[key]:
            self.last[key] = latency


@dataclass
class MarkerStats:
    """What one client saw of the writers' markers (see :data:`loads.MARKER_RE`)."""

    own_writer: int = -1  # markers from this writer id are its own edits, not deliveries
    recording: bool = False
    seen: set[tuple[int, int]] = field(default_factory=set)
    duplicates: int = 0
    last_ns: int = 0

    def scan(self, frame: bytes, now_ns: int, sink: LatencySink) -> None:
        """Timestamp every marker in a sync/update frame; cheap (one C-level regex pass)."""
        for m in MARKER_RE.finditer(frame):
            w = int(m.group(1))
            if w == self.own_writer:
                continue
            key = (w, int(m.group(2)))
            if key in self.seen:
                self.duplicates += 1
                continue
            self.seen.add(key)
            sent = int(m.group(3))
            sink.add(key, sent, now_ns - sent)
            self.last_ns = now_ns


class _Base:
    """Connection bookkeeping shared by both client kinds."""

    def __init__(self, latencies: LatencySink | None = None) -> None:
        self.conn: wsclient.Framing | None = None
        self._outbox: list[bytes] = []
        self.synced = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.frames = 0
        self.bytes = 0
        # CLOCK_MONOTONIC ns: connect started, first sync step 2 received (the join is done)
        self.connect_ns = 0
        self.synced_ns = 0
        self.notices: list[str] = []
        self.markers = MarkerStats()
        self.latencies = latencies if latencies is not None else LatencySink()

    async def connect(self, info: dict[str, str], ws_url: str, timeout: float = 30.0) -> None:
        """Connect on the running asyncio loop and open the sync handshake."""
        self.connect_ns = time.monotonic_ns()
        self._attach(await ws_connect(info, ws_url, self._on_frame, timeout))

    def connect_sync(self, info: dict[str, str], ws_url: str, timeout: float = 30.0) -> None:
        """Connect with a blocking handshake; the socket is then read by an EpollPump."""
        self.connect_ns = time.monotonic_ns()
        self._attach(wsclient.connect_sync(ws_url, auth_headers(info), self._on_frame, timeout))

    def _attach(self, conn: wsclient.Framing) -> None:
        # Frames that arrived with the handshake may already have queued replies (outbox).
        self.conn = conn
        self.send(self._step1())
        for frame in self._outbox:
            self.send(frame)
        self._outbox.clear()

    def _step1(self) -> bytes:
        """The sync step 1 this client opens with (what it already holds)."""
        return EMPTY_STEP1

    def send(self, frame: bytes) -> None:
        if self.conn is None:
            self._outbox.append(frame)
        elif not self.closed.is_set():
            try:
                self.conn.send_binary(frame)
            except Exception:  # noqa: BLE001 - a closed socket shows up as closed below
                self._mark_closed()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def _mark_closed(self) -> None:
        if self.conn is not None:
            self.close_code = self.conn.close_code
            self.close_reason = self.conn.close_reason
        self.closed.set()

    def _on_frame(self, msg: bytes | str | None, now: int) -> None:
        raise NotImplementedError

    def _synced(self, now: int) -> None:
        """The first sync step 2 arrived: the client holds the document (its join is done)."""
        if not self.synced_ns:
            self.synced_ns = now
        self.synced.set()

    def connect_ms(self) -> float | None:
        """From the start of the TCP connect to the first sync step 2, or None if not synced."""
        if not (self.connect_ns and self.synced_ns):
            return None
        return (self.synced_ns - self.connect_ns) / 1e6

    def _notice(self, msg: bytes | str) -> None:
        """Anything that is not sync/awareness (e.g. our type-100 JSON notices)."""
        if len(self.notices) < 20:
            self.notices.append(msg[:200].decode("utf-8", "replace")
                                if isinstance(msg, bytes) else msg[:200])


class DrainClient(_Base):
    """Handshake, then drain: no CRDT work at all, only a regex pass for edit markers."""

    def _on_frame(self, msg: bytes | str | None, now: int) -> None:
        if msg is None:
            self._mark_closed()
            return
        self.frames += 1
        self.bytes += len(msg)
        if isinstance(msg, str) or not msg:
            self._notice(msg)
            return
        if msg[0] == SYNC and len(msg) > 1:
            sub = msg[1]
            if sub == STEP1:
                self.send(EMPTY_STEP2)
                return
            if sub == STEP2:
                self._synced(now)
            if self.markers.recording:
                self.markers.scan(msg, now, self.latencies)
        elif msg[0] != AWARENESS:
            self._notice(msg)


class DocClient(_Base):
    """A full client holding a pycrdt Doc: ``kind`` is ``"text"`` or ``"notebook"``.

    ``complete`` (optional) is evaluated after each applied update; the first time it returns
    True, ``completed_at`` is set to the perf_counter time *before* the check ran, so the
    cost of verifying content is not charged to the server.
    """

    def __init__(self, kind: str, latencies: LatencySink | None = None,
                 complete: Callable[[DocClient], bool] | None = None) -> None:
        super().__init__(latencies)
        self.kind = kind
        self.doc = Doc()
        self.text: Text | None = None
        self.notebook = None
        if kind == "text":
            self.text = self.doc.get("source", type=Text)
        else:
            from jupyter_ydoc import YNotebook

            self.notebook = YNotebook(self.doc)
        self.complete = complete
        self.completed = asyncio.Event()
        self.completed_at = 0.0
        self.step2_at = 0.0  # perf_counter when the first sync step 2 arrived
        self.apply_seconds = 0.0
        self._remote = False
        self._sub = self.doc.observe(self._on_local_update)

    def _step1(self) -> bytes:
        return create_sync_message(self.doc)

    def _on_local_update(self, event) -> None:  # noqa: ANN001 - pycrdt TransactionEvent
        """Send our own edits as y-websocket updates (never echo remote ones)."""
        if not self._remote:
            self.send(create_update_message(event.update))

    def _on_frame(self, msg: bytes | str | None, now: int) -> None:
        if msg is None:
            self._mark_closed()
            return
        self.frames += 1
        self.bytes += len(msg)
        if isinstance(msg, str) or not msg:
            self._notice(msg)
            return
        if msg[0] == SYNC and len(msg) > 1:
            if self.markers.recording:
                self.markers.scan(msg, now, self.latencies)
            t0 = time.perf_counter()
            if msg[1] == STEP2 and not self.step2_at:
                self.step2_at = t0
            # No observer while the server's changes are applied: pycrdt encodes every
            # transaction's update for the document's observers, so a 4 MiB first sync was
            # decoded, then encoded again only to be dropped (``_remote``): the client's own
            # waste, charged alike to every target, the same the page stopped doing in
            # session 5 (labextension ``roomconnection.ts``).
            self._remote = True
            self.doc.unobserve(self._sub)
            try:
                reply = handle_sync_message(msg[1:], self.doc)
            finally:
                self._sub = self.doc.observe(self._on_local_update)
                self._remote = False
            t1 = time.perf_counter()
            self.apply_seconds += t1 - t0
            if reply is not None:
                self.send(reply)
            if msg[1] == STEP2:
                self._synced(now)
            if self.complete is not None and not self.completed.is_set() and self.complete(self):
                self.completed_at = t1
                self.completed.set()
        elif msg[0] != AWARENESS:
            self._notice(msg)

    def insert_line(self, pos_hint: float, line: str) -> None:
        """Insert ``line`` at the start of the line nearest ``pos_hint`` (0..1) of the text.

        pycrdt indexes Text by UTF-8 byte offset, so the position is found in the encoded
        text; inserting only at line starts keeps every marker contiguous in the document.
        """
        assert self.text is not None
        b = str(self.text).encode("utf-8")
        at = int(len(b) * pos_hint)
        pos = b.rfind(b"\n", 0, at) + 1 if at > 0 else 0
        with self.doc.transaction():
            self.text.insert(pos, line)
