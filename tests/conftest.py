"""Shared fixtures: the real demo model, in-process and behind real servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
# the test doubles are imported as `fakes.X` from any test folder
sys.path.insert(0, str(Path(__file__).resolve().parent))
BENCH = ROOT.parent / "shared" / "bench"


@pytest.fixture(scope="session")
def model_path() -> Path:
    from jupyter_twin.modelfiles import demo_model_path

    return demo_model_path()


@pytest.fixture(scope="session")
def _session_twin(model_path):
    from jupyter_twin import Twin

    twin = Twin(backend="embedded", model=str(model_path), request_timeout=120.0, max_tokens_chat=256)
    twin.backend.info()
    return twin


@pytest.fixture
def embedded_twin(_session_twin):
    # one engine (and model process) for the session, but no test sees completions that
    # another test left in its completion cache: each test's requests reach the model
    _session_twin.cache.clear()
    return _session_twin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(model_path, tmp_path_factory):
    """The real llama.cpp OpenAI-compatible server (python -m llama_cpp.server)."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "4096", "--model_alias", "qwen2.5-coder-0.5b"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("llama_cpp.server did not start in 120 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def no_leaked_threads():
    """Fails a test that leaves threads running (cancelled streams must end their workers)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t.ident not in before and t.is_alive() and not t.daemon or
                 (t.ident not in before and t.is_alive() and t.name.startswith("jupyter-twin"))]
        if not extra:
            return
        time.sleep(0.05)
    raise AssertionError(f"threads left running: {[t.name for t in extra]}")
