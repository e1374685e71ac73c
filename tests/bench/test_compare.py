"""Comparing models: how `--model` values are read, how the recommendation weighs quality
against latency, and what `bench fim` does without data or without matplotlib (no model
needed for any of it)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from jupyter_twin.bench import compare, fim
from jupyter_twin.bench.scoring import edit_similarity
from jupyter_twin.cli import cli


def test_model_values_name_their_backend_or_take_the_default():
    assert compare.parse_model("ollama:qwen2.5-coder:1.5b", None) == compare.ModelChoice(
        "ollama:qwen2.5-coder:1.5b", "ollama", "qwen2.5-coder:1.5b")
    assert compare.parse_model("embedded:/m/x.gguf", "ollama").backend == "embedded"
    assert compare.parse_model("qwen2.5-coder:1.5b", "ollama") == compare.ModelChoice(
        "qwen2.5-coder:1.5b", "ollama", "qwen2.5-coder:1.5b")
    assert compare.parse_model("codestral", None).backend is None
    assert compare.parse_model(None, "embedded") == compare.ModelChoice("default", "embedded", None)


def model_run(label: str, right: list[bool], latency: float, warm: list[float] | None, keys: int = 5) -> compare.ModelRun:
    results = [fim.TaskResult(f"t{i}", "notebook", "line", False, "x" if ok else "y", "x", ok,
                              edit_similarity("x" if ok else "y", "x"), latency) for i, ok in enumerate(right)]
    typing: list[float] = []
    for value in warm or []:
        typing += [latency] + [value] * (keys - 1)  # the first key of each task is cold
    return compare.ModelRun(label, "embedded", label + ".gguf", "notebook", 1.0, results, typing, keys if warm else 0)


def test_summary_splits_cold_and_warm():
    row = compare.summary(model_run("a", [True, False, True, True], 2.0, [0.2, 0.4]))
    assert row["exact_match"] == 0.75 and row["n"] == 4
    assert row["cold_median"] == 2.0
    assert row["warm_median"] == pytest.approx(0.3) and row["warm_requests"] == 8


def test_a_slower_model_must_be_clearly_better():
    small = model_run("small", [True] * 10 + [False] * 30, 3.0, [0.2])
    # 2 more right of 40: a gain of 0.05, above one paired standard error (sqrt(2) / 40 = 0.035)
    slightly = model_run("slightly", [True] * 12 + [False] * 28, 8.0, [0.6])
    assert compare.recommend([small, slightly]).startswith("recommendation: slightly ")
    # 1 more right: not above the noise, the faster one stays
    barely = model_run("barely", [True] * 11 + [False] * 29, 8.0, [0.6])
    assert compare.recommend([small, barely]).startswith("recommendation: small ")
    # better, but over the latency budget while typing
    slow = model_run("slow", [True] * 30 + [False] * 10, 20.0, [1.5])
    line = compare.recommend([small, slow])
    assert line.startswith("recommendation: small ") and "slow 0.750 at 1.50 s" in line
    assert compare.recommend([small, slow], budget=2.0).startswith("recommendation: slow ")


def test_no_model_within_budget_names_the_fastest_and_says_so():
    line = compare.recommend([model_run("a", [True, False], 9.0, [3.0]), model_run("b", [True, True], 9.0, [2.0])])
    assert line.startswith("recommendation: b, the fastest, but no model is fast enough")


def test_without_typing_the_cold_latency_decides():
    line = compare.recommend([model_run("a", [True, False], 0.5, None)])
    assert "per cold request" in line and math.isnan(compare.summary(model_run("a", [True], 0.5, None))["warm_median"])


def test_typing_tasks_spread_over_the_list():
    tasks = [{"id": i} for i in range(30)]
    assert [t["id"] for t in compare.typing_tasks(tasks, 3)] == [0, 10, 20]
    assert compare.typing_tasks(tasks[:2], 3) == tasks[:2]
    assert compare.typing_tasks(tasks, 0) == []


def test_without_paths_or_shared_data_it_asks_for_notebooks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ../shared/bench from here
    result = CliRunner().invoke(cli, ["bench", "fim", "--backend", "embedded"])
    assert result.exit_code == 2
    assert "jupyter-twin bench fim PATH..." in result.output


def test_a_folder_without_code_is_an_error_not_an_empty_table(tmp_path):
    (tmp_path / "empty.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    result = CliRunner().invoke(cli, ["bench", "fim", str(tmp_path), "--backend", "embedded"])
    assert result.exit_code == 2 and "no code to sample from" in result.output


def test_an_unknown_embedded_model_is_refused_not_replaced(tmp_path):
    nb = Path(__file__).resolve().parents[2] / "examples" / "magics.ipynb"
    result = CliRunner().invoke(cli, ["bench", "fim", str(nb), "--samples", "1", "--model", "embedded:no-such-model"])
    assert result.exit_code == 2 and "no such GGUF file" in result.output and "qwen2.5-coder-1.5b" in result.output


def test_a_model_that_cannot_be_reached_is_reported_by_name(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fakes.fault_servers import refused_url

    nb = Path(__file__).resolve().parents[2] / "examples" / "magics.ipynb"
    host = refused_url()
    result = CliRunner().invoke(cli, ["bench", "fim", str(nb), "--samples", "1", "--host", host, "--no-plot",
                                      "--model", "ollama:qwen2.5-coder:1.5b", "--model", "openai:qwen"])
    assert result.exit_code == 1
    assert "model ollama:qwen2.5-coder:1.5b: not measured:" in result.output
    assert "model openai:qwen: not measured:" in result.output
    assert "no model could be measured" in result.output


def test_failed_requests_are_counted_and_the_first_is_told():
    run = model_run("a", [True, False, False], 1.0, [0.2])
    assert compare.failures(run) is None
    run.results[1].error = "The model process stopped (signal 9 (SIGKILL))"
    run.typing_errors.append("notebook: timed out")
    assert compare.failures(run) == ("model a: 1 task and 1 keystroke requests failed; "
                                     "the first: The model process stopped (signal 9 (SIGKILL))")
    row = compare.summary(run)
    assert row["failed"] == 1 and row["warm_failed"] == 1
    assert compare.format_table([row]).splitlines()[-1].split()[-1] == "2"


def test_typing_with_the_completion_cache_off_sends_every_keystroke_to_the_model(tmp_path):
    """A model whose suggestion is right gets typed-ahead hits; the comparison measures what
    each key costs the model, so the cache is emptied before each keystroke."""
    import json

    from jupyter_twin.bench import typing_sim

    (tmp_path / "n.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "source": ""}]}))
    task = {"notebook": "n.ipynb", "cell": 0, "prefix": "x = ", "target": "compute(1)", "suffix": ""}

    class Cache:
        def __init__(self) -> None:
            self.entries = 0

        def clear(self) -> None:
            self.entries = 0

    class CachingTwin:
        """Answers from its cache after the first request at a place, as Twin does on typed-ahead."""

        def __init__(self) -> None:
            self.cache = Cache()
            self.model_requests = 0

        def complete(self, cells, index, cursor, strategy):
            if not self.cache.entries:
                self.model_requests += 1
                self.cache.entries = 1

    for cache_on, requests in ((True, 1), (False, 5)):
        twin = CachingTwin()
        typing_sim.run(twin, [task], fim.NotebookCache(tmp_path), ["notebook"], 5, completion_cache=cache_on)
        assert twin.model_requests == requests
