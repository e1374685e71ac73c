"""``%twin chat`` in a real ipykernel (issue 13, point 3): the panel's widgets driven as a
front end drives them; Stop cancels the generation on the model process (counted there);
the history follows the sidebar's rules and reaches the backend; hostile answers stay inert."""

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


@pytest.fixture(scope="module")
def wk(model_env):
    # a context size of its own gives this kernel a model process of its own: its counters
    # count this test's generations only, not those of anything else using the shared one
    kernel = WidgetKernel({**model_env, "JUPYTER_TWIN_NUM_CTX": "1664"})
    try:
        reply, _ = kernel.execute("%load_ext jupyter_twin\nfrom jupyter_twin.kernel.magics import get_magics\nm = get_magics(get_ipython())")
        assert reply["status"] == "ok"
        yield kernel
    finally:
        kernel.close()


def _open_chat(wk: WidgetKernel, line: str = "%twin chat") -> dict[str, tuple[str, dict]]:
    before = set(wk.models)
    reply, _ = wk.execute(line, "chat-cell")
    assert reply["status"] == "ok"
    new = {cid: s for cid, s in wk.models.items() if cid not in before}
    found: dict[str, tuple[str, dict]] = {}
    for cid, s in new.items():
        name = s.get("_model_name")
        if name == "ButtonModel":
            found[s["description"]] = (cid, s)
        elif name == "TextareaModel":
            found["question"] = (cid, s)
        elif name == "LabelModel":
            found["status"] = (cid, s)
        elif name == "HTMLModel" and "jupyter_twin chat" not in s.get("value", ""):
            found["history"] = (cid, s)
    assert {"Send", "Stop", "question", "status", "history"} <= set(found), found
    return found


def _state(wk: WidgetKernel, cid: str) -> dict:
    return wk.models[cid]


def _ask(wk: WidgetKernel, chat: dict, question: str) -> None:
    wk.set_value(chat["question"][0], {"value": question})
    wk.click(chat["Send"][0])


def _stats(wk: WidgetKernel) -> dict:
    reply, msgs = wk.execute("t = m.twin(); t.backend.info(); print(t.backend_stats())")
    return eval(wk.stream_text(msgs).strip())  # a dict of ints printed by the kernel


def test_stop_cancels_the_generation_on_the_model_process(wk):
    chat = _open_chat(wk)
    assert "No messages yet" in _state(wk, chat["history"][0])["value"]
    before = _stats(wk)
    _ask(wk, chat, "Write a very long, detailed tutorial on Python decorators with many examples.")
    # the answer streams in (the history grows past the question) ...
    wk.wait_for(lambda: "jupyter_twin …" in _state(wk, chat["history"][0])["value"]
                and _state(wk, chat["Stop"][0]).get("disabled") is False, timeout=120)
    wk.wait_for(lambda: len(re.findall(r"<pre", _state(wk, chat["history"][0])["value"])) == 2
                and len(_state(wk, chat["history"][0])["value"].rsplit("<pre", 1)[1]) > 80, timeout=120,
                what=lambda: (_state(wk, chat["history"][0])["value"][-600:], _state(wk, chat["status"][0])["value"]))
    wk.click(chat["Stop"][0])
    wk.wait_for(lambda: _state(wk, chat["status"][0])["value"] == "Stopped: the model was stopped.", timeout=30)
    assert "(stopped)" in _state(wk, chat["history"][0])["value"]
    assert _state(wk, chat["Send"][0])["disabled"] is False
    # the model process counts the cancel once the generation has stopped
    deadline = time.monotonic() + 20
    after = _stats(wk)
    while after["cancelled"] < before["cancelled"] + 1 and time.monotonic() < deadline:
        time.sleep(0.5)
        after = _stats(wk)
    assert after["cancelled"] == before["cancelled"] + 1, (before, after)
    assert after["started"] == before["started"] + 1, (before, after)
    # a stopped answer is shown but not sent as history (the sidebar's rule)
    reply, msgs = wk.execute(
        "from jupyter_twin.kernel.chat_panel import history_for_engine\n"
        "c = m.last_chat; print([t.state for t in c.turns]); print(history_for_engine(c.turns))")
    out = wk.stream_text(msgs).splitlines()
    assert out[0] == "['done', 'stopped']", out
    assert out[1].startswith("[{'role': 'user', 'content': 'Write a very long") and "assistant" not in out[1]


def test_history_reaches_the_backend_and_hostile_answers_stay_inert(wk):
    with start_hostile_server(HOSTILE_ANSWER) as server:
        chat = _open_chat(wk, f"%twin chat -b openai --host {server.url} -m hostile")
        # this notebook's earlier turns are shown again in the new panel
        assert "Write a very long" in _state(wk, chat["history"][0])["value"]
        _ask(wk, chat, "first question")
        wk.wait_for(lambda: _state(wk, chat["status"][0])["value"] == "Done.", timeout=60)
        _ask(wk, chat, "second question")
        wk.wait_for(lambda: _state(wk, chat["status"][0])["value"] == "Done."
                    and "second question" in _state(wk, chat["history"][0])["value"]
                    and _state(wk, chat["Send"][0])["disabled"] is False, timeout=60)
        posts = [r["json"] for r in server.requests if r["method"] == "POST"]
    assert len(posts) == 2
    sent = [msg["content"] for msg in posts[1]["messages"]]
    assert any("first question" in c for c in sent)
    assert any("Here is the answer." in c for c in sent)  # the finished answer, as history
    assert not any("Write a very long" in c and msg["role"] == "assistant"
                   for c, msg in zip(sent, posts[1]["messages"]))
    history = _state(wk, chat["history"][0])["value"]
    assert "&lt;script&gt;" in history and "&lt;img" in history  # shown, escaped
    tags = {t.lower() for t in re.findall(r"<\s*/?\s*([a-zA-Z][a-zA-Z0-9]*)", history)}
    assert tags <= {"div", "b", "pre", "i"}, tags


def test_chat_without_ipywidgets_says_what_to_install(model_env):
    bare = WidgetKernel(model_env)
    try:
        reply, msgs = bare.execute("import sys; sys.modules['ipywidgets'] = None\n%load_ext jupyter_twin\n%twin chat")
        assert reply["status"] == "ok"
        assert "pip install ipywidgets" in bare.stream_text(msgs)
        assert not [m for m in msgs if m["msg_type"] == "comm_open"]
    finally:
        bare.close()
