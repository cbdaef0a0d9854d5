"""What `pip install` promises: the server extension enabled and the JupyterLab extension
installed, as Jupyter's own commands report them."""

from __future__ import annotations

import re
import subprocess
import sys


def _jupyter(*args: str, cwd: str) -> str:
    # Outside the checkout, so that the installed package is what answers.
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", *args], capture_output=True, text=True, cwd=cwd,
        timeout=300,
    )  # fmt: skip
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def test_labextension_is_listed_enabled_and_ok(tmp_path):
    out = _jupyter("labextension", "list", cwd=str(tmp_path))
    assert re.search(r"jupyter-collab v\S+ enabled OK", out), out


def test_server_extension_is_enabled_and_importable(tmp_path):
    out = _jupyter("server", "extension", "list", cwd=str(tmp_path))
    assert re.search(r"jupyter_collab enabled", out), out
    assert re.search(r"jupyter_collab \S+ OK", out), out
