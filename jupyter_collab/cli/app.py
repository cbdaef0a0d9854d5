"""The ``jupyter-collab`` command (``jupyter collab`` finds it on the PATH)."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from jupyter_core.application import JupyterApp

from .._version import __version__
from .backup import BackupApp, ImportApp
from .base import USAGE
from .check import CheckApp
from .compact import CompactApp
from .documents import AuditApp, DocumentsApp, VersionsApp
from .export import ExportApp
from .restore import RestoreApp

# name -> (application, one line of help)
SUBCOMMANDS: dict[str, tuple[type[JupyterApp], str]] = {
    "documents": (DocumentsApp, "List every document with history."),
    "versions": (VersionsApp, "List the versions of a document."),
    "audit": (AuditApp, "Show the audit log (filters: --path, --user, --since)."),
    "export": (ExportApp, "Write a document's content at a version (.ipynb or text)."),
    "restore": (RestoreApp, "Restore a version (live through a running server)."),
    "compact": (CompactApp, "Compact the history as the server does."),
    "backup": (BackupApp, "Back up the whole store to a file (safe while servers run)."),
    "import": (ImportApp, "Load a backup into an empty store."),
    "check": (CheckApp, "Check the database; --repair salvages a damaged one."),
}


class CollabCommand(JupyterApp):
    name = "jupyter-collab"
    version = __version__
    description = "Look after jupyter-collab's data (history, file ids, shares)."
    subcommands: Any = SUBCOMMANDS
    _initializing = False

    def initialize(self, argv: Any = None) -> None:
        self._initializing = True
        try:
            super().initialize(argv)
        finally:
            self._initializing = False

    def exit(self, exit_status: int | None = 0) -> NoReturn:
        if self._initializing and exit_status == 1:
            exit_status = USAGE
        super().exit(exit_status)
        raise SystemExit(exit_status)

    def start(self) -> None:
        if self.subapp is None:
            if self.extra_args:
                print(f"jupyter-collab: usage error: unknown command {self.extra_args[0]!r}",
                      file=sys.stderr)  # fmt: skip
            self.print_subcommands()
            print("Run `jupyter collab <command> --help` for a command's options.")
            self.exit(USAGE)
        super().start()


main = CollabCommand.launch_instance
