"""End-to-end check of comments in Chromium (issue 11): two users, a real server.

Alice owns the notebook and shares it with bob as a commenter (the Share dialog's new role):
bob's notebook is read-only but he may comment. Alice comments on a cell with the keyboard
(Accel+Alt+M), mentioning bob through the `@` completion; bob is told at once (the notification
stream), sees the thread live in his panel and a badge on the cell, opens it from the badge and
replies; alice sees the reply, edits her comment and resolves the thread; bob sees it resolved.
Alice reopens it (open again for both and on the server, badge back) and resolves it again;
the command palette's Comment starts a thread on the current cell.
In a text file: a comment on a selection from the context menu is highlighted in the editor
with a gutter marker, follows edits around it, offers to share with a mentioned person who
cannot read the file, and shows as detached once its text is deleted. A viewer reads comments
without any write control. Screenshots (light and dark themes) go to --out.

    python labextension/ui-tests/comments_e2e.py [--keep] [--out DIR]

It starts its own `jupyter lab` (this checkout's jupyter_collab) on a free loopback port in
a temporary root directory. Exit code 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from e2e_support import (
    check, finish, free_port, lab_folders, page_errors, section, start_lab, users_in_chromium,
    wait_text, wait_until,
)  # fmt: skip
from sharing_e2e import (
    DIALOG,
    NOTEBOOK,
    TOASTS,
    TOKEN,
    USER_COOKIE,
    add_person_by_keyboard,
    api,
    close_dialog,
    is_read_only,
    open_lab,
    open_share_dialog,
    row_role,
    sources,
)

PANEL = ".jp-collab-CommentsPanel"
THREAD = f"{PANEL}-thread"
EDITOR = ".jp-FileEditor"


def make_root(root: Path) -> None:
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "total-cell",
                "metadata": {},
                "outputs": [],
                "source": ["total = 41 + 1"],
            },
            {"cell_type": "markdown", "id": "title-cell", "metadata": {}, "source": ["# Review me"]},
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "review.ipynb").write_text(json.dumps(notebook))
    (root / "notes.txt").write_text("Plan\nThis step is important for the release\nThe end\n")


def start_server(tmp: Path, root: Path, port: int) -> subprocess.Popen:
    return start_lab(
        tmp, root, port, TOKEN,
        [
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.identity_provider_class=sharing_e2e.CookieIdentityProvider",
            # alice owns everything; nobody else may open anything until she shares it
            "--CollabApp.owners=alice",
            "--CollabApp.default_role=viewer",
        ],
    )  # fmt: skip


def sign_in(base: str, user: str) -> None:
    """One request as ``user`` (cookie identity): the server records them in its directory."""
    req = urllib.request.Request(
        f"{base}/api/collab/comments?path=notes.txt", headers={"Cookie": f"{USER_COOKIE}={user}"}
    )
    try:
        urllib.request.urlopen(req, timeout=30).read()
    except Exception:
        pass  # (the answer does not matter: the request is what records them)


def run(page, command: str, args: dict | None = None) -> None:
    page.evaluate(
        "([c, a]) => window.jupyterapp.commands.execute(c, a).then(() => true)", [command, args or {}]
    )


def is_enabled(page, command: str) -> bool:
    return page.evaluate("c => window.jupyterapp.commands.isEnabled(c)", command)


def panel_threads(page) -> list[dict]:
    """The threads the comments panel shows: id, place, classes, comment bodies and authors."""
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).map(t => ({
            id: t.dataset.threadId,
            place: (t.querySelector('.jp-collab-CommentsPanel-place') || {}).textContent || '',
            resolved: t.classList.contains('jp-mod-resolved'),
            detached: t.classList.contains('jp-mod-detached'),
            selected: t.classList.contains('jp-mod-selected'),
            quote: (t.querySelector('.jp-collab-CommentsPanel-quote') || {}).textContent || '',
            text: t.innerText,
            comments: Array.from(t.querySelectorAll('.jp-collab-CommentsPanel-comment')).map(c => ({
              author: c.dataset.author,
              body: (c.querySelector('.jp-collab-CommentsPanel-body') || {}).textContent || '',
              edited: !!c.querySelector('.jp-collab-CommentsPanel-edited'),
              actions: Array.from(c.querySelectorAll('button')).map(b => b.textContent),
            })),
            buttons: Array.from(t.querySelectorAll(':scope > .jp-collab-CommentsPanel-actions button'))
              .map(b => b.textContent),
          }))""",
        f"{THREAD}",
    )


def filter_label(page, name: str) -> str:
    loc = page.locator(f"{PANEL}-filter[data-filter='{name}']")
    return loc.first.inner_text() if loc.count() else ""


def show_filter(page, name: str) -> None:
    page.locator(f"{PANEL}-filter[data-filter='{name}']").first.click()


def focused_key(page) -> str | None:
    return page.evaluate("() => document.activeElement && document.activeElement.dataset.focusKey")


def stream(page, kind: str) -> list[dict]:
    reply = api(page, "GET", "/api/collab/notifications?after=0")
    return [n for n in (reply.get("body") or {}).get("notifications", []) if n.get("type") == kind]


def check_share_as_commenter(a, b, base: str) -> None:
    open_lab(a, base, "alice", "review.ipynb")
    check(
        "alice: the notebook opens",
        wait_text(a, f"{NOTEBOOK} .jp-Cell .cm-content", "total = 41 + 1", 30000),
    )
    open_share_dialog(a)
    roles = a.locator(f"{DIALOG} .jp-collab-ShareDialog-newRole option").all_inner_texts()
    check("alice: the Share dialog offers “Can comment”", "Can comment" in roles, repr(roles))
    add_person_by_keyboard(a, "Bob", "bob", "commenter")
    check(
        "alice: bob is listed as a commenter",
        wait_until(lambda: row_role(a, "bob") == "commenter", 15),
        str(row_role(a, "bob")),
    )
    status = a.locator(f"{DIALOG} .jp-collab-ShareDialog-status").inner_text()
    check("alice: the dialog says bob can now comment", "comment" in status, status)
    close_dialog(a)

    open_lab(b, base, "bob", "review.ipynb")
    check(
        "bob: the notebook opens",
        wait_text(b, f"{NOTEBOOK} .jp-Cell .cm-content", "total = 41 + 1", 30000),
    )
    check("bob (commenter): the notebook is read-only", wait_until(lambda: is_read_only(b), 20))
    check(
        "bob (commenter): the banner says he may comment",
        wait_text(b, f"{NOTEBOOK} .jp-collab-ReadOnlyBanner", "comment on it", 20000),
    )
    before = sources(b)
    b.locator(f"{NOTEBOOK} .jp-Cell .cm-content").first.click()
    b.keyboard.press("End")
    b.keyboard.type("COMMENTER TYPED")
    b.wait_for_timeout(500)
    check("bob (commenter): typing changes nothing", sources(b) == before, repr(sources(b)))
    check("bob (commenter): the Comment command is enabled", is_enabled(b, "jupyter-collab:comment"))


def check_cell_thread(a, b, out: Path) -> None:
    # --- alice comments on the first cell, all with the keyboard -------------------------
    a.bring_to_front()
    a.locator(f"{NOTEBOOK} .jp-Cell .jp-InputPrompt").first.click()  # command mode, cell 1
    a.keyboard.press("Control+Alt+m")
    composer = a.locator(f"{PANEL}-composer")
    composer.wait_for(state="visible", timeout=10000)
    title = composer.locator(f"{PANEL}-composerTitle").inner_text()
    check("alice: Accel+Alt+M opens a new comment on the current cell", "Cell 1" in title, title)
    check("alice: the comment box has the keyboard focus", focused_key(a) == "new", str(focused_key(a)))
    a.keyboard.type("Could you check the total, @bo")
    item = a.locator(f"{PANEL}-mentionItem[data-user='bob']")
    found = True
    try:
        item.first.wait_for(timeout=15000)
    except Exception:
        found = False
    check("alice: typing @bo offers Bob Baker from the user directory", found and "Bob Baker" in item.first.inner_text())
    a.screenshot(path=str(out / "mention-completion-alice.png"))
    a.keyboard.press("Enter")  # picks bob
    box = a.locator(f"{PANEL}-composer textarea")
    value = box.input_value()
    check("alice: Enter in the list completes @bob", value.endswith("@bob "), repr(value))
    a.keyboard.type("please?")
    a.keyboard.press("Enter")  # posts
    check(
        "alice: the thread is in her panel, on Cell 1, with her comment",
        wait_until(lambda: any("@bob please?" in c["body"] for t in panel_threads(a) for c in t["comments"]), 20),
        json.dumps(panel_threads(a))[:400],
    )
    check("alice: the composer closed after posting", not composer.is_visible())
    mention = a.locator(f"{THREAD} .jp-collab-CommentsPanel-mention").first
    check("alice: the mention is highlighted in the comment", mention.count() > 0 and mention.inner_text() == "@bob")
    check(
        "alice: a badge with 1 on the first cell",
        wait_until(lambda: a.locator(f"{NOTEBOOK} .jp-Cell").first.locator(".jp-collab-CommentBadge").inner_text() == "1", 10),
    )
    check("alice: the Open filter counts 1", wait_until(lambda: filter_label(a, "open") == "Open (1)", 10), filter_label(a, "open"))
    a.screenshot(path=str(out / "thread-alice.png"))

    # --- bob is told at once and sees the thread live ------------------------------------
    start = time.time()
    seen = wait_until(lambda: "mentioned you" in " ".join(b.locator(TOASTS).all_inner_texts()), 60)
    elapsed = time.time() - start
    check("bob: a notification says alice mentioned him", seen, " | ".join(b.locator(TOASTS).all_inner_texts())[:300])
    print(f"NOTE bob's mention notification showed {elapsed:.1f} s after alice's comment was listed", flush=True)
    b.screenshot(path=str(out / "mention-notification-bob.png"))
    check(
        "server: bob's notification is of kind 'mentioned', about review.ipynb",
        any(n.get("path") == "review.ipynb" for n in stream(b, "mentioned")),
        json.dumps(stream(b, "mentioned"))[:300],
    )
    toast = b.locator(TOASTS).filter(has_text="mentioned you").first
    toast.get_by_text("Open").first.click()
    check(
        "bob: the notification's Open shows the thread in the comments panel",
        wait_until(lambda: any(t["selected"] and "@bob please?" in t["text"] for t in panel_threads(b)), 15),
        json.dumps(panel_threads(b))[:300],
    )
    b.locator(f"{THREAD}.jp-mod-selected {PANEL}-place").first.click()  # (unselect it)
    wait_until(lambda: not any(t["selected"] for t in panel_threads(b)), 5)
    badge = b.locator(f"{NOTEBOOK} .jp-Cell").first.locator(".jp-collab-CommentBadge")
    check("bob: the cell badge appears live (room notice, no reload)", wait_until(lambda: badge.count() == 1, 20))
    badge.click()
    check(
        "bob: the badge opens the comments panel on the thread",
        wait_until(lambda: any(t["selected"] and "@bob please?" in t["text"] for t in panel_threads(b)), 15),
        json.dumps(panel_threads(b))[:300],
    )
    thread = panel_threads(b)[0]
    check("bob: alice's name on her comment", "Alice Archer" in thread["text"], thread["text"][:200])
    check("bob: he cannot edit or delete alice's comment", thread["comments"][0]["actions"] == [], repr(thread["comments"][0]))
    reply_box = b.locator(f"{THREAD}.jp-mod-selected textarea")
    reply_box.click()
    b.keyboard.type("Checked: 42 is right.")
    b.keyboard.press("Enter")
    check(
        "bob: his reply is in the thread",
        wait_until(lambda: any("42 is right" in c["body"] for t in panel_threads(b) for c in t["comments"]), 15),
    )
    b.screenshot(path=str(out / "reply-bob.png"))

    # --- alice sees the reply live, edits her comment, resolves ---------------------------
    check(
        "alice: bob's reply shows in her panel live",
        wait_until(lambda: any("42 is right" in c["body"] for t in panel_threads(a) for c in t["comments"]), 20),
    )
    check(
        "server: alice has a 'reply' notification",
        wait_until(lambda: len(stream(a, "reply")) > 0, 20),
    )
    first = a.locator(f"{THREAD} .jp-collab-CommentsPanel-comment[data-author='alice']").first
    first.locator(".jp-collab-CommentsPanel-edit").click()
    edit_box = first.locator("textarea")
    edit_box.wait_for(timeout=5000)
    edit_box.fill("Could you check the total, @bob please? (41 + 1)")
    edit_box.press("Enter")
    check(
        "alice: her edited comment shows (edited)",
        wait_until(lambda: any(c["edited"] and "(41 + 1)" in c["body"] for t in panel_threads(a) for c in t["comments"]), 15),
    )
    check(
        "bob: sees alice's edit live, marked (edited)",
        wait_until(lambda: any(c["edited"] and "(41 + 1)" in c["body"] for t in panel_threads(b) for c in t["comments"]), 20),
    )
    a.locator(f"{THREAD} .jp-collab-CommentsPanel-resolve").first.click()
    check(
        "alice: the resolved thread leaves the Open filter",
        wait_until(lambda: filter_label(a, "open") == "Open (0)" and filter_label(a, "resolved") == "Resolved (1)", 15),
        filter_label(a, "open") + " / " + filter_label(a, "resolved"),
    )
    show_filter(a, "resolved")
    resolved = panel_threads(a)
    check(
        "alice: the Resolved filter shows it, resolved by her, with Reopen",
        len(resolved) == 1 and resolved[0]["resolved"] and "Resolved by Alice Archer" in resolved[0]["text"]
        and "Reopen" in resolved[0]["buttons"],
        json.dumps(resolved)[:400],
    )
    check(
        "alice: the cell badge goes (no open thread on the cell)",
        wait_until(lambda: a.locator(f"{NOTEBOOK} .jp-Cell").first.locator(".jp-collab-CommentBadge").count() == 0, 10),
    )
    a.screenshot(path=str(out / "resolved-alice.png"))
    check(
        "bob: sees the thread resolved live",
        wait_until(lambda: filter_label(b, "open") == "Open (0)" and filter_label(b, "resolved") == "Resolved (1)", 20),
        filter_label(b, "open") + " / " + filter_label(b, "resolved"),
    )
    check("server: bob has a 'resolved' notification", wait_until(lambda: len(stream(b, "resolved")) > 0, 20))
    check("bob: the Mine filter lists the thread he is in", filter_label(b, "mine") == "Mine (1)", filter_label(b, "mine"))
    b.screenshot(path=str(out / "resolved-bob.png"))


def server_threads(page, path: str) -> list[dict]:
    return (api(page, "GET", f"/api/collab/comments?path={path}").get("body") or {}).get("threads", [])


def cell_badge(page, index: int):
    return page.locator(f"{NOTEBOOK} .jp-Cell").nth(index).locator(".jp-collab-CommentBadge")


def check_reopen(a, b, out: Path) -> None:
    """alice reopens the resolved thread: it is open again for her, for bob and on the server."""
    a.locator(".lm-TabBar-tab").filter(has_text="review.ipynb").first.click()
    show_filter(a, "resolved")
    reopen = a.locator(f"{THREAD} {PANEL}-reopen").first
    reopen.wait_for(timeout=10000)
    reopen.click()
    check(
        "alice: Reopen moves the thread back to Open",
        wait_until(lambda: filter_label(a, "open") == "Open (1)" and filter_label(a, "resolved") == "Resolved (0)", 15),
        filter_label(a, "open") + " / " + filter_label(a, "resolved"),
    )
    check(
        "server: the thread is not resolved any more",
        wait_until(lambda: [t.get("resolved") for t in server_threads(a, "review.ipynb")] == [False], 15),
        json.dumps(server_threads(a, "review.ipynb"))[:300],
    )
    show_filter(a, "open")
    threads = panel_threads(a)
    check(
        "alice: in Open, without the Resolved tag, with Resolve again",
        len(threads) == 1 and not threads[0]["resolved"] and "Resolve" in threads[0]["buttons"]
        and "Reopen" not in threads[0]["buttons"],
        json.dumps(threads)[:400],
    )
    check("alice: the cell badge is back", wait_until(lambda: cell_badge(a, 0).count() == 1, 10))
    a.screenshot(path=str(out / "reopened-alice.png"))
    check(
        "bob: sees the thread reopened live",
        wait_until(lambda: filter_label(b, "open") == "Open (1)" and filter_label(b, "resolved") == "Resolved (0)", 20),
        filter_label(b, "open") + " / " + filter_label(b, "resolved"),
    )
    check("bob: the cell badge is back for him too", wait_until(lambda: cell_badge(b, 0).count() == 1, 20))
    b.screenshot(path=str(out / "reopened-bob.png"))
    # resolved again, as the later sections expect it
    a.locator(f"{THREAD} {PANEL}-resolve").first.click()
    check(
        "alice: resolves it again",
        wait_until(lambda: filter_label(a, "resolved") == "Resolved (1)", 15),
        filter_label(a, "resolved"),
    )


def check_palette(a, b, out: Path) -> None:
    """The command palette's Comment (Collaboration) starts a thread on the current cell."""
    a.locator(".lm-TabBar-tab").filter(has_text="review.ipynb").first.click()
    a.locator(f"{NOTEBOOK} .jp-Cell .jp-InputPrompt").nth(1).click()  # command mode, cell 2
    a.keyboard.press("Control+Shift+c")
    a.locator(".lm-CommandPalette input").first.wait_for(timeout=5000)
    a.keyboard.type("Comment")
    item = a.locator(".lm-CommandPalette-item").filter(
        has=a.locator(".lm-CommandPalette-itemLabel", has_text=re.compile(r"^\s*Comment\s*$"))
    )
    found = True
    try:
        item.first.wait_for(timeout=5000)
    except Exception:
        found = False
    labels = a.locator(".lm-CommandPalette-itemLabel").all_inner_texts()
    check("alice: the palette lists Comment", found, repr(labels[:12]))
    a.screenshot(path=str(out / "palette-comment-alice.png"))
    item.first.click()
    composer = a.locator(f"{PANEL}-composer")
    composer.wait_for(state="visible", timeout=10000)
    title = composer.locator(f"{PANEL}-composerTitle").inner_text()
    check("alice: the palette's Comment opens a new comment on Cell 2", "Cell 2" in title, title)
    check("alice: the comment box has the keyboard focus", focused_key(a) == "new", str(focused_key(a)))
    a.keyboard.type("Started from the palette")
    a.keyboard.press("Enter")
    check(
        "alice: the thread is listed on Cell 2",
        wait_until(
            lambda: any("Cell 2" in t["place"] and "from the palette" in t["text"] for t in panel_threads(a)), 20
        ),
        json.dumps(panel_threads(a))[:400],
    )
    check(
        "server: the thread is anchored to the second cell",
        wait_until(
            lambda: any(
                (t.get("anchor") or {}).get("cell") == "title-cell"
                and "from the palette" in t["comments"][0]["body"]
                for t in server_threads(a, "review.ipynb")
            ),
            15,
        ),
        json.dumps(server_threads(a, "review.ipynb"))[:400],
    )
    check("alice: a badge on the second cell", wait_until(lambda: cell_badge(a, 1).count() == 1, 10))
    check(
        "bob: sees the new thread live",
        wait_until(lambda: any("from the palette" in t["text"] for t in panel_threads(b)), 20),
    )
    a.screenshot(path=str(out / "palette-thread-alice.png"))


def check_keyboard(a) -> None:
    """Escape in a new comment's box cancels it; the focus stays in the panel."""
    a.locator(".lm-TabBar-tab").filter(has_text="review.ipynb").first.click()
    a.locator(f"{NOTEBOOK} .jp-Cell .jp-InputPrompt").nth(1).click()
    a.keyboard.press("Control+Alt+m")
    composer = a.locator(f"{PANEL}-composer")
    composer.wait_for(state="visible", timeout=10000)
    check("alice: a new comment on Cell 2", "Cell 2" in composer.inner_text(), composer.inner_text()[:100])
    a.keyboard.type("never mind")
    a.keyboard.press("Escape")
    check("alice: Escape cancels the new comment", wait_until(lambda: not composer.is_visible(), 5))
    key = focused_key(a)
    check("alice: the focus stays in the comments panel", bool(key) and key.startswith("filter:"), str(key))


def select_in_editor(page, text: str) -> None:
    page.evaluate(
        """(text) => {
          const w = window.jupyterapp.shell.currentWidget;
          const editor = w.content.editor;
          const i = editor.model.sharedModel.getSource().indexOf(text);
          editor.setSelection({start: editor.getPositionAt(i), end: editor.getPositionAt(i + text.length)});
          editor.focus();
        }""",
        text,
    )


def highlighted(page) -> list[str]:
    return page.locator(f"{EDITOR} .jp-collab-CommentRange").all_inner_texts()


def check_text_file(a, b, base: str, out: Path) -> None:
    run(a, "docmanager:open", {"path": "notes.txt"})
    a.locator(f"{EDITOR} .cm-content").filter(has_text="important").first.wait_for(timeout=30000)
    select_in_editor(a, "important")
    a.locator(f"{EDITOR} .cm-content").first.click(button="right", position={"x": 40, "y": 5})
    # (the right click may move the caret: select again, the menu acts on the selection)
    entry = a.locator(".lm-Menu-item").filter(has_text="Comment").first
    entry.wait_for(timeout=5000)
    select_in_editor(a, "important")
    entry.click()
    composer = a.locator(f"{PANEL}-composer")
    composer.wait_for(state="visible", timeout=10000)
    text = composer.inner_text()
    check("alice: the context menu's Comment opens a comment on the selection (Line 2)", "Line 2" in text and "important" in text, text[:200])
    a.keyboard.type("Is this still true?")
    a.keyboard.press("Enter")
    check(
        "alice: the selection is highlighted in the editor",
        wait_until(lambda: "".join(highlighted(a)) == "important", 15),
        repr(highlighted(a)),
    )
    marker = a.locator(f"{EDITOR} .jp-collab-CommentGutter-marker")
    check("alice: a comment marker in the gutter", marker.count() == 1)
    a.screenshot(path=str(out / "text-highlight-alice.png"))
    a.locator(f"{THREAD}.jp-mod-selected {PANEL}-place").first.click()  # (unselect it)
    wait_until(lambda: not any(t["selected"] for t in panel_threads(a)), 5)
    marker.first.click()
    check(
        "alice: clicking the gutter marker selects its thread in the panel",
        wait_until(lambda: any(t["selected"] and "Is this still true?" in t["text"] for t in panel_threads(a)), 10),
        json.dumps(panel_threads(a))[:300],
    )

    # edits around the range: it follows the text
    a.evaluate(
        """() => { const m = window.jupyterapp.shell.currentWidget.content.editor.model.sharedModel;
                   m.updateSource(0, 0, 'Draft\\n'); const s = m.getSource();
                   const i = s.indexOf('important'); m.updateSource(i, i, 'very '); }"""
    )
    check(
        "alice: after typing before it, the highlight still covers exactly “important”",
        wait_until(lambda: "".join(highlighted(a)) == "important", 10),
        repr(highlighted(a)),
    )
    check(
        "alice: the panel places the thread on Line 3 now",
        wait_until(lambda: any("Line 3" in t["place"] for t in panel_threads(a)), 10),
        json.dumps(panel_threads(a))[:300],
    )

    # a mention of someone who cannot read the file (everyone else: no access): the share offer
    closed = api(a, "PUT", "/api/collab/shares/notes.txt", {"user": "*", "role": "none"})
    check("alice: nobody else may open notes.txt", closed.get("status") == 200, json.dumps(closed)[:200])
    if not a.locator(f"{THREAD}.jp-mod-selected textarea").count():
        a.locator(f"{THREAD} .jp-collab-CommentsPanel-replyOpen").first.click()
    a.locator(f"{THREAD}.jp-mod-selected textarea").first.click()
    a.keyboard.type("@carol what do you think?")  # (the completion list closes at the space)
    a.keyboard.press("Enter")
    offer = a.locator(f"{PANEL}-offer")
    check(
        "alice: offered to share with carol, who cannot open the file",
        wait_until(lambda: offer.is_visible() and "Carol Cole cannot open" in offer.inner_text(), 15),
        offer.inner_text() if offer.count() else "",
    )
    a.screenshot(path=str(out / "share-offer-alice.png"))
    a.locator(f"{PANEL}-shareComment").click()
    check(
        "alice: “Let them comment” makes carol a commenter of the file",
        wait_until(
            lambda: any(
                s.get("user") == "carol" and s.get("role") == "commenter"
                for s in (api(a, "GET", "/api/collab/shares/notes.txt").get("body") or {}).get("shares", [])
            ),
            15,
        ),
    )
    check("alice: the panel says so", wait_text(a, f"{PANEL}-offer", "can now view and comment", 10000))
    a.locator(f"{PANEL}-offerDismiss").first.click()

    # the text goes: the thread is kept, detached, with its quote
    a.evaluate(
        """() => { const m = window.jupyterapp.shell.currentWidget.content.editor.model.sharedModel;
                   const s = m.getSource(); const i = s.indexOf('very important');
                   m.updateSource(i, i + 'very important'.length, ''); }"""
    )
    check(
        "alice: the thread shows as detached, with the text it was on",
        wait_until(
            lambda: any(t["detached"] and "important" in t["quote"] and "Detached" in t["place"] for t in panel_threads(a)),
            15,
        ),
        json.dumps(panel_threads(a))[:400],
    )
    check("alice: no highlight left in the editor", wait_until(lambda: highlighted(a) == [], 10), repr(highlighted(a)))
    a.screenshot(path=str(out / "detached-alice.png"))


def check_dark_theme(a, out: Path) -> None:
    a.locator(".lm-TabBar-tab").filter(has_text="review.ipynb").first.click()
    show_filter(a, "resolved")
    run(a, "apputils:change-theme", {"theme": "JupyterLab Dark"})
    check(
        "alice: the dark theme applies",
        wait_until(lambda: a.evaluate("() => document.body.dataset.jpThemeLight") == "false", 30),
    )
    a.wait_for_timeout(1000)
    colors = a.evaluate(
        f"""() => {{ const p = document.querySelector('{PANEL}');
            const s = getComputedStyle(p); return [s.backgroundColor, s.color]; }}"""
    )
    check("alice (dark): the panel follows the theme (dark background, light text)", colors[0] != "rgb(255, 255, 255)", repr(colors))
    a.screenshot(path=str(out / "panel-dark-alice.png"))
    run(a, "apputils:change-theme", {"theme": "JupyterLab Light"})
    wait_until(lambda: a.evaluate("() => document.body.dataset.jpThemeLight") == "true", 30)


def check_viewer(a, b, out: Path) -> None:
    """bob becomes a viewer: he reads the comments, no control to write."""
    reply = api(a, "PUT", "/api/collab/shares/review.ipynb", {"user": "bob", "role": "viewer"})
    check("alice: makes bob a viewer", reply.get("status") == 200, json.dumps(reply)[:200])
    b.locator(".lm-TabBar-tab").filter(has_text="review.ipynb").first.click()
    check(
        "bob (viewer): the Comment command is disabled",
        wait_until(lambda: not is_enabled(b, "jupyter-collab:comment"), 20),
    )
    show_filter(b, "resolved")
    check(
        "bob (viewer): sees the thread without Reply, Resolve/Reopen, Edit or Delete",
        wait_until(
            lambda: (t := panel_threads(b)) != [] and all(
                x["buttons"] == [] and all(c["actions"] == [] for c in x["comments"]) for x in t
            ),
            20,
        ),
        json.dumps(panel_threads(b))[:400],
    )
    check("bob (viewer): the panel says he can read the comments", wait_text(b, f"{PANEL}-status", "You can read the comments", 10000))
    b.screenshot(path=str(out / "viewer-bob.png"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="comments-e2e-output", help="screenshots and logs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary root")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    tmp, root = lab_folders("collab-comments-e2e-", make_root)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp, root, port)
    console: dict[str, list[str]] = {"alice": [], "bob": []}
    try:
        for user in ("bob", "carol"):  # in the directory (people one may share with, mention)
            sign_in(base, user)
        with users_in_chromium(base, ("alice", "bob"), console, USER_COOKIE) as (_, (a, b)):
            section("share as commenter", check_share_as_commenter, a, b, base)
            section("a thread on a cell", check_cell_thread, a, b, out)
            section("reopen", check_reopen, a, b, out)
            section("palette", check_palette, a, b, out)
            section("keyboard", check_keyboard, a)
            section("a thread on text", check_text_file, a, b, base, out)
            section("dark theme", check_dark_theme, a, out)
            section("viewer", check_viewer, a, b, out)
            errors = page_errors(console)
            check("no uncaught page errors", not errors, "; ".join(errors)[:500])
    finally:
        code = finish(server, tmp, out, console, args.keep)
    return code


if __name__ == "__main__":
    sys.exit(main())
