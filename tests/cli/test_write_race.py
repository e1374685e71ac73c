"""The notebook CLI's write (issue 9, point 5): a save that lands while the temporary file
is being written is not overwritten; owner and group are kept; a broken output is a clear
error, not a traceback."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from click.testing import CliRunner

from jupyter_twin.cells import error_text
from jupyter_twin.notebook_cli import NotebookFile, NotebookFileError, notebook_group


def make_notebook(path, outputs=None) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1 / 0")
    if outputs is not None:
        cell.outputs = outputs
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), cell]
    path.write_text(nbformat.writes(nb), encoding="utf-8")


def test_a_save_between_the_check_and_the_replace_is_not_overwritten(tmp_path, monkeypatch):
    path = tmp_path / "race.ipynb"
    make_notebook(path)
    nb = NotebookFile(path)
    new_text = nb.with_cell_after(1, nb.new_cell("code", "y = 2\n"))
    saved = path.read_text(encoding="utf-8").replace("# Title", "# Title saved by JupyterLab")
    real_fsync = os.fsync
    landed = []

    def fsync_then_save(fd: int) -> None:
        # the temporary file is written and fsynced: JupyterLab's autosave lands now,
        # after write_atomic's first check and before its os.replace
        real_fsync(fd)
        if not landed:
            landed.append(True)
            path.write_text(saved, encoding="utf-8")

    monkeypatch.setattr(os, "fsync", fsync_then_save)
    with pytest.raises(NotebookFileError, match="changed on disk"):
        nb.write_atomic(new_text)
    monkeypatch.undo()
    assert landed
    assert path.read_text(encoding="utf-8") == saved  # the user's save survived
    assert [p.name for p in tmp_path.iterdir() if "twin-tmp" in p.name] == []


def test_the_hook_before_the_replace_sees_the_last_check(tmp_path, monkeypatch):
    path = tmp_path / "hook.ipynb"
    make_notebook(path)
    nb = NotebookFile(path)
    new_text = nb.with_cell_after(0, nb.new_cell("code", "z = 3\n"))

    def save_now(tmp: str) -> None:
        assert os.path.exists(tmp)
        path.write_bytes(path.read_bytes() + b"\n")

    monkeypatch.setattr(nb, "_before_replace", save_now)
    with pytest.raises(NotebookFileError, match="changed on disk"):
        nb.write_atomic(new_text)
    assert "z = 3" not in path.read_text(encoding="utf-8")


def test_owner_and_group_are_kept(tmp_path):
    path = tmp_path / "owned.ipynb"
    make_notebook(path)
    if os.geteuid() == 0:
        uid, gid = 4321, 4322  # root edits someone else's notebook
    else:
        others = [g for g in os.getgroups() if g != os.getegid()]
        if not others:
            pytest.skip("not root and in no second group: nothing to keep")
        uid, gid = os.geteuid(), others[0]
    os.chown(path, uid, gid)
    nb = NotebookFile(path)
    nb.write_atomic(nb.with_cell_after(1, nb.new_cell("code", "y = 2\n")))
    st = path.stat()
    assert (st.st_uid, st.st_gid) == (uid, gid)
    assert "y = 2" in path.read_text(encoding="utf-8")


def test_a_non_object_output_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.ipynb"
    make_notebook(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["cells"][1]["outputs"] = ["not an output", 3]
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    before = path.read_bytes()
    result = CliRunner().invoke(notebook_group, ["fix", str(path), "--cell", "1"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "cell 1 has an output that is not a JSON object" in result.output
    assert "Traceback" not in result.output
    assert path.read_bytes() == before


def test_error_text_skips_outputs_that_are_not_objects():
    tb = {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "x", "traceback": ["\x1b[31mZeroDivisionError\x1b[0m: x"]}
    assert error_text({"outputs": ["junk", 3, None, tb]}) == "ZeroDivisionError: x"
    assert error_text({"outputs": "junk"}) is None
    assert error_text({"outputs": [{"output_type": "error", "ename": "E", "evalue": "v", "traceback": "tb"}]}) == "E: v"
