"""Awareness flood: what one hostile client costs the server and every joiner.

    python benchmarks/presence_flood.py                      # ours and jupyter-collaboration
    python benchmarks/presence_flood.py --ours-source DIR    # ours from another checkout

One client claims ``--ids`` awareness client ids (in updates of 1,000) and publishes one
``--state-mb`` MB state; then a second client joins and counts the awareness bytes it is
sent; then the first leaves. Printed per target: the server's RSS before, with the flooder in
the room, and after it left; the awareness bytes the joiner received; how the flooder's
connection ended. A fresh server per target (servers.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients import DrainClient, open_session  # noqa: E402
from loads import write_file  # noqa: E402
from presence_load import awareness_message  # noqa: E402
from servers import (  # noqa: E402
    ServerProcess,
    Target,
    install_exit_handlers,
    jc_target,
    ours_target,
)


class Counting(DrainClient):
    """A drain client that also counts the awareness bytes it receives."""

    awareness_bytes = 0

    def _on_frame(self, msg, now: int) -> None:  # noqa: ANN001
        if isinstance(msg, bytes) and msg and msg[0] == 1:
            self.awareness_bytes += len(msg)
        super()._on_frame(msg, now)


async def flood(server: ServerProcess, ids: int, state_mb: float) -> dict:
    info = server.info()
    write_file(server.root_dir, "flood.txt", "x\n")
    session = await open_session(info, "flood.txt", "text", "file")
    mb = 1e6
    out = {"rss_before_mb": server.rss_bytes() / mb}
    flooder = DrainClient()
    await flooder.connect(info, session.ws_url)
    await asyncio.wait_for(flooder.synced.wait(), 30)
    t0 = time.monotonic()
    state = {"cursor": {"anchor": 1, "head": 1}, "name": "flood"}
    for start in range(1, ids + 1, 1000):
        update = [(cid, 1, state) for cid in range(start, min(start + 1000, ids + 1))]
        flooder.send(_multi(update))
        await asyncio.sleep(0)
    flooder.send(awareness_message(ids + 1, 1, {"blob": "z" * int(state_mb * mb)}))
    await asyncio.sleep(3.0)
    out["flood_send_s"] = time.monotonic() - t0
    out["rss_flooded_mb"] = server.rss_bytes() / mb
    joiner = Counting()
    await joiner.connect(info, session.ws_url)
    await asyncio.wait_for(joiner.synced.wait(), 60)
    await asyncio.sleep(3.0)
    out["joiner_awareness_mb"] = joiner.awareness_bytes / mb
    out["flooder_closed"] = (f"{flooder.close_code} {flooder.close_reason}"
                             if flooder.closed.is_set() else "still connected")
    out["flooder_notices"] = flooder.notices[:3]
    flooder.close()
    await asyncio.sleep(3.0)
    out["rss_after_leave_mb"] = server.rss_bytes() / mb
    joiner.close()
    return out


def _multi(entries: list[tuple[int, int, dict]]) -> bytes:
    """One awareness message with many states."""
    from presence_load import _var_uint

    body = bytearray(_var_uint(len(entries)))
    for cid, clock, state in entries:
        text = json.dumps(state, separators=(",", ":")).encode()
        body += _var_uint(cid) + _var_uint(clock) + _var_uint(len(text)) + text
    return b"\x01" + _var_uint(len(body)) + bytes(body)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", choices=["ours", "jc", "both"], default="both")
    p.add_argument("--ids", type=int, default=100_000)
    p.add_argument("--state-mb", type=float, default=60.0)
    p.add_argument("--ours-source", help="run ours from this checkout instead of this one")
    args = p.parse_args()
    install_exit_handlers()
    targets = []
    if args.target in ("ours", "both"):
        ours = ours_target()
        if args.ours_source:
            ours = Target("ours", f"jupyter-collab from {args.ours_source}", ours.python,
                          ours.api, ours.extra_args, args.ours_source)
        targets.append(ours)
    if args.target in ("jc", "both"):
        targets.append(jc_target())
    with tempfile.TemporaryDirectory(prefix="bench-flood-") as tmp:
        for target in targets:
            root = Path(tmp) / target.name
            (root / "root").mkdir(parents=True)
            server = ServerProcess(target, root / "root", root / "work").start()
            try:
                res = asyncio.run(flood(server, args.ids, args.state_mb))
                res["server_alive"] = server.alive()
            except Exception as e:  # noqa: BLE001 - printed
                res = {"error": f"{type(e).__name__}: {e}"}
            finally:
                server.stop()
            print(f"{target.label}: " + json.dumps(res, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
