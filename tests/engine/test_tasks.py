import pytest

from jupyter_twin.tasks import TASKS, build_messages, check_history, extract_code, finish, recent_turns


def test_extract_code_from_fenced_answer():
    text = "Here is the refactored cell:\n\n```python\ndef f(x):\n    return x * 2\n```\n\nThis is clearer."
    assert extract_code(text) == "def f(x):\n    return x * 2"


def test_extract_code_unclosed_fence_and_bare_code():
    assert extract_code("```python\nx = 1\ny = 2") == "x = 1\ny = 2"
    assert extract_code("x = [i for i in range(3)]") == "x = [i for i in range(3)]"
    assert extract_code("Sure! Here you go:\nx = 1") == "x = 1"


def test_extract_code_prefers_python_block_and_longest():
    text = "```text\nnot code\n```\n```python\na = 1\nb = 2\n```\nUsage:\n```python\nf()\n```"
    assert extract_code(text) == "a = 1\nb = 2"


def test_messages_stable_first_cell_then_request():
    msgs = build_messages(TASKS["refactor"], stable="# %%\nimport os\n\n# %%\n", cell_source="x=1", cell_label="cell 3", instruction="use f-strings")
    user = msgs[1]["content"]
    assert msgs[0]["role"] == "system"
    assert user.index("import os") < user.index("x=1") < user.index("use f-strings")
    assert "# %%" not in user


def test_fix_includes_error():
    msgs = build_messages(TASKS["fix"], stable="", cell_source="1/0", cell_label="cell 0", error="ZeroDivisionError: division by zero")
    assert "ZeroDivisionError" in msgs[1]["content"]


@pytest.mark.parametrize("name, kind", [("explain", "markdown"), ("ask", "markdown"), ("refactor", "code"), ("fix", "code"), ("document", "code"), ("test", "code")])
def test_task_kinds(name, kind):
    assert TASKS[name].kind == kind
    assert finish(TASKS[name], "```python\nx = 1\n```") == ("x = 1" if kind == "code" else "```python\nx = 1\n```")


def test_kernel_facts_listed_outside_code_blocks():
    from jupyter_twin.cells import to_cells
    from jupyter_twin.context import build_context

    cells = to_cells([{"cell_type": "code", "source": "import pandas as pd"}, {"cell_type": "code", "source": "df.head()"}])
    ctx = build_context(cells, 1, 0, kernel_facts=[{"name": "df", "type": "pandas.DataFrame", "columns": {"a": "int64"}, "index": "RangeIndex(0, 3)"}])
    stable = ctx.stable.removesuffix("# %%\n").rstrip().replace(ctx.facts, "").rstrip()
    msgs = build_messages(TASKS["explain"], stable=stable, cell_source="df.head()", cell_label="cell 1", facts=ctx.facts)
    user = msgs[1]["content"]
    assert "- df: pandas.DataFrame" in user and "index=RangeIndex(0, 3)" in user
    code_block = user.split("```python")[1].split("```")[0]
    assert "kernel state" not in code_block and "df: pandas" not in code_block


def test_echoed_context_block_is_not_taken_for_the_answer():
    text = ("```python\n# %%\nimport os\n\n# %%\nvalues = list(range(100))\nprint(len(values))\n```\n"
            "Fixed:\n```python\nvalues = [1, 2, 3]\nprint(values[-1])\n```")
    assert extract_code(text, "values = [1, 2, 3]\nprint(values[10])") == "values = [1, 2, 3]\nprint(values[-1])"


def test_magics_left_out_of_context():
    from jupyter_twin.cells import to_cells
    from jupyter_twin.context import build_context

    cells = to_cells([{"cell_type": "code", "source": "%config TwinMagics.insert = False"},
                      {"cell_type": "code", "source": "%%time\nx = 1\n!ls"}, {"cell_type": "code", "source": "x"}])
    ctx = build_context(cells, 2, 1)
    assert "%" not in ctx.stable.replace("# %%", "") and "!ls" not in ctx.stable
    assert "x = 1" in ctx.stable


def test_chat_history_as_turns_after_the_context():
    history = [
        {"role": "user", "content": "What is df?"},
        {"role": "assistant", "content": "A DataFrame of orders."},
        {"role": "user", "content": "Which columns?"},
        {"role": "assistant", "content": "price and quantity."},
    ]
    msgs = build_messages(TASKS["ask"], stable="# %%\nimport pandas as pd\n\n# %%\n", cell_source="df.head()",
                          cell_label="cell 2", question="How do I sum revenue?", history=history)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    first = msgs[1]["content"]
    # the context leads, so the prompt cache holds it across questions
    assert first.index("import pandas") < first.index("df.head()") < first.index("What is df?")
    assert msgs[-1]["content"] == "How do I sum revenue?"
    # the same chat one question later starts with the same messages
    later = build_messages(TASKS["ask"], stable="# %%\nimport pandas as pd\n\n# %%\n", cell_source="df.head()",
                           cell_label="cell 2", question="And per month?",
                           history=history + [{"role": "user", "content": "How do I sum revenue?"},
                                              {"role": "assistant", "content": "df.price.sum()"}])
    assert later[:5] == msgs[:5]


def test_history_kept_recent_alternating_and_bounded():
    long = [{"role": r, "content": f"{r} {i} " + "x" * 900} for i in range(10) for r in ("user", "assistant")]
    kept = recent_turns(long)
    assert kept[0]["role"] == "user" and kept[-1]["role"] == "assistant"
    assert sum(len(t["content"]) for t in kept) <= 3000
    assert kept[-1]["content"].startswith("assistant 9")
    # an answer that never came (stopped) and repeated roles are folded, not sent as-is
    odd = [{"role": "assistant", "content": "hello"}, {"role": "user", "content": "a"},
           {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}, {"role": "user", "content": "d"}]
    assert recent_turns(odd) == [{"role": "user", "content": "a\n\nb"}, {"role": "assistant", "content": "c"},
                                 {"role": "user", "content": "d"}]
    # a question whose answer was stopped goes with the next question
    msgs = build_messages(TASKS["ask"], stable="", cell_source="f()", cell_label="cell 1",
                          question="Shorter, please.", history=[{"role": "user", "content": "What does f do?"}])
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[1]["content"].index("f()") < msgs[1]["content"].index("What does f do?") < msgs[1]["content"].index("Shorter")
    with pytest.raises(ValueError):
        check_history([{"role": "system", "content": "x"}])
    with pytest.raises(ValueError):
        check_history("not a list")


def test_tasks_are_declared_once_and_served_from_there():
    """tasks.py is the source (issue 11 point 2): the alias, the command line's commands and
    the list the server serves all come from it."""
    from jupyter_twin import notebook_cli
    from jupyter_twin.tasks import ALIASES, TASKS, task_by_name, task_list

    assert ALIASES == {"doc": "document"}
    assert task_by_name("doc") is TASKS["document"]
    served = {t["name"]: t for t in task_list()}
    assert set(served) == set(TASKS)
    assert served["document"] == {"name": "document", "label": "Document", "kind": "code",
                                  "shortcut": "Alt Shift D", "command": "doc"}
    assert set(notebook_cli.TASKS) == {"complete"} | {t.command for t in TASKS.values() if t.name != "ask"}
    assert notebook_cli.MARKDOWN_TASKS == {"explain"}
