import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_model() -> Path:
    from jupyter_twin.modelfiles import demo_model_path

    return demo_model_path()


@pytest.fixture(scope="session")
def model_env(demo_model) -> dict:
    """Environment that makes Twin() use the embedded demo model, answers kept short."""
    return {
        "JUPYTER_TWIN_BACKEND": "embedded",
        "JUPYTER_TWIN_MODEL_PATH": str(demo_model),
        "JUPYTER_TWIN_MAX_TOKENS_CHAT": "96",
        "JUPYTER_TWIN_MAX_TOKENS_COMPLETE": "48",
    }
