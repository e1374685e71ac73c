"""The magics in an IPython InteractiveShell (no kernel): loading, options, kernel facts,
context sources, and the tasks with the embedded demo model."""

import _thread
import threading
import time

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_twin.kernel import facts as facts_mod
from jupyter_twin.kernel.facts import collect_facts, facts_json, used_names
from jupyter_twin.kernel.sources import LiveNotebook
from jupyter_twin.kernel.magics import TwinMagics, get_magics, split_options


@pytest.fixture(scope="module")
def ip():
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext jupyter_twin", store_history=True)
    yield shell
    shell.run_cell("%unload_ext jupyter_twin")


@pytest.fixture
def magics(ip, monkeypatch):
    m = get_magics(ip)
    # each test starts with defaults and no front end
    m.live = LiveNotebook()
    m.insert = True
    m.kernel_facts = True
    m.context_source = "auto"
    ip.user_ns.pop("__session__", None)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    ip.rl_next_input = None
    return m


@pytest.fixture
def on_model(magics, model_env, monkeypatch):
    for key, value in model_env.items():
        monkeypatch.setenv(key, value)
    magics.backend = None
    magics.model = None
    magics.host = None
    return magics


def run(ip, code):
    result = ip.run_cell(code, store_history=True)
    assert result.error_in_exec is None and result.error_before_exec is None, result
    return result


# ---------------------------------------------------------------------- loading


def test_load_registers_magics_and_config(ip):
    mm = ip.magics_manager.magics
    for name in ("refactor", "explain", "complete", "twin"):
        assert name in mm["cell"]
    assert "twin" in mm["line"]
    m = get_magics(ip)
    assert isinstance(m, TwinMagics) and m in ip.configurables
    run(ip, "%config TwinMagics.insert = False")
    assert m.insert is False
    run(ip, "%config TwinMagics.insert = True")


def test_unload_and_reload(ip):
    run(ip, "%unload_ext jupyter_twin")
    assert "refactor" not in ip.magics_manager.magics["cell"]
    assert get_magics(ip) is None
    run(ip, "%load_ext jupyter_twin")
    assert "refactor" in ip.magics_manager.magics["cell"]


def test_help(ip, capsys):
    run(ip, "%twin")
    out = capsys.readouterr().out
    for word in ("%%refactor", "%%explain", "%%complete", "%twin fix", "%twin doc", "%twin test",
                 "%twin ask", "%twin status", "%twin model", "%twin backend", "%twin context"):
        assert word in out


def test_split_options():
    assert split_options("don't use loops") == ({}, "don't use loops")
    assert split_options("-m qwen --no-insert use pathlib") == ({"model": "qwen", "insert": False}, "use pathlib")
    assert split_options("--source=saved x") == ({"source": "saved"}, "x")
    assert split_options("--source saved --no-facts") == ({"source": "saved", "facts": False}, "")
    assert split_options('-b ollama --host http://127.0.0.1:9 "what is x?"') == (
        {"backend": "ollama", "host": "http://127.0.0.1:9"}, "what is x?")
    assert split_options("-m 'my model' rest") == ({"model": "my model"}, "rest")
    with pytest.raises(ValueError):
        split_options("--bogus x")
    with pytest.raises(ValueError):
        split_options("-m")


def test_bad_option_is_one_clear_message(ip, magics, capsys):
    run(ip, "%%refactor --bogus\nx = 1")
    err = capsys.readouterr().err
    assert "unknown option --bogus" in err and "Traceback" not in err


# ---------------------------------------------------------------------- kernel facts


class Trap:
    """Any repr, len, str, iteration or attribute read is a failure."""

    touched = []

    def __repr__(self):
        Trap.touched.append("repr")
        return "trap"

    def __str__(self):
        Trap.touched.append("str")
        return "trap"

    def __len__(self):
        Trap.touched.append("len")
        return 0

    def __iter__(self):
        Trap.touched.append("iter")
        return iter(())

    def __getattr__(self, name):
        Trap.touched.append(f"getattr {name}")
        raise AttributeError(name)


def test_used_names_on_incomplete_code():
    code = 'x = df.groupby("region")["rev  # a comment with hidden_name\ny = np.linalg.norm(arr'
    names = used_names(code)
    assert names[:4] == ["x", "df.groupby", "y", "np.linalg.norm"]
    assert "arr" in names and "hidden_name" not in names and "region" not in names


def test_facts_types_and_no_side_effects():
    import numpy as np
    import pandas as pd

    def load_prices(path, *, currency="EUR", limit: int = 10):
        """Load the price table.

        Details."""

    class Model:
        """A model."""

        def __init__(self, alpha=0.1):
            pass

    Trap.touched = []
    ns = {
        "pd": pd, "np": np, "trap": Trap(), "load_prices": load_prices, "Model": Model,
        "df": pd.DataFrame({"region": ["a"], "revenue": [1.5], "units": [3]}),
        "s": pd.Series([1.0, 2.0], name="price"), "arr": np.zeros((3, 4), dtype="float32"),
        "n": 5, "name": "hello", "cfg": {"lr": 0.1, "epochs": 3}, "big": list(range(100_000)),
        "blob": "x" * 10_000,
    }
    code = "trap.anything; trap[0]; df.revenue; s; arr; n; name; cfg; big; blob; load_prices(; Model(; pd; np.nan"
    facts = {f["name"]: f for f in collect_facts(code, ns)}
    assert Trap.touched == []
    assert facts["trap"]["type"].endswith("Trap") and set(facts["trap"]) <= {"name", "type", "module"}
    assert facts["df"] == {"name": "df", "type": "pandas.DataFrame", "shape": [1, 3],
                           "columns": {"region": facts["df"]["columns"]["region"], "revenue": "float64", "units": "int64"}}
    assert facts["s"]["len"] == 2 and facts["s"]["dtype"] == "float64"
    assert facts["arr"]["shape"] == [3, 4] and facts["arr"]["dtype"] == "float32"
    # issue 9 point 6: no string value is ever sent (it was "'hello'"), only its length
    assert facts["n"]["value"] == "5" and "value" not in facts["name"] and facts["name"]["len"] == 5
    assert facts["cfg"]["len"] == 2 and facts["cfg"]["keys"] == ["lr", "epochs"]
    assert facts["big"]["len"] == 100_000 and "value" not in facts["big"]
    assert facts["blob"]["len"] == 10_000 and "value" not in facts["blob"]
    assert facts["load_prices"]["signature"] == "(path, *, currency='EUR', limit: int = 10)"
    assert facts["load_prices"]["doc"] == "Load the price table."
    assert facts["Model"]["type"] == "class" and facts["Model"]["signature"] == "(alpha=0.1)"
    assert facts["pd"] == {"name": "pd", "type": "module", "module": "pandas"}
    # live data first, modules after
    order = [f["name"] for f in collect_facts(code, ns)]
    assert order.index("df") < order.index("pd")


def test_facts_are_bounded():
    import pandas as pd

    wide = pd.DataFrame({f"col_{i}": [i] for i in range(500)})
    facts = collect_facts("wide", {"wide": wide})
    assert len(facts[0]["columns"]) == facts_mod.MAX_COLUMNS + 1  # and a "… more" entry
    assert facts[0]["columns"]["…"] == "460 more"
    ns = {f"v{i}": i for i in range(200)}
    code = " + ".join(ns)
    assert len(collect_facts(code, ns)) == facts_mod.MAX_NAMES
    started = time.perf_counter()
    collect_facts(code, ns, time_budget=0.0)
    assert time.perf_counter() - started < 0.05
    assert collect_facts("In; Out; _; get_ipython; exit; print; len", {"In": [], "Out": {}, "_": 1}) == []


def test_facts_json_is_plain_json_in_repr():
    text = facts_json("a", {"a": 1})
    assert repr(text) == '[{"name": "a", "type": "int", "value": "1"}]'


# ---------------------------------------------------------------------- context sources


def _saved_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Saved notebook", id="md-1"),
        nbformat.v4.new_code_cell("saved_value = 41", id="code-1"),
        nbformat.v4.new_code_cell("%twin context", id="code-2"),
    ]
    path = tmp_path / "saved.ipynb"
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


@pytest.mark.model
def test_context_from_history(ip, on_model, capsys):
    run(ip, "history_value = 1")
    run(ip, "%twin context")
    out = capsys.readouterr().out
    assert "Neighbouring cells from: history: kernel input history" in out
    assert "(not used: live: no notebook pushed by the front end)" in out
    assert "history_value = 1" in out  # the cell above, in what would be sent


@pytest.mark.model
def test_context_from_saved_notebook(ip, on_model, tmp_path, capsys, monkeypatch):
    path = _saved_notebook(tmp_path)
    ip.user_ns["__session__"] = str(path)
    run(ip, "saved_value = 41")
    run(ip, "%twin context")  # located by its text: no cell id outside a kernel
    out = capsys.readouterr().out
    assert f"Neighbouring cells from: saved: saved notebook {path}" in out and "found by its text" in out
    # with the kernel's cell id (the parent header's metadata in a real kernel)
    monkeypatch.setattr(ip, "get_parent", lambda: {"metadata": {"cellId": "code-2"}}, raising=False)
    run(ip, "%twin   context")
    out = capsys.readouterr().out
    assert "found by cell id" in out and "# Saved notebook" in out


@pytest.mark.model
def test_context_from_live_push(ip, on_model, capsys, monkeypatch):
    on_model.live.update({
        "v": 1, "action": "notebook", "path": "live.ipynb", "active_cell_id": "L2",
        "cells": [{"id": "L1", "cell_type": "code", "source": "live_value = 7"},
                  {"id": "L2", "cell_type": "code", "source": "%twin context"}],
    })
    monkeypatch.setattr(ip, "get_parent", lambda: {"metadata": {"cellId": "L2"}}, raising=False)
    run(ip, "%twin context")
    out = capsys.readouterr().out
    assert "Neighbouring cells from: live: notebook pushed by the front end" in out
    assert "live_value = 7" in out
    # a push for another cell is stale: the next source is used
    monkeypatch.setattr(ip, "get_parent", lambda: {"metadata": {"cellId": "other"}}, raising=False)
    run(ip, "%twin context")
    out = capsys.readouterr().out
    assert "Neighbouring cells from: history" in out and "live: the last push was for another cell" in out


@pytest.mark.model
def test_forced_source_option(ip, on_model, tmp_path, capsys):
    ip.user_ns["__session__"] = str(_saved_notebook(tmp_path))
    run(ip, "saved_value = 41")
    run(ip, "%twin context --source history")
    assert "Neighbouring cells from: history" in capsys.readouterr().out


# ---------------------------------------------------------------------- with the model


@pytest.mark.model
def test_refactor_streams_and_sets_next_input(ip, on_model, capsys):
    run(ip, "import pandas as pd\nsales = pd.DataFrame({'region': ['n', 's'], 'amount': [1.0, 2.0]})")
    run(ip, "%%refactor use a list comprehension\nsquares = []\nfor i in range(10):\n    squares.append(i * i)")
    out = capsys.readouterr().out
    code = ip.rl_next_input
    assert code and "squares" in code
    compile(code, "<refactored>", "exec")
    assert "squares" in out and "The code is in the next input." in out
    assert on_model.last_context.source == "history"


@pytest.mark.model
def test_complete_at_marker_and_explain(ip, on_model, capsys):
    run(ip, "%%complete\ndef area(width, height):\n    # ...\n\nprint(area(2, 3))")
    code = ip.rl_next_input
    assert code.startswith("def area(width, height):\n    ") and "# ..." not in code
    assert code.rstrip().endswith("print(area(2, 3))")
    ip.rl_next_input = None
    run(ip, "%%explain\ntotal = sum(x * x for x in range(5))")
    out = capsys.readouterr().out
    assert out.strip() and ip.rl_next_input is None  # markdown stays as output, no code cell


@pytest.mark.model
def test_fix_uses_last_error(ip, on_model, capsys):
    result = ip.run_cell("values = [1, 2, 3]\nprint(values[10])", store_history=True)
    assert isinstance(result.error_in_exec, IndexError)
    assert on_model.last_error["error"].endswith("IndexError: list index out of range")
    assert "interactiveshell.py" not in on_model.last_error["error"]
    capsys.readouterr()
    run(ip, "%twin fix")
    out = capsys.readouterr().out
    assert "IndexError: list index out of range" in out
    assert ip.rl_next_input and "values" in ip.rl_next_input


@pytest.mark.model
def test_live_push_sends_insert_over_comm(ip, on_model, monkeypatch):
    on_model.live.update({
        "action": "notebook", "path": "live.ipynb", "active_cell_id": "C2",
        "cells": [{"id": "C1", "cell_type": "code", "source": "import math"},
                  {"id": "C2", "cell_type": "code", "source": "%%complete\nradius = 2.0\narea = math."}],
    })
    monkeypatch.setattr(ip, "get_parent", lambda: {"metadata": {"cellId": "C2"}}, raising=False)
    run(ip, "%%complete\nradius = 2.0\narea = math.")
    assert on_model.last_context.source == "live"
    assert ip.rl_next_input is None  # no set_next_input where the extension is present
    assert len(on_model.last_sent) == 1
    msg = on_model.last_sent[0]
    assert msg["action"] == "insert" and msg["cell_id"] == "C2" and msg["cell_type"] == "code"
    assert msg["source"].startswith("radius = 2.0\narea = math.")


def test_backend_down_is_one_line(ip, magics, capsys):
    run(ip, "%%refactor -b ollama --host http://127.0.0.1:9\nx = 1")
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("jupyter_twin: ") and "127.0.0.1:9" in lines[0]
    assert "Traceback" not in captured.out + captured.err


def test_status_reports_unreachable_backend(ip, magics, capsys):
    run(ip, "%twin backend ollama --host http://127.0.0.1:9")
    try:
        run(ip, "%twin status")
        out = capsys.readouterr().out
        assert "backend: ollama" in out and "NOT reachable" in out
    finally:
        magics.backend = None
        magics.host = None
        magics._drop_twins()


@pytest.mark.model
def test_interrupt_stops_the_model(ip, on_model, capsys, monkeypatch):
    monkeypatch.setenv("JUPYTER_TWIN_MAX_TOKENS_CHAT", "600")
    on_model._drop_twins()
    started = {}

    from jupyter_twin.kernel import magics as magics_mod

    original = magics_mod._View.add

    def add(self, delta):
        original(self, delta)
        if "t" not in started:
            started["t"] = time.monotonic()
            threading.Timer(0.3, _thread.interrupt_main).start()

    monkeypatch.setattr(magics_mod._View, "add", add)
    run(ip, "%twin ask Explain in great detail, with many examples, how Python lists work.")
    ended = time.monotonic()
    err = capsys.readouterr().err
    assert "jupyter_twin: interrupted; the model was stopped." in err
    assert "Traceback" not in err
    assert ended - started["t"] < 5, "the model did not stop promptly"
    on_model._drop_twins()


@pytest.mark.model
def test_tab_matcher_adds_model_completion_and_is_bounded(ip, on_model):
    run(ip, "import pandas as pd\nclimate = pd.DataFrame({'temp_c_avg': [1.0], 'station_code': ['x']})")
    run(ip, "%twin tab on")
    try:
        on_model.tab_timeout = 60  # first call loads nothing new: the model is loaded already
        text = "# mean temperature\nm = climate['temp_c"
        from IPython.core.completer import provisionalcompleter

        with provisionalcompleter():
            comps = list(ip.Completer.completions(text, len(text)))
        ours = [c for c in comps if c.type == "jupyter_twin"]
        assert len(ours) == 1 and ours[0].text.startswith("temp_c")
        # IPython's own items stay (here the dict key matcher's column name)
        assert ("temp_c_avg", "dict key") in [(c.text, c.type) for c in comps]
        text = "# mean temperature\nm = clim"
        with provisionalcompleter():
            comps = list(ip.Completer.completions(text, len(text)))
        ours = [c for c in comps if c.type == "jupyter_twin"]
        assert len(ours) == 1 and ours[0].text.startswith("climate")
        assert "climate" in [c.text for c in comps if c.type != "jupyter_twin"]
        on_model.tab_timeout = 0.01
        started = time.monotonic()
        with provisionalcompleter():
            comps = list(ip.Completer.completions("x = climate.", 12))
        assert time.monotonic() - started < 1.5
        assert not [c for c in comps if c.type == "jupyter_twin"]
    finally:
        run(ip, "%twin tab off")
        on_model.tab_timeout = 1.5
    assert on_model.matcher is None


@pytest.mark.model
def test_doc_and_test_act_on_the_cell_above(ip, on_model, capsys):
    run(ip, "def vat(amount, rate=0.2):\n    return round(amount * (1 + rate), 2)")
    run(ip, "%twin doc")
    assert "def vat" in ip.rl_next_input
    assert on_model.last_context.cells[-2]["source"].startswith("def vat")
    ip.rl_next_input = None
    run(ip, "%twin test --no-facts")
    assert ip.rl_next_input and "vat" in ip.rl_next_input
    assert on_model.last_facts == []
    capsys.readouterr()
    run(ip, "%%twin context complete\ntotal = vat(")
    out = capsys.readouterr().out
    assert "vat: function signature=(amount, rate=0.2)" in out
    assert "<|fim_prefix|>" in out and "total = vat(" in out


def test_completion_and_chat_models_are_set_apart_and_shown(ip, magics, capsys):
    """`%twin model --completion NAME` / `--chat NAME` (issue 12 point 1); `%twin model` and
    `%twin status` show both. An unreachable Ollama: the names are the configuration's."""
    run(ip, "%twin backend ollama --host http://127.0.0.1:9")
    try:
        run(ip, "%twin model --completion qwen2.5-coder:1.5b")
        run(ip, "%twin model --chat codestral")
        capsys.readouterr()
        run(ip, "%twin model")
        out = capsys.readouterr().out
        assert "completion model: qwen2.5-coder:1.5b" in out and "chat model: codestral" in out
        run(ip, "%twin status")
        out = capsys.readouterr().out
        assert "completion: ollama qwen2.5-coder:1.5b; chat: ollama codestral" in out
        # one engine serves both roles (issue 11 point 6): the role rule is the engine's
        assert magics.twin() is magics.twin()
        assert magics.twin().backend_for("complete").model == "qwen2.5-coder:1.5b"
        assert magics.twin().backend_for("chat").model == "codestral"
    finally:
        magics.backend = magics.host = magics.completion_model = magics.chat_model = None
        magics._drop_twins()
