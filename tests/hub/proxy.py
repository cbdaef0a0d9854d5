"""configurable-http-proxy, installed from the npm registry into a directory of the tests.

JupyterHub starts the proxy itself; it only needs the command. The package is installed once
per checkout (``tests/.cache``, git-ignored) and reused while its version still matches, so
a fresh clone (CI) pays for one ``npm install`` (a few seconds) and later runs for none.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from pathlib import Path

# The proxy JupyterHub 5 and 6 document; 5.x needs Node 20, which these machines have.
PACKAGE = "configurable-http-proxy"
VERSION = "^5.0.0"
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "configurable-http-proxy"


class ProxyUnavailable(RuntimeError):
    """Node/npm are missing or the install failed (the message says which and how to fix it)."""


def proxy_command(cache: Path = CACHE, timeout: float = 600) -> Path:
    """The path of the ``configurable-http-proxy`` executable, installing it if needed."""
    binary = cache / "node_modules" / ".bin" / PACKAGE
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:  # two test runs of one checkout install once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists() and _installed_spec(cache) == VERSION:
            return binary
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            raise ProxyUnavailable(
                "JupyterHub's proxy needs Node.js 20+ and npm on PATH "
                "(Debian: apt-get install nodejs npm)"
            )
        (cache / "package.json").write_text(
            json.dumps({"private": True, "dependencies": {PACKAGE: VERSION}}, indent=1)
        )
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-update-notifier", "--omit=dev"],
            cwd=cache, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if result.returncode != 0 or not binary.exists():
            raise ProxyUnavailable(
                f"npm install {PACKAGE}@{VERSION} failed ({result.returncode}):\n"
                + result.stdout[-2000:] + result.stderr[-3000:]
            )  # fmt: skip
        return binary


def _installed_spec(cache: Path) -> str | None:
    try:
        return json.loads((cache / "package.json").read_text())["dependencies"][PACKAGE]
    except (OSError, ValueError, KeyError):
        return None
