"""The ``jupyter-collab`` command (``jupyter collab`` finds it on the PATH)."""

from __future__ import annotations

from typing import Any

from jupyter_core.application import JupyterApp

from .._version import __version__
from .check import CheckApp

# name -> (application, one line of help). Issue 10 adds documents, versions, export, backup.
SUBCOMMANDS: dict[str, tuple[type[JupyterApp], str]] = {
    "check": (CheckApp, "Check the database; --repair salvages a damaged one."),
}


class CollabCommand(JupyterApp):
    name = "jupyter-collab"
    version = __version__
    description = "Look after jupyter-collab's data (history, file ids, shares)."
    subcommands: Any = SUBCOMMANDS

    def start(self) -> None:
        if self.subapp is None:
            self.print_subcommands()
            print("Run `jupyter collab <command> --help` for a command's options.")
            self.exit(2)
        super().start()


main = CollabCommand.launch_instance
