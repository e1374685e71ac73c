import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT.parent / "shared" / "bench"
NOTEBOOKS = BENCH / "notebooks"


@pytest.fixture(scope="session")
def demo_model() -> Path:
    from jupyter_twin.modelfiles import demo_model_path

    return demo_model_path()


@pytest.fixture
def embedded_env(demo_model, monkeypatch):
    """The CLI's Twin() picks the embedded demo model from the environment."""
    monkeypatch.setenv("JUPYTER_TWIN_BACKEND", "embedded")
    monkeypatch.setenv("JUPYTER_TWIN_MODEL_PATH", str(demo_model))
    monkeypatch.setenv("JUPYTER_TWIN_MAX_TOKENS_CHAT", "96")
    monkeypatch.setenv("JUPYTER_TWIN_CONTEXT_TOKENS", "600")  # keeps CI time down
    return demo_model


@pytest.fixture
def nb_copy(tmp_path):
    """Copy a bench notebook into tmp_path (the originals are never touched)."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copyfile(NOTEBOOKS / name, target)
        os.chmod(target, 0o644)
        return target

    return copy
