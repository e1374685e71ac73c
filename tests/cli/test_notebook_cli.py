"""`jupyter-twin explain|refactor|complete|fix|doc|test NOTEBOOK --cell N` on copies of the
bench notebooks: byte-identical round trip, atomic writes, clear errors."""

import json
import os
import stat
import subprocess
import sys

import nbformat
import pytest
from click.testing import CliRunner

from jupyter_twin.notebook_cli import NotebookFile, notebook_group, register

from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "notebooks"

ALL_NOTEBOOKS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def run(*args):
    return CliRunner().invoke(notebook_group, [str(a) for a in args], catch_exceptions=False)


def assert_only_inserted(before: bytes, after: bytes, nb: NotebookFile, index: int) -> dict:
    """`after` is `before` with one cell spliced in after cell `index`; returns that cell."""
    end = len(nb.text[: nb.layout.spans[index][1]].encode("utf-8"))
    added = len(after) - len(before)
    assert added > 0
    assert after[:end] == before[:end]
    assert after[end + added:] == before[end:]
    new = json.loads(after)
    old = json.loads(before)
    assert len(new["cells"]) == len(old["cells"]) + 1
    assert new["cells"][: index + 1] == old["cells"][: index + 1]
    assert new["cells"][index + 2:] == old["cells"][index + 1:]
    assert {k: v for k, v in new.items() if k != "cells"} == {k: v for k, v in old.items() if k != "cells"}
    nbformat.validate(nbformat.reads(after.decode("utf-8"), as_version=4))
    return new["cells"][index + 1]


# ---------------------------------------------------------------------- file layer


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_splice_keeps_every_other_byte(name, nb_copy):
    path = nb_copy(name)
    before = path.read_bytes()
    nb = NotebookFile(path)
    for index in (0, len(nb.cells) // 2, len(nb.cells) - 1):
        cell = nb.new_cell("code", "total = sum(x * 2 for x in range(10))\nprint('é', total)\n", like=nb.cells[index])
        after = nb.with_cell_after(index, cell).encode("utf-8")
        got = assert_only_inserted(before, after, nb, index)
        assert "".join(got["source"]) == "total = sum(x * 2 for x in range(10))\nprint('é', total)\n"
    # laid out as nbformat itself writes cells: re-serialising the result changes nothing
    after = nb.with_cell_after(1, nb.new_cell("markdown", "# Title\n\nSome *text*.")).encode("utf-8")
    if name != "math_differential_calculus.ipynb":  # that file escapes non-ASCII (\uXXXX): kept so
        text = after.decode("utf-8")
        assert nbformat.writes(nbformat.reads(text, as_version=4)).rstrip("\n") == text.rstrip("\n")
    assert path.read_bytes() == before  # nothing written yet


def test_write_atomic_and_refuses_changed_file(nb_copy, tmp_path):
    path = nb_copy("tools_pandas.ipynb")
    nb = NotebookFile(path)
    os.chmod(path, 0o640)
    text = nb.with_cell_after(3, nb.new_cell("code", "x = 1\n"))
    nb.write_atomic(text)
    assert path.read_text(encoding="utf-8") == text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # mode kept
    assert [p.name for p in tmp_path.iterdir() if "twin-tmp" in p.name] == []
    # a file changed on disk while the model ran is not overwritten
    nb2 = NotebookFile(path)
    new_text = nb2.with_cell_after(0, nb2.new_cell("code", "y = 2\n"))
    path.write_text(text.replace('"x = 1\\n"', '"x = 3\\n"'), encoding="utf-8")
    changed = path.read_bytes()
    with pytest.raises(Exception, match="changed on disk"):
        nb2.write_atomic(new_text)
    assert path.read_bytes() == changed


def test_new_cell_ids_follow_nbformat_minor(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_markdown_cell("text")]
    path = tmp_path / "v45.ipynb"
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    f = NotebookFile(path)
    cell = f.new_cell("code", "b = 2\n")
    assert len(cell["id"]) == 8 and cell["id"] not in {c["id"] for c in nb.cells}
    after = f.with_cell_after(0, cell).encode()
    assert_only_inserted(path.read_bytes(), after, f, 0)
    # nbformat 4.4 files get no id (the 4.4 schema does not allow one)
    f44 = NotebookFile(NOTEBOOKS / "tools_pandas.ipynb")
    assert "id" not in f44.new_cell("code", "x")


# ---------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    result = run("explain", tmp_path / "nope.ipynb", "--cell", 0)
    assert result.exit_code == 2
    assert "no such file" in result.output
    assert "Traceback" not in result.output


def test_invalid_json(nb_copy):
    path = nb_copy("tools_numpy.ipynb")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = path.read_bytes()
    result = run("refactor", path, "--cell", 1)
    assert result.exit_code == 2
    assert "invalid JSON at line" in result.output
    assert path.read_bytes() == before


def test_not_a_notebook(tmp_path):
    path = tmp_path / "list.ipynb"
    path.write_text("[1, 2, 3]\n")
    result = run("doc", path, "--cell", 0)
    assert result.exit_code == 2 and 'no "cells" list' in result.output


@pytest.mark.parametrize("cell", [999, -999])
def test_out_of_range_cell(nb_copy, cell):
    path = nb_copy("extra_gradient_descent_comparison.ipynb")
    before = path.read_bytes()
    n = len(json.loads(before)["cells"])
    result = run("test", path, "--cell", cell)
    assert result.exit_code == 2
    assert f"cell {cell} is out of range (the notebook has {n} cells: 0 to {n - 1})" in result.output
    assert path.read_bytes() == before


def test_read_only_file(nb_copy):
    path = nb_copy("tools_matplotlib.ipynb")
    os.chmod(path, 0o444)
    before = path.read_bytes()
    result = run("explain", path, "--cell", 2)
    assert result.exit_code == 2
    assert "is read-only; nothing was written" in result.output
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_instruction_only_for_refactor(nb_copy):
    path = nb_copy("tools_pandas.ipynb")
    result = run("explain", path, "--cell", 3, "--instruction", "shorter")
    assert result.exit_code == 2 and "--instruction applies to refactor only" in result.output


def test_fix_needs_an_error_output_and_code_cells(nb_copy):
    path = nb_copy("tools_pandas.ipynb")
    before = path.read_bytes()
    cells = json.loads(before)["cells"]
    code = next(i for i, c in enumerate(cells) if c["cell_type"] == "code" and not any(
        o.get("output_type") == "error" for o in c.get("outputs", [])))
    result = run("fix", path, "--cell", code)
    assert result.exit_code == 2 and f"cell {code} has no error output to fix" in result.output
    result = run("refactor", path, "--cell", 0)
    assert result.exit_code == 2 and "cell 0 is a markdown cell; refactor works on code cells" in result.output
    assert path.read_bytes() == before


def test_register_adds_all_commands():
    import click

    @click.group()
    def group():
        pass

    register(group)
    assert sorted(group.commands) == ["complete", "doc", "explain", "fix", "refactor", "test"]


# ---------------------------------------------------------------------- with the model


def _code_index(path, start=0, contains=None):
    cells = json.loads(path.read_bytes())["cells"]
    for i, c in enumerate(cells):
        if i >= start and c["cell_type"] == "code" and (contains is None or contains in "".join(c["source"])):
            return i
    raise AssertionError("no such code cell")


@pytest.mark.model
def test_explain_inserts_markdown_cell(nb_copy, embedded_env):
    path = nb_copy("tools_pandas.ipynb")
    before = path.read_bytes()
    index = _code_index(path, contains="pd.Series([2,-1,3,5])")
    result = run("explain", path, "--cell", index)
    assert result.exit_code == 0, result.output
    nb = NotebookFile.__new__(NotebookFile)
    nb.text = before.decode("utf-8")
    from jupyter_twin.notebook_cli import _scan_layout

    nb.layout = _scan_layout(nb.text)
    cell = assert_only_inserted(before, path.read_bytes(), nb, index)
    assert cell["cell_type"] == "markdown"
    assert "".join(cell["source"]).strip()
    assert f"after cell {index}" in result.output


@pytest.mark.model
def test_refactor_with_instruction_and_dry_run(nb_copy, embedded_env):
    path = nb_copy("tools_numpy.ipynb")
    before = path.read_bytes()
    index = _code_index(path, start=5)
    result = run("refactor", path, "--cell", index, "--instruction", "add comments", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.strip()
    assert path.read_bytes() == before  # dry run writes nothing
    result = run("refactor", path, "--cell", index, "--instruction", "add comments")
    assert result.exit_code == 0, result.output
    nb = NotebookFile(path)  # parses
    assert len(nb.cells) == len(json.loads(before)["cells"]) + 1
    assert nb.cells[index + 1]["cell_type"] == "code" and nb.cells[index + 1]["outputs"] == []
    compile("".join(nb.cells[index + 1]["source"]), "<refactored>", "exec")


@pytest.mark.model
def test_complete_at_marker_and_fix(tmp_path, embedded_env):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("def mean(values):\n    # ...\n\nprint(mean([1, 2, 3]))"),
        nbformat.v4.new_code_cell("print(undefined_name + 1)"),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output(
        "error", ename="NameError", evalue="name 'undefined_name' is not defined",
        traceback=["NameError: name 'undefined_name' is not defined"])]
    path = tmp_path / "small.ipynb"
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    result = run("complete", path, "--cell", 0)
    assert result.exit_code == 0, result.output
    cells = json.loads(path.read_text())["cells"]
    assert len(cells) == 3
    completed = "".join(cells[1]["source"])
    assert completed.startswith("def mean(values):\n    ") and "# ..." not in completed
    assert completed.rstrip().endswith("print(mean([1, 2, 3]))")
    result = run("fix", path, "--cell", 2)
    assert result.exit_code == 0, result.output
    cells = json.loads(path.read_text())["cells"]
    assert len(cells) == 4 and cells[3]["cell_type"] == "code"
    assert "".join(cells[3]["source"]).strip()


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "jupyter_twin.notebook_cli", "refactor", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--instruction" in out and "--dry-run" in out and "--cell" in out
