"""What every ``jupyter collab`` subcommand shares: the server's configuration."""

from __future__ import annotations

from typing import Any

from jupyter_core.application import JupyterApp, base_aliases, base_flags
from traitlets import Unicode

ALIASES = {**base_aliases, "db": "CollabCommandBase.db"}
FLAGS = dict(base_flags)


class CollabCommandBase(JupyterApp):
    """A subcommand: reads ``jupyter_server_config`` (where ``CollabApp`` is configured), so
    ``db_path`` and the other settings are the server's unless given on the command line."""

    config_file_name = Unicode("jupyter_server_config", config=True)
    db = Unicode(
        "",
        config=True,
        help="The database to work on (default: CollabApp.db_path of the server's configuration).",
    )
    aliases = ALIASES
    flags = FLAGS

    def collab_settings(self) -> Any:
        """The server extension's settings, from the same configuration files and options."""
        from ..app import CollabApp  # (imports jupyter_server: only when a command runs)

        return CollabApp(config=self.config)

    @property
    def db_path(self) -> str:
        return self.db or self.collab_settings().db_path

    @property
    def outage_dir(self) -> str:
        return self.collab_settings().outage_dir
