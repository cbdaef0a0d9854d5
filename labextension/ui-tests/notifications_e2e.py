"""End-to-end check of pushed notifications in Chromium: the bell and the e-mail preferences.

bob's JupyterLab is open in two windows (two browser contexts signed in as bob); alice (her
own page) shares a file with bob through the REST API. Both of bob's windows show the
notification at once, without asking the server for notifications (no
`GET /api/collab/notifications` while the push socket is up). Showing it does not read it: the
bells of both windows count it unread until bob opens it (the notification's "Open") or marks
it read ("Mark Read", or "Mark All Notifications Read" in the bell's menu), and what he does in
one window the other's bell follows at once (the server pushes the count). Then bob opens the
bell's menu, "E-mail Notifications…", ticks a kind, types an address the server refuses (its
reason is shown in the form), then a good one and saves: the server has his choice.
Screenshots go to --out.

    python labextension/ui-tests/notifications_e2e.py [--keep] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from e2e_support import (
    check, finish, free_port, lab_folders, page_errors, section, user_page, users_in_chromium,
    wait_until,
)  # fmt: skip
from sharing_e2e import (
    USER_COOKIE,
    api,
    close_notification_center,
    make_root,
    notification_center_text,
    open_lab,
    start_server,
    told,
)

BELL = ".jp-collab-NotificationBell"


def bell_title(page) -> str:
    return page.locator(BELL).first.get_attribute("title") or ""


def bell_says(page, text: str, timeout: float = 20) -> bool:
    return wait_until(lambda: text in bell_title(page), timeout)


def server_unread(page) -> int | None:
    return (api(page, "GET", "/api/collab/notifications?after=0").get("body") or {}).get("unread")


CLICK_ACTION = """([text, label]) => {
  const items = Array.from(document.querySelectorAll(
    '.jp-Notification-Toast, .Toastify__toast, .jp-Notification-List-Item'));
  const item = items.find(e => e.textContent.includes(text));
  const button = item && Array.from(item.querySelectorAll('button'))
    .find(b => b.textContent.trim() === label);
  if (!button) { return false; }
  button.click();
  return true;
}"""


def act_on_notification(page, text: str, label: str) -> tuple[bool, str]:
    """Click the action ``label`` of the notification that says ``text``: on its toast if it is
    still up, else in JupyterLab's notification center (which keeps it). (clicked, what the
    notification center shows)."""
    if page.evaluate(CLICK_ACTION, [text, label]):
        return True, ""
    if not page.locator(".jp-Notification-Center").count():
        page.locator(".jp-Notification-Status").first.click()
    page.locator(".jp-Notification-Center").first.wait_for(timeout=5000)
    clicked = wait_until(lambda: page.evaluate(CLICK_ACTION, [text, label]), 10)
    shown = page.locator(".jp-Notification-Center").first.inner_text() if not clicked else ""
    close_notification_center(page)
    return clicked, shown


def check_push(a, b, b2, requests: list[str], out: Path) -> None:
    for page, who in ((b, "bob"), (b2, "bob (second window)")):
        page.locator(BELL).first.wait_for(timeout=30000)
        # the socket is up: the bell's title says so (no "live connection is down")
        check(
            f"{who}: the bell is connected",
            wait_until(lambda p=page: "down" not in bell_title(p), 30),
            bell_title(page),
        )
    before = len(requests)
    reply = api(a, "PUT", "/api/collab/shares/project/notes.txt", {"user": "bob", "role": "viewer"})
    check("alice shares notes.txt with bob", reply.get("status") == 200, str(reply)[:200])
    # (bob was an editor by the server's default role: this is a change, to viewer)
    check("bob: the notification shows at once", told(b, "to Can view", 20))
    check("bob (second window): the notification shows there too", told(b2, "to Can view", 20))
    b.screenshot(path=str(out / "pushed-bob.png"))
    polls = [u for u in requests[before:] if "/api/collab/notifications?" in u]
    check("bob: no polling while the socket is up", not polls, ", ".join(polls)[:300])

    # another notification: shown, and the first still counts (showing is not reading)
    reply = api(a, "PUT", "/api/collab/shares/project/notes.txt", {"user": "bob", "role": "editor"})
    check("alice makes bob an editor", reply.get("status") == 200, str(reply)[:200])
    check("bob: the second notification shows", told(b, "to Can edit", 20))
    check("bob (second window): the second notification shows", told(b2, "to Can edit", 20))
    check(
        "bob: shown is not read: the bell counts both",
        bell_says(b, "2 unread notifications"),
        bell_title(b),
    )
    check(
        "bob (second window): its bell counts both",
        bell_says(b2, "2 unread notifications"),
        bell_title(b2),
    )
    check("server: both are unread", server_unread(b) == 2, str(server_unread(b)))
    b.screenshot(path=str(out / "unread-bob.png"))

    # bob opens the first one (its Open action): that one is read, in both windows
    check("bob: Open on the first one", *act_on_notification(b, "to Can view", "Open"))
    check(
        "bob: the notification's Open opens notes.txt",
        wait_until(lambda: b.locator(".lm-TabBar-tab").filter(has_text="notes.txt").count() > 0, 30),
    )
    check("bob: the bell counts one unread", bell_says(b, "1 unread notification"), bell_title(b))
    check(
        "bob (second window): the bell follows at once (pushed count)",
        bell_says(b2, "1 unread notification"),
        bell_title(b2),
    )
    check("server: one is unread", server_unread(b) == 1, str(server_unread(b)))

    # in the second window, the bell's menu: Mark All Notifications Read
    b2.locator(BELL).first.click()
    menu = b2.locator(".jp-collab-NotificationMenu")
    menu.wait_for(timeout=5000)
    menu.get_by_text("Mark All Notifications Read").click()
    check("bob (second window): mark all read", bell_says(b2, "No unread"), bell_title(b2))
    check("bob: the first window's bell follows", bell_says(b, "No unread"), bell_title(b))
    check("server: none is unread", server_unread(b) == 0, str(server_unread(b)))

    check(
        "bob: nothing of ours is left in the notification center",
        "notes.txt" not in notification_center_text(b),
    )
    close_notification_center(b)

    # a third one, marked read with its own "Mark Read"
    reply = api(a, "PUT", "/api/collab/shares/project/notes.txt", {"user": "bob", "role": "commenter"})
    check("alice makes bob a commenter", reply.get("status") == 200, str(reply)[:200])
    check("bob: the third notification shows", told(b, "to Can comment", 20))
    check("bob: the bell counts it", bell_says(b, "1 unread notification"), bell_title(b))
    check("bob: Mark Read on it", *act_on_notification(b, "to Can comment", "Mark Read"))
    check("bob: read: the bell shows none", bell_says(b, "No unread"), bell_title(b))
    check("bob (second window): the bell follows", bell_says(b2, "No unread"), bell_title(b2))


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
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="notifications-e2e-output", help="screenshots, logs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary root")
    parser.add_argument("--dark", action="store_true", help="use the JupyterLab Dark theme")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tmp, root = lab_folders("collab-notifications-e2e-", make_root, args.dark)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp, root, port)
    console: dict[str, list[str]] = {"alice": [], "bob": []}
    try:
        with users_in_chromium(base, ("alice", "bob"), console, USER_COOKIE) as (browser, (a, b)):
            # bob's second window: another context signed in as bob
            b2 = user_page(browser, base, "bob-2", console, (USER_COOKIE, "bob"))
            bob_requests: list[str] = []
            b.on("request", lambda r: bob_requests.append(r.url))
            open_lab(a, base, "alice", "analysis.ipynb")
            open_lab(b, base, "bob", "analysis.ipynb")
            open_lab(b2, base, "bob-2", "analysis.ipynb")
            section("push", check_push, a, b, b2, bob_requests, out)
            section("preferences", check_preferences, b, out)
            errors = page_errors(console)
            check("no uncaught page errors", not errors, "; ".join(errors)[:500])
    finally:
        code = finish(server, tmp, out, console, args.keep)
    return code


if __name__ == "__main__":
    sys.exit(main())
