"""Fixtures for the server-extension tests: a real Jupyter server (pytest-jupyter) with
jupyter_twin on the embedded demo model (Qwen2.5-Coder-0.5B, no mocks)."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_jupyter.jupyter_core import *  # noqa: F401,F403  (jp_environ & co)
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403  (jp_fetch, jp_serverapp, ...)

from jupyter_twin.modelfiles import demo_model_path

from twin_server_helpers import MAX_TOKENS_CHAT, MAX_TOKENS_COMPLETE


@pytest.fixture(scope="session")
def model_path() -> str:
    path = demo_model_path()  # joins and verifies the PyPI parts on first use
    return str(path)


@pytest.fixture
def twin_config(model_path: str) -> dict[str, Any]:
    return {
        "backend": "embedded",
        "model_path": model_path,
        "max_tokens_complete": MAX_TOKENS_COMPLETE,
        "max_tokens_chat": MAX_TOKENS_CHAT,
        "num_ctx": 2048,
        "context_tokens": 1024,
        "preload": True,
    }


@pytest.fixture
def jp_server_config(twin_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_twin": True}},
        "TwinApp": twin_config,
    }


@pytest.fixture
def service(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["jupyter_twin_service"]
