"""The JupyterLab extension: its TypeScript unit tests, and two users in a real Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LABEXTENSION = ROOT / "labextension"
ARTIFACTS = ROOT / "tests" / ".artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium")


def _jlpm() -> str:
    jlpm = shutil.which("jlpm")
    if jlpm is None:
        pytest.fail("jlpm not found: it comes with jupyterlab (pip install -e '.[test]')")
    return jlpm


def test_typescript_unit_tests():
    jlpm = _jlpm()
    if not (LABEXTENSION / "node_modules").exists():
        subprocess.run([jlpm, "install"], cwd=LABEXTENSION, check=True, timeout=900)
    result = subprocess.run(
        [jlpm, "test"], cwd=LABEXTENSION, capture_output=True, text=True, timeout=900
    )
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed on first use as the project's tests need it."""
    if not os.path.exists(CHROMIUM):
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install chromium")
        subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
            check=True,
            timeout=900,
        )
    return CHROMIUM


def run_e2e(script: str, out_name: str, chromium: str, timeout: int) -> Path:
    """Run one of labextension/ui-tests/ in its own process; its screenshots go to ``out``."""
    out = ARTIFACTS / out_name
    shutil.rmtree(out, ignore_errors=True)
    result = subprocess.run(
        [sys.executable, str(LABEXTENSION / "ui-tests" / script), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "CHROMIUM": chromium},
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "output.txt").write_text(result.stdout + "\n--- stderr ---\n" + result.stderr)
    failures = "\n".join(line for line in result.stdout.splitlines() if line.startswith("FAIL"))
    print(result.stdout[-6000:])
    assert result.returncode == 0, (
        f"failed checks:\n{failures}\n\n(all output: {out / 'output.txt'})\n"
        + result.stdout[-3000:]
        + result.stderr[-3000:]
    )
    assert "0 failed" in result.stdout
    return out


@pytest.mark.timeout(1500)  # (its subprocess has 1200 s)
def test_two_users_in_chromium(chromium):
    """Live edits, cursors, presence, viewer, save, rename, delete, restart, history: see the
    script."""
    out = run_e2e("collab_e2e.py", "e2e", chromium, timeout=1200)
    assert any(out.glob("*.png")), "screenshots of the key views are kept as artifacts"


@pytest.mark.timeout(1200)  # (its subprocess has 900 s)
def test_sharing_in_chromium(chromium):
    """Alice shares a notebook with bob as viewer, then editor: see the script for every check."""
    out = run_e2e("sharing_e2e.py", "sharing", chromium, timeout=900)
    for name in ("dialog-alice.png", "notification-bob.png", "notification-center-bob.png"):
        assert (out / name).exists(), f"screenshot {name} is kept as an artifact"


@pytest.mark.timeout(900)  # (its subprocess has 600 s)
def test_notifications_in_chromium(chromium):
    """bob's two windows get alice's share pushed at once without polling; showing is not
    reading: both bells count it unread until he opens it or marks it read, in either window;
    the e-mail preferences dialog refuses a bad address and saves a good one: see the script."""
    out = run_e2e("notifications_e2e.py", "notifications", chromium, timeout=600)
    for name in ("pushed-bob.png", "unread-bob.png", "bell-menu-bob.png", "preferences-bob.png"):
        assert (out / name).exists(), f"screenshot {name} is kept as an artifact"


@pytest.mark.timeout(900)  # (its subprocess has 600 s)
def test_connection_indicator_in_chromium(chromium):
    """issue 8: the network goes away and comes back; the indicator says Connected again
    without a reload, and what was typed meanwhile is shared: see the script."""
    out = run_e2e("connection_e2e.py", "connection", chromium, timeout=600)
    assert (out / "back-online-A.png").exists(), "the screenshot is kept as an artifact"


@pytest.mark.timeout(1200)  # (its subprocess has 900 s)
def test_comments_in_chromium(chromium):
    """issue 11: alice comments on a cell mentioning bob (a commenter), bob is told, sees the
    thread live and replies, alice edits and resolves, then reopens; the palette's Comment; a
    text range highlighted, followed, detached; the share offer; dark theme; a viewer without
    write controls: see the script."""
    out = run_e2e("comments_e2e.py", "comments", chromium, timeout=900)
    kept = ("thread-alice.png", "mention-notification-bob.png", "reply-bob.png")
    for name in (*kept, "resolved-alice.png", "reopened-bob.png", "palette-thread-alice.png"):
        assert (out / name).exists(), f"screenshot {name} is kept as an artifact"
