"""The ``jupyter-collab`` command (``jupyter collab`` finds it on the PATH)."""

from __future__ import annotations

import sys
from typing import Any

from .._version import __version__
from .base import USAGE, UsageExitStatus

_CLI = "jupyter_collab.cli"
# name -> (application, one line of help). Applications are named, not imported: traitlets
# imports the one that runs (some need the notebook machinery, others only the database).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "documents": (f"{_CLI}.documents.DocumentsApp", "List every document with history."),
    "versions": (f"{_CLI}.documents.VersionsApp", "List the versions of a document."),
    "audit": (f"{_CLI}.documents.AuditApp", "Show the audit log (--path, --user, --since)."),
    "export": (f"{_CLI}.export.ExportApp", "Write a document at a version (.ipynb or text)."),
    "restore": (f"{_CLI}.restore.RestoreApp", "Restore a version (live if a server runs)."),
    "compact": (f"{_CLI}.compact.CompactApp", "Compact the history as the server does."),
    "backup": (f"{_CLI}.backup.BackupApp", "Back up the whole store (safe while servers run)."),
    "import": (f"{_CLI}.backup.ImportApp", "Load a backup into an empty store."),
    "check": (f"{_CLI}.check.CheckApp", "Check the store; --repair repairs it."),
}


class CollabCommand(UsageExitStatus):
    name = "jupyter-collab"
    version = __version__
    description = "Look after jupyter-collab's data (history, file ids, shares)."
    subcommands: Any = SUBCOMMANDS

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
