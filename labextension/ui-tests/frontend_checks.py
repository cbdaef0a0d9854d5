"""Checks of what users see first, shared by the Chromium scripts (collab_e2e.py,
sharing_e2e.py): syntax highlighting and the cell count of a notebook a kernel has run, for the
first and a second opener; how people look (to themselves and to the others), who is editing
and who is viewing; where a remote cursor's name goes; what a viewer's notebook offers of its
kernel; settings applied live; colours that read in light and dark themes; identities that try
to inject CSS.

Every check waits for a condition (never a fixed time) and keeps a screenshot in ``out``.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from e2e_support import check, wait_text, wait_until

CURRENT = "#jp-main-dock-panel .jp-MainAreaWidget:not(.lm-mod-hidden)"
NOTEBOOK = f"{CURRENT}.jp-NotebookPanel"
PANEL = "#jp-collab-collaborators"
PANEL_TAB = ".jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id='jp-collab-collaborators']"
KERNEL_RUN = "ran.ipynb"
KERNEL_RUN_LAST_LINE = "print(area(radius))"


def make_kernel_run_notebook(path: Path) -> dict[str, Any]:
    """Three code cells run by a real ipykernel, saved with the full ``language_info`` the
    kernel reports (codemirror_mode, mimetype, pygments_lexer, version...), as a notebook looks
    after anyone ran it. Returns that ``language_info``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import math\nradius = 2.0"),
        nbformat.v4.new_code_cell("def area(r):\n    return math.pi * r ** 2"),
        nbformat.v4.new_code_cell(KERNEL_RUN_LAST_LINE),
    ]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    nbformat.write(nb, path)
    return dict(nb.metadata["language_info"])


def open_document(page: Any, path: str) -> None:
    """Open a document in the running JupyterLab (no page load)."""
    page.evaluate("(path) => window.jupyterapp.commands.execute('docmanager:open', {path}).then(() => true)", path)


# What a notebook shows: the cells' mime types, the colours of Python keywords next to the
# colour of plain text, and the status bar's cell counter.
HIGHLIGHTING = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.content || !w.content.widgets) return null;
  const lines = Array.from(w.node.querySelectorAll('.jp-Cell .cm-line'));
  const plain = lines.length ? getComputedStyle(lines[0]).color : '';
  const keywords = {};
  for (const line of lines) {
    for (const span of line.querySelectorAll('span')) {
      const word = span.textContent.trim();
      if (['import', 'def', 'return'].includes(word)) keywords[word] = getComputedStyle(span).color;
    }
  }
  const counter = Array.from(document.querySelectorAll('#jp-main-statusbar .jp-StatusBar-TextItem'))
    .map(e => e.textContent.trim()).find(t => /^Cell \\d+\\/\\d+$/.test(t)) || '';
  return {mimes: w.content.widgets.map(c => c.model.mimeType), plain, keywords, counter,
          languageInfo: w.content.model.getMetadata('language_info') || null};
}"""


def check_highlighting(page: Any, who: str, language_info: dict[str, Any], out: Path) -> None:
    """The kernel-run notebook: Python highlighting in every cell, all three cells counted."""
    state: dict[str, Any] = {}

    def highlighted() -> bool:
        state.update(page.evaluate(HIGHLIGHTING) or {})
        keywords = state.get("keywords") or {}
        return (
            state.get("mimes") == ["text/x-ipython"] * 3
            and {"import", "def", "return"} <= set(keywords)
            and all(color != state.get("plain") for color in keywords.values())
        )

    ok = wait_until(highlighted, 30)
    check(
        f"{who}: the kernel-run notebook's cells are Python (text/x-ipython), with coloured keywords",
        ok,
        json.dumps({k: state.get(k) for k in ("mimes", "plain", "keywords")}),
    )
    check(
        f"{who}: the notebook kept the language_info the kernel wrote",
        (state.get("languageInfo") or {}).get("codemirror_mode") == language_info["codemirror_mode"]
        and (state.get("languageInfo") or {}).get("version") == language_info["version"],
        json.dumps(state.get("languageInfo")),
    )
    counted = wait_until(lambda: (page.evaluate(HIGHLIGHTING) or {}).get("counter", "").endswith("/3"), 15)
    check(
        f"{who}: the status bar counts the 3 cells",
        counted,
        (page.evaluate(HIGHLIGHTING) or {}).get("counter", ""),
    )
    page.screenshot(path=str(out / f"highlighting-{who}.png"))


def show_collaborators(page: Any) -> None:
    if not page.locator(PANEL).is_visible():
        page.locator(PANEL_TAB).click()
    page.locator(PANEL).wait_for(timeout=5000)


AVATAR = """(sel) => {
  const el = document.querySelector(sel);
  if (!el) return null;
  const s = getComputedStyle(el);
  return {text: el.textContent, background: s.backgroundColor, color: s.color};
}"""


def luminance(rgb: str) -> float:
    """Relative luminance of a computed ``rgb(r, g, b)`` colour."""
    parts = [float(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]

    def lin(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in parts)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def check_presence(a: Any, b: Any, out: Path) -> None:
    """A sees A first, marked "you", looking the same as B sees A; B typing is "editing"."""
    show_collaborators(a)
    show_collaborators(b)
    self_item = a.locator(f"{PANEL} .jp-collab-Collaborator.jp-mod-self")
    check("A: the collaborators panel lists A, marked 'you'", wait_until(lambda: self_item.count() == 1, 15))
    me = self_item.first.get_attribute("data-user") or ""
    first = a.locator(f"{PANEL} .jp-collab-Collaborator").first.get_attribute("class") or ""
    check("A: A comes first in the list", "jp-mod-self" in first, first)
    check("A: marked 'you'", "you" in self_item.first.locator(".jp-collab-Collaborator-you").inner_text())
    check("A: no Follow button for A", self_item.first.locator(".jp-collab-Collaborator-follow").count() == 0)
    mine = a.evaluate(AVATAR, f"{PANEL} .jp-collab-Collaborator.jp-mod-self .jp-collab-Avatar")
    theirs_sel = f"{PANEL} .jp-collab-Collaborator:not(.jp-mod-self)[data-user='{me}'] .jp-collab-Avatar"
    check("B: lists A", wait_until(lambda: b.locator(theirs_sel).count() == 1, 15), me)
    theirs = b.evaluate(AVATAR, theirs_sel)
    check(
        "A looks the same to A as to B (initials and colour)",
        bool(mine) and mine == theirs,
        f"A sees {mine}, B sees {theirs}",
    )
    # the server's identity: two initials, as gateway/identity.py makes them
    check("A's initials are the server's", bool(mine) and len(mine["text"]) == 2, json.dumps(mine))
    for who, page, avatar in (("A", a, mine), ("B", b, theirs)):
        if avatar:
            ratio = contrast(avatar["color"], avatar["background"])
            check(f"{who}: initials read on the avatar's colour (contrast {ratio:.1f} >= 3)", ratio >= 3, json.dumps(avatar))

    # who is editing, who is viewing
    other = b.locator(f"{PANEL} .jp-collab-Collaborator.jp-mod-self").first.get_attribute("data-user") or ""
    badge = f"{PANEL} .jp-collab-Collaborator[data-user='{other}'] .jp-collab-Collaborator-badge"
    check(
        "A: B, looking at the notebook, is 'viewing'",
        wait_until(lambda: "viewing" in " ".join(a.locator(badge).all_inner_texts()), 20),
        " | ".join(a.locator(badge).all_inner_texts()),
    )
    mine_badge = f"{PANEL} .jp-collab-Collaborator.jp-mod-self .jp-collab-Collaborator-badge"
    check(
        "A: A (whose kernel wrote the notebook's metadata) is 'viewing', not 'editing'",
        "viewing" in " ".join(a.locator(mine_badge).all_inner_texts()),
        " | ".join(a.locator(mine_badge).all_inner_texts()),
    )
    b.locator(f"{NOTEBOOK} .jp-Cell .cm-content").nth(2).click()
    b.keyboard.press("End")
    b.keyboard.type("  # B types here")
    check(
        "A: B, typing, is 'editing'",
        wait_until(lambda: "editing" in " ".join(a.locator(badge).all_inner_texts()), 15),
        " | ".join(a.locator(badge).all_inner_texts()),
    )
    check(
        "B: B sees B 'editing' too",
        wait_until(lambda: "editing" in " ".join(b.locator(mine_badge).all_inner_texts()), 15),
        " | ".join(b.locator(mine_badge).all_inner_texts()),
    )
    a.screenshot(path=str(out / "collaborators-A.png"))
    b.screenshot(path=str(out / "collaborators-B.png"))


LABEL = ".jp-collab-RemoteCaret-label"
LABEL_AND_LINE = """() => {
  // CodeMirror keeps the carets of lines it has not laid out yet far off screen (top -10000):
  // the label to look at is the one it placed, when there is one
  const labels = Array.from(document.querySelectorAll('.jp-collab-RemoteCaret-label'));
  const label = labels.find(x => x.getBoundingClientRect().top > -1000) || labels[0];
  const line = document.querySelector(
    '#jp-main-dock-panel .jp-MainAreaWidget:not(.lm-mod-hidden) .jp-Cell .cm-line');
  if (!label || !line) return null;
  const l = label.getBoundingClientRect();
  // the text of the line: its characters' box (the line element spans the editor's width)
  const range = document.createRange();
  range.selectNodeContents(line);
  const t = range.getBoundingClientRect();
  const s = getComputedStyle(label);
  return {label: [l.left, l.top, l.right, l.bottom], text: [t.left, t.top, t.right, t.bottom],
          visible: s.visibility !== 'hidden' && s.display !== 'none' && l.width > 0,
          inWindow: l.top >= 0 && l.bottom <= window.innerHeight,
          name: label.textContent, color: s.color, background: s.backgroundColor};
}"""


def check_cursor_label(a: Any, b: Any, out: Path, who: str = "A") -> dict[str, Any] | None:
    """B types at the start of the first line of the first cell: A sees B's name, in full,
    and it covers none of that line's text."""
    b.locator(f"{NOTEBOOK} .jp-Cell .cm-content").first.click()
    b.keyboard.press("Control+Home")
    b.keyboard.type("#")
    found: dict[str, Any] = {}

    def shown() -> bool:
        found.clear()
        found.update(a.evaluate(LABEL_AND_LINE) or {})
        return bool(found.get("visible")) and bool(found.get("inWindow"))

    check(f"{who}: B's name shows beside B's cursor while B types", wait_until(shown, 15), json.dumps(found))
    if found:
        label, text = found["label"], found["text"]
        overlap = not (label[3] <= text[1] + 0.5 or label[1] >= text[3] - 0.5 or label[2] <= text[0] or label[0] >= text[2])
        check(f"{who}: the name on the first line covers none of its text", not overlap, json.dumps(found))
        check(f"{who}: the name is not cut off (inside the window)", found.get("inWindow") is True, json.dumps(found))
        ratio = contrast(found["color"], found["background"])
        check(f"{who}: the name reads on its colour (contrast {ratio:.1f} >= 3)", ratio >= 3, json.dumps(found))
    a.screenshot(path=str(out / f"cursor-label-{who}.png"))
    b.keyboard.press("Backspace")
    return found


def sessions(base: str, token: str, path: str) -> list[str]:
    """Ids of the server's kernel sessions of ``path``."""
    request = urllib.request.Request(f"{base}/api/sessions", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return [s["id"] for s in json.loads(reply.read()) if s.get("path") == path]


def check_viewer_kernel(c: Any, base: str, token: str, path: str, before: list[str], out: Path) -> None:
    """A viewer's notebook offers no kernel: no run/restart/interrupt/kernel buttons, the
    commands disabled (menus too), no console for it, and no session of theirs on the server
    while the editor's kernel keeps running (``before``: the sessions before the viewer came)."""
    check("server: the editor's notebook has its kernel session", len(before) == 1, repr(before))
    hidden = c.evaluate(
        "() => Array.from(document.querySelectorAll("
        "'#jp-main-dock-panel .jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar .jp-Toolbar-item'))"
        ".filter(e => e.offsetParent !== null).map(e => e.dataset.jpItemName)"
    )
    kernel_items = {"run", "interrupt", "restart", "restart-and-run", "kernelName", "executionProgress"}
    check(
        "C (viewer): no run, interrupt, restart or kernel buttons in the notebook's toolbar",
        not (kernel_items & set(hidden)),
        repr(hidden),
    )
    state = c.evaluate(
        """() => { const w = window.jupyterapp.shell.currentWidget;
          const ids = ['notebook:run-cell', 'notebook:run-all-cells', 'notebook:restart-kernel',
            'notebook:restart-run-all', 'notebook:interrupt-kernel', 'notebook:change-kernel',
            'notebook:shutdown-kernel', 'notebook:create-console', 'notebook:run-in-console',
            'kernelmenu:restart', 'kernelmenu:interrupt', 'kernelmenu:change', 'runmenu:run-all'];
          return {session: !!w.sessionContext.session,
                  canStart: w.sessionContext.kernelPreference.canStart,
                  enabled: ids.filter(id => window.jupyterapp.commands.isEnabled(id))}; }"""
    )
    check("C (viewer): no kernel session attached to the notebook", state["session"] is False, json.dumps(state))
    check("C (viewer): no kernel may be started for it", state["canStart"] is False, json.dumps(state))
    check(
        "C (viewer): run, restart, interrupt, change kernel, console commands are disabled",
        state["enabled"] == [],
        repr(state["enabled"]),
    )
    # the Kernel menu shows them disabled
    c.locator("#jp-MainMenu .lm-MenuBar-itemLabel").filter(has_text="Kernel").first.click()
    menu = c.locator(".lm-Menu").last
    menu.wait_for(timeout=5000)
    restart = menu.locator(".lm-Menu-item").filter(has_text="Restart Kernel").first
    check(
        "C (viewer): the Kernel menu's Restart Kernel… is disabled",
        "lm-mod-disabled" in (restart.get_attribute("class") or ""),
        restart.get_attribute("class") or "no item",
    )
    c.screenshot(path=str(out / "viewer-kernel-menu-C.png"))
    c.keyboard.press("Escape")
    # asked anyway (a script, an extension): nothing runs, no console opens
    c.evaluate(
        """async (path) => { const app = window.jupyterapp;
          for (const [id, args] of [['notebook:run-all-cells', {}], ['notebook:restart-kernel', {}],
              ['notebook:create-console', {}], ['console:create', {path}], ['notebook:change-kernel', {}]]) {
            try { await app.commands.execute(id, args); } catch (e) { /* refused: fine */ }
          } }""",
        path,
    )
    check(
        "C (viewer): no console opens on the notebook",
        wait_until(lambda: c.locator(".jp-ConsolePanel").count() == 0, 3) and c.locator(".jp-Dialog").count() == 0,
        f"{c.locator('.jp-ConsolePanel').count()} console(s), dialogs: {c.locator('.jp-Dialog').all_inner_texts()}",
    )
    after = sessions(base, token, path)
    check(
        "server: the viewer made no session; the editor's kernel still runs",
        after == before,
        f"before the viewer came {before}, now {after}",
    )
    status = c.locator("#jp-main-statusbar").inner_text()
    check(
        "C (viewer): the status bar says No Kernel (not starting one)",
        "No Kernel" in status and "Initializing" not in status and "Starting" not in status,
        repr(status),
    )
    check(
        "C (viewer): the banner says the code does not run",
        wait_text(c, f"{CURRENT} .jp-collab-ReadOnlyBanner", "run its code", 5000),
    )
    c.screenshot(path=str(out / "viewer-kernel-C.png"))


SETTINGS_SELECT = "#jp-SettingsEditor-jupyter-collab\\:rooms_{key}"


def set_setting(page: Any, key: str, label: str) -> None:
    """Choose an option in the Settings Editor's Collaboration section (as a user does)."""
    # opens the Settings Editor, or brings it to the front
    page.evaluate(
        "() => window.jupyterapp.commands.execute('settingeditor:open', {query: 'Collaboration'})"
    )
    select = page.locator(SETTINGS_SELECT.format(key=key))
    select.wait_for(timeout=15000)
    select.select_option(label=label)


def check_settings_live(a: Any, b: Any, out: Path) -> None:
    """Settings apply at once: collaborator colours from the identity instead of the theme,
    then names always beside cursors."""
    b_user = b.locator(f"{PANEL} .jp-collab-Collaborator.jp-mod-self").first.get_attribute("data-user") or ""
    avatar = f"{PANEL} .jp-collab-Collaborator[data-user='{b_user}'] .jp-collab-Avatar"
    identity = a.evaluate(
        """(name) => { for (const w of window.jupyterapp.shell.widgets('main')) {
             const aw = w.context && w.context.model.sharedModel.awareness; if (!aw) continue;
             for (const s of aw.getStates().values()) if (s.user && s.user.username === name) return s.user.color; }
           return null; }""",
        b_user,
    )
    show_collaborators(a)
    before = a.evaluate(AVATAR, avatar)
    set_setting(a, "collaboratorColors", "Each person's own colour")
    to_rgb = a.evaluate(
        "(c) => { const el = document.createElement('span'); el.style.color = c; document.body.appendChild(el);"
        " const v = getComputedStyle(el).color; el.remove(); return v; }",
        identity or "",
    )
    check(
        "A: with 'each person's own colour', B's avatar takes B's identity colour, at once",
        wait_until(lambda: (a.evaluate(AVATAR, avatar) or {}).get("background") == to_rgb, 15),
        f"identity {identity} ({to_rgb}), before {before}, now {a.evaluate(AVATAR, avatar)}",
    )
    a.screenshot(path=str(out / "settings-identity-colours-A.png"))
    set_setting(a, "collaboratorColors", "The theme's collaborator colours")
    check(
        "A: back to the theme's colours",
        wait_until(lambda: (a.evaluate(AVATAR, avatar) or {}).get("background") == (before or {}).get("background"), 15),
        f"{a.evaluate(AVATAR, avatar)} vs {before}",
    )
    # names always: still there long after B's last move
    set_setting(a, "cursorLabels", "Always")
    a.locator(".lm-TabBar-tab").filter(has_text=KERNEL_RUN).first.click()
    b.locator(f"{NOTEBOOK} .jp-Cell .cm-content").first.click()
    b.keyboard.press("Control+Home")
    a.wait_for_timeout(4500)  # longer than the activity window (3 s): shown only because of "Always"
    check(
        "A: with 'Always', B's name stays beside B's cursor",
        a.locator(LABEL).count() > 0,
        f"{a.locator(LABEL).count()} label(s)",
    )
    a.screenshot(path=str(out / "settings-names-always-A.png"))
    set_setting(a, "cursorLabels", "For a moment when they move or type, and on hover")
    check("A: back to names on activity only", wait_until(lambda: a.locator(LABEL).count() == 0, 15))
    a.locator(".lm-TabBar-tab").filter(has_text=KERNEL_RUN).first.click()


def check_dark_theme(a: Any, b: Any, out: Path) -> None:
    """The same views in JupyterLab Dark: colours that read."""
    a.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    check(
        "A: JupyterLab Dark is on",
        wait_until(lambda: a.evaluate("() => document.body.dataset.jpThemeLight") == "false", 30),
    )
    a.locator(".lm-TabBar-tab").filter(has_text=KERNEL_RUN).first.click()
    show_collaborators(a)
    mine = a.evaluate(AVATAR, f"{PANEL} .jp-collab-Collaborator.jp-mod-self .jp-collab-Avatar")
    if mine:
        ratio = contrast(mine["color"], mine["background"])
        check(f"A (dark): initials read on the avatar (contrast {ratio:.1f} >= 3)", ratio >= 3, json.dumps(mine))
    check_cursor_label(a, b, out, who="A-dark")
    a.screenshot(path=str(out / "dark-A.png"))
    a.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    wait_until(lambda: a.evaluate("() => document.body.dataset.jpThemeLight") == "true", 30)


INJECTED = """(marker) => {
  const found = [];
  for (const el of document.querySelectorAll('[style]')) {
    const style = el.getAttribute('style') || '';
    if (/url\\(|expression|javascript:/i.test(style) || style.includes(marker)) found.push(el.className + ' ' + style);
  }
  for (const img of document.querySelectorAll('img')) {
    if ((img.getAttribute('src') || '').startsWith('javascript:')) found.push('img ' + img.src);
  }
  return found;
}"""


def check_no_injection(page: Any, who: str, marker: str, requests: list[str], out: Path) -> None:
    """No identity field of another user reached a style or a URL in ``page``."""
    found = page.evaluate(INJECTED, marker)
    check(f"{who}: no style or image carries another user's injected CSS or URL", found == [], repr(found[:5]))
    hits = [r for r in requests if marker in r]
    check(f"{who}: the page never requested the injected URL", hits == [], repr(hits))
    page.screenshot(path=str(out / f"injection-{who}.png"))
