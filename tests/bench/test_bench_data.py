"""The benchmark's rules, without the model: scores as ../shared/bench/README.md defines
them, tasks loaded and notebooks prepared exactly as it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_twin.bench import fim, humaneval, typing_sim
from jupyter_twin.bench.scoring import edit_similarity, exact_match, percentile

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "bench"


def test_exact_match_ignores_outer_and_trailing_whitespace_only():
    assert exact_match("  x = 1  \n", "x = 1")
    assert exact_match("a  \n    b\t\n", "a\n    b")
    assert not exact_match("a\nb", "a\n  b")  # leading whitespace inside counts
    assert not exact_match("x=1", "x = 1")


def test_edit_similarity_on_the_stripped_strings():
    assert edit_similarity("abc  ", "abc") == 1.0
    assert edit_similarity("", "abc") == 0.0
    assert 0.5 < edit_similarity('plt.axis("off")', "plt.axis('off')") < 1.0


def test_percentile_interpolates():
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([5.0], 0.95) == 5.0


def test_a_task_sets_only_its_cell_to_prefix_plus_suffix():
    tasks = fim.load_tasks(BENCH / "fim-dev.jsonl", limit=3)
    assert len(tasks) == 3
    task = tasks[0]
    original = json.loads((BENCH / "notebooks" / task["notebook"]).read_text())["cells"]
    cells = fim.NotebookCache(BENCH / "notebooks").cells_for(task)
    assert cells[task["cell"]]["source"] == task["prefix"] + task["suffix"]
    others = [c for i, c in enumerate(cells) if i != task["cell"]]
    assert others == [c for i, c in enumerate(original) if i != task["cell"]]


def test_cached_notebooks_are_copies():
    cache = fim.NotebookCache(BENCH / "notebooks")
    task = fim.load_tasks(BENCH / "fim-dev.jsonl", limit=1)[0]
    cache.cells_for(task)[0]["source"] = "changed"
    assert cache.cells_for(task)[0]["source"] != "changed"


def test_summary_has_every_group():
    def result(kind: str, nc: bool, exact: bool) -> fim.TaskResult:
        return fim.TaskResult("t", "notebook", kind, nc, "x", "x" if exact else "y", exact, 1.0 if exact else 0.0, 1.0)

    rows = fim.summarise([result("line", True, True), result("line-rest", False, False), result("block", True, False)])
    by_group = {r["group"]: r for r in rows}
    assert set(by_group) == {"all", "line-rest", "line", "block", "needs_context"}
    assert by_group["all"]["exact_match"] == pytest.approx(1 / 3)
    assert by_group["needs_context"]["n"] == 2 and by_group["needs_context"]["exact_match"] == 0.5


def test_humaneval_sample_spreads_over_problems():
    path = BENCH / "humaneval-single-line.jsonl.gz"
    first = humaneval.load(path, limit=100)
    spread = humaneval.load(path, limit=100, every=10)
    problems = lambda tasks: {t["task_id"].split("/")[2] for t in tasks}  # noqa: E731
    assert len(first) == len(spread) == 100
    assert len(problems(spread)) > 3 * len(problems(first))
    assert len(humaneval.load(path)) == 1033


def test_humaneval_runs_the_tests():
    task = humaneval.load(BENCH / "humaneval-single-line.jsonl.gz", limit=1)[0]
    assert humaneval.passes(task, task["canonical_solution"].rstrip("\n"))
    assert not humaneval.passes(task, "    pass")


def test_typing_types_one_character_per_request():
    task = {"prefix": "x = ", "target": "abc", "suffix": "\nprint(x)"}
    steps = typing_sim.keystrokes(task, 5)
    assert [p for p, _ in steps[:3]] == ["x = a", "x = ab", "x = abc"]
    assert all(s == "\nprint(x)" for _, s in steps[:3])
    # past the target the typist goes on into the text that was already there
    assert steps[3] == ("x = abc\n", "print(x)")
