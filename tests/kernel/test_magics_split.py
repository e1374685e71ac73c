"""The magics split by topic (issue 11, point 6): task magics and control magics, both
registered by ``%load_ext jupyter_twin``, options from IPython's magic_arguments (``--help``
lists them), and one engine whose roles the engine itself resolves. No model: an Ollama
address where nothing listens."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_twin.kernel.magics import ControlMagics, TaskMagics, TwinMagics, get_magics
from jupyter_twin.tasks import TASKS

NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext jupyter_twin")
    yield shell
    m = get_magics(shell)
    if m is not None:
        m.backend = m.host = m.model = m.completion_model = m.chat_model = None
        m._drop_twins()


def run(ip, code):
    result = ip.run_cell(code)
    assert result.error_in_exec is None and result.error_before_exec is None, result
    return result


def test_load_ext_registers_both_magics_classes_and_unload_takes_them_out(ip):
    mm = ip.magics_manager
    assert isinstance(mm.registry.get("TaskMagics"), TaskMagics)
    assert isinstance(mm.registry.get("ControlMagics"), ControlMagics)
    for name in ("refactor", "explain", "complete"):
        assert isinstance(mm.magics["cell"][name].__self__, TaskMagics)
    assert isinstance(mm.magics["line"]["twin"].__self__, ControlMagics)
    assert isinstance(mm.magics["cell"]["twin"].__self__, ControlMagics)
    state = get_magics(ip)
    assert isinstance(state, TwinMagics) and state in ip.configurables
    # both classes share the one state object
    assert mm.registry["TaskMagics"].state is state and mm.registry["ControlMagics"].state is state
    run(ip, "%unload_ext jupyter_twin")
    assert "TaskMagics" not in mm.registry and "ControlMagics" not in mm.registry
    assert "twin" not in mm.magics["line"] and "refactor" not in mm.magics["cell"]
    run(ip, "%load_ext jupyter_twin")
    assert isinstance(mm.registry.get("TaskMagics"), TaskMagics) and "twin" in mm.magics["line"]


def test_twin_model_help_lists_its_options_and_changes_nothing(ip, capsys):
    m = get_magics(ip)
    run(ip, "%twin model --help")
    out = capsys.readouterr().out
    assert "--completion NAME" in out and "--chat NAME" in out and "%twin model" in out
    assert m.completion_model is None and m.chat_model is None


def test_cell_magic_help_lists_the_task_options_and_runs_nothing(ip, capsys):
    m = get_magics(ip)
    m.last_context = None
    run(ip, "%%refactor --help\nx = 1")
    captured = capsys.readouterr()
    for option in ("%%refactor", "-m NAME, --model NAME", "--backend", "--host URL", "--no-insert", "--no-facts",
                   "--source"):
        assert option in captured.out, option
    assert m.last_context is None and captured.err == ""
    # the docstring IPython shows for `%%refactor?` is the same help
    assert "--no-insert" in ip.magics_manager.magics["cell"]["refactor"].__doc__


def test_twin_task_words_are_the_tasks_names_and_short_names(ip):
    control = ip.magics_manager.registry["ControlMagics"]
    for task in ("fix", "document", "test", "ask"):
        assert control.words[TASKS[task].name] == control.words[TASKS[task].command]
    assert control.words["doc"] == control.words["document"]


def test_a_bad_option_names_the_magics_usage(ip, capsys):
    run(ip, "%twin model --bogus x")
    err = capsys.readouterr().err
    assert err.startswith("jupyter_twin: unrecognized arguments: --bogus") and "usage: %twin model" in err
    assert "Traceback" not in err


def test_one_engine_serves_both_roles_and_a_role_change_keeps_the_other(ip, capsys):
    m = get_magics(ip)
    run(ip, f"%twin backend ollama --host {NOWHERE}")
    run(ip, "%twin model --completion qwen2.5-coder:1.5b")
    engine = m.twin()
    chat_backend = engine.backend_for("chat")
    run(ip, "%twin model --chat codestral")
    run(ip, "%twin model --completion other-coder")
    # the same engine: use_model swapped one role's backend, the completion one's stays apart
    assert m.twin() is engine
    assert engine.backend_for("complete").model == "other-coder"
    assert engine.backend_for("chat").model == "codestral" and engine.backend_for("chat") is not chat_backend
    assert (m.completion_model, m.chat_model) == ("other-coder", "codestral")
    capsys.readouterr()
    run(ip, "%twin status")
    out = capsys.readouterr().out
    assert "completion: ollama other-coder; chat: ollama codestral" in out
    # %config makes a new engine from the settings as they are now
    try:
        run(ip, "%config TwinMagics.chat_model = 'mistral'")
        assert m.twin() is not engine and m.twin().backend_for("chat").model == "mistral"
    finally:
        ip.config.TwinMagics.pop("chat_model", None)  # later loads must not inherit it


def test_a_commands_model_option_gets_an_engine_of_its_own(ip):
    m = get_magics(ip)
    run(ip, f"%twin backend ollama --host {NOWHERE}")
    main = m.twin()
    one_off = m.twin({"model": "codestral"})
    assert one_off is not main and m.twin({"model": "codestral"}) is one_off
    assert one_off.backend_for("complete").model == one_off.backend_for("chat").model == "codestral"
    assert m.twin() is main
