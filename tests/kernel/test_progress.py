"""Progress of long work in a notebook (issue 13, point 4), in a real ipykernel: the first
join of the demo model, the first start of the model process and a bench run show a
widget progress bar (tqdm.notebook's ipywidgets over the comm); outside a kernel nothing is
written to a stream that is not a terminal."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from widget_client import WidgetKernel  # noqa: E402

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def wk(model_env, tmp_path_factory):
    cache = tmp_path_factory.mktemp("model-cache")
    kernel = WidgetKernel({**model_env, "JUPYTER_TWIN_CACHE": str(cache)})
    try:
        yield kernel
    finally:
        kernel.close()


def _bars(wk: WidgetKernel, before: set) -> list[dict]:
    return [s for cid, s in wk.models.items() if cid not in before and s.get("_model_name") == "FloatProgressModel"]


def _texts(wk: WidgetKernel, before: set) -> str:
    text = " ".join(s.get("value", "") for cid, s in wk.models.items()
                    if cid not in before and s.get("_model_name") == "HTMLModel")
    return text.replace("\u2007", " ")  # tqdm's figure spaces


def test_first_join_of_the_demo_model_shows_a_widget_bar(wk):
    from jupyter_twin.modelfiles import DEMO_MODEL

    before = set(wk.models)
    reply, msgs = wk.execute("from jupyter_twin.modelfiles import demo_model_path\n"
                             "p = demo_model_path(); print(p.stat().st_size)", timeout=300)
    assert reply["status"] == "ok", reply
    assert int(wk.stream_text(msgs).strip()) == DEMO_MODEL.size
    bars = _bars(wk, before)
    assert len(bars) == 1 and bars[0]["max"] == DEMO_MODEL.size
    assert bars[0]["value"] == DEMO_MODEL.size  # it reached the end
    assert f"joining {DEMO_MODEL.name}" in _texts(wk, before)
    assert not wk.stream_text(msgs, "stderr").strip()  # no tqdm warning, no text bar
    # joined once: the second call shows nothing
    before = set(wk.models)
    wk.execute("demo_model_path()")
    assert not _bars(wk, before)
    wk.execute("p.unlink()")


def test_first_start_of_the_model_process_shows_a_widget_bar(wk, demo_model):
    before = set(wk.models)
    # a context size of its own: a model process of its own, started here
    reply, msgs = wk.execute(
        # the bar appears once the wait lasted SHOW_AFTER_S (1 s); a quiet machine starts the
        # model process in less, so the test shows it from the first moment
        "import jupyter_twin.progress as progress\nprogress.SHOW_AFTER_S = 0\n"
        f"from jupyter_twin import Twin\nt = Twin(backend='embedded', model={str(demo_model)!r}, num_ctx=1536)\n"
        "print(t.complete([{'cell_type': 'code', 'source': 'def add(a, b):\\n    return'}], 0) is not None)",
        timeout=300)
    try:
        assert reply["status"] == "ok", reply
        assert wk.stream_text(msgs).strip() == "True"
        assert re.search(r"starting the model process \(\S+\.gguf\): \d+ s", _texts(wk, before)), _texts(wk, before)
        assert _bars(wk, before)
    finally:
        wk.execute("t.backend.process.stop()")


def test_a_bench_run_in_a_notebook_advances_a_widget_bar(wk):
    before = set(wk.models)
    reply, msgs = wk.execute("from jupyter_twin.bench.cli import _progress\n"
                             "print(sum(_progress(range(5), 5, 'fim')))")
    assert reply["status"] == "ok" and wk.stream_text(msgs).strip() == "10"
    bars = _bars(wk, before)
    assert len(bars) == 1 and bars[0]["max"] == 5 and bars[0]["value"] == 5


def test_outside_a_kernel_no_bar_goes_to_a_stream_that_is_not_a_terminal(monkeypatch):
    from jupyter_twin import progress

    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    for _ in progress.iterate(range(3), 3, "fim"):
        pass
    assert stream.getvalue() == ""
