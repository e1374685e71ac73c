"""Where a model process is found: files in the Jupyter runtime directory, private to the user.

For a model file, context size and thread count there are:
  jupyter_twin-model-<key>.json   port, token and pids of the running worker (mode 0600)
  jupyter_twin-model-<key>.lock   held (flock) by whoever is starting the process
  jupyter_twin-model-<key>.exit   how the last worker ended (written by its supervisor)
  jupyter_twin-model-<key>.log    the worker's own output (llama.cpp messages, crashes)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def runtime_dir() -> Path:
    override = os.environ.get("JUPYTER_TWIN_RUNTIME_DIR")
    if override:
        path = Path(override)
    else:
        from jupyter_core.paths import jupyter_runtime_dir

        path = Path(jupyter_runtime_dir())
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def process_key(model: Path, n_ctx: int, threads: int) -> str:
    text = f"{model.resolve()}|{n_ctx}|{threads}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def paths(key: str) -> dict[str, Path]:
    base = runtime_dir() / f"jupyter_twin-model-{key}"
    return {ext: base.with_name(base.name + "." + ext) for ext in ("json", "lock", "exit", "log")}


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically with mode 0600: the file holds the token that opens the process."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
