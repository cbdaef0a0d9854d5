"""The connection indicator in a real Chromium when the network goes away and comes back.

issue 8: the indicator stayed on "Reconnecting, N unsynced changes" for 40 s and more after
the network came back, while edits were in fact syncing, until a page reload. Here the
browser goes offline (DevTools network emulation, as ``context.set_offline`` does it), the
user types, the browser comes back online: the indicator must say "Connected" again (no
unsynced changes) without a reload, and the typing must reach the other user and the file.

    python labextension/ui-tests/connection_e2e.py --out DIR [--port PORT] [--keep]

Exit code 0 when every check passed. Needs this checkout's extension built
(``jlpm build`` in labextension/) and Chromium (CHROMIUM, default /usr/lib/chromium/chromium).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_support import (  # noqa: E402
    check,
    finish,
    free_port,
    section,
    start_lab,
    wait_text,
    wait_until,
)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--no-first-run",
]  # fmt: skip
INDICATOR = ".jp-collab-ConnectionIndicator"
CONSOLE: dict[str, list[str]] = {}


def label(page) -> str:
    return page.locator(INDICATOR).inner_text().strip()


def text(page) -> str:
    """The document's text as the page holds it (the editor also shows cursor labels)."""
    return page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.context.model.sharedModel.getSource()"
    )


def open_file(page, base: str, name: str) -> None:
    page.goto(f"{base}/lab/tree/{name}")
    page.wait_for_selector(".jp-FileEditor .cm-content", timeout=90_000)
    page.locator(".jp-FileEditor .cm-content").first.click()


def scenario(browser, base: str, root: Path, out: Path) -> None:
    context_a = browser.new_context()
    context_b = browser.new_context()
    a = context_a.new_page()
    b = context_b.new_page()
    for name, page in (("A", a), ("B", b)):
        page.on("console", lambda m, n=name: CONSOLE.setdefault(n, []).append(m.text))
    open_file(a, base, "notes.txt")
    open_file(b, base, "notes.txt")
    check("A: connected", wait_text(a, INDICATOR, "Connected", 60_000), label(a))

    # the network goes away for A
    context_a.set_offline(True)
    check("A: indicator says Offline", wait_text(a, INDICATOR, "Offline", 20_000), label(a))
    a.locator(".jp-FileEditor .cm-content").first.click()
    a.keyboard.press("Control+End")
    a.keyboard.type(" typed during the outage", delay=40)
    check("A: counts the changes made meanwhile", wait_text(a, INDICATOR, "unsynced", 10_000),
          label(a))  # fmt: skip
    a.screenshot(path=str(out / "offline-A.png"))

    # and comes back: no reload
    context_a.set_offline(False)
    back = wait_until(lambda: label(a) == "Connected", timeout=30)
    check("A: indicator says Connected again, no unsynced changes, without a reload", back,
          label(a))  # fmt: skip
    a.screenshot(path=str(out / "back-online-A.png"))
    mine = text(a)
    # (JupyterLab's own "Server Connection Error" dialog may take a few keystrokes while
    # the browser is offline: what counts is that A's text, whatever it is, is shared.)
    check("A: typed during the outage", mine.startswith("hello from disk t"), repr(mine))
    check("B: has exactly A's text", wait_until(lambda: text(b) == mine, 30), repr(text(b)))
    check(
        "disk: A's text saved",
        wait_until(lambda: (root / "notes.txt").read_text() == mine, 30),
        repr((root / "notes.txt").read_text()),
    )
    # edits after the outage sync, and the indicator stays on Connected
    a.keyboard.type(" and after", delay=40)
    check("B: sees A's edit after the outage",
          wait_until(lambda: text(b) == text(a) and "and after" in text(b), 20))  # fmt: skip
    check("A: still Connected", label(a) == "Connected", label(a))
    context_a.close()
    context_b.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="collab-connection-e2e-"))
    root = tmp / "root"
    root.mkdir()
    (root / "notes.txt").write_text("hello from disk")
    token = secrets.token_hex(16)
    port = args.port or free_port()
    server = start_lab(tmp, root, port, token, [f"--IdentityProvider.token={token}"])
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            # log in once per context through the token URL (the cookie is per context)
            original_new_context = browser.new_context

            def new_context(**kwargs):
                context = original_new_context(**kwargs)
                page = context.new_page()
                page.goto(f"{base}/lab?token={token}")
                page.close()
                return context

            browser.new_context = new_context  # type: ignore[method-assign]
            started = time.time()
            section("connection", scenario, browser, base, root, args.out)
            print(f"scenario took {time.time() - started:.0f} s", flush=True)
            browser.close()
    finally:
        code = finish(server, tmp, args.out, CONSOLE, args.keep)
    return code


if __name__ == "__main__":
    sys.exit(main())
