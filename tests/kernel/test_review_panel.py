"""The review panel in a real ipykernel without the JupyterLab extension (issue 13, point 1):
the panel's widget models over the comm, clicks sent as a front end sends them, and the
``set_next_input`` payload in the running cell's ``execute_reply``."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes.hostile_backend import HOSTILE_ANSWER, start_hostile_server  # noqa: E402
from widget_client import WidgetKernel  # noqa: E402

pytestmark = pytest.mark.model

BODY = "squares = []\nfor i in range(12):\n    squares.append(i * i)"


@pytest.fixture(scope="module")
def wk(model_env):
    kernel = WidgetKernel(model_env)
    try:
        reply, _ = kernel.execute("%load_ext jupyter_twin")
        assert reply["status"] == "ok"
        yield kernel
    finally:
        kernel.close()


def _new(wk: WidgetKernel, before: set, model_name: str) -> dict[str, dict]:
    return {cid: s for cid, s in wk.of_kind(model_name).items() if cid not in before}


def _waiting(wk: WidgetKernel, before: set) -> bool:
    return any("Nothing changes until you click" in s.get("value", "") for s in _new(wk, before, "LabelModel").values())


def _click_when_ready(wk: WidgetKernel, label: str, clicked: dict):
    """on_iopub: click ``label`` once this cell's panel says it waits for a click."""
    before = set(wk.models)

    def on_iopub(_msg):
        if "at" in clicked:
            return
        found = wk.button(label)
        if found and found[0] in before:
            found = None
        status = _waiting(wk, before)
        if found and not found[1].get("disabled") and status:
            clicked["at"] = time.monotonic()
            wk.click(found[0])
    return on_iopub


def _panel_texts(wk: WidgetKernel) -> list[str]:
    return [s["value"] for s in wk.of_kind("TextareaModel").values()]


def test_replace_original_is_a_replace_payload_of_the_code_alone(wk):
    clicked: dict = {}
    started = time.monotonic()
    reply, msgs = wk.execute("%%refactor use a list comprehension\n" + BODY, "r-1",
                             on_iopub=_click_when_ready(wk, "Replace original", clicked))
    assert reply["status"] == "ok", reply
    assert "at" in clicked, "the panel never offered Replace original"
    payloads = wk.next_inputs(reply)
    assert len(payloads) == 1 and payloads[0]["replace"] is True
    code = payloads[0]["text"]
    assert "%%refactor" not in code and "squares" in code
    compile(code, "<replaced>", "exec")
    assert code in _panel_texts(wk)  # what was shown is what goes in
    diffs = [s["value"] for s in wk.of_kind("HTMLModel").values() if "<pre" in s.get("value", "")]
    assert diffs and "original" in diffs[-1] and "proposed" in diffs[-1]
    wk.drain(0.5)
    assert any("Replaced this cell" in s.get("value", "") for s in wk.of_kind("LabelModel").values())
    assert time.monotonic() - started < 300
    # the panel did not publish the answer as a plain text display as well
    assert not [m for m in msgs if m["msg_type"] == "display_data" and "text/markdown" in m["content"]["data"]]


def test_insert_below_is_an_insert_payload(wk):
    clicked: dict = {}
    reply, _ = wk.execute("%%refactor\n" + BODY, "r-2", on_iopub=_click_when_ready(wk, "Insert below", clicked))
    assert reply["status"] == "ok" and "at" in clicked
    payloads = wk.next_inputs(reply)
    assert len(payloads) == 1 and payloads[0]["replace"] is False
    compile(payloads[0]["text"], "<inserted>", "exec")


def test_discard_changes_nothing(wk):
    clicked: dict = {}
    reply, _ = wk.execute("%%refactor\n" + BODY, "r-3", on_iopub=_click_when_ready(wk, "Discard", clicked))
    assert reply["status"] == "ok" and "at" in clicked
    assert not wk.next_inputs(reply)
    wk.drain(0.5)
    assert any("Discarded: nothing changed." in s.get("value", "") for s in wk.of_kind("LabelModel").values())


def test_no_insert_shows_the_panel_only_and_a_later_click_changes_nothing(wk):
    reply, _ = wk.execute("%%refactor --no-insert\n" + BODY, "r-4", timeout=300)
    assert reply["status"] == "ok" and not wk.next_inputs(reply)  # returned without a click
    # kernel side: the panel's buttons, clicked after the cell ended
    reply, msgs = wk.execute(
        "from jupyter_twin.kernel.magics import get_magics\n"
        "p = get_magics(get_ipython()).last_panel\n"
        "print(p.state, p.replace_button.layout.display, p.insert_button.layout.display)\n"
        "p.insert_button.click(); p.discard_button.click()\n"
        "print(p.choice, '|', p.status.value)")
    out = wk.stream_text(msgs)
    assert out.splitlines()[0] == "shown none none", out
    assert "discard | Discarded: nothing changed." in out
    assert not wk.next_inputs(reply)


def test_a_click_after_the_wait_timed_out_changes_nothing(wk):
    wk.execute("%config TwinMagics.review_timeout = 2")
    try:
        reply, _ = wk.execute("%%refactor\n" + BODY, "r-5", timeout=300)
        assert reply["status"] == "ok" and not wk.next_inputs(reply)
        reply, msgs = wk.execute(
            "from jupyter_twin.kernel.magics import get_magics\n"
            "p = get_magics(get_ipython()).last_panel\n"
            "print(p.choice); p.replace_button.click(); print(p.status.value)")
        out = wk.stream_text(msgs)
        assert out.startswith("timeout\n") and "can no longer change the notebook" in out, out
        assert not wk.next_inputs(reply)
    finally:
        wk.execute("%config TwinMagics.review_timeout = 600")


def test_interrupt_while_waiting_discards(wk):
    seen: dict = {}
    before = set(wk.models)

    def on_iopub(_msg):
        if _waiting(wk, before) and "t" not in seen:
            seen["t"] = time.monotonic()
            wk.km.interrupt_kernel()

    reply, msgs = wk.execute("%%refactor\n" + BODY, "r-6", on_iopub=on_iopub)
    assert "t" in seen
    assert reply["status"] == "ok" and not wk.next_inputs(reply)
    assert time.monotonic() - seen["t"] < 10  # not the review timeout
    assert not [m for m in msgs if m["msg_type"] == "error"]
    wk.drain(0.3)
    assert any(s.get("value") == "Interrupted: nothing changed." for s in wk.of_kind("LabelModel").values())
    reply, msgs = wk.execute("print(6 * 7)")
    assert wk.stream_text(msgs).strip() == "42"


def test_interrupt_while_streaming_stops_the_model(wk):
    seen: dict = {}
    before = set(wk.models)

    def on_iopub(msg):
        texts = [s["value"] for s in _new(wk, before, "TextareaModel").values() if s.get("value")]
        if texts and "t" not in seen:
            seen["t"] = time.monotonic()
            wk.km.interrupt_kernel()

    wk.execute("%config TwinMagics.review_timeout = 600")
    reply, msgs = wk.execute("%%refactor rewrite it as a long class with many documented methods\n" + BODY,
                             "r-7", on_iopub=on_iopub)
    assert "t" in seen and reply["status"] == "ok"
    assert "jupyter_twin: interrupted; the model was stopped." in wk.stream_text(msgs, "stderr")
    assert time.monotonic() - seen["t"] < 10
    assert not wk.next_inputs(reply)


def test_fix_and_doc_line_magics_replace_their_own_cell(wk):
    wk.execute("def area(r):\n    return 3.14159 * r * r", "f-1")
    clicked: dict = {}
    reply, _ = wk.execute("%twin doc", "f-2", on_iopub=_click_when_ready(wk, "Replace this cell", clicked))
    assert reply["status"] == "ok" and "at" in clicked
    payloads = wk.next_inputs(reply)
    assert len(payloads) == 1 and payloads[0]["replace"] is True
    assert "def area" in payloads[0]["text"] and "%twin" not in payloads[0]["text"]


def test_hostile_answer_stays_inert_in_every_widget(wk):
    with start_hostile_server(HOSTILE_ANSWER) as server:
        before = set(wk.models)
        clicked: dict = {}
        reply, _ = wk.execute(f"%%refactor -b openai --host {server.url} -m hostile\nx = 1", "h-1",
                              on_iopub=_click_when_ready(wk, "Discard", clicked))
        assert reply["status"] == "ok" and "at" in clicked, reply
    new = {cid: s for cid, s in wk.models.items() if cid not in before}
    texts = [s["value"] for s in new.values() if s.get("_model_name") == "TextareaModel"]
    assert any('<img src=y onerror="window.__twinPwned = 3">' in t for t in texts)  # shown, as text
    for state in new.values():
        name = state.get("_model_name")
        for key, value in state.items():
            if not isinstance(value, str):
                continue
            if name == "TextareaModel" and key == "value":
                continue  # a Textarea renders its value as text
            # anything else (HTML widgets, labels, descriptions, tooltips) holds no live markup:
            # the only tags are the panel's own
            tags = {t.lower() for t in re.findall(r"<\s*/?\s*([a-zA-Z][a-zA-Z0-9]*)", value)}
            assert tags <= {"pre", "span", "b", "i"}, (name, key, tags, value[:200])


@pytest.fixture(scope="module")
def bare(model_env):
    """A kernel where ipywidgets cannot be imported."""
    kernel = WidgetKernel(model_env)
    try:
        reply, _ = kernel.execute("import sys; sys.modules['ipywidgets'] = None\n%load_ext jupyter_twin")
        assert reply["status"] == "ok"
        yield kernel
    finally:
        kernel.close()


def test_without_ipywidgets_it_works_as_before_and_says_what_ipywidgets_adds(bare):
    reply, msgs = bare.execute("%%refactor\n" + BODY, "b-1")
    assert reply["status"] == "ok"
    payloads = bare.next_inputs(reply)
    assert len(payloads) == 1 and payloads[0]["replace"] is False  # inserted below, as before
    compile(payloads[0]["text"], "<inserted>", "exec")
    assert not [m for m in msgs if m["msg_type"] == "comm_open"]
    texts = [m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] in ("display_data", "update_display_data")]
    assert texts and "squares" in texts[-1]
    hint = [line for line in bare.stream_text(msgs).splitlines() if "pip install ipywidgets" in line]
    assert len(hint) == 1 and "Replace original" in hint[0]
    # once per kernel
    reply, msgs = bare.execute("%%refactor\n" + BODY, "b-2")
    assert "pip install ipywidgets" not in bare.stream_text(msgs) and len(bare.next_inputs(reply)) == 1


def test_a_magic_inside_other_code_cannot_wait_and_inserts_as_before(wk):
    """Only a cell that is exactly one magic can await a click; elsewhere the panel says so
    and the result goes in below at once (also what an ipykernel < 7.4 gets)."""
    wk.execute("def area(r):\n    return 3.14159 * r * r", "o-1")
    before = set(wk.models)
    reply, _ = wk.execute("radius = 2\n%twin doc", "o-2", timeout=300)
    assert reply["status"] == "ok"
    payloads = wk.next_inputs(reply)
    assert len(payloads) == 1 and payloads[0]["replace"] is False
    labels = [s.get("value", "") for s in _new(wk, before, "LabelModel").values()]
    assert any(v.startswith("Inserted below as a new cell. (Replace and Insert below need") for v in labels), labels
    buttons = {s["description"]: s for s in _new(wk, before, "ButtonModel").values()}
    assert buttons["Replace this cell"]["disabled"] and buttons["Insert below"]["disabled"]
