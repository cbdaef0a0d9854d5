"""What the Chromium scripts (collab_e2e.py, sharing_e2e.py, comments_e2e.py,
notifications_e2e.py, ...) share: the check log, sections that fail without stopping the others,
waiting helpers, the server's folders and start, one browser with a page per user, and stopping
the server at the end."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]

RESULTS: list[tuple[str, bool, str]] = []

CHROMIUM = os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium")
# (headless as root on a machine whose network is closed: see shared/MACHINE-FACTS.md)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}


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


def lab_folders(prefix: str, make_root: Any, dark: bool = False) -> tuple[Path, Path]:
    """A temporary folder for one run: ``root`` (the server's files, filled by ``make_root``) and
    JupyterLab's user settings (no news; the dark theme with ``dark``). Returns (tmp, root)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    root = tmp / "root"
    root.mkdir()
    make_root(root)
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    if dark:
        (settings / "themes.jupyterlab-settings").write_text('{"theme": "JupyterLab Dark"}')
    return tmp, root


def user_page(
    browser: Any,
    base: str,
    name: str,
    console: dict[str, list[str]],
    cookie: tuple[str, str] | None = None,
) -> Any:
    """A page in its own browser context (its own cookies and storage: another person, or the
    same person in another window), signed in by ``cookie`` = (cookie name, value) if given.
    Its console errors and warnings and uncaught errors go to ``console[name]``."""
    ctx = browser.new_context(viewport=VIEWPORT)
    if cookie:
        ctx.add_cookies([{"name": cookie[0], "value": cookie[1], "url": base}])
    page = ctx.new_page()
    log = console.setdefault(name, [])
    page.on(
        "console",
        lambda msg: log.append(f"{msg.type}: {msg.text}") if msg.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda err: log.append(f"pageerror: {err}"))
    return page


@contextmanager
def users_in_chromium(
    base: str,
    names: tuple[str, ...],
    console: dict[str, list[str]],
    cookie: str | None = None,
) -> Iterator[tuple[Any, list[Any]]]:
    """Chromium with one page per name, each in its own context; with ``cookie`` (the test
    identity provider's cookie name) each page is signed in as its name, without it they are
    anonymous users. Yields (browser, pages); the browser is closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            pages = [
                user_page(browser, base, name, console, (cookie, name) if cookie else None)
                for name in names
            ]
            yield browser, pages
        finally:
            browser.close()


def page_errors(console: dict[str, list[str]]) -> list[str]:
    """The uncaught errors of every page (console errors and warnings are kept, not failed)."""
    return [m for log in console.values() for m in log if m.startswith("pageerror")]


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
