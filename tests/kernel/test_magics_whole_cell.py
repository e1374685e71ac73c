"""The magics send a chat task the whole cell, or report in one line that it does not
fit (issue 9, point 4). An IPython shell with a recording fake backend: no model."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_twin import Twin
from jupyter_twin.backends import Backend, ChatRequest, FimRequest
from jupyter_twin.backends.base import ModelInfo
from jupyter_twin.families import QWEN
from jupyter_twin.kernel.sources import LiveNotebook
from jupyter_twin.kernel.magics import get_magics
from jupyter_twin.stream import BackendStream, TextListStream


class RecordingChat(Backend):
    name = "recording"
    model = "qwen2.5-coder"

    def __init__(self) -> None:
        self.chats: list[ChatRequest] = []

    def info(self) -> ModelInfo:
        return ModelInfo(model=self.model, family=QWEN)

    def fim(self, request: FimRequest) -> BackendStream:
        raise AssertionError("no completion here")

    def chat(self, request: ChatRequest) -> BackendStream:
        self.chats.append(request)
        return TextListStream(["```python\nvalue = 1\n```"])

    def ping(self) -> None:
        pass


@pytest.fixture
def shell_and_backend(monkeypatch):
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext jupyter_twin", store_history=True)
    m = get_magics(shell)
    m.live = LiveNotebook()
    m.kernel_facts = False
    m.insert = False
    backend = RecordingChat()
    twin = Twin(backend, num_ctx=4096, max_tokens_chat=768)
    monkeypatch.setattr(m, "twin", lambda opts=None: twin)
    shell.user_ns.pop("__session__", None)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return shell, backend


def body(lines: int) -> str:
    return "\n".join(f"value_{i:05d} = compute({i}, scale=0.5)  # step {i}" for i in range(lines))


def test_refactor_of_a_cell_too_long_for_the_model_is_one_clear_line(shell_and_backend, capsys):
    shell, backend = shell_and_backend
    source = body(300)
    shell.run_cell("%%refactor\n" + source, store_history=True)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("jupyter_twin: "), err
    assert "too long for refactor" in lines[0] and f"{len(source):,} characters" in lines[0]
    assert "num_ctx 4,096" in lines[0]
    assert "Traceback" not in err
    assert backend.chats == []  # no part of the cell was sent as if it were whole
    assert "value = 1" not in (getattr(shell, "rl_next_input", None) or "")


def test_explain_of_a_long_cell_that_fits_sends_all_of_it(shell_and_backend, capsys):
    shell, backend = shell_and_backend
    source = body(90)  # about 4,700 characters: beyond completion's clip of the cell
    assert len(source) > 4200
    shell.run_cell("%%explain\n" + source, store_history=True)
    assert backend.chats, capsys.readouterr().err
    sent = "\n".join(m["content"] for m in backend.chats[-1].messages)
    assert source in sent
