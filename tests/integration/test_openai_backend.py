"""The OpenAI-compatible backend against the real llama.cpp server (python -m llama_cpp.server)."""

from __future__ import annotations

import time

import pytest

from jupyter_twin import ModelNotFound, Twin
from jupyter_twin.families import QWEN

pytestmark = pytest.mark.model

CELLS = [
    {"cell_type": "code", "source": "import numpy as np\nprices = np.array([3.0, 4.5])"},
    {"cell_type": "code", "source": "def add(a, b):\n    "},
]


@pytest.fixture
def twin(llama_server):
    return Twin(backend="openai", model="qwen2.5-coder-0.5b", host=llama_server)


def test_models_and_family(twin):
    assert "qwen2.5-coder-0.5b" in twin.models()
    assert twin.family is QWEN


def test_complete_over_sse(twin):
    assert "return a + b" in twin.complete(CELLS, 1)
    cells = [{"cell_type": "code", "source": "total = sum([1, 2, 3])\nprint(tot"}]
    assert twin.complete(cells, 0).startswith("al")


def test_chat_stream_and_code_task(twin):
    stream = twin.stream("refactor", [{"cell_type": "code", "source": "l=[]\nfor i in range(5):\n  l.append(i)"}], 0)
    chunks = list(stream)
    assert len(chunks) > 3
    code = stream.result()
    assert "```" not in code and "range(5)" in code


def test_cancel_mid_stream(twin, no_leaked_threads):
    stream = twin.stream("explain", CELLS, 0)
    n = 0
    started = time.monotonic()
    for _ in stream:
        n += 1
        if n == 2:
            stream.cancel()
    assert stream.cancelled
    assert time.monotonic() - started < 30
    # the server is free for the next request right away
    assert "return" in twin.complete(CELLS, 1)


def test_model_name_unknown_to_the_server(llama_server):
    # llama.cpp's server serves its one model whatever the name; the API key is sent
    twin = Twin(backend="openai", model="qwen2.5-coder-0.5b", host=llama_server, api_key="sk-test")
    assert twin.backend._http().headers["Authorization"] == "Bearer sk-test"
    assert ModelNotFound  # the 404 mapping is covered by the fault tests


def test_warm_up_is_a_one_token_completion(twin):
    """A warm-up on an OpenAI-compatible server: the completion's prompt with max_tokens 1
    (the server's prompt cache then holds it; issue 10 point 2)."""
    work = twin.warm(CELLS, 1)
    assert work is not None and work.join(120)
    assert work.error is None
    assert "return a + b" in twin.complete(CELLS, 1)
