"""The Jupyter server extension of jupyter_twin and the extension-discovery hooks.

This module imports nothing from Jupyter at import time: ``jupyter_twin`` re-exports the
two hooks below, and the engine must stay importable without ``jupyter_server``.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Tell jupyter_server which ExtensionApp to load (``jpserver_extensions``)."""
    from .app import TwinApp

    return [{"module": "jupyter_twin.server", "app": TwinApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt front end lives, relative to the ``jupyter_twin`` package."""
    return [{"src": "labextension", "dest": "jupyter-twin"}]


def __getattr__(name: str) -> Any:  # lazy: ``from jupyter_twin.server import TwinApp``
    if name == "TwinApp":
        from .app import TwinApp

        return TwinApp
    raise AttributeError(name)
