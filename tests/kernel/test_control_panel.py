"""``%twin`` alone in a real ipykernel (issue 13, point 2): the control panel's widget
models, changed as a front end changes them, act on this kernel's magics at once; in a
kernel without ipywidgets the same facts print as text."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from widget_client import WidgetKernel  # noqa: E402

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def wk(model_env):
    kernel = WidgetKernel(model_env)
    try:
        reply, _ = kernel.execute("%load_ext jupyter_twin")
        assert reply["status"] == "ok"
        yield kernel
    finally:
        kernel.close()


def test_control_panel_shows_the_backend_and_its_models_and_applies_changes(wk, demo_model):
    reply, msgs = wk.execute("from jupyter_twin.kernel.magics import get_magics\n"
                             "print(get_magics(get_ipython()).twin().models())")
    listed = eval(wk.stream_text(msgs))  # the backend's own list, printed by the kernel
    assert demo_model.name in listed
    before = set(wk.models)
    reply, _ = wk.execute("%twin", "p-1")
    assert reply["status"] == "ok"
    new = {cid: s for cid, s in wk.models.items() if cid not in before}
    labels = [s["value"] for s in new.values() if s.get("_model_name") == "LabelModel"]
    assert any(v.startswith("backend: embedded") and "reachable" in v and "NOT" not in v for v in labels), labels
    assert any(v.startswith("last latency:") for v in labels)
    drops = {s["description"]: (cid, s) for cid, s in new.items() if s.get("_model_name") == "DropdownModel"}
    assert set(drops) == {"completion", "chat"}
    # the backend's own list (file names: no path reaches the page), the current model chosen
    for _cid, state in drops.values():
        assert state["_options_labels"] == [os.path.basename(n) for n in listed]
        assert listed[state["index"]] == demo_model.name
    other = next((i for i, n in enumerate(listed) if n != demo_model.name), None)
    tab = [(cid, s) for cid, s in new.items() if s.get("_model_name") == "CheckboxModel"]
    assert len(tab) == 1 and tab[0][1]["value"] is False

    # the front end picks a chat model (another listed one if there is one) and turns Tab on
    pick = other if other is not None else listed.index(demo_model.name)
    if other is None:
        wk.set_value(drops["chat"][0], {"index": None})
    wk.set_value(drops["chat"][0], {"index": pick})
    wk.set_value(tab[0][0], {"value": True})
    reply, msgs = wk.execute(
        "from jupyter_twin.kernel.magics import get_magics\n"
        "m = get_magics(get_ipython())\n"
        "print(repr(m.chat_model)); print(m.tab_completion)\n"
        "import traitlets\n"
        "try:\n"
        "    m.last_control.completion.value = 'http://attacker.example/v1'\n"
        "except traitlets.TraitError:\n"
        "    print('refused')\n"
        "print(repr(m.completion_model))")
    out = wk.stream_text(msgs).splitlines()
    assert out[0] == repr(listed[pick]) and out[1] == "True", out
    assert out[2] == "refused" and out[3] == "None", out
    wk.execute("%twin tab off")


def test_without_ipywidgets_twin_alone_prints_the_same_as_text(model_env, demo_model):
    bare = WidgetKernel(model_env)
    try:
        reply, msgs = bare.execute("import sys; sys.modules['ipywidgets'] = None\n%load_ext jupyter_twin\n%twin")
        assert reply["status"] == "ok"
        out = bare.stream_text(msgs)
        assert "backend: embedded" in out and "reachable" in out
        assert f"chat model: {demo_model.name}" in out and "tab completion: off" in out
        assert "%%refactor" in out  # the usage follows
        assert "pip install ipywidgets" in out
        assert not [m for m in msgs if m["msg_type"] == "comm_open"]
    finally:
        bare.close()
