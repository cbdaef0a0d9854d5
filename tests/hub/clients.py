"""Clients of a single-user server behind the hub's proxy: what scripts and browsers send.

A script (pycrdt, Node's y-websocket, curl) sends a hub API token as an ``Authorization:
token …`` header on every request, the WebSocket included. A browser instead logs in on the hub,
approves the OAuth consent page of the server it opens, and then carries that server's cookie
and its XSRF token (:class:`HubBrowser`).
"""

from __future__ import annotations

import asyncio
import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import requests
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from ..client import Client

TIMEOUT = 60.0  # seconds for one request: the machine may be busy


def token_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


async def fetch_json(
    url: str,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """(status, JSON body or text) of a request; errors are answers too, not exceptions."""
    data = None if body is None else body if isinstance(body, str) else json.dumps(body)
    request = HTTPRequest(
        url, method=method, body=data, headers=headers or {}, follow_redirects=False,
        request_timeout=TIMEOUT, connect_timeout=TIMEOUT,
    )  # fmt: skip
    try:
        response = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as error:
        if error.response is None:
            raise
        response = error.response
    raw = response.body or b""
    try:
        return response.code, json.loads(raw) if raw else None
    except ValueError:
        return response.code, raw.decode(errors="replace")


async def open_session(
    server: str, path: str, headers: dict[str, str], type: str = "file"
) -> tuple[int, Any]:
    """``PUT /api/collab/session/{path}`` on the server at ``server`` (its URL via the proxy)."""
    format = {"file": "text", "notebook": "json", "blob": "base64"}[type]
    return await fetch_json(
        f"{server}api/collab/session/{path}", "PUT", {"format": format, "type": type}, headers
    )


async def join(
    server: str, path: str, headers: dict[str, str], type: str = "file", timeout: float = 60
) -> tuple[dict[str, Any], Client]:
    """Open ``path`` and join its room as a y-websocket client; (session reply, synced client)."""
    status, session = await open_session(server, path, headers, type)
    assert status in (200, 201), f"session for {path}: {status} {session}"
    ws_url = "ws" + server[len("http") :] + session["roomUrl"]
    ws = await websocket_connect(
        HTTPRequest(ws_url, headers=headers, request_timeout=TIMEOUT, connect_timeout=TIMEOUT)
    )
    client = Client(ws, type)
    waits = [
        asyncio.ensure_future(client.synced.wait()),
        asyncio.ensure_future(client.closed.wait()),
    ]
    done, pending = await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
    for waiting in pending:
        waiting.cancel()
    assert client.synced.is_set(), f"not synced: {client.close_code} {client.close_reason}"
    return session, client


# -- what a browser does ---------------------------------------------------------------------------


class _HiddenInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.fields.append((found["name"] or "", found.get("value") or ""))


class HubBrowser:
    """A cookie-carrying HTTP client that logs in and consents as a person in a browser would.

    Blocking (``requests``): call it through ``asyncio.to_thread`` from async tests.
    """

    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url
        self.session = requests.Session()
        self.consent_pages: list[requests.Response] = []

    def login(self, user: str, password: str) -> None:
        self.session.get(f"{self.hub_url}/hub/login", timeout=TIMEOUT).raise_for_status()
        xsrf = self.session.cookies.get("_xsrf", path="/hub/")
        reply = self.session.post(
            f"{self.hub_url}/hub/login",
            data={"username": user, "password": password, "_xsrf": xsrf},
            allow_redirects=False, timeout=TIMEOUT,
        )  # fmt: skip
        assert reply.status_code == 302, f"login as {user}: {reply.status_code} {reply.text[:500]}"

    def open(self, url: str, approve: bool = True) -> requests.Response:
        """GET ``url`` following redirects; approve the hub's consent page if it comes up."""
        reply = self.session.get(url, timeout=TIMEOUT)
        if self.is_consent_page(reply):
            self.consent_pages.append(reply)
            if approve:
                form = _HiddenInputs()
                form.feed(reply.text)
                reply = self.session.post(reply.url, data=form.fields, timeout=TIMEOUT)
        return reply

    @staticmethod
    def is_consent_page(reply: requests.Response) -> bool:
        return "/hub/api/oauth2/authorize" in reply.url and "Authorize access" in reply.text

    def cookies_for(self, url: str) -> dict[str, str]:
        path = urlsplit(url).path
        return {
            c.name: c.value or ""
            for c in self.session.cookies
            if path.startswith(c.path.rstrip("/") + "/") or path == c.path
        }

    def headers_for(self, url: str) -> dict[str, str]:
        """What the page's own requests to ``url`` carry: the cookies, the XSRF token and (for
        WebSockets) the page's origin."""
        cookies = self.cookies_for(url)
        return {
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            "X-XSRFToken": cookies.get("_xsrf", ""),
            "Origin": self.hub_url,
        }
