"""The benchmark commands end to end with the real demo model, on a few tasks each: they
print their tables and write JSON and PNG files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
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


# --- bench fim on the user's own notebooks ------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]

HOUSING = [
    ("markdown", "# Housing prices\nWe load the data and fit a linear model."),
    ("code", "import numpy as np\nimport pandas as pd\nfrom sklearn.linear_model import LinearRegression"),
    ("code", "housing = pd.read_csv('datasets/housing.csv')\nhousing_labels = housing['median_house_value'].copy()\n"
             "housing = housing.drop('median_house_value', axis=1)"),
    ("code", "def add_ratios(frame):\n    frame = frame.copy()\n"
             "    frame['rooms_per_house'] = frame['total_rooms'] / frame['households']\n"
             "    frame['people_per_house'] = frame['population'] / frame['households']\n    return frame"),
    ("code", "features = add_ratios(housing).select_dtypes(include=[np.number]).fillna(0)\n"
             "model = LinearRegression()\nmodel.fit(features, housing_labels)\npredictions = model.predict(features)"),
    ("code", "errors = predictions - housing_labels\nrmse = np.sqrt(np.mean(errors ** 2))\nprint(f'RMSE: {rmse:.1f}')"),
]
PLOTS = [
    ("code", "import matplotlib.pyplot as plt\nimport numpy as np"),
    ("code", "x = np.linspace(0, 10, 200)\ny = np.sin(x) * np.exp(-x / 5)"),
    ("code", "fig, ax = plt.subplots(figsize=(6, 3))\nax.plot(x, y, label='damped sine')\n"
             "ax.set_xlabel('time, s')\nax.legend()\nplt.show()"),
    ("code", "for i in range(1, len(y) - 1):\n    if y[i] > y[i - 1] and y[i] > y[i + 1]:\n        print('peak at', x[i])"),
]


def notebook_folder(root: Path) -> Path:
    """Two small notebooks of the kind a user has (sources stored as lists of lines)."""
    import nbformat

    folder = root / "my notebooks"
    (folder / "plots").mkdir(parents=True)
    for path, cells in ((folder / "housing.ipynb", HOUSING), (folder / "plots" / "signal.ipynb", PLOTS)):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_markdown_cell(s) if kind == "markdown" else nbformat.v4.new_code_cell(s)
                    for kind, s in cells]
        nbformat.write(nb, path)
    return folder


@pytest.mark.timeout(600)  # a shared, loaded machine: several minutes
def test_bench_fim_on_a_folder_compares_two_models_on_two_backends(tmp_path, llama_server):
    """The same 0.5B model behind the embedded backend and behind llama.cpp's OpenAI-compatible
    server: one table row each, a PNG, a recommendation, and the sampled tasks as documented."""
    from jupyter_twin.bench import sampling

    folder = notebook_folder(tmp_path)
    args = ["bench", "fim", str(folder), "--samples", "3", "--typing-tasks", "1", "--keys", "4",
            "--model", "embedded:qwen2.5-coder-0.5b", "--model", "openai:qwen2.5-coder-0.5b", "--host", llama_server,
            "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "models.png")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "3 tasks from" in out and "(1 line-rest, 1 line, 1 block" in out
    table = out[out.index("cold med s"):]
    assert "embedded:qwen2.5-coder-0.5b " in table and "openai:qwen2.5-coder-0.5b " in table
    assert out.strip().splitlines()[-1].startswith("recommendation: ")
    assert (tmp_path / "models.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((tmp_path / "r.json").read_text())
    assert [m["model"] for m in data["models"]] == ["embedded:qwen2.5-coder-0.5b", "openai:qwen2.5-coder-0.5b"]
    assert [m["backend"] for m in data["models"]] == ["embedded", "openai"]
    for row in data["models"]:
        assert row["n"] == 3 and row["failed"] == 0
        assert row["warm_requests"] == 3  # 4 keys, the first one is cold
        assert 0 < row["cold_median"] < 120 and 0 < row["warm_median"] < 120
    assert len(data["results"]) == 6
    # every cold task asked its model: none was answered from an earlier task's cached suggestion
    assert all(r["latency"] > 0.02 for r in data["results"])
    # the tasks are the sampler's, and a second sampling gives the same ones
    expected = sampling.sample_tasks([folder], 3)
    assert [r["target"] for r in data["results"][:3]] == [t["target"] for t in expected]
    assert [r["kind"] for r in data["results"][:3]] == [t["kind"] for t in expected]


def _site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


# this checkout's own install, and matplotlib (so the wheel runs without the bench extra)
NOT_SHARED = ("jupyter_twin", "_editable_impl_jupyter_twin", "__editable__", "matplotlib", "mpl_toolkits", "pylab")

CHECK_INSTALL = r"""
import json, sys
from importlib.metadata import requires, version
from packaging.requirements import Requirement
import jupyter_twin, jupyter_twin.bench.sampling
unmet = []
for text in requires("jupyter_twin"):
    req = Requirement(text)
    if req.marker and not any(req.marker.evaluate({"extra": e}) for e in ("", "embedded", "demo-model")):
        continue
    try:
        ok = req.specifier.contains(version(req.name), prereleases=True)
    except Exception:
        ok = False
    if not ok:
        unmet.append(text)
print(json.dumps({"file": jupyter_twin.__file__, "unmet": unmet}))
"""


@pytest.mark.timeout(600)  # a shared, loaded machine: several minutes
def test_bench_from_an_installed_wheel_outside_the_repository(tmp_path):
    """Build the wheel, install it alone into a fresh virtual environment, and run
    `jupyter-twin bench fim FOLDER` from a folder with no ../shared/bench beside it.

    The fresh environment sees this checkout's installed dependencies (llama-cpp-python
    built from source takes 5 to 15 minutes; the demo model's parts are 491 MB) through a
    folder of links that leaves out jupyter_twin itself and matplotlib: what runs is the
    wheel's code, its declared dependencies are checked to be met, and the PNG's optional
    dependency is really missing."""
    dist = tmp_path / "dist"
    env = {**os.environ, "SKIP_JUPYTER_BUILDER": "1"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist),
                    str(ROOT)], check=True, env=env, capture_output=True, timeout=300)
    (wheel,) = dist.glob("jupyter_twin-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    shared = tmp_path / "shared-site"
    shared.mkdir()
    for entry in _site_packages(Path(sys.executable)).iterdir():
        if not entry.name.startswith(NOT_SHARED) and entry.suffix != ".pth":
            (shared / entry.name).symlink_to(entry)
    (_site_packages(python) / "_dependencies.pth").write_text(str(shared) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index", "--no-deps",
                    str(wheel)], check=True, capture_output=True, timeout=300)

    check = json.loads(subprocess.run([str(python), "-c", CHECK_INSTALL], capture_output=True, text=True,
                                      check=True, cwd=tmp_path).stdout)
    assert Path(check["file"]).is_relative_to(venv), check
    assert check["unmet"] == []

    work = tmp_path / "elsewhere"
    work.mkdir()
    folder = notebook_folder(work)
    assert not (work.parent / "shared" / "bench").exists()
    run_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run_env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    run_env["JUPYTER_TWIN_RUNTIME_DIR"] = str(tmp_path / "runtime")  # its own model process, from the wheel
    command = [str(venv / "bin" / "jupyter-twin"), "bench", "fim"]
    no_data = subprocess.run(command + ["--backend", "embedded"], capture_output=True, text=True, cwd=work,
                             env=run_env, timeout=120)
    assert no_data.returncode == 2 and "jupyter-twin bench fim PATH..." in no_data.stderr
    done = subprocess.run(command + [folder.name, "--samples", "3", "--backend", "embedded", "--model", "qwen2.5-coder-0.5b"],
                          capture_output=True, text=True, cwd=work, env=run_env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "qwen2.5-coder-0.5b" in out and "warm med s" in out
    assert "no PNG: matplotlib is not installed" in out and not (work / "bench-fim.png").exists()
    assert out.strip().splitlines()[-1].startswith("recommendation: qwen2.5-coder-0.5b")
    assert "3 tasks from my notebooks" in done.stderr
    # the model process was this environment's: its runtime files are in the folder given
    assert list((tmp_path / "runtime").glob("jupyter_twin-model-*.log"))
