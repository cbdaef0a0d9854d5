"""What both Chromium scripts (collab_e2e.py, sharing_e2e.py) share: the check log, sections
that fail without stopping the others, waiting helpers, and stopping the server at the end."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

RESULTS: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    RESULTS.append((name, ok, detail))
    print(("PASS " if ok else "FAIL ") + name + (f" -- {detail}" if detail else ""), flush=True)
    return ok


def section(name: str, fn: Any, *args: Any) -> None:
    """Run a group of checks; an exception fails it without stopping the others."""
    try:
        fn(*args)
    except Exception as err:  # noqa: BLE001
        check(f"{name}: ran to the end", False, f"{type(err).__name__}: {str(err)[:400]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_text(page: Any, selector: str, text: str, timeout: float = 15000) -> bool:
    try:
        page.wait_for_function(
            "([sel, text]) => Array.from(document.querySelectorAll(sel))"
            ".some(e => e.textContent.includes(text))",
            arg=[selector, text],
            timeout=timeout,
        )
        return True
    except Exception:
        return False


def wait_until(fn: Any, timeout: float = 20.0) -> bool:
    """Poll ``fn`` (whose exceptions count as "not yet") until it is true or time is up."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if fn():
                return True
        except Exception:
            pass
        time.sleep(0.2)
    return bool(fn())


def finish(
    server: subprocess.Popen, tmp: Path, out: Path, console: dict[str, list[str]], keep: bool
) -> int:
    """Stop the server, keep its log and the browser consoles, print the tally; the exit code."""
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
    (out / "console.json").write_text(json.dumps(console, indent=1))
    shutil.copy(tmp / "server.log", out / "server.log")
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    failed = [r for r in RESULTS if not r[1]]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
