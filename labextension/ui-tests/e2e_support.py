"""What both Chromium scripts (collab_e2e.py, sharing_e2e.py) share: the check log, sections
that fail without stopping the others, waiting helpers, and stopping the server at the end."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]

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


def start_lab(
    state: Path,
    root: Path,
    port: int,
    token: str,
    args: list[str],
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start JupyterLab on ``root`` with this checkout's jupyter_collab and its built extension.

    ``state`` holds what the server writes (log, history database, workspaces, settings), so a
    run never touches the user's own. The extension served is the one built in this checkout
    (``jupyter_collab/labextension``), ahead of whatever ``pip install`` copied into the
    environment, so a work tree tests its own frontend.
    """
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={root}",
        f"--CollabApp.db_path={state / 'collab.db'}", "--LabApp.news_url=",
        f"--LabApp.workspaces_dir={state / 'workspaces'}",
        f"--LabApp.user_settings_dir={state / 'settings'}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    built = CHECKOUT / "jupyter_collab" / "labextension"
    if (built / "package.json").exists():
        extensions = state / "labextensions"
        extensions.mkdir(exist_ok=True)
        link = extensions / "jupyter-collab"
        if not link.exists():
            link.symlink_to(built, target_is_directory=True)
        command.append(f"--LabApp.extra_labextensions_path={extensions}")
    log = open(state / "server.log", "a")
    proc = subprocess.Popen(
        command + args,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        # the scripts' own modules (identity providers, authorizers) and this checkout's
        # jupyter_collab, wherever an editable install points
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(HERE), str(CHECKOUT)]
                + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
            ),
            **(env or {}),
        },
    )
    # (generous: on a loaded machine, importing JupyterLab alone can take a minute)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            return proc
        except Exception:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"jupyter lab did not start; see {state / 'server.log'}")


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
