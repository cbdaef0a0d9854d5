"""Sharing in a real Chromium: the Share dialog, a role changed live, the notification stream."""

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


def test_sharing_in_chromium(chromium):
    """Alice shares a notebook with bob as viewer, then editor: see the script for every check."""
    out = ARTIFACTS / "sharing"
    shutil.rmtree(out, ignore_errors=True)
    result = subprocess.run(
        [sys.executable, str(LABEXTENSION / "ui-tests" / "sharing_e2e.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "CHROMIUM": chromium},
    )
    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "0 failed" in result.stdout
    for name in ("dialog-alice.png", "notification-bob.png", "notification-center-bob.png"):
        assert (out / name).exists(), f"screenshot {name} is kept as an artifact"
