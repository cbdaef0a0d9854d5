"""jupyter-collab on a real JupyterHub, the way teams run it.

One hub for the module (tests/hub/): configurable-http-proxy from npm, JupyterHub's shared-password
authenticator, its local-process spawner, alice's single-user server with jupyter-collab, and a
role in the hub's configuration that grants bob ``access:servers!server=alice/``. Every request
goes through the proxy: scripts with a hub token in the ``Authorization`` header, browsers with
the hub login, the OAuth consent page and the server's cookie.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .client import eventually
from .hub.clients import HubBrowser, fetch_json, join, open_session, token_headers
from .hub.hub import NAMES, PASSWORD, USERS, Hub, HubError
from .hub.proxy import ProxyUnavailable, proxy_command

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium")

# Starting a hub and a single-user server takes a while on a busy machine.
pytestmark = pytest.mark.timeout(900)

# The default role on a shared server becomes ``editor`` (and $JUPYTERHUB_USER its owner) in the
# security work of issue 8; until that is merged bob is an owner of alice's files.
def built_labextensions(run: Path) -> Path | None:
    """A labextensions folder serving this checkout's built frontend, if it was built."""
    built = ROOT / "jupyter_collab" / "labextension"
    if not (built / "package.json").exists():
        return None  # the single-user servers serve the installed copy
    folder = run / "labextensions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "jupyter-collab").symlink_to(built, target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def hub(tmp_path_factory: Any) -> Any:
    try:
        proxy = proxy_command()
    except ProxyUnavailable as exc:
        pytest.fail(str(exc))
    for attempt in (1, 2):
        run = tmp_path_factory.mktemp("hub")
        hub = Hub(run, proxy, labextensions=built_labextensions(run))
        try:
            hub.start()
            break
        except HubError as exc:
            hub.stop()
            # the free ports it was given may have been taken meanwhile by someone else
            if attempt == 2 or "address already in use" not in str(exc).lower():
                raise
    try:
        hub.start_server("alice")
        yield hub
    finally:
        hub.stop()
        left = hub.processes()
        assert not left, f"processes of the hub still running: {left}"


@pytest.fixture(scope="module")
def tokens(hub: Hub) -> dict[str, str]:
    """A hub API token per user, as each would make on the hub's Token page after logging in
    (the login is when the hub records what its authenticator says about them)."""
    for user in USERS:
        HubBrowser(hub.url).login(user, PASSWORD)
    return {user: hub.token(user) for user in USERS}


@pytest.fixture(scope="module")
def alice_server(hub: Hub) -> str:
    """alice's server, as everyone reaches it: through the hub's proxy."""
    return f"{hub.url}/user/alice/"


def write(hub: Hub, path: str, content: str) -> Path:
    target = hub.files("alice") / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    return target


async def set_share(
    server: str, token: str, path: str, user: str, role: str | None
) -> tuple[int, Any]:
    body = {"user": user, "role": role}
    return await fetch_json(f"{server}api/collab/shares/{path}", "PUT", body, token_headers(token))


def notebook(*sources: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nbformat.writes(nb)


# -- who gets in ----------------------------------------------------------------------------------


async def test_hub_tokens_give_hub_identities_and_only_granted_users_get_in(
    hub: Hub, tokens: dict[str, str], alice_server: str
) -> None:
    for user in ("alice", "bob"):
        status, me = await fetch_json(f"{alice_server}api/me", headers=token_headers(tokens[user]))
        assert status == 200, me
        assert me["identity"]["username"] == user
        assert me["identity"]["display_name"] == NAMES[user]  # from the hub's authenticator
    write(hub, "private.txt", "alice's\n")
    # carol has no role on alice's server: the hub's check refuses her before our extension
    for url in (f"{alice_server}api/me", f"{alice_server}api/collab/users"):
        status, _ = await fetch_json(url, headers=token_headers(tokens["carol"]))
        assert status == 403
    status, _ = await open_session(alice_server, "private.txt", token_headers(tokens["carol"]))
    assert status == 403
    # a token limited to the access scope is all a script of bob's needs ...
    scoped = hub.token("bob", scopes=["access:servers!server=alice/"], note="collab script")
    session, client = await join(alice_server, "private.txt", token_headers(scoped))
    assert client.content() == "alice's\n"
    client.close()
    # ... and a token of bob's without it does not get in
    narrow = hub.token("bob", scopes=["read:users:name!user=bob"], note="no access")
    status, _ = await open_session(alice_server, "private.txt", token_headers(narrow))
    assert status == 403
    # nor does anyone without a token: a script must send one (the room WebSocket included)
    status, _ = await open_session(alice_server, "private.txt", {})
    assert status in (302, 403)


async def test_the_server_owner_is_owner(
    hub: Hub, tokens: dict[str, str], alice_server: str
) -> None:
    write(hub, "mine.txt", "mine\n")
    status, session = await open_session(alice_server, "mine.txt", token_headers(tokens["alice"]))
    assert status in (200, 201) and session["role"] == "owner"
    status, listing = await fetch_json(
        f"{alice_server}api/collab/shares/mine.txt", headers=token_headers(tokens["alice"])
    )
    assert status == 200 and listing["role"] == "owner" and listing["canManage"] is True


# -- working together through the proxy -----------------------------------------------------------


async def test_text_edits_converge_through_the_proxy(
    hub: Hub, tokens: dict[str, str], alice_server: str
) -> None:
    path = write(hub, "plan.txt", "goals\n")
    session_a, alice = await join(alice_server, "plan.txt", token_headers(tokens["alice"]))
    session_b, bob = await join(alice_server, "plan.txt", token_headers(tokens["bob"]))
    try:
        assert session_a["room"] == session_b["room"], "one room for one file, whoever opens it"
        assert alice.content() == bob.content() == "goals\n"
        alice.jdoc._ysource.insert(0, "alice: ")
        bob.jdoc._ysource.insert(len(bob.content()), "bob was here\n")
        expected = "alice: goals\nbob was here\n"
        await eventually(
            lambda: alice.content() == bob.content() == expected, 60, "both edits at both ends"
        )
        await eventually(
            lambda: path.read_text() == expected, 60, "the file saved on alice's server"
        )
    finally:
        alice.close()
        bob.close()


async def test_notebook_edits_converge_through_the_proxy(
    hub: Hub, tokens: dict[str, str], alice_server: str
) -> None:
    path = write(hub, "analysis.ipynb", notebook("x = 1", "print(x)"))
    _, alice = await join(
        alice_server, "analysis.ipynb", token_headers(tokens["alice"]), "notebook"
    )
    _, bob = await join(alice_server, "analysis.ipynb", token_headers(tokens["bob"]), "notebook")
    try:
        assert [c["source"] for c in bob.content()["cells"]] == ["x = 1", "print(x)"]
        bob.jdoc.ycells[0]["source"].insert(len("x = 1"), "  # bob")
        alice.jdoc.append_cell(
            {"cell_type": "markdown", "source": "alice's conclusion", "metadata": {}}
        )

        def sources(client: Any) -> list[str]:
            return [cell["source"] for cell in client.content()["cells"]]

        expected = ["x = 1  # bob", "print(x)", "alice's conclusion"]
        await eventually(
            lambda: sources(alice) == sources(bob) == expected, 60, "both edits at both ends"
        )

        def saved() -> bool:
            try:  # the server may be writing it right now
                nb = nbformat.reads(path.read_text(), as_version=4)
            except nbformat.reader.NotJSONError:
                return False
            return [cell.source for cell in nb.cells] == expected

        await eventually(saved, 60, "the notebook saved with both edits")
        nbformat.validate(nbformat.reads(path.read_text(), as_version=4))
    finally:
        alice.close()
        bob.close()


async def test_awareness_shows_the_hubs_identities(
    hub: Hub, tokens: dict[str, str], alice_server: str
) -> None:
    write(hub, "presence.txt", "who is here?\n")
    _, alice = await join(alice_server, "presence.txt", token_headers(tokens["alice"]))
    _, bob = await join(alice_server, "presence.txt", token_headers(tokens["bob"]))
    try:
        alice.set_awareness({"cursor": 1})
        # bob's client claims to be alice: the server stamps who the hub says he is
        bob.set_awareness({"cursor": 3, "user": {"username": "alice", "name": "Alice"}})

        def user_of(client: Any, client_id: int) -> dict[str, Any] | None:
            state = client.awareness.get(client_id)
            return state.get("user") if state else None

        await eventually(
            lambda: user_of(alice, bob.ydoc.client_id) is not None, 60, "bob's state at alice's"
        )
        await eventually(
            lambda: user_of(bob, alice.ydoc.client_id) is not None, 60, "alice's state at bob's"
        )
        seen_by_alice = user_of(alice, bob.ydoc.client_id)
        assert seen_by_alice["username"] == "bob"
        assert seen_by_alice["name"] == seen_by_alice["display_name"] == "Bob Baker"
        assert seen_by_alice["initials"] == "BB"
        assert alice.awareness[bob.ydoc.client_id]["cursor"] == 3
        assert user_of(bob, alice.ydoc.client_id)["username"] == "alice"
        # the sharing dialog's directory lists both, by their hub names
        status, reply = await fetch_json(
            f"{alice_server}api/collab/users?q=", headers=token_headers(tokens["alice"])
        )
        assert status == 200
        directory = {u["username"]: u["display_name"] for u in reply["users"]}
        assert directory["alice"] == "Alice Liddell" and directory["bob"] == "Bob Baker"
    finally:
        alice.close()
        bob.close()


# -- what bob may do on alice's server ----------------------------------------------------------


async def test_a_collaborator_gets_the_default_role_not_owner(
    hub: Hub, tokens: dict[str, str], alice_server: str
) -> None:
    write(hub, "report.txt", "draft\n")
    session, bob = await join(alice_server, "report.txt", token_headers(tokens["bob"]))
    try:
        assert session["role"] == "editor"
        await eventually(lambda: {"type": "role", "role": "editor"} in bob.notices, 60, "role")
        status, listing = await fetch_json(
            f"{alice_server}api/collab/shares/report.txt", headers=token_headers(tokens["bob"])
        )
        assert status == 200 and listing["role"] == "editor" and listing["canManage"] is False
        # an editor edits: his change reaches the file
        bob.jdoc._ysource.insert(len(bob.content()), "bob's paragraph\n")
        path = hub.files("alice") / "report.txt"
        await eventually(lambda: "bob's paragraph" in path.read_text(), 60, "bob's edit saved")
    finally:
        bob.close()


async def test_a_collaborator_cannot_change_alices_shares(
    hub: Hub, tokens: dict[str, str], alice_server: str
) -> None:
    write(hub, "budget.txt", "numbers\n")
    attempts = [("bob", "owner"), ("alice", "none"), ("*", "viewer"), ("carol", "editor")]
    levels = ("budget.txt", "")  # the file, and the whole server (its root folder)
    try:
        for target, role in attempts:
            for path in levels:
                status, reply = await set_share(alice_server, tokens["bob"], path, target, role)
                assert status == 403, f"bob set {target} to {role} on {path or 'the root'}: {reply}"
        status, listing = await fetch_json(
            f"{alice_server}api/collab/shares/budget.txt", headers=token_headers(tokens["alice"])
        )
        assert status == 200
        assert listing["shares"] == [] and listing["everyone"] is None
    finally:  # whatever got through, alice (the owner) takes back, for the other tests
        for target, _ in attempts:
            for path in levels:
                await set_share(alice_server, tokens["alice"], path, target, None)


async def test_a_collaborator_cannot_send_alice_share_notices(
    hub: Hub, tokens: dict[str, str], alice_server: str
) -> None:
    """No "bob removed your access" for alice: a notice in her stream would be false (she owns
    the server, nobody can remove her access)."""
    write(hub, "diary.txt", "dear diary\n")
    alice_headers = token_headers(tokens["alice"])
    status, before = await fetch_json(
        f"{alice_server}api/collab/notifications", headers=alice_headers
    )
    assert status == 200
    for role in ("none", "viewer", None):
        await set_share(alice_server, tokens["bob"], "diary.txt", "alice", role)
    status, after = await fetch_json(
        f"{alice_server}api/collab/notifications", headers=alice_headers
    )
    assert status == 200
    assert after["notifications"] == before["notifications"], after["notifications"]
    # and alice still owns her file
    status, session = await open_session(alice_server, "diary.txt", alice_headers)
    assert session["role"] == "owner"


# -- what a browser does: hub login, consent page, cookie ---------------------------------------


async def test_browser_login_consent_page_and_cookie(
    hub: Hub, tokens: dict[str, str], alice_server: str
) -> None:
    """bob logs in on the hub and opens alice's JupyterLab: the hub asks him, once, to let
    alice's server identify him; then the server's cookie (with its XSRF token) is all the page
    needs for our session API and room WebSocket."""
    write(hub, "together.txt", "shared draft\n")
    await asyncio.to_thread(hub.forget_consent, "bob", "alice")  # as if he never approved
    browser = HubBrowser(hub.url)
    await asyncio.to_thread(browser.login, "bob", PASSWORD)
    page = await asyncio.to_thread(browser.open, f"{alice_server}lab")
    assert len(browser.consent_pages) == 1, "the consent page comes up for someone else's server"
    consent = browser.consent_pages[0].text
    assert (
        "Server at /user/alice/" in consent and "would like permission to identify you" in consent
    )
    assert 'value="access:servers!server=alice/"' in consent
    assert page.status_code == 200 and page.url.startswith(f"{alice_server}lab")
    assert '"hubServerUser": "alice"' in page.text  # JupyterLab knows whose server it is on
    # the choice is remembered: no consent page the next time
    again = await asyncio.to_thread(browser.open, f"{alice_server}lab")
    assert again.status_code == 200 and len(browser.consent_pages) == 1

    url = f"{alice_server}api/collab/session/together.txt"
    headers = browser.headers_for(url)
    status, me = await fetch_json(f"{alice_server}api/me", headers=headers)
    assert status == 200 and me["identity"]["username"] == "bob", me
    # a cookie without the XSRF token is refused (cross-site requests carry no such header)
    status, _ = await fetch_json(
        url, "PUT", {"format": "text", "type": "file"}, {**headers, "X-XSRFToken": ""}
    )
    assert status == 403
    _, alice = await join(alice_server, "together.txt", token_headers(tokens["alice"]))
    session, bob = await join(alice_server, "together.txt", headers)
    try:
        bob.jdoc._ysource.insert(0, "from bob's browser: ")
        await eventually(
            lambda: alice.content() == "from bob's browser: shared draft\n", 60, "bob's edit"
        )
        bob.set_awareness({"cursor": 0})
        await eventually(
            lambda: (
                (alice.awareness.get(bob.ydoc.client_id) or {}).get("user", {}).get("username")
                == "bob"
            ),
            60,
            "bob's presence, as the hub's bob",
        )
    finally:
        alice.close()
        bob.close()


async def test_browser_of_someone_without_access_is_refused(hub: Hub, alice_server: str) -> None:
    browser = HubBrowser(hub.url)
    await asyncio.to_thread(browser.login, "carol", PASSWORD)
    page = await asyncio.to_thread(browser.open, f"{alice_server}lab")
    assert page.status_code == 403
    assert not browser.consent_pages, "no consent page for a server one may not access"
    assert "You do not have permission to access Server at /user/alice/" in page.text


# -- a real browser -----------------------------------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--no-first-run",
]  # fmt: skip
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def ensure_chromium() -> None:
    """Debian's Chromium, installed on first use as test_frontend.py's fixture does."""
    if not os.path.exists(CHROMIUM) and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
            check=True, timeout=900,
        )  # fmt: skip
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install chromium")


async def log_in_through_the_hub(page: Any, url: str, user: str, shot: Path | None = None) -> str:
    """Open ``url`` of a single-user server, logged out: the server sends the browser to the
    hub, which asks who it is; log in as ``user`` and approve the consent page (a screenshot of
    it to ``shot``). Returns the consent page's text."""
    await page.goto(url, timeout=120_000)
    await page.wait_for_selector("input[name=username]", timeout=120_000)
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#login_submit, input[type=submit], button[type=submit]")
    await page.wait_for_selector("text=Authorize access", timeout=120_000)
    if shot is not None:
        await page.screenshot(path=str(shot))
    consent = await page.inner_text("body")
    await page.click("button:has-text('Authorize')")
    return consent


SHOTS = ROOT / "tests" / ".artifacts" / "jupyterhub"


async def shows_text(page: Any, selector: str, text: str, timeout: int) -> None:
    """Wait until one of the elements ``selector`` finds in the page contains ``text``."""
    await page.wait_for_function(
        "([sel, text]) => Array.from(document.querySelectorAll(sel))"
        ".some(e => e.textContent.includes(text))",
        arg=[selector, text],
        timeout=timeout,
    )


@contextlib.asynccontextmanager
async def hub_page(
    url: str, user: str, shot: Path | None = None
) -> AsyncIterator[tuple[Any, str]]:
    """Chromium (installed on first use) logged in through the hub as ``user`` on ``url`` of
    a single-user server, the consent page approved (a screenshot of it to ``shot``): yields
    the page and the consent page's text; the page's uncaught errors fail the test when the
    block ends without another failure."""
    await asyncio.to_thread(ensure_chromium)
    from playwright.async_api import async_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            page = await (
                await browser.new_context(viewport={"width": 1300, "height": 850})
            ).new_page()
            page.on("pageerror", lambda err: errors.append(str(err)))
            consent = await log_in_through_the_hub(page, url, user, shot)
            yield page, consent
        finally:
            await browser.close()
    assert not errors, errors


async def test_bob_types_in_alices_notebook_in_chromium(
    hub: Hub, tokens: dict[str, str], alice_server: str, tmp_path: Path
) -> None:
    """Chromium as bob: the hub's login page, the consent page, then alice's notebook in
    JupyterLab (our frontend); his typing reaches alice's client, and hers reaches his page."""
    write(hub, "browser.ipynb", notebook("total = 41 + 1"))
    await asyncio.to_thread(hub.forget_consent, "bob", "alice")  # as if he never approved
    _, alice = await join(alice_server, "browser.ipynb", token_headers(tokens["alice"]), "notebook")
    url = f"{alice_server}lab/tree/browser.ipynb"
    try:
        async with hub_page(url, "bob", SHOTS / "consent-bob.png") as (page, consent):
            assert "Server at /user/alice/" in consent
            cell = page.locator(f"{NOTEBOOK} .jp-Cell .cm-content").first
            await cell.wait_for(timeout=180_000)
            await shows_text(page, f"{NOTEBOOK} .cm-content", "total = 41 + 1", 120_000)
            await cell.click()
            await page.keyboard.press("Control+End")
            await page.keyboard.type("  # checked by bob")

            def first_source() -> str:
                return alice.content()["cells"][0]["source"]

            await eventually(
                lambda: first_source() == "total = 41 + 1  # checked by bob", 90, "bob's typing"
            )
            alice.jdoc.ycells[0]["source"].insert(0, "# alice\n")
            await shows_text(page, f"{NOTEBOOK} .cm-content", "# alice", 90_000)
            await page.screenshot(path=str(SHOTS / "notebook-bob.png"))
            who = await page.evaluate(
                "() => window.jupyterapp.serviceManager.user.identity?.username"
            )
            assert who == "bob"
            # presence both ways, with the hub's names
            alice.set_awareness({"cell": "anywhere"})
            await page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " const a = w && w.context && w.context.model.sharedModel.awareness;"
                " return !!a && Array.from(a.getStates().values())"
                ".some(s => s.user && s.user.username === 'alice'"
                " && s.user.display_name === 'Alice Liddell'); }",
                timeout=90_000,
            )
            await eventually(
                lambda: any(
                    (state.get("user") or {}).get("username") == "bob"
                    for state in alice.awareness.values()
                ),
                90,
                "bob's browser in alice's awareness, as the hub's bob",
            )
    finally:
        alice.close()


async def test_comments_between_hub_users_in_chromium(
    hub: Hub, tokens: dict[str, str], alice_server: str
) -> None:
    """issue 11 on a real hub: alice comments on a cell of her notebook mentioning bob (through
    the proxy, with her hub token); bob, a collaborator through the hub (``access:servers``),
    logs in with Chromium, sees the thread in the comments panel and the badge on the cell,
    and replies there; alice's server has his reply, under his hub identity, and alice is told."""
    source = notebook("total = 41 + 1", "print(total)")
    write(hub, "review-hub.ipynb", source)
    cell = nbformat.reads(source, as_version=4).cells[0].id
    alice_headers = token_headers(tokens["alice"])
    # alice's server knows bob once he has been there (its user directory records who comes)
    status, _ = await fetch_json(
        f"{alice_server}api/collab/comments?path=review-hub.ipynb", "GET", None,
        token_headers(tokens["bob"]),
    )  # fmt: skip
    assert status == 200
    status, posted = await fetch_json(
        f"{alice_server}api/collab/comments", "POST",
        {"path": "review-hub.ipynb", "anchor": {"cell": cell}, "body": "@bob is 41 + 1 right?"},
        alice_headers,
    )  # fmt: skip
    assert status == 201, posted
    thread = posted["thread"]["id"]
    assert posted["mentioned"] == ["bob"], posted
    await asyncio.to_thread(hub.forget_consent, "bob", "alice")
    panel = ".jp-collab-CommentsPanel"
    async with hub_page(f"{alice_server}lab/tree/review-hub.ipynb", "bob") as (page, _):
        await page.locator(f"{NOTEBOOK} .jp-Cell .cm-content").first.wait_for(timeout=180_000)
        # the badge on the commented cell, and the thread in the panel
        badge = page.locator(f"{NOTEBOOK} .jp-Cell").first.locator(".jp-collab-CommentBadge")
        await badge.wait_for(timeout=90_000)
        await badge.click()
        selected = page.locator(f"{panel}-thread.jp-mod-selected")
        await selected.wait_for(timeout=60_000)
        assert "is 41 + 1 right?" in await selected.inner_text()
        assert "Alice Liddell" in await selected.inner_text()  # the hub's name for alice
        await selected.locator("textarea").click()
        await page.keyboard.type("Yes: 42.")
        await page.keyboard.press("Enter")
        await shows_text(page, f"{panel}-body", "Yes: 42.", 60_000)
        await page.screenshot(path=str(SHOTS / "comments-bob.png"))

    status, listed = await fetch_json(
        f"{alice_server}api/collab/comments?path=review-hub.ipynb", "GET", None, alice_headers
    )
    assert status == 200, listed
    (found,) = [t for t in listed["threads"] if t["id"] == thread]
    assert [(c["author"], c["body"]) for c in found["comments"]] == [
        ("alice", "@bob is 41 + 1 right?"),
        ("bob", "Yes: 42."),
    ]
    status, told = await fetch_json(
        f"{alice_server}api/collab/notifications?after=0", "GET", None, alice_headers
    )
    assert status == 200, told
    assert any(
        n["type"] == "reply" and (n.get("details") or {}).get("thread") == thread
        for n in told["notifications"]
    ), told
