"""What Twin.complete asks the backend for: the FIM request built from the cells and the
cursor, seen through a backend that records requests and answers with given text."""

from __future__ import annotations

from jupyter_twin import Twin
from jupyter_twin.backends import Backend, ChatRequest, FimRequest
from jupyter_twin.backends.base import ModelInfo
from jupyter_twin.families import QWEN
from jupyter_twin.stream import BackendStream, TextListStream


class Recording(Backend):
    name = "recording"
    model = "qwen2.5-coder"

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.requests: list[FimRequest] = []

    def info(self) -> ModelInfo:
        return ModelInfo(model=self.model, family=QWEN)

    def fim(self, request: FimRequest) -> BackendStream:
        self.requests.append(request)
        return TextListStream([self.answer])

    def chat(self, request: ChatRequest) -> BackendStream:
        raise AssertionError("no chat here")

    def ping(self) -> None:
        pass


def cells(source: str) -> list[dict]:
    return [
        {"cell_type": "code", "source": "import matplotlib.pyplot as plt"},
        {"cell_type": "code", "source": source},
    ]


def test_on_an_empty_line_the_suffix_starts_at_the_next_line():
    source = "plt.plot(x, y)\n\nplt.show()"
    backend = Recording('plt.grid()\n')
    text = Twin(backend).complete(cells(source), 1, len("plt.plot(x, y)\n"))
    sent = backend.requests[-1]
    assert sent.prefix == "plt.plot(x, y)\n"
    assert sent.suffix == "plt.show()"
    assert sent.raw_prompt.endswith("plt.plot(x, y)\n<|fim_suffix|>plt.show()<|fim_middle|>")
    # the newline the model writes to reach the next line is not part of the suggestion
    assert text == "plt.grid()"


def test_indented_empty_line_keeps_the_next_lines_indentation():
    source = "for i in range(3):\n    \n    print(i)"
    backend = Recording("x = i * 2\n")
    cursor = len("for i in range(3):\n    ")
    assert Twin(backend).complete(cells(source), 1, cursor) == "x = i * 2"
    assert backend.requests[-1].suffix == "    print(i)"


def test_mid_line_and_end_of_cell_suffixes_are_sent_as_they_are():
    backend = Recording("y)")
    twin = Twin(backend)
    twin.complete(cells("plt.plot(x, \nplt.show()"), 1, len("plt.plot(x, "))
    assert backend.requests[-1].suffix == "\nplt.show()"
    twin.complete(cells("plt.plot(x, y)\n"), 1, len("plt.plot(x, y)\n"))
    assert backend.requests[-1].suffix == ""


def test_preview_shows_the_suffix_that_is_sent():
    source = "plt.plot(x, y)\n\nplt.show()"
    backend = Recording("")
    preview = Twin(backend).preview_complete(cells(source), 1, len("plt.plot(x, y)\n"))
    assert preview.prompt.endswith("<|fim_suffix|>plt.show()<|fim_middle|>")


def test_preview_shows_the_healed_prefix_and_the_stops_that_are_sent():
    backend = Recording("plot(x, y)")
    twin = Twin(backend)
    source = "plt.pl"
    preview = twin.preview_complete(cells(source), 1, len(source))
    assert twin.complete(cells(source), 1, len(source)) == "ot(x, y)"
    sent = backend.requests[-1]
    # the half-typed word is asked for from its start, in the preview as in the request
    assert sent.prefix.endswith("plt.") and preview.prompt.endswith("plt.<|fim_suffix|><|fim_middle|>")
    # mid-line the first line end finishes the suggestion; on an empty line it does not
    assert "\n" in preview.request["stop"] and "\n" in sent.stop_all
    empty = twin.preview_complete(cells("plt.plot(x, y)\n\nplt.show()"), 1, len("plt.plot(x, y)\n"))
    assert "\n" not in empty.request["stop"]
