"""The benchmark commands end to end with the real demo model, on a few tasks each: they
print their tables and write JSON and PNG files."""

from __future__ import annotations

import json

from click.testing import CliRunner

from jupyter_twin.cli import cli


def run(args: list[str], model_path) -> str:
    result = CliRunner().invoke(cli, ["bench", *args, "--backend", "embedded", "--model", str(model_path)])
    assert result.exit_code == 0, result.output
    return result.output


def test_bench_fim(tmp_path, model_path):
    out = run(["fim", "--limit", "2", "--strategy", "cell", "--json", str(tmp_path / "r.json"),
               "--plot", str(tmp_path / "r.png")], model_path)
    # the first two tasks: a line-rest task and a line task that needs context
    for group in ("all", "line-rest", "line", "needs_context"):
        assert f"cell       {group}" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["results"]) == 2
    assert {"completion", "target", "exact", "similarity", "latency"} <= set(data["results"][0])
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_humaneval(tmp_path, model_path):
    out = run(["humaneval", "--limit", "2", "--every", "100", "--json", str(tmp_path / "h.json")], model_path)
    assert "bare model" in out and "jupyter_twin complete()" in out
    data = json.loads((tmp_path / "h.json").read_text())
    assert [r["task_id"] for r in data["results"]] == ["SingleLineInfilling/HumanEval/0/L0", "SingleLineInfilling/HumanEval/19/L1"]
    assert all(isinstance(r["bare_pass"], bool) and isinstance(r["ours_pass"], bool) for r in data["results"])


def test_bench_typing(tmp_path, model_path):
    out = run(["typing", "--limit", "1", "--requests", "3", "--json", str(tmp_path / "t.json")], model_path)
    assert "median ratio notebook/cell" in out
    data = json.loads((tmp_path / "t.json").read_text())
    assert {k: len(v) for k, v in data["latencies"].items()} == {"cell": 3, "notebook": 3}
