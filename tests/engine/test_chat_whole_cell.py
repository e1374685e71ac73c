"""Chat tasks send the WHOLE cell, or refuse it with its size and the limit (issue 9,
point 4): a refactor of a cell's tail would replace the whole cell with that tail."""

from __future__ import annotations

import pytest

from jupyter_twin import Twin
from jupyter_twin.backends import Backend, ChatRequest, FimRequest
from jupyter_twin.backends.base import ModelInfo
from jupyter_twin.context import estimate_tokens
from jupyter_twin.errors import CellTooLarge, ContextError
from jupyter_twin.families import QWEN
from jupyter_twin.stream import BackendStream, TextListStream


class RecordingChat(Backend):
    name = "recording"
    model = "qwen2.5-coder"

    def __init__(self, answer: str = "```python\nx = 1\n```") -> None:
        self.answer = answer
        self.chats: list[ChatRequest] = []

    def info(self) -> ModelInfo:
        return ModelInfo(model=self.model, family=QWEN)

    def fim(self, request: FimRequest) -> BackendStream:
        raise AssertionError("no completion here")

    def chat(self, request: ChatRequest) -> BackendStream:
        self.chats.append(request)
        return TextListStream([self.answer])

    def ping(self) -> None:
        pass


def long_cell(lines: int) -> str:
    # distinct lines, so that any cut shows: first and last lines are unique
    return "\n".join(f"value_{i:05d} = compute({i}, scale=0.5)  # step {i}" for i in range(lines))


def cells(source: str) -> list[dict]:
    return [
        {"cell_type": "code", "source": "import math\ndef compute(i, scale):\n    return i * scale"},
        {"cell_type": "code", "source": source},
    ]


def sent_text(request: ChatRequest) -> str:
    return "\n".join(m["content"] for m in request.messages)


def test_a_long_cell_goes_to_refactor_whole():
    source = long_cell(300)  # about 14,000 characters: far beyond completion's clip
    assert len(source) > 12_000
    backend = RecordingChat()
    twin = Twin(backend, num_ctx=16384)
    twin.refactor(cells(source), 1)
    text = sent_text(backend.chats[-1])
    assert source in text
    assert "value_00000 = compute(0" in text and "value_00299 = compute(299" in text


@pytest.mark.parametrize("task, kw", [
    ("explain", {}), ("refactor", {"instruction": "vectorise"}), ("fix", {"error": "ValueError: x"}),
    ("document", {}), ("test", {}), ("ask", {"question": "Why is it slow?"}),
])
def test_every_chat_task_sends_the_whole_cell(task, kw):
    source = long_cell(300)
    backend = RecordingChat("fine")
    Twin(backend, num_ctx=16384).stream(task, cells(source), 1, **kw).result()
    assert source in sent_text(backend.chats[-1])


def test_a_cell_beyond_the_model_context_is_refused_with_its_size_and_the_limit():
    source = long_cell(300)
    backend = RecordingChat()
    twin = Twin(backend, num_ctx=4096, max_tokens_chat=768)
    with pytest.raises(CellTooLarge) as info:
        twin.refactor(cells(source), 1)
    message = str(info.value)
    assert f"{len(source):,} characters" in message
    assert "num_ctx 4,096" in message and "768 for the answer" in message
    assert info.value.chars == len(source)
    assert 0 < info.value.limit < 4096 - 768 < info.value.tokens
    assert f"room for {info.value.limit:,} tokens" in message
    assert "\n" not in message
    assert isinstance(info.value, ContextError)  # a 400 in the server, one line in the magics
    assert backend.chats == []  # nothing at all was sent
    # the preview refuses too: it never shows a cut cell as what would be sent
    with pytest.raises(CellTooLarge):
        twin.preview("refactor", cells(source), 1)


def test_a_cell_that_fits_keeps_the_context_in_what_is_left():
    source = long_cell(40)
    backend = RecordingChat()
    twin = Twin(backend, num_ctx=4096, max_tokens_chat=768)
    twin.refactor(cells(source), 1)
    request = backend.chats[-1]
    assert source in sent_text(request)
    assert "def compute" in sent_text(request)  # the cell that defines compute came along
    total = sum(estimate_tokens(m["content"]) for m in request.messages)
    assert total <= 4096 - 768


def test_a_huge_error_counts_against_the_budget_and_keeps_its_tail():
    error = "\n".join(f"  File 'x.py', line {i}, in f{i}" for i in range(8000)) + "\nZeroDivisionError: division by zero"
    assert len(error) > 200_000
    backend = RecordingChat()
    twin = Twin(backend, num_ctx=4096, max_tokens_chat=768)
    twin.fix(cells("x = 1 / 0"), 1, error=error)
    request = backend.chats[-1]
    text = sent_text(request)
    assert "ZeroDivisionError: division by zero" in text and "x = 1 / 0" in text
    assert sum(estimate_tokens(m["content"]) for m in request.messages) <= 4096 - 768


def test_a_question_that_leaves_no_room_is_refused_too():
    backend = RecordingChat("fine")
    twin = Twin(backend, num_ctx=2048, max_tokens_chat=512)
    with pytest.raises(ContextError) as info:
        twin.ask(cells("x = 1"), 1, "why " * 3000)
    assert not isinstance(info.value, CellTooLarge)
    assert "too long" in str(info.value) and "num_ctx 2,048" in str(info.value)
    assert backend.chats == []
