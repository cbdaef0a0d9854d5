"""End-to-end check of sharing in Chromium: the Share dialog, live role changes and the
per-user notification stream.

Two named users (alice and bob, by a test-only identity provider defined below) open the
same notebook. Alice opens the Share dialog, finds bob, makes him a viewer: bob's notebook
becomes read-only at once and bob gets a "shared" notification. Alice makes him an editor
again: bob types and alice sees it. Also: a non-owner's dialog is read-only, a refused change
shows its error, the file browser's context menu shares a folder, all by keyboard where it
matters. Screenshots go to --out.

    python labextension/ui-tests/sharing_e2e.py [--keep] [--out DIR]

It starts its own `jupyter lab` (this checkout's jupyter_collab) on a free loopback port in
a temporary root directory. Exit code 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from e2e_support import (
    CHROMIUM, FLAGS, check, finish, free_port, lab_folders, page_errors, section, start_lab,
    users_in_chromium, wait_text, wait_until,
)  # fmt: skip
import frontend_checks as fc

try:  # the server imports this module for the identity provider only
    from jupyter_server.auth.identity import IdentityProvider, User
except ImportError:  # pragma: no cover
    IdentityProvider = object  # type: ignore[assignment,misc]

__all__ = ["CHROMIUM", "FLAGS"]  # (re-exported for scripts that import them from here)
TOKEN = "e2e-secret"
USER_COOKIE = "collab_e2e_user"
NAMES = {"alice": "Alice Archer", "bob": "Bob Baker", "carol": "Carol Cole", "mallory": "Mallory Mint"}
# What an identity provider could hand over for mallory: CSS and a URL where a colour and an
# avatar go. Nothing of it may reach a style or an image of anyone's page.
INJECTION_MARKER = "mallory-was-here"
MALLORY_COLOR = f"red;background-image:url(/{INJECTION_MARKER}.png)"
MALLORY_AVATAR = f"javascript:fetch('/{INJECTION_MARKER}')"

TOASTS = ".jp-Notification-Toast, .Toastify__toast"


class CookieIdentityProvider(IdentityProvider):  # type: ignore[misc,valid-type]
    """Test only: the cookie `collab_e2e_user=<name>` signs in as that user (loopback server)."""

    def get_user(self, handler):  # type: ignore[override]
        name = handler.get_cookie(USER_COOKIE)
        if name == "mallory":
            return User(
                username=name, name=NAMES[name], display_name=NAMES[name],
                color=MALLORY_COLOR, avatar_url=MALLORY_AVATAR,
            )  # fmt: skip
        if name in NAMES:
            return User(username=name, name=NAMES[name], display_name=NAMES[name])
        return super().get_user(handler)


def make_root(root: Path) -> None:
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "s1",
                "metadata": {},
                "outputs": [],
                "source": ["total = 41 + 1"],
            },
            {"cell_type": "markdown", "id": "s2", "metadata": {}, "source": ["# Shared analysis"]},
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "analysis.ipynb").write_text(json.dumps(notebook))
    (root / "project").mkdir()
    (root / "project" / "notes.txt").write_text("project notes\n")


def start_server(tmp: Path, root: Path, port: int) -> subprocess.Popen:
    return start_lab(
        tmp, root, port, TOKEN,
        [
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.identity_provider_class=sharing_e2e.CookieIdentityProvider",
            # alice plays the server's own user (as $JUPYTERHUB_USER would); bob, carol and
            # mallory get the default role (editor)
            "--CollabApp.owners=alice",
            "--CollabApp.default_role=editor",
        ],
    )  # fmt: skip


def open_lab(page, base: str, workspace: str, path: str) -> None:
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{path}?token={TOKEN}")
    page.wait_for_selector("#jp-main-statusbar", timeout=60000)


NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
DIALOG = ".jp-Dialog .jp-collab-ShareDialog"


def sources(page) -> list[str]:
    return page.evaluate(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.content && w.content.model"
        " ? w.content.model.sharedModel.cells.map(c => c.getSource()) : []; }"
    )


def is_read_only(page) -> bool:
    return page.evaluate(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return !!(w && w.context && w.context.model.readOnly); }"
    )


def has_session(page) -> bool:
    """Whether the current notebook is attached to a kernel session."""
    return page.evaluate(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return !!(w && w.sessionContext && w.sessionContext.session); }"
    )


KERNEL_ITEMS = ("run", "interrupt", "restart", "restart-and-run", "kernelName")
KERNEL_COMMANDS = ("notebook:run-cell", "notebook:restart-kernel", "notebook:interrupt-kernel", "notebook:change-kernel", "notebook:create-console", "kernelmenu:restart", "runmenu:run-all")  # fmt: skip


def kernel_controls(page) -> dict:
    """The kernel controls the current notebook offers: its visible toolbar items among
    run/interrupt/restart/kernel name, and which kernel commands are enabled."""
    return page.evaluate(
        """([items, ids]) => {
          const panel = document.querySelector(
            '#jp-main-dock-panel .jp-NotebookPanel:not(.lm-mod-hidden)');
          const visible = panel ? Array.from(panel.querySelectorAll(
              '.jp-NotebookPanel-toolbar .jp-Toolbar-item'))
            .filter(e => e.offsetParent !== null && items.includes(e.dataset.jpItemName))
            .map(e => e.dataset.jpItemName) : [];
          return {visible, enabled: ids.filter(id => window.jupyterapp.commands.isEnabled(id))};
        }""",
        [list(KERNEL_ITEMS), list(KERNEL_COMMANDS)],
    )


def type_in_first_cell(page, text: str) -> None:
    page.locator(f"{NOTEBOOK} .jp-Cell .cm-content").first.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def open_share_dialog(page) -> None:
    page.locator(f"{NOTEBOOK} .jp-collab-ShareButton").first.click()
    page.locator(DIALOG).wait_for(timeout=10000)
    # loaded: the sentence about one's own access is there
    page.wait_for_function(
        "() => { const p = document.querySelector('.jp-collab-ShareDialog-own');"
        " return p && p.textContent && !p.textContent.includes('Loading'); }",
        timeout=15000,
    )


def close_dialog(page) -> None:
    page.keyboard.press("Escape")
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=5000)


def row_role(page, user: str) -> str | None:
    row = page.locator(f"{DIALOG} .jp-collab-ShareDialog-row[data-user='{user}']")
    return row.first.get_attribute("data-role") if row.count() else None


def add_person_by_keyboard(page, query: str, user: str, role: str) -> None:
    """Search, pick the role, then ↓ and Enter on the person: all with the keyboard."""
    page.locator(f"{DIALOG} .jp-collab-ShareDialog-newRole").select_option(role)
    search = page.locator(f"{DIALOG} .jp-collab-ShareDialog-search")
    search.focus()
    search.fill("")
    page.keyboard.type(query)
    page.locator(f"{DIALOG} .jp-collab-ShareDialog-result[data-user='{user}']").wait_for(timeout=10000)
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("() => document.activeElement && document.activeElement.dataset.user")
    check(f"dialog: ↓ from the search box goes to the first person found ({user})", focused == user, str(focused))
    page.keyboard.press("Enter")


def notification_center_text(page) -> str:
    """Open JupyterLab's notification center (status bar bell) and return its text."""
    if not page.locator(".jp-Notification-Center").count():
        page.locator(".jp-Notification-Status").first.click()
    page.locator(".jp-Notification-Center").first.wait_for(timeout=5000)
    return page.locator(".jp-Notification-Center").first.inner_text()


def told(page, text: str, timeout: float = 30) -> bool:
    """Whether a notification with ``text`` reaches the page: as a toast, or (its toast gone
    already) in the notification center, which keeps every notification."""
    def seen() -> bool:
        if text in " ".join(page.locator(TOASTS).all_inner_texts()):
            return True
        found = text in notification_center_text(page)
        close_notification_center(page)
        return found

    return wait_until(seen, timeout)


def close_notification_center(page) -> None:
    if page.locator(".jp-Notification-Center").count():
        # (a toast may lie over the bell: the click goes to the bell itself)
        page.locator(".jp-Notification-Status").first.dispatch_event("click")
        wait_until(lambda: page.locator(".jp-Notification-Center").count() == 0, 5)


def check_sharing(a, b, base: str, root: Path, out: Path) -> None:
    open_lab(a, base, "alice", "analysis.ipynb")
    open_lab(b, base, "bob", "analysis.ipynb")
    for name, page in (("alice", a), ("bob", b)):
        check(
            f"{name}: the notebook opens",
            wait_text(page, f"{NOTEBOOK} .jp-Cell .cm-content", "total = 41 + 1", 30000),
        )
    type_in_first_cell(b, "  # bob can edit")
    check("alice: sees bob's typing (bob starts as an editor)", wait_text(a, f"{NOTEBOOK} .cm-content", "bob can edit"))
    check("bob: a Share button in the notebook toolbar", b.locator(f"{NOTEBOOK} .jp-collab-ShareButton").count() == 1)

    # --- alice makes bob a viewer ---------------------------------------------
    open_share_dialog(a)
    own = a.locator(f"{DIALOG} .jp-collab-ShareDialog-own").inner_text()
    check("alice: the dialog says she is an owner", "owner" in own, own)
    title = a.locator(".jp-Dialog .jp-Dialog-header").inner_text()
    check("alice: the dialog names the notebook", "analysis.ipynb" in title, title)
    add_person_by_keyboard(a, "Bob", "bob", "viewer")
    check(
        "alice: bob is listed as viewer",
        wait_until(lambda: row_role(a, "bob") == "viewer", 15),
        str(row_role(a, "bob")),
    )
    status = a.locator(f"{DIALOG} .jp-collab-ShareDialog-status").inner_text()
    check("alice: the dialog confirms the change in plain words", "Bob Baker can now view this" in status, status)
    check("alice: she is listed as the owner", row_role(a, "alice") == "owner", str(row_role(a, "alice")))
    texts = a.locator(DIALOG).inner_text()
    check("alice: the dialog speaks of what people can do, not of roles", "Can view" in texts and "role" not in texts.lower(), texts[:400])
    a.screenshot(path=str(out / "dialog-alice.png"))

    check("bob: becomes read-only live (banner)", wait_text(b, f"{NOTEBOOK} .jp-collab-ReadOnlyBanner", "Read-only", 20000))
    check("bob: the document model is read-only", wait_until(lambda: is_read_only(b), 10))
    before = sources(b)
    type_in_first_cell(b, "VIEWER TYPED")
    b.wait_for_timeout(500)
    check("bob (viewer): typing changes nothing", sources(b) == before and "VIEWER TYPED" not in "".join(sources(b)), repr(sources(b)))
    # bob was an editor (the server's default): this is a demotion, never "shared with you"
    check(
        "bob: a notification says alice changed his access to the notebook to Can view",
        wait_text(b, TOASTS, "your access to “analysis.ipynb” to Can view", 30000),
        " | ".join(b.locator(TOASTS).all_inner_texts()),
    )
    toast = b.locator(TOASTS).filter(has_text="to Can view").first
    check("bob: the notification names alice", "Alice Archer" in toast.inner_text(), toast.inner_text())
    check("bob: a demotion is not announced as a share", "shared" not in toast.inner_text(), toast.inner_text())
    check("bob: the notification has an Open action", toast.get_by_text("Open").count() > 0)
    b.screenshot(path=str(out / "notification-bob.png"))
    check(
        "bob (viewer): his notebook let go of its kernel (not shut down: it is alice's)",
        wait_until(lambda: not has_session(b), 15) and wait_until(lambda: has_session(a), 5),
    )
    controls = kernel_controls(b)
    check(
        "bob (viewer, demoted live): no run, interrupt, restart or kernel buttons, the kernel commands disabled",
        controls["visible"] == [] and controls["enabled"] == [],
        json.dumps(controls),
    )
    controls_a = kernel_controls(a)
    check(
        "alice (owner): keeps her kernel buttons and commands",
        set(controls_a["visible"]) >= {"run", "restart", "kernelName"} and "notebook:run-cell" in controls_a["enabled"],
        json.dumps(controls_a),
    )
    center = notification_center_text(b)
    check("bob: the notification is in the notification center", "to Can view" in center, center[:300])
    b.screenshot(path=str(out / "notification-center-bob.png"))
    close_notification_center(b)

    # --- bob's dialog is read-only ----------------------------------------------
    open_share_dialog(b)
    own_b = b.locator(f"{DIALOG} .jp-collab-ShareDialog-own").inner_text()
    check("bob: his dialog says only owners can choose who has access", "Only its owners" in own_b, own_b)
    check(
        "bob: no search box, no role menus, no Remove buttons",
        not b.locator(f"{DIALOG} .jp-collab-ShareDialog-search").is_visible()
        and b.locator(f"{DIALOG} select:visible").count() == 0
        and b.locator(f"{DIALOG} .jp-collab-ShareDialog-remove").count() == 0,
    )
    role_text = b.locator(f"{DIALOG} .jp-collab-ShareDialog-row[data-user='bob'] .jp-collab-ShareDialog-roleText")
    check("bob: sees himself as Can view", role_text.count() == 1 and role_text.inner_text() == "Can view")
    listing = api(b, "GET", "/api/collab/shares/analysis.ipynb")
    if "owners" in (listing.get("body") or {}):
        check(
            "bob: his dialog lists alice, who owns the server, as the owner",
            row_role(b, "alice") == "owner",
            str(row_role(b, "alice")),
        )
    else:
        print("NOTE this server does not say who owns it: bob's dialog cannot list alice", flush=True)
    b.screenshot(path=str(out / "dialog-bob-readonly.png"))
    close_dialog(b)

    # --- alice edits while bob views: the room changes (content, and the dirty flag that
    # her page sets and the server's save clears) while bob's page may not write ----------
    close_dialog(a)
    type_in_first_cell(a, "  # alice while bob views")
    check(
        "bob (viewer): sees alice's edit live",
        wait_text(b, f"{NOTEBOOK} .cm-content", "alice while bob views", 20000),
    )
    check(
        "disk: alice's edit is saved while bob views",
        wait_until(lambda: "alice while bob views" in (root / "analysis.ipynb").read_text(), 30),
    )

    # --- alice makes bob an editor again (the row's role menu) ----------------------------
    open_share_dialog(a)
    select = a.locator(f"{DIALOG} .jp-collab-ShareDialog-row[data-user='bob'] select")
    select.focus()
    select.select_option("editor")
    check("alice: bob is listed as editor", wait_until(lambda: row_role(a, "bob") == "editor", 15), str(row_role(a, "bob")))
    check("alice: no error shown after a change that worked", not a.locator(f"{DIALOG} .jp-collab-ShareDialog-error").is_visible())
    close_dialog(a)
    check(
        "bob: the read-only banner goes away",
        wait_until(lambda: b.locator(f"{NOTEBOOK} .jp-collab-ReadOnlyBanner").count() == 0, 20),
    )
    check("bob: the model is writable again", wait_until(lambda: not is_read_only(b), 10))
    type_in_first_cell(b, "  # bob edits again")
    check("alice: sees bob's typing after he is an editor again", wait_text(a, f"{NOTEBOOK} .cm-content", "bob edits again", 20000))
    # (on main the promotion undid the room's changes too, and stopped bob's copy when both
    # pages had touched the dirty flag)
    check(
        "bob and alice: alice's edit made while bob viewed is kept after his promotion",
        all("alice while bob views" in "".join(sources(page)) for page in (a, b)),
        repr(sources(b)),
    )
    check(
        "disk: alice's edit made while bob viewed and bob's new edit are both saved",
        wait_until(
            lambda: all(t in (root / "analysis.ipynb").read_text() for t in ("alice while bob views", "bob edits again")),
            30,
        ),
    )
    check(
        "bob: a notification says he can edit again",
        told(b, "your access to “analysis.ipynb” to Can edit"),
    )
    check("bob (editor again): his notebook has its kernel again", wait_until(lambda: has_session(b), 30))
    check(
        "bob (editor again): the kernel buttons are back and the kernel commands enabled",
        wait_until(
            lambda: set(kernel_controls(b)["visible"]) >= {"run", "restart", "kernelName"}
            and set(kernel_controls(b)["enabled"]) >= {"notebook:run-cell", "notebook:restart-kernel"},
            15,
        ),
        json.dumps(kernel_controls(b)),
    )
    b.screenshot(path=str(out / "editor-again-bob.png"))
    check("disk: nothing bob typed as a viewer", wait_until(lambda: "VIEWER TYPED" not in "".join(sources(a)), 2))

    # --- alice owns the server: a share cannot make her less ---------------------------
    open_share_dialog(a)
    add_person_by_keyboard(a, "alice", "alice", "viewer")
    error = a.locator(f"{DIALOG} .jp-collab-ShareDialog-error")
    refused = wait_until(lambda: error.is_visible(), 10)
    a.screenshot(path=str(out / "dialog-error-alice.png"))
    # (a server that refuses says why; an older one takes the share, which cannot apply to her)
    check(
        "alice: making herself a viewer leaves her the owner" + (", the refusal shown" if refused else ""),
        not is_read_only(a) and (refused or api(a, "GET", "/api/collab/shares/analysis.ipynb")["body"]["canManage"]),
        error.inner_text() if error.count() else "no refusal",
    )
    if not refused and row_role(a, "alice") == "viewer":
        a.locator(f"{DIALOG} .jp-collab-ShareDialog-row[data-user='alice'] .jp-collab-ShareDialog-remove").click()
        wait_until(lambda: row_role(a, "alice") != "viewer", 10)

    close_dialog(a)


API = """async ([method, url, body]) => {
  const m = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/);
  const r = await fetch(url, {method, credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-XSRFToken': m ? decodeURIComponent(m[1]) : ''},
    body: body === null ? undefined : JSON.stringify(body)});
  return {status: r.status, body: await r.json().catch(() => null)};
}"""


def api(page, method: str, url: str, body=None) -> dict:
    """A REST call made by the page's user (cookie identity, XSRF header)."""
    return page.evaluate(API, [method, url, body])


RESTORED = "restored “analysis.ipynb” to “before the restore test”."


def check_restore_once(a, b, out: Path) -> None:
    """A restore of a document bob has open: one notification (the room's), not a second from the stream."""
    session = api(a, "PUT", "/api/collab/session/analysis.ipynb", {"format": "json", "type": "notebook"})
    room = (session.get("body") or {}).get("room")
    check("alice: the session names the room", bool(room), json.dumps(session)[:200])
    named = api(a, "POST", f"/api/collab/documents/{room}/versions", {"name": "before the restore test"})
    version = ((named.get("body") or {}).get("version") or {}).get("id")
    check("alice: named a version", named.get("status") == 201 and isinstance(version, int), json.dumps(named)[:200])
    type_in_first_cell(b, "  # after the named version")
    check("alice: sees bob's edit after the version", wait_text(a, f"{NOTEBOOK} .cm-content", "after the named version"))
    restored = api(a, "POST", f"/api/collab/documents/{room}/restore", {"version": version})
    check("alice: restored the version", restored.get("status") == 200, json.dumps(restored)[:200])
    check(
        "bob: told about the restore (room notice)",
        wait_text(b, TOASTS, f"Alice Archer {RESTORED}", 20000),
    )

    def stream_restore():
        reply = api(b, "GET", "/api/collab/notifications?after=0")
        found = [n for n in (reply.get("body") or {}).get("notifications", []) if n.get("type") == "restored"]
        return found[-1] if found else None

    check("server: bob has a 'restored' notification in his stream", wait_until(lambda: stream_restore() is not None, 20))
    # poll now (window focus) and wait until bob's page has handled it: marked read
    b.evaluate("() => window.dispatchEvent(new Event('focus'))")
    check(
        "bob: his page marks the stream's restore read",
        wait_until(lambda: (stream_restore() or {}).get("read") is True, 30),
        json.dumps(stream_restore())[:300],
    )
    center = notification_center_text(b)
    # The room's notice and the stream's notification say the same (versions are named by
    # name or time, never by number): the center must hold it once.
    copies = center.count(RESTORED)
    check(
        "bob: the restore shows once in the notification center (no copy from the stream)",
        copies == 1,
        f"{copies} copies of “{RESTORED}”",
    )
    b.screenshot(path=str(out / "restore-once-bob.png"))
    close_notification_center(b)


def check_no_access(a, b, out: Path) -> None:
    """Alice takes bob's access away: his document closes with "not allowed", and he is told."""
    open_share_dialog(a)
    add_person_by_keyboard(a, "Bob", "bob", "none")
    check("alice: bob is listed with no access", wait_until(lambda: row_role(a, "bob") == "none", 15), str(row_role(a, "bob")))
    close_dialog(a)
    check("bob: told he may not open the notebook any more", wait_text(b, TOASTS, "not allowed to open", 20000))
    check(
        "bob: the copy left open is read-only (nothing saved over the shared file)",
        wait_until(lambda: is_read_only(b), 10),
    )
    check("bob: told alice removed his access", told(b, "removed your access"))
    b.screenshot(path=str(out / "no-access-bob.png"))
    # and back, so that the page is left as it was found
    open_share_dialog(a)
    a.locator(f"{DIALOG} .jp-collab-ShareDialog-row[data-user='bob'] .jp-collab-ShareDialog-remove").click()
    check("alice: Remove takes bob off the list", wait_until(lambda: row_role(a, "bob") is None, 15))
    focused = a.evaluate("() => document.activeElement && document.activeElement.className")
    check("alice: after Remove the keyboard focus stays in the dialog", "jp-collab-ShareDialog" in str(focused), str(focused))
    close_dialog(a)


def check_text_editor(a) -> None:
    """The text editor's toolbar has the Share button too."""
    open_in = a.evaluate("() => window.jupyterapp.commands.execute('docmanager:open', {path: 'project/notes.txt'}).then(() => true)")
    a.locator(".jp-FileEditor .cm-content").filter(has_text="project notes").first.wait_for(timeout=30000)
    button = a.locator(".jp-Document:not(.lm-mod-hidden) .jp-collab-ShareButton").first
    check("alice: a Share button in the text editor's toolbar", open_in and button.is_visible())
    button.click()
    a.locator(DIALOG).wait_for(timeout=10000)
    title = a.locator(".jp-Dialog .jp-Dialog-header").inner_text()
    check("alice: it opens the dialog of the text file", "notes.txt" in title, title)
    close_dialog(a)


def check_folder_menu(a, out: Path) -> None:
    """The file browser's context menu shares a folder."""
    if not a.locator("#filebrowser").is_visible():
        a.locator(".jp-SideBar .lm-TabBar-tab[data-id='filebrowser']").first.click()
    item = a.locator(".jp-DirListing-item[data-isdir='true']").filter(has_text="project").first
    item.wait_for(timeout=10000)
    item.click(button="right")
    entry = a.locator(".lm-Menu-item").filter(has_text="Share…").first
    entry.wait_for(timeout=5000)
    entry.click()
    a.locator(DIALOG).wait_for(timeout=10000)
    title = a.locator(".jp-Dialog .jp-Dialog-header").inner_text()
    check("alice: the context menu opens the dialog of the folder", "project" in title and "folder" in title, title)
    a.wait_for_timeout(500)
    a.screenshot(path=str(out / "dialog-folder-alice.png"))
    close_dialog(a)


def check_inherited(a, b, out: Path) -> None:
    """A folder's share shows as inherited in its files' dialogs, and a file can override it."""
    # the folder: bob viewer (from the file browser's context menu)
    item = a.locator(".jp-DirListing-item[data-isdir='true']").filter(has_text="project").first
    item.click(button="right")
    a.locator(".lm-Menu-item").filter(has_text="Share…").first.click()
    a.locator(DIALOG).wait_for(timeout=10000)
    a.wait_for_function(
        "() => { const p = document.querySelector('.jp-collab-ShareDialog-own');"
        " return p && p.textContent && !p.textContent.includes('Loading'); }",
        timeout=15000,
    )
    add_person_by_keyboard(a, "Bob", "bob", "viewer")
    check("alice: bob is a viewer of the folder", wait_until(lambda: row_role(a, "bob") == "viewer", 15))
    close_dialog(a)
    # a file in it
    # (the command resolves to the widget, which is not to be serialized back to Python)
    a.evaluate("() => window.jupyterapp.commands.execute('docmanager:open', {path: 'project/notes.txt'}).then(() => true)")
    a.locator(".jp-FileEditor .cm-content").filter(has_text="project notes").first.wait_for(timeout=30000)
    a.locator(".jp-Document:not(.lm-mod-hidden) .jp-collab-ShareButton").first.click()
    a.locator(DIALOG).wait_for(timeout=10000)
    row = a.locator(f"{DIALOG} .jp-collab-ShareDialog-row[data-user='bob']")
    row.first.wait_for(timeout=15000)
    text = row.first.inner_text()
    check(
        "alice: in the file's dialog bob's role is marked inherited from the folder",
        "from the folder “project”" in text
        and "jp-mod-inherited" in (row.first.get_attribute("class") or "")
        and row_role(a, "bob") == "viewer",
        text,
    )
    check("alice: an inherited share has no Remove button", row.locator(".jp-collab-ShareDialog-remove").count() == 0)
    a.screenshot(path=str(out / "dialog-inherited-alice.png"))
    row.locator("select").select_option("editor")
    check(
        "alice: choosing a role for bob on the file overrides the folder's",
        wait_until(
            lambda: row_role(a, "bob") == "editor"
            and "jp-mod-inherited" not in (a.locator(f"{DIALOG} .jp-collab-ShareDialog-row[data-user='bob']").first.get_attribute("class") or ""),
            15,
        ),
    )
    close_dialog(a)
    check("bob: told about the folder share", told(b, "your access to “project” to Can view"))
    notification_center_text(b)
    b.screenshot(path=str(out / "notification-folder-bob.png"))
    close_notification_center(b)


def check_injection(browser, base: str, a, requests: list[str], out: Path) -> None:
    """mallory's identity carries CSS and a javascript: avatar: alice sees mallory (panel,
    avatars, cursor, Share dialog search) with none of it in a style or an image."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.add_cookies([{"name": USER_COOKIE, "value": "mallory", "url": base}])
    m = ctx.new_page()
    m_requests: list[str] = []
    m.on("request", lambda r: m_requests.append(r.url))
    try:
        open_lab(m, base, "mallory", "analysis.ipynb")
        m.locator(f"{NOTEBOOK} .jp-Cell .cm-content").first.wait_for(timeout=30000)
        m.locator(f"{NOTEBOOK} .jp-Cell .cm-content").first.click()
        m.keyboard.press("End")
        a.locator(".lm-TabBar-tab").filter(has_text="analysis.ipynb").first.click()
        fc.show_collaborators(a)
        check(
            "alice: mallory is in the collaborators panel",
            wait_text(a, fc.PANEL, "Mallory Mint", 20000),
        )
        check(
            "alice: mallory's cursor is drawn",
            wait_until(lambda: a.locator(f"{NOTEBOOK} .jp-collab-RemoteCaret").count() > 0, 15),
        )
        open_share_dialog(a)
        search = a.locator(f"{DIALOG} .jp-collab-ShareDialog-search")
        search.fill("Mallory")
        check(
            "alice: mallory is found in the Share dialog",
            wait_until(lambda: a.locator(f"{DIALOG} .jp-collab-ShareDialog-result[data-user='mallory']").count() == 1, 15),
        )
        fc.check_no_injection(a, "alice", INJECTION_MARKER, requests, out)
        close_dialog(a)
        # mallory's own page shows her own identity: checked there too
        fc.show_collaborators(m)
        m.locator(f"{fc.PANEL} .jp-collab-Collaborator.jp-mod-self").wait_for(timeout=15000)
        fc.check_no_injection(m, "mallory", INJECTION_MARKER, m_requests, out)
    finally:
        ctx.close()


def check_palette(a) -> None:
    """The command palette has the Share command."""
    a.locator(f"{NOTEBOOK} .jp-Cell .jp-InputPrompt").first.click()
    a.keyboard.press("Control+Shift+c")
    a.locator(".lm-CommandPalette input").first.wait_for(timeout=5000)
    a.keyboard.type("Share Document")
    item = a.locator(".lm-CommandPalette-item").filter(has_text="Share Document").first
    item.wait_for(timeout=5000)
    a.keyboard.press("Enter")
    ok = True
    try:
        a.locator(DIALOG).wait_for(timeout=10000)
    except Exception:
        ok = False
    check("alice: the palette's Share Document… opens the dialog", ok)
    if ok:
        close_dialog(a)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="sharing-e2e-output", help="screenshots and logs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary root")
    parser.add_argument("--dark", action="store_true", help="use the JupyterLab Dark theme")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    tmp, root = lab_folders("collab-sharing-e2e-", make_root, args.dark)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp, root, port)
    console: dict[str, list[str]] = {"alice": [], "bob": []}
    try:
        with users_in_chromium(base, ("alice", "bob"), console, USER_COOKIE) as (browser, (a, b)):
            alice_requests: list[str] = []
            a.on("request", lambda r: alice_requests.append(r.url))
            section("sharing", check_sharing, a, b, base, root, out)
            section("restore shown once", check_restore_once, a, b, out)
            section("no access", check_no_access, a, b, out)
            section("palette", check_palette, a)
            section("text editor", check_text_editor, a)
            section("folder menu", check_folder_menu, a, out)
            section("inherited shares", check_inherited, a, b, out)
            section("identities that inject CSS", check_injection, browser, base, a, alice_requests, out)
            errors = page_errors(console)
            check("no uncaught page errors", not errors, "; ".join(errors)[:500])
    finally:
        code = finish(server, tmp, out, console, args.keep)
    return code


if __name__ == "__main__":
    sys.exit(main())
