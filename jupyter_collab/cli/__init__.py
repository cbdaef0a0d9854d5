"""``jupyter collab``: looking after jupyter-collab's data from the command line.

``jupyter collab check [--repair]`` today; each subcommand is a traitlets application of its
own (``cli/<name>.py``, registered in :data:`.app.SUBCOMMANDS`) that reads the server's
configuration for where the data is, as the server does.
"""

from .app import CollabCommand, main

__all__ = ["CollabCommand", "main"]
