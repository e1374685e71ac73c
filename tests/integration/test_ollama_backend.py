"""The Ollama backend through the official `ollama` client, against tests/ollama_testserver.py
(Ollama's documented API, generating with the real embedded model)."""

from __future__ import annotations

import pytest

from jupyter_twin import ModelNotFound, Twin
from jupyter_twin.families import QWEN
from fakes.ollama_testserver import start_ollama_testserver

pytestmark = pytest.mark.model

CELLS = [
    {"cell_type": "code", "source": "import numpy as np\nprices = np.array([3.0, 4.5])"},
    {"cell_type": "code", "source": "def add(a, b):\n    \n\nprint(add(1, 2))"},
]


@pytest.fixture(scope="module")
def server(model_path):
    handle = start_ollama_testserver(str(model_path))
    yield handle
    handle.stop()


@pytest.fixture
def twin(server):
    server.reset()
    return Twin(backend="ollama", model="qwen2.5-coder:0.5b", host=server.url, num_ctx=4096, keep_alive="1h")


def _generate_bodies(server):
    return [r["body"] for r in server.requests_to("/api/generate")]


def test_family_and_insert_capability_from_api_show(twin):
    info = twin.backend.info()
    assert info.family is QWEN
    assert info.supports_insert


def test_fim_with_suffix_uses_prompt_and_suffix(twin, server):
    text = twin.complete(CELLS, 1, len("def add(a, b):\n    "))
    assert "return a + b" in text
    body = _generate_bodies(server)[-1]
    # the cursor is on an empty line: the suffix starts at the next line (blank here)
    assert body["suffix"].startswith("\nprint(add(1, 2))")
    assert not body.get("raw")
    assert body["prompt"].endswith("def add(a, b):\n    ")
    assert body["prompt"].startswith("# %%\nimport numpy")  # stable context first
    assert body["options"]["num_ctx"] == 4096 and body["keep_alive"] == "1h"
    assert "<|endoftext|>" in body["options"]["stop"]


def test_empty_suffix_goes_raw_in_the_family_format(twin, server):
    cells = [{"cell_type": "code", "source": "total = sum([1, 2, 3])\nprint(tot"}]
    text = twin.complete(cells, 0)
    assert text.startswith("al")
    body = _generate_bodies(server)[-1]
    assert body["raw"] is True
    assert body["prompt"].startswith("<|fim_prefix|>") and body["prompt"].endswith("<|fim_suffix|><|fim_middle|>")


def test_model_without_insert_gets_raw_fim(server):
    server.reset()
    twin = Twin(backend="ollama", model="qwen-nofim:0.5b", host=server.url)
    assert not twin.backend.info().supports_insert
    text = twin.complete(CELLS, 1, len("def add(a, b):\n    "))
    assert "return a + b" in text
    body = _generate_bodies(server)[-1]
    assert body["raw"] is True and "suffix" not in body
    assert "def add(a, b):\n    <|fim_suffix|>\nprint(add(1, 2))<|fim_middle|>" in body["prompt"]


def test_one_num_ctx_for_completion_and_chat(twin, server):
    twin.complete(CELLS, 1, len("def add(a, b):\n    "))
    answer = twin.explain(CELLS, 0)
    assert len(answer) > 20
    chat = [r["body"] for r in server.requests_to("/api/chat")][-1]
    gen = _generate_bodies(server)[-1]
    assert chat["options"]["num_ctx"] == gen["options"]["num_ctx"] == 4096
    assert chat["messages"][0]["role"] == "system"
    assert server.stats.snapshot().get("model_loads", 0) <= 1


def test_unknown_model_is_a_clear_error(server):
    twin = Twin(backend="ollama", model="nope:1b", host=server.url)
    with pytest.raises(ModelNotFound, match="nope:1b"):
        twin.complete(CELLS, 1, 5)


def test_cancel_closes_the_stream_and_ollama_stops(server, no_leaked_threads):
    server.reset()
    server.token_delay = 0.05
    try:
        twin = Twin(backend="ollama", model="qwen2.5-coder:0.5b", host=server.url)
        stream = twin.stream("explain", CELLS, 0)
        seen = 0
        for _ in stream:
            seen += 1
            if seen == 3:
                stream.cancel()
        assert stream.cancelled
        assert server.wait_for_stat("generations_cancelled", 1, timeout=5)
        assert server.wait_idle(5)
    finally:
        server.token_delay = 0.0


async def test_async_iteration(twin):
    stream = twin.stream_complete(CELLS, 1, len("def add(a, b):\n    "))
    parts = [d async for d in stream]
    assert parts and "return" in stream.result()


def test_warm_up_asks_for_one_token_with_the_completion_prompt(twin, server):
    """A warm-up is the completion's own request with num_predict 1, so Ollama's prompt
    cache holds the same prompt start as the next keystroke's request (issue 10 point 2)."""
    work = twin.warm(CELLS, 1, len("def add(a, b):\n    "))
    assert work is not None and work.join(120) and work.error is None
    warm = _generate_bodies(server)[-1]
    assert warm["options"]["num_predict"] == 1
    twin.complete(CELLS, 1, len("def add(a, b):\n    "))
    real = _generate_bodies(server)[-1]
    assert real["prompt"] == warm["prompt"] and real.get("suffix") == warm.get("suffix")
    assert real["options"]["num_predict"] > 1
