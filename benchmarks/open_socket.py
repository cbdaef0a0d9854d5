"""Opening over one socket against session PUT + room URL, seen from a client on loopback:
``python benchmarks/open_socket.py [--repeats 7] [--port 0]``.

One server of ours (this checkout). For a 1,000-cell notebook (about 3 MB, as in
``browser_open.py``), each repeat opens a never-opened copy (cold) and then a second opener
joins that loaded room (warm), once each way, in alternating order:

* ``put+room``: ``PUT /api/collab/session/{path}``, then ``/api/collab/room/{room}?fresh=1``
  (what the page does today);
* ``open``: ``/api/collab/open/{path}?format=json&type=notebook&fresh=1`` (docs/protocol.md,
  "Opening over one socket").

Each repeat also times JupyterLab's metadata request (``GET /api/contents/{path}?content=0``,
what ``docmanager:open`` sends first) on a never-opened copy, alone and sent together with
the open socket of that copy (``contents alone`` / ``contents with open``): does a cold
room's load, started by the socket, delay the page's own request (as the session PUT's
prefetch did, ``RESULTS-open.md``)?

Neither client sends sync step 1 (``fresh=1`` brings the document, as in the browser). Figures
(ms, medians): ``session`` = from the first request to the session known (PUT reply or
session notice); ``document`` = to the client's document holding the whole notebook (checked
against the file). This is the server's and the wire's part only; the page's long task that
builds the widget, which the open socket lets the handshake overlap, is not in it: the
browser figure is ``browser_open.py``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients import DocClient, auth_headers, open_session  # noqa: E402
from loads import dump_notebook, make_notebook, write_file  # noqa: E402
from scenarios import notebook_complete, warm_up  # noqa: E402
from servers import ServerProcess, install_exit_handlers, ours_target  # noqa: E402

NB_CELLS = 1000
NB_BYTES = 3_000_000
NOTICE = 100


class FreshClient(DocClient):
    """A notebook client that sends no sync step 1 (``fresh=1``) and notes the session
    notice's arrival."""

    session_at = 0.0

    def _attach(self, conn) -> None:  # noqa: ANN001 - wsclient.Framing
        self.conn = conn  # (no step 1: the server sends the document unasked)
        for frame in self._outbox:  # (replies to frames that came with the handshake)
            self.send(frame)
        self._outbox.clear()

    def _notice(self, msg: bytes | str) -> None:
        if isinstance(msg, bytes) and msg[:1] == bytes((NOTICE,)) and b'"session"' in msg[:40]:
            self.session_at = self.session_at or time.perf_counter()
        super()._notice(msg)


async def one_open(server: ServerProcess, path: str, expected: dict, way: str) -> dict:
    info = server.info()
    client = FreshClient("notebook", complete=notebook_complete(expected))
    t0 = time.perf_counter()
    if way == "put+room":
        session = await open_session(info, path, "json", "notebook")
        client.session_at = time.perf_counter()
        url = session.ws_url + "?fresh=1"
    else:
        url = f"{info['ws_base']}/api/collab/open/{quote(path)}?format=json&type=notebook&fresh=1"
    await client.connect(info, url, 60)
    await asyncio.wait_for(client.completed.wait(), 120)
    result = {
        "session": (client.session_at - t0) * 1e3,
        "document": (client.completed_at - t0) * 1e3,
    }
    return result, client


async def metadata(server: ServerProcess, path: str) -> float:
    """``GET /api/contents/{path}?content=0`` (what docmanager:open sends first); ms."""
    info = server.info()
    t0 = time.perf_counter()
    await AsyncHTTPClient().fetch(HTTPRequest(
        f"{info['base_url']}/api/contents/{quote(path)}?content=0", headers=auth_headers(info),
        request_timeout=60))  # fmt: skip
    return (time.perf_counter() - t0) * 1e3


async def contents_alongside(server: ServerProcess, i: int, expected: dict) -> dict:
    """The metadata request on a cold copy, alone, then together with the open socket."""
    alone = await metadata(server, f"alone-{i}.ipynb")
    await asyncio.sleep(0.5)
    opening = asyncio.ensure_future(one_open(server, f"along-{i}.ipynb", expected, "open"))
    along = await metadata(server, f"along-{i}.ipynb")
    _, client = await opening
    client.close()
    await asyncio.sleep(1.5)
    return {"contents alone": alone, "contents with open": along}


async def run(server: ServerProcess, repeats: int, expected: dict) -> dict:
    await warm_up(server, server.root_dir, 120)
    figures: dict[str, dict[str, list[float]]] = {}
    for i in range(repeats):
        ways = ("put+room", "open") if i % 2 == 0 else ("open", "put+room")
        for way in ways:
            path = f"cold-{way.replace('+', '-')}-{i}.ipynb"
            cold, first = await one_open(server, path, expected, way)
            await asyncio.sleep(1.5)  # (the fresh open's background work is done)
            warm, second = await one_open(server, path, expected, way)
            for name, value in (("cold", cold), ("warm", warm)):
                for figure, ms in value.items():
                    figures.setdefault(f"{way} {name} {figure}", {}).setdefault("ms", []).append(ms)
            first.close()
            second.close()
            await asyncio.sleep(0.5)
        for key, ms in (await contents_alongside(server, i, expected)).items():
            figures.setdefault(key, {}).setdefault("ms", []).append(ms)
    return {
        key: {
            "median_ms": round(statistics.median(v["ms"]), 1),
            "all_ms": [round(x, 1) for x in v["ms"]],
        }
        for key, v in sorted(figures.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--port", type=int, default=0, help="the server's port (0: any free)")
    args = parser.parse_args()
    install_exit_handlers()
    nb = make_notebook(NB_CELLS, NB_BYTES)
    content = dump_notebook(nb)
    with tempfile.TemporaryDirectory(prefix="open-socket-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        write_file(root, "warmup.txt", "warm\n")
        write_file(root, "warmup.ipynb", dump_notebook(make_notebook(2, 800, seed=9)))
        for i in range(args.repeats):
            for name in ("cold-put-room", "cold-open", "alone", "along"):
                write_file(root, f"{name}-{i}.ipynb", content)
        server = ServerProcess(ours_target(), root, Path(tmp) / "work", port_wanted=args.port)
        server.start()
        try:
            result = asyncio.run(run(server, args.repeats, nb))
        finally:
            server.stop()
    print(
        f"{NB_CELLS}-cell notebook, {len(content):,} bytes; load average after: "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    for key, value in result.items():
        print(f"{key:28} {value['median_ms']:8.1f} ms  {json.dumps(value['all_ms'])}")


if __name__ == "__main__":
    main()
