"""`jupyter-twin bench switch` on a small folder of notebooks, with the real model: it writes
the cells top-down, revisits them, and prints every number per strategy."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys

import pytest

pytestmark = pytest.mark.model


def _notebook() -> dict:
    cells = [{"cell_type": "code", "source": "import math\nradii = [1.0, 2.0, 3.0]", "outputs": [], "execution_count": 1, "metadata": {}}]
    cells.append({"cell_type": "code", "source": "areas = [math.pi * r ** 2 for r in radii]\nprint(areas)", "outputs": [],
                  "execution_count": 2, "metadata": {}})
    cells.append({"cell_type": "code", "source": "total_area = sum(areas)\ntotal_area", "outputs": [],
                  "execution_count": 3, "metadata": {}})
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_bench_switch_prints_and_writes_json(tmp_path, model_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    (folder / "circles.ipynb").write_text(json.dumps(_notebook()))
    out = tmp_path / "switch.json"
    env = dict(os.environ, JUPYTER_TWIN_BACKEND="embedded", JUPYTER_TWIN_MODEL_PATH=str(model_path))
    run = subprocess.run(
        [sys.executable, "-m", "jupyter_twin.cli", "bench", "switch", str(folder), "--start", "1", "--cells", "2",
         "--strategy", "notebook", "--strategy", "cell", "--interval", "0.05", "--json", str(out)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "first suggestion at a new cell, notebook / cell (medians):" in run.stdout
    data = json.loads(out.read_text())
    rows = {r["strategy"]: r for r in data["rows"]}
    assert set(rows) == {"notebook", "cell"}
    for row in rows.values():
        assert row["cells"] == 2 and row["requests"] > 0
        assert row["first_median"] is not None and row["revisit_median"] is not None
    # the embedded model's counters: generations were made and prompt tokens counted
    assert rows["notebook"]["generations"] > 0 and rows["notebook"]["prompt_tokens_per_generation"] is not None
    # the first ghost text shown: a time for each cell where a non-empty text came, none
    # for the others, and the medians made from them
    for name, runs in data["runs"].items():
        shown = [r["first_shown"] for r in runs if r["first_shown"] is not None]
        assert all(v >= 0 for v in shown)
        assert rows[name]["nothing_shown"] == len(runs) - len(shown)
        # the median is over every cell, one that showed nothing counting as the slowest
        every = sorted(math.inf if r["first_shown"] is None else r["first_shown"] for r in runs)
        assert (rows[name]["shown_median"] is None) == (not math.isfinite(statistics.median(every)))
