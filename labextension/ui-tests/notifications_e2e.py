"""End-to-end check of pushed notifications in Chromium: the bell and the e-mail preferences.

bob's JupyterLab is open; alice (her own page) shares a file with bob through the REST API.
bob's page shows the notification at once, without asking the server for notifications (no
`GET /api/collab/notifications` while the push socket is up), and the bell in the status bar
shows the unread count. Then bob opens the bell's menu, "E-mail Notifications…", ticks a kind,
types an address the server refuses (its reason is shown in the form), then a good one and saves: the
server has his choice. Screenshots go to --out.

    python labextension/ui-tests/notifications_e2e.py [--keep] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from e2e_support import check, finish, free_port, section, wait_until
from sharing_e2e import (
    CHROMIUM,
    FLAGS,
    USER_COOKIE,
    api,
    make_root,
    open_lab,
    start_server,
    told,
)

BELL = ".jp-collab-NotificationBell"


def check_push(a, b, requests: list[str], out: Path) -> None:
    b.locator(BELL).first.wait_for(timeout=30000)
    # the socket is up: the bell's title says so (no "live connection is down")
    check(
        "bob: the bell is connected",
        wait_until(lambda: "down" not in (b.locator(BELL).first.get_attribute("title") or ""), 30),
        b.locator(BELL).first.get_attribute("title") or "",
    )
    before = len(requests)
    reply = api(a, "PUT", "/api/collab/shares/project/notes.txt", {"user": "bob", "role": "viewer"})
    check("alice shares notes.txt with bob", reply.get("status") == 200, str(reply)[:200])
    check(
        "bob: the notification shows at once",
        told(b, "notes.txt", 20),
    )
    b.screenshot(path=str(out / "pushed-bob.png"))
    polls = [u for u in requests[before:] if "/api/collab/notifications?" in u]
    check("bob: no polling while the socket is up", not polls, ", ".join(polls)[:300])
    # shown, so marked read: the bell follows the count the server pushes
    check(
        "bob: the bell's count follows (read once shown)",
        wait_until(lambda: "No unread" in (b.locator(BELL).first.get_attribute("title") or ""), 20),
        b.locator(BELL).first.get_attribute("title") or "",
    )
    # another notification that this page does not show: the count goes up at once
    reply = api(a, "PUT", "/api/collab/shares/project/notes.txt", {"user": "bob", "role": "editor"})
    check("alice makes bob an editor", reply.get("status") == 200, str(reply)[:200])
    check("bob: the second notification shows", told(b, "to Can edit", 20))


def check_preferences(b, out: Path) -> None:
    b.locator(BELL).first.click()
    menu = b.locator(".jp-collab-NotificationMenu")
    menu.wait_for(timeout=5000)
    b.screenshot(path=str(out / "bell-menu-bob.png"))
    menu.get_by_text("E-mail Notifications…").click()
    form = b.locator(".jp-Dialog .jp-collab-NotificationPreferences")
    form.wait_for(timeout=15000)
    boxes = form.locator("input[type=checkbox]")
    check("bob: a checkbox per kind", boxes.count() == 5, str(boxes.count()))
    check(
        "bob: the server sends no e-mail here, and the form says so",
        form.locator(".jp-collab-NotificationPreferences-off").count() == 1,
    )
    form.locator("input[value=reply]").check()
    # (the browser itself refuses "bob at example": the Save button stays disabled; this one
    # it accepts, and the server refuses: no domain)
    form.locator("input[type=email]").fill("bob@localhost")
    b.screenshot(path=str(out / "preferences-bob.png"))
    b.locator(".jp-Dialog .jp-mod-accept").click()
    error = b.locator(".jp-Dialog .jp-collab-NotificationPreferences-error")
    check(
        "bob: a bad address is refused with the server's reason, in the form",
        wait_until(lambda: error.count() > 0 and "address" in error.first.inner_text(), 15),
        error.first.inner_text() if error.count() else "",
    )
    check(
        "bob: what he chose is kept for the second try",
        b.locator(".jp-Dialog input[value=reply]").is_checked(),
    )
    b.locator(".jp-Dialog input[type=email]").fill("bob@example.org")
    b.locator(".jp-Dialog .jp-mod-accept").click()
    wait_until(lambda: b.locator(".jp-Dialog").count() == 0, 15)
    reply = api(b, "GET", "/api/collab/notifications/preferences")
    body = reply.get("body") or {}
    check(
        "server: bob's choice is saved",
        body.get("email") == "bob@example.org" and "reply" in body.get("emailKinds", []),
        str(body)[:300],
    )


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="notifications-e2e-output", help="screenshots, logs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary root")
    parser.add_argument("--dark", action="store_true", help="use the JupyterLab Dark theme")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="collab-notifications-e2e-"))
    root = tmp / "root"
    root.mkdir()
    make_root(root)
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    if args.dark:
        (settings / "themes.jupyterlab-settings").write_text('{"theme": "JupyterLab Dark"}')
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp, root, port)
    console: dict[str, list[str]] = {"alice": [], "bob": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            pages = {}
            for name in ("alice", "bob"):
                ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                ctx.add_cookies([{"name": USER_COOKIE, "value": name, "url": base}])
                page = ctx.new_page()
                page.on("pageerror", lambda err, n=name: console[n].append(f"pageerror: {err}"))
                pages[name] = page
            a, b = pages["alice"], pages["bob"]
            bob_requests: list[str] = []
            b.on("request", lambda r: bob_requests.append(r.url))
            open_lab(a, base, "alice", "analysis.ipynb")
            open_lab(b, base, "bob", "analysis.ipynb")
            section("push", check_push, a, b, bob_requests, out)
            section("preferences", check_preferences, b, out)
            errors = console["alice"] + console["bob"]
            check("no uncaught page errors", not errors, "; ".join(errors)[:500])
            browser.close()
    finally:
        code = finish(server, tmp, out, console, args.keep)
    return code


if __name__ == "__main__":
    sys.exit(main())
