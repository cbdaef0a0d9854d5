"""jupyter-collab: real-time collaboration for Jupyter, as a Jupyter Server extension."""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .app import CollabApp

__all__ = ["CollabApp", "__version__"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "jupyter_collab", "app": CollabApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-collab"}]
