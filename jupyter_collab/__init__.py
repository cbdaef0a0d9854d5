"""jupyter-collab: real-time collaboration for Jupyter, as a Jupyter Server extension."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["CollabApp", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `jupyter collab ...` (and anything else importing a
    # submodule) does not import the whole server (jupyter_server, jupyter_events) first.
    if name == "CollabApp":
        from .app import CollabApp

        return CollabApp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import CollabApp

    return [{"module": "jupyter_collab", "app": CollabApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-collab"}]
