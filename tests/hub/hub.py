"""Start and stop a real JupyterHub (hub, configurable-http-proxy, single-user servers).

Everything listens on 127.0.0.1 and lives in one run folder. Every process of a run carries
``COLLAB_HUB_RUN=<run folder>`` in its environment, so :meth:`Hub.stop` can end whatever is
left (the hub starts the proxy and the servers in sessions of their own, where a signal to the
hub's process group would not reach them) without touching anyone else's processes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]
PASSWORD = "collab-hub-password"  # SharedPasswordAuthenticator wants 8 characters or more
USERS = ("alice", "bob", "carol")  # alice's server is shared with bob; carol has no access
# what the hub's authenticator says about them (carol: nothing but her username)
NAMES = {"alice": "Alice Liddell", "bob": "Bob Baker"}

# Short delays, so tests see saves and room cleanups quickly (a traitlet of CollabApp each).
COLLAB = {"save_delay": 0.2, "save_max_wait": 1.0, "document_cleanup_delay": 1.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HubError(RuntimeError):
    pass


class Hub:
    """A JupyterHub for the tests: ``start()``, the REST API as the admin service, ``stop()``."""

    def __init__(self, run: Path, proxy: Path, labextensions: Path | None = None) -> None:
        self.run = run
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = secrets.token_hex(16)
        self.settings = {
            "run": str(run),
            "port": self.port,
            "hub_port": free_port(),
            "proxy_api_port": free_port(),
            "proxy": str(proxy),
            "password": PASSWORD,
            "users": list(USERS),
            "names": NAMES,
            "admin_token": self.admin_token,
            "checkout": str(CHECKOUT),
            "collab": COLLAB,
            "labextensions": str(labextensions) if labextensions else "",
        }
        self.log = run / "hub.log"
        self.process: subprocess.Popen | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        (self.run / "settings.json").write_text(json.dumps(self.settings, indent=1))
        env = {
            **os.environ,
            "COLLAB_HUB_SETTINGS": str(self.run / "settings.json"),
            "COLLAB_HUB_RUN": str(self.run),
        }
        command = [sys.executable, "-m", "jupyterhub", "-f", str(HERE / "jupyterhub_config.py")]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.run, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C in the terminal reaches pytest, which stops us
            )  # fmt: skip
        atexit.register(self.stop)
        self.wait(lambda: self._status_ok(), timeout, "the hub answering through the proxy")

    def _status_ok(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise HubError(f"jupyterhub exited with {self.process.returncode}\n{self.log_tail()}")
        try:
            status, _ = self.api("GET", "/")
        except OSError:
            return False
        return status == 200

    def stop(self) -> None:
        """Stop the hub (which stops the proxy and the servers), then anything left of ours."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        left = self.processes()
        for pid in left:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = self.processes()
        for pid in left:
            _signal(pid, signal.SIGKILL)

    def processes(self) -> list[int]:
        """Processes of this run still alive (found by the marker in their environment)."""
        marker = f"COLLAB_HUB_RUN={self.run}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:  # gone, or not ours to read
                continue
            if marker in environ.split(b"\0"):
                found.append(int(entry.name))
        return found

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise HubError(f"timed out waiting for {what}\n{self.log_tail()}")
            time.sleep(0.25)

    # -- the hub's REST API (as the admin service, or with a user's token) -----------------------

    def api(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        request = urllib.request.Request(
            f"{self.url}/hub/api{path}", data=data, method=method,
            headers={"Authorization": f"token {token or self.admin_token}"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                raw = reply.read()
                return reply.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw) if raw else None
            except ValueError:
                return error.code, raw.decode(errors="replace")

    def token(self, user: str, scopes: list[str] | None = None, note: str = "collab tests") -> str:
        """A new API token of ``user`` (as a user makes on the hub's Token page)."""
        body: dict[str, Any] = {"note": note, "expires_in": 3600}
        if scopes is not None:
            body["scopes"] = scopes
        status, reply = self.api("POST", f"/users/{user}/tokens", body)
        if status != 201:
            raise HubError(f"token for {user}: {status} {reply}")
        return reply["token"]

    def forget_consent(self, user: str, server_owner: str) -> int:
        """Revoke what ``user`` approved on the consent page of ``server_owner``'s server (the
        OAuth tokens the hub gave that server for ``user``), so the page comes up again; how
        many were revoked."""
        status, reply = self.api("GET", f"/users/{user}/tokens")
        if status != 200:
            raise HubError(f"tokens of {user}: {status} {reply}")
        revoked = 0
        for token in reply["api_tokens"]:
            if f"/user/{server_owner}/" in (token.get("oauth_client") or ""):
                status, _ = self.api("DELETE", f"/users/{user}/tokens/{token['id']}")
                revoked += status == 204
        return revoked

    def start_server(self, user: str, timeout: float = 240) -> str:
        """Start ``user``'s default server and wait until it is ready; its URL via the proxy."""
        status, reply = self.api("POST", f"/users/{user}/server")
        if status not in (201, 202, 400):  # 400: already running
            raise HubError(f"starting {user}'s server: {status} {reply}\n{self.log_tail()}")

        def ready() -> bool:
            code, model = self.api("GET", f"/users/{user}")
            server = (model or {}).get("servers", {}).get("") if code == 200 else None
            if server is None and code == 200 and not (model or {}).get("pending"):
                raise HubError(f"{user}'s server stopped while starting\n{self.log_tail()}")
            return bool(server and server.get("ready"))

        self.wait(ready, timeout, f"{user}'s server to be ready")
        return f"{self.url}/user/{user}/"

    def files(self, user: str) -> Path:
        """The folder ``user``'s server serves."""
        return self.run / "files" / user


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
