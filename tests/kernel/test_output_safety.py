"""Model text shown by the magics is never live HTML (issue 9, point 1).

JupyterLab trusts the outputs of a cell the user ran and renders their ``text/markdown``
without sanitizing it, so HTML in a model's answer would run. The magics therefore publish
model text as ``text/plain`` plus the extension's own inert MIME type, and code only inside
a markdown fence that nothing in the code can close.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes.hostile_backend import HOSTILE_ANSWER, start_hostile_server  # noqa: E402
from jupyter_twin.kernel.frontend import DIFF_MIME, TEXT_MIME, diff_bundle, fenced, text_bundle  # noqa: E402
from jupyter_twin.kernel.magics import _View, get_magics  # noqa: E402

HOSTILE = [
    '<img src=x onerror="alert(1)">',
    "<script>alert(2)</script>",
    "```\n<img src=x onerror=alert(3)>\n```",
    "````\n```\n<script>alert(4)</script>",
    "~~~\n<img src=x onerror=alert(5)>",
    "`<img src=x onerror=alert(6)>`",
    "text\n```python\ncode\n```\n<iframe src=javascript:alert(7)></iframe>",
]


def _fence_is_closed_only_at_its_end(markdown: str) -> bool:
    """The markdown starts with a backtick fence whose only closing line is the last fence
    line before the optional note: so the whole body is one code block."""
    lines = markdown.split("\n")
    opener = re.match(r"(`{3,})", lines[0])
    assert opener, markdown
    n = len(opener.group(1))
    closers = [i for i, line in enumerate(lines[1:], 1) if re.match(r" {0,3}`{%d,}\s*$" % n, line)]
    if len(closers) != 1:
        return False
    rest = [line for line in lines[closers[0] + 1:] if line.strip()]
    # after the fence only our own note (_..._) may follow
    return all(re.fullmatch(r"_[A-Za-z .,]+_", line) for line in rest)


def _html_of(markdown: str) -> str:
    mistune = pytest.importorskip("mistune")
    return mistune.html(markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_answers_are_never_text_markdown(text):
    bundle = text_bundle(text, "markdown", "a note")
    assert "text/markdown" not in bundle
    assert bundle["text/plain"] == text + "\na note"
    assert bundle[TEXT_MIME] == {"v": 1, "kind": "markdown", "text": text, "note": "a note"}


@pytest.mark.parametrize("text", HOSTILE)
def test_code_is_one_fence_nothing_inside_can_close(text):
    bundle = text_bundle(text, "code", "Inserted below as a new cell.")
    md = bundle["text/markdown"]
    assert _fence_is_closed_only_at_its_end(md), md
    assert bundle[TEXT_MIME]["text"] == text and bundle[TEXT_MIME]["kind"] == "code"
    html = _html_of(md)
    assert not re.search(r"<(img|script|iframe)\b", html), html


@pytest.mark.parametrize("text", HOSTILE)
def test_diff_markdown_is_one_fence(text):
    md = diff_bundle("c1", "x = 1\n", text, task="refactor")["text/markdown"]
    assert _fence_is_closed_only_at_its_end(md.rstrip("\n")), md
    html = _html_of(md)
    assert not re.search(r"<(img|script|iframe)\b", html), html


def test_fenced_edge_cases():
    assert fenced("", "python") == "```python\n```"
    assert fenced("a\n", "") == "```\na\n```"
    assert fenced("x ````` y").startswith("``````\n")


class _Handle:
    def __init__(self, log: list) -> None:
        self.log = log

    def update(self, bundle: dict, raw: bool = False) -> None:
        self.log.append(bundle)


@pytest.fixture
def displays(monkeypatch) -> list[dict[str, Any]]:
    """Every bundle the magics display or update (as ipykernel would publish them)."""
    import IPython.display

    log: list[dict[str, Any]] = []

    def display(bundle: dict, raw: bool = False, display_id: bool = False) -> _Handle:
        log.append(bundle)
        return _Handle(log)

    monkeypatch.setattr(IPython.display, "display", display)
    return log


def _assert_inert(bundles: list[dict[str, Any]]) -> None:
    assert bundles
    for bundle in bundles:
        md = bundle.get("text/markdown")
        if md is not None:
            html = _html_of(md)
            assert not re.search(r"<(img|script|iframe)\b", html), html
        if TEXT_MIME in bundle:
            assert bundle[TEXT_MIME]["kind"] in ("code", "markdown")


def test_view_streams_and_finishes_without_raw_markdown(displays):
    shell = type("Shell", (), {"kernel": object()})()
    view = _View(shell, "markdown")
    view._interval = 0  # publish every delta
    for piece in (HOSTILE_ANSWER[:20], HOSTILE_ANSWER[20:60], HOSTILE_ANSWER[60:]):
        view.add(piece)
    view.finish(HOSTILE_ANSWER)
    assert len(displays) == 4
    _assert_inert(displays)
    assert all("text/markdown" not in b for b in displays)
    assert displays[-1][TEXT_MIME]["text"] == HOSTILE_ANSWER


@pytest.fixture
def rich_shell(monkeypatch):
    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext jupyter_twin")
    m = get_magics(ip)
    # a rich front end (as in a kernel), the embedded model not involved
    monkeypatch.setattr(ip, "kernel", object(), raising=False)
    monkeypatch.setattr(m, "stream", True)
    monkeypatch.setattr(m, "insert", False)
    monkeypatch.setattr(m, "kernel_facts", False)
    yield ip, m
    m._drop_twins()


@pytest.mark.parametrize("command", [
    '%twin ask -b openai --host {url} -m hostile "what does it do?"',
    "%%explain -b openai --host {url} -m hostile\nx = 1",
    "%%refactor -b openai --host {url} -m hostile\nx = 1",
])
def test_magics_with_a_hostile_backend_publish_no_live_html(rich_shell, displays, command):
    ip, m = rich_shell
    with start_hostile_server(HOSTILE_ANSWER) as server:
        result = ip.run_cell(command.format(url=server.url))
        assert result.error_in_exec is None
        assert any(r["method"] == "POST" for r in server.requests), server.requests
    _assert_inert(displays)
    texts = [b.get(TEXT_MIME, {}).get("text", "") + b.get(DIFF_MIME, {}).get("proposed", "") for b in displays]
    # the answer was shown (as text), not dropped
    assert any("onerror" in t for t in texts), displays
