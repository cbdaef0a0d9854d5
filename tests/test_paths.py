"""Every spelling of a path is the one file Jupyter resolves it to: shares cannot be bypassed
by ``%2e/secret.ipynb`` or ``sub/../secret.ipynb``, and a file stays one room however its path
is spelled (docs/security.md). Requests go out exactly as spelled (no client-side escaping or
normalization), as an attacker would send them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jupyter_collab.documents.paths import BadPath, canonical_path

from .auth import token_header
from .test_sharing import share

SECRET = "secret.ipynb"
NOTEBOOK = {
    "cells": [{"cell_type": "markdown", "id": "s", "metadata": {}, "source": "the secret"}],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}

# Raw URL spellings of SECRET (tornado decodes %2e to "." and %2F to "/" before Jupyter sees
# them), and what they decode to.
SPELLINGS = [
    "./secret.ipynb",
    "%2e/secret.ipynb",
    "%2E/secret.ipynb",
    ".%2Fsecret.ipynb",
    "sub/../secret.ipynb",
    "sub/%2e%2e/secret.ipynb",
    "sub%2F..%2Fsecret.ipynb",
    "sub%2F%2F..%2Fsecret.ipynb",
    "nosuch/../secret.ipynb",
    "sub/./../secret.ipynb",
    "%2F%2Fsecret.ipynb",
    "secret.ipynb%2F",
]
# The same, as they appear in JSON bodies (copy sources, rename targets, session paths).
BODY_SPELLINGS = [
    "secret.ipynb",
    "/secret.ipynb",
    "./secret.ipynb",
    "sub/../secret.ipynb",
    "nosuch/../secret.ipynb",
    "sub//../secret.ipynb",
    "//secret.ipynb",
    "secret.ipynb/",
]


def test_canonical_path_is_what_jupyter_resolves(tmp_path):
    from jupyter_server.utils import to_os_path

    root = tmp_path / "root"
    for spelling in [*BODY_SPELLINGS, "a/./b/../c", "a//b", "", "/", "a/b/.."]:
        expected = to_os_path(spelling, str(root))
        canonical = canonical_path(spelling)
        assert (root / canonical if canonical else root) == type(root)(expected), spelling
    for outside in ["..", "../x", "a/../../x", "%2e%2e", "x\0y"]:
        if outside == "%2e%2e":
            continue  # (decoded by tornado before us; ".." above is the decoded form)
        with pytest.raises(BadPath):
            canonical_path(outside)


@pytest.fixture
def raw(http_server_client: Any, jp_base_url: str) -> Any:
    """An HTTP request whose path goes out exactly as written; (status, body)."""

    async def raw(
        method: str, path: str, user: str = "alice", body: Any = None
    ) -> tuple[int, bytes]:
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = "{}"
        response = await http_server_client.fetch(
            jp_base_url + path, method=method, body=body, headers=token_header(user),
            raise_error=False, follow_redirects=False, allow_nonstandard_methods=True,
            request_timeout=60,
        )  # fmt: skip
        return response.code, response.body

    return raw


@pytest.fixture
def secret(jp_root_dir: Any) -> Any:
    (jp_root_dir / SECRET).write_text(json.dumps(NOTEBOOK))
    (jp_root_dir / "sub").mkdir()
    return jp_root_dir / SECRET


def save_body(text: str) -> dict[str, Any]:
    changed = json.loads(json.dumps(NOTEBOOK))
    changed["cells"][0]["source"] = text
    return {"type": "notebook", "format": "json", "content": changed}


async def reads(raw: Any, user: str, spelling: str) -> dict[str, int]:
    """Every Jupyter route that reads a file by path, with this spelling."""
    s = spelling
    return {
        "GET contents": (await raw("GET", f"api/contents/{s}", user))[0],
        "GET contents no content": (await raw("GET", f"api/contents/{s}?content=0", user))[0],
        "GET files": (await raw("GET", f"files/{s}", user))[0],
        "GET view": (await raw("GET", f"view/{s}", user))[0],
        "GET nbconvert": (await raw("GET", f"nbconvert/html/{s}", user))[0],
        "GET checkpoints": (await raw("GET", f"api/contents/{s}/checkpoints", user))[0],
        "GET collab shares": (await raw("GET", f"api/collab/shares/{s}", user))[0],
    }


async def writes(raw: Any, user: str, spelling: str) -> dict[str, int]:
    """Every Jupyter route that writes, moves or deletes a file by path, with this spelling."""
    s = spelling
    return {
        "PUT save": (await raw("PUT", f"api/contents/{s}", user, save_body("overwritten")))[0],
        "POST checkpoint": (await raw("POST", f"api/contents/{s}/checkpoints", user))[0],
        "POST trust": (await raw("POST", f"api/contents/{s}/trust", user))[0],
        "PATCH rename": (
            await raw("PATCH", f"api/contents/{s}", user, {"path": "stolen.ipynb"})
        )[0],
        "DELETE": (await raw("DELETE", f"api/contents/{s}", user))[0],
    }


async def session(raw: Any, user: str, spelling: str) -> tuple[int, dict[str, Any]]:
    status, body = await raw(
        "PUT", f"api/collab/session/{spelling}", user, {"format": "json", "type": "notebook"}
    )
    return status, json.loads(body or b"{}")


async def test_no_spelling_bypasses_a_none_share(secret, raw, api):
    await share(api, SECRET, "bob", "none")
    failures = []
    for spelling in [SECRET, *SPELLINGS]:
        found = {**await reads(raw, "bob", spelling), **await writes(raw, "bob", spelling)}
        found["PUT collab session"] = (await session(raw, "bob", spelling))[0]
        failures += [f"{route} {spelling}: {status}" for route, status in found.items()
                     if status != 403]  # fmt: skip
    for path in BODY_SPELLINGS:  # a kernel session at the file (refused before any kernel)
        status, _ = await raw("POST", "api/sessions", "bob", {
            "path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"},
        })  # fmt: skip
        if status != 403:
            failures.append(f"POST sessions {path}: {status}")
    assert failures == []
    assert json.loads(secret.read_text()) == NOTEBOOK
    # the owner is not refused, whatever the spelling: the same file, the same room
    room = (await session(raw, "alice", SECRET))[1]["room"]
    for spelling in SPELLINGS:
        status, body = await raw("GET", f"api/contents/{spelling}", "alice")
        assert status == 200 and json.loads(body)["name"] == SECRET, spelling
        status, reply = await session(raw, "alice", spelling)
        assert status in (200, 201) and (reply["room"], reply["path"]) == (room, SECRET), spelling


async def test_no_spelling_lets_a_viewer_write(secret, raw, api):
    await share(api, SECRET, "bob", "viewer")
    room = (await session(raw, "alice", SECRET))[1]["room"]
    failures = []
    for spelling in [SECRET, *SPELLINGS]:
        # reading: exactly what the owner gets (Jupyter itself refuses a few spellings)
        owner, viewer = await reads(raw, "alice", spelling), await reads(raw, "bob", spelling)
        failures += [f"{route} {spelling}: {viewer[route]}, owner {owner[route]}"
                     for route in owner if viewer[route] != owner[route]]  # fmt: skip
        failures += [f"{route} {spelling}: {status}"
                     for route, status in (await writes(raw, "bob", spelling)).items()
                     if status != 403]  # fmt: skip
        status, reply = await session(raw, "bob", spelling)
        assert (reply["room"], reply["path"], reply["role"]) == (room, SECRET, "viewer"), spelling
    assert failures == []
    assert json.loads(secret.read_text()) == NOTEBOOK
    status, listing = await api("GET", "shares", SECRET)
    assert [(s["user"], s["role"]) for s in listing["shares"]] == [("bob", "viewer")]


async def test_copy_needs_read_on_its_source(secret, raw, api, jp_root_dir):
    await share(api, SECRET, "bob", "none")
    for source in BODY_SPELLINGS:
        status, _ = await raw("POST", "api/contents/sub", "bob", {"copy_from": source})
        assert status == 403, source
    assert list((jp_root_dir / "sub").iterdir()) == []
    # a viewer may copy what they may read into a folder they may write
    await share(api, SECRET, "bob", "viewer")
    status, body = await raw("POST", "api/contents/sub", "bob", {"copy_from": "./secret.ipynb"})
    assert status == 201 and json.loads(body)["path"].startswith("sub/secret")
    # ... but not into a folder they may not write
    await share(api, "sub", "bob", "viewer")
    status, _ = await raw("POST", "api/contents/sub", "bob", {"copy_from": SECRET})
    assert status == 403


async def test_rename_needs_write_on_source_and_destination(secret, raw, api, jp_root_dir):
    (jp_root_dir / "mine.txt").write_text("bob's\n")
    await share(api, "sub", "bob", "viewer")
    for target in ["sub/mine.txt", "./sub/mine.txt", "x/../sub/mine.txt", "sub//mine.txt"]:
        status, _ = await raw("PATCH", "api/contents/mine.txt", "bob", {"path": target})
        assert status == 403, target
    assert (jp_root_dir / "mine.txt").exists()
    status, _ = await raw("PATCH", "api/contents/mine.txt", "bob", {"path": "other.txt"})
    assert status == 200


async def test_a_rename_spelled_otherwise_keeps_shares_and_history(secret, raw, api, rooms):
    """Renamed through ``sub/../secret.ipynb`` by its owner: shares and the room follow."""
    await share(api, SECRET, "bob", "viewer")
    status, body = await raw(
        "PUT", f"api/collab/session/{SECRET}", "alice", {"format": "json", "type": "notebook"}
    )
    room = json.loads(body)["room"]
    status, _ = await raw(
        "PATCH", "api/contents/sub/%2e%2e/secret.ipynb", "alice", {"path": "./sub/../kept.ipynb"}
    )
    assert status == 200
    status, listing = await api("GET", "shares", "kept.ipynb")
    assert [(s["user"], s["role"]) for s in listing["shares"]] == [("bob", "viewer")]
    status, body = await raw(
        "PUT", "api/collab/session/kept.ipynb", "bob", {"format": "json", "type": "notebook"}
    )
    reply = json.loads(body)
    assert (reply["room"], reply["role"], reply["path"]) == (room, "viewer", "kept.ipynb")
    # deleted through another spelling: the shares go with it, a new file starts fresh
    status, _ = await raw("DELETE", "api/contents/.%2Fkept.ipynb", "alice")
    assert status == 204
    status, listing = await api("GET", "shares", "")
    assert listing["shares"] == []


async def test_shares_set_through_any_spelling_land_on_the_file(secret, raw, api):
    status, body = await raw(
        "PUT", "api/collab/shares/sub/../secret.ipynb", "alice", {"user": "bob", "role": "none"}
    )
    assert status == 200 and json.loads(body)["path"] == SECRET
    status, _ = await raw("GET", "files/secret.ipynb", "bob")
    assert status == 403


async def test_paths_outside_the_root_are_refused(secret, raw, jp_root_dir):
    escape = f"%2e%2e/{jp_root_dir.name}/secret.ipynb"  # lands inside the root again
    for route in ("api/contents", "files", "api/collab/session", "api/collab/shares"):
        method = "PUT" if route == "api/collab/session" else "GET"
        body = {"format": "json", "type": "notebook"} if method == "PUT" else None
        status, _ = await raw(method, f"{route}/{escape}", "alice", body)
        assert status in (403, 404), route
        status, _ = await raw(method, f"{route}/%2e%2e/x", "alice", body)
        assert status in (403, 404), route


async def test_session_on_a_hidden_file_is_404(jp_root_dir, raw):
    (jp_root_dir / ".hidden.txt").write_text("x")
    (jp_root_dir / ".config").mkdir()
    (jp_root_dir / ".config" / "a.txt").write_text("x")
    body = {"format": "text", "type": "file"}
    for path in (".hidden.txt", ".config/a.txt", "sub/../.hidden.txt", "%2e%2Fconfig/a.txt"):
        status, reply = await raw("PUT", f"api/collab/session/{path}", "alice", body)
        assert status == 404, (path, reply)
        assert (await raw("GET", f"api/contents/{path}", "alice"))[0] == 404


@pytest.fixture
def hidden_allowed(jp_server_config):
    jp_server_config["ContentsManager"] = {"allow_hidden": True}


@pytest.mark.usefixtures("hidden_allowed")
async def test_hidden_files_open_when_the_contents_manager_allows_them(jp_root_dir, raw):
    (jp_root_dir / ".hidden.txt").write_text("x")
    status, _ = await raw("PUT", "api/collab/session/.hidden.txt", "alice",
                          {"format": "text", "type": "file"})  # fmt: skip
    assert status == 201
    assert (await raw("GET", "api/contents/.hidden.txt", "alice"))[0] == 200


def test_tornado_decodes_the_spellings_we_test():
    """(The tests above rely on it: otherwise they would test nothing.)"""
    from tornado.escape import url_unescape

    for spelling in SPELLINGS:
        assert canonical_path(url_unescape(spelling, plus=False)) == SECRET, spelling
    assert token_header("bob")
