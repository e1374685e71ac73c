"""jupyter_twin: a local AI coding assistant for Jupyter notebooks."""

from __future__ import annotations

from typing import Any

from .errors import BackendError, BackendTimeout, BackendUnavailable, ContextError, ModelNotFound, TwinError
from .settings import Settings
from .stream import TaskStream
from .twin import TASKS, Preview, Twin

__version__ = "0.1.0"

__all__ = [
    "Twin", "Settings", "TaskStream", "Preview", "TASKS", "TwinError", "BackendUnavailable",
    "BackendTimeout", "BackendError", "ModelNotFound", "ContextError", "__version__",
]


def load_ipython_extension(ipython: Any) -> None:
    from .kernel.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .kernel.magics import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-twin"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server import _jupyter_server_extension_points as points

    return points()
