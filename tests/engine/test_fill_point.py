"""Where %%complete and the CLI's complete ask the model to fill in."""

from __future__ import annotations

import pytest

from jupyter_twin.cells import ends_a_complete_line, find_fill_point, join_completion

DOC = 'def is_even(n):\n    """Return True when n is even."""'


@pytest.mark.parametrize("body", [DOC, DOC + "\n"])
def test_after_a_finished_line_the_cursor_is_on_a_new_line(body):
    code, cursor = find_fill_point(body)
    assert code == DOC + "\n" and cursor == len(code)
    assert join_completion(code, cursor, "    return n % 2 == 0") == DOC + "\n    return n % 2 == 0"


@pytest.mark.parametrize("body,finished", [
    ("def f(x):", True),
    ("x = compute(1)", True),
    ("# load the data", True),
    ("total = np.sum(pri", False),
    ("x = np.su", False),
    ("x = 1\n", False),           # already on a new (empty) line
    ("name = 'abc", False),        # an open string: not finished
    ("", False),
])
def test_which_lines_are_finished(body, finished):
    assert ends_a_complete_line(body) is finished


def test_half_typed_line_is_continued_in_place():
    code, cursor = find_fill_point("total = np.sum(pri")
    assert code == "total = np.sum(pri" and cursor == len(code)


def test_marker_line_wins():
    code, cursor = find_fill_point("def f():\n    # ...\n\nprint(f())")
    assert code == "def f():\n    \n\nprint(f())" and cursor == len("def f():\n    ")


@pytest.mark.model
@pytest.mark.parametrize("body", [DOC, DOC + "\n"])
def test_the_model_continues_a_docstring_at_the_end(embedded_twin, body):
    code, cursor = find_fill_point(body)
    completion = embedded_twin.complete([{"cell_type": "code", "source": code}], 0, cursor)
    joined = join_completion(code, cursor, completion)
    # the model's exact words may differ between llama.cpp builds: assert the shape
    assert joined.startswith(DOC + "\n    ") and "return" in completion
    compile(joined, "<completed>", "exec")
