"""Time-to-open and memory measurements (single client process, asyncio).

Time to open = from the session PUT to the moment the client's own pycrdt document holds
the whole file (sync step 2, and any updates after it, applied and the content verified
equal to the file on disk). Cold = the room was never opened before on that server; warm =
another client opens while the room is loaded and a first client is still connected.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from clients import DocClient, DrainClient, open_session
from servers import ServerProcess


def _normalize_outputs(outputs: list) -> list:
    norm = []
    for out in outputs:
        out = dict(out)
        text = out.get("text")
        if isinstance(text, list):
            text = "".join(text)
        data = out.get("data") or {}
        plain = data.get("text/plain")
        if isinstance(plain, list):
            plain = "".join(plain)
        norm.append((out.get("output_type"), out.get("name"), text, plain))
    return norm


def notebook_fingerprint(nb: dict) -> list:
    """What must match for a notebook to count as fully opened: per cell id, type, source,
    outputs (type, stream text, text/plain result). Metadata layout differs between
    implementations and is not compared."""
    fp = []
    for cell in nb["cells"]:
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(src)
        fp.append((cell.get("id"), cell.get("cell_type"), src,
                   _normalize_outputs(cell.get("outputs", []))))
    return fp


def text_complete(expected: str) -> Callable[[DocClient], bool]:
    n = len(expected.encode("utf-8"))

    def check(client: DocClient) -> bool:
        assert client.text is not None
        return len(client.text) == n and str(client.text) == expected

    return check


def notebook_complete(expected_nb: dict) -> Callable[[DocClient], bool]:
    fp = notebook_fingerprint(expected_nb)
    n = len(fp)

    def check(client: DocClient) -> bool:
        nb = client.notebook
        if nb is None or len(nb.ycells) != n:
            return False
        return notebook_fingerprint(nb.get()) == fp

    return check


async def timed_open(server: ServerProcess, path: str, kind: str, expected: object,
                     timeout: float) -> tuple[dict, DocClient]:
    """Open ``path`` like an editor would and time it; the client stays connected.

    Returns figures in seconds: ``total`` (PUT → content complete), ``put`` (PUT reply),
    plus frames/bytes received and the client's own time spent applying updates (so a
    reader can see how much of ``total`` was client-side CRDT work, equal for both targets).
    """
    info = server.info()
    fmt, typ = ("json", "notebook") if kind == "notebook" else ("text", "file")
    check = notebook_complete(expected) if kind == "notebook" else text_complete(expected)
    client = DocClient(kind, complete=check)
    t0 = time.perf_counter()
    session = await open_session(info, path, fmt, typ, timeout)
    t_put = time.perf_counter()
    await client.connect(info, session.ws_url, timeout)
    t_ws = time.perf_counter()
    waiter = asyncio.ensure_future(client.completed.wait())
    closer = asyncio.ensure_future(client.closed.wait())
    done, _ = await asyncio.wait({waiter, closer}, timeout=timeout,
                                 return_when=asyncio.FIRST_COMPLETED)
    for fut in (waiter, closer):
        fut.cancel()
    result = {"put_status": session.status, "put": t_put - t0, "ws_open": t_ws - t0,
              "step2": client.step2_at - t0 if client.step2_at else None,
              "frames": client.frames,
              "bytes": client.bytes, "client_apply": client.apply_seconds,
              "notices": client.notices[:3]}
    if client.completed.is_set():
        result["total"] = client.completed_at - t0
        result["ok"] = True
    else:
        result["ok"] = False
        result["error"] = (f"closed {client.close_code} {client.close_reason}"
                           if client.closed.is_set() else f"content incomplete after {timeout}s")
        result["synced"] = client.synced.is_set()
    return result, client


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


async def measure_opens(server: ServerProcess, kind: str, cold_paths: list[str],
                        expected: object, warm_repeats: int, timeout: float,
                        log: Callable[[str], None]) -> dict:
    """Cold-open each fresh path in turn; warm-open the first one ``warm_repeats`` times.

    The first cold open's client stays connected during the warm opens (the room is loaded);
    RSS is sampled after the first cold open for the "memory with this document open" figure.
    """
    cold: list[dict] = []
    warm: list[dict] = []
    first_client: DocClient | None = None
    rss_before = server.rss_bytes()
    rss_open = None
    for i, path in enumerate(cold_paths):
        res, client = await timed_open(server, path, kind, expected, timeout)
        cold.append(res)
        log(f"    cold open {path}: " + (f"{res['total']:.3f}s" if res["ok"] else res["error"]))
        if i == 0:
            first_client = client
            await asyncio.sleep(1.0)
            gc.collect()
            rss_open = server.rss_bytes()
            for _ in range(warm_repeats):
                wres, wclient = await timed_open(server, path, kind, expected, timeout)
                warm.append(wres)
                log(f"    warm open {path}: "
                    + (f"{wres['total']:.3f}s" if wres["ok"] else wres["error"]))
                wclient.close()
        else:
            client.close()
    if first_client is not None:
        first_client.close()
    ok_cold = [r["total"] for r in cold if r["ok"]]
    ok_warm = [r["total"] for r in warm if r["ok"]]
    return {
        "cold_median_s": _median(ok_cold), "cold_first_s": ok_cold[0] if ok_cold else None,
        "cold_all_s": ok_cold, "warm_median_s": _median(ok_warm), "warm_all_s": ok_warm,
        "failures": [r for r in cold + warm if not r["ok"]],
        "put_median_s": _median([r["put"] for r in cold + warm]),
        "cold_ws_open_median_s": _median([r["ws_open"] for r in cold]),
        "cold_step2_median_s": _median([r["step2"] for r in cold if r["step2"]]),
        "client_apply_median_s": _median([r["client_apply"] for r in cold + warm if r["ok"]]),
        "bytes_received_median": _median([r["bytes"] for r in cold + warm if r["ok"]]),
        "rss_before_bytes": rss_before, "rss_with_doc_open_bytes": rss_open,
    }


async def warm_up(server: ServerProcess, root: Path, timeout: float) -> None:
    """Open one tiny text file and one tiny notebook, so one-time imports and caches are
    not charged to the first measured cold open or to the first room of the memory test."""
    info = server.info()
    for path, fmt, typ in (("warmup.txt", "text", "file"), ("warmup.ipynb", "json", "notebook")):
        session = await open_session(info, path, fmt, typ, timeout)
        client = DrainClient()
        await client.connect(info, session.ws_url, timeout)
        await asyncio.wait_for(client.synced.wait(), timeout)
        await asyncio.sleep(0.3)
        client.close()


async def memory_per_room(server: ServerProcess, paths: list[str], timeout: float,
                          settle: float = 2.0) -> dict:
    """RSS growth for N small-notebook rooms, one connected client each, divided by N."""
    info = server.info()
    gc.collect()
    await asyncio.sleep(settle)
    before = server.rss_bytes()
    clients: list[DrainClient] = []
    failures = 0
    for path in paths:
        try:
            session = await open_session(info, path, "json", "notebook", timeout)
            client = DrainClient()
            await client.connect(info, session.ws_url, timeout)
            await asyncio.wait_for(client.synced.wait(), timeout)
            clients.append(client)
        except Exception:  # noqa: BLE001 - counted and reported
            failures += 1
    await asyncio.sleep(settle)
    after = server.rss_bytes()
    for c in clients:
        c.close()
    n = len(clients)
    return {"rooms": n, "failures": failures, "rss_before_bytes": before,
            "rss_after_bytes": after,
            "per_room_bytes": (after - before) / n if n else None}
