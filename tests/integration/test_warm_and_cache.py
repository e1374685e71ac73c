"""Warm-up, the completion cache and prefetch, with the real model in its process
(issue 10 points 2-4). The model process's own counters say what the model did."""

from __future__ import annotations

import time

import pytest

from jupyter_twin import Twin

pytestmark = pytest.mark.model


def _notebook(n: int = 12) -> list[dict]:
    cells: list[dict] = [{"cell_type": "markdown", "source": "# Sales by region"}]
    cells.append({"cell_type": "code", "source": "import pandas as pd\nsales = pd.read_csv('sales.csv')"})
    for i in range(n):
        cells.append({"cell_type": "code", "source": f"def region_total_{i}(df):\n    return df[df.region == {i}].amount.sum()\n\ntotal_{i} = region_total_{i}(sales)"})
    cells.append({"cell_type": "code", "source": ""})
    return cells


# a model process of these tests' own (one per model file, context size and threads):
# its counters then count only what these tests did, whatever else runs on the machine
NUM_CTX = 3072


def _twin(model_path) -> Twin:
    return Twin(backend="embedded", model=str(model_path), request_timeout=120.0, num_ctx=NUM_CTX)


@pytest.fixture
def twin(model_path):
    # a Twin of its own: an empty completion cache
    t = _twin(model_path)
    t.backend.info()
    yield t


def _stats(twin: Twin) -> dict[str, int]:
    return twin.backend_stats() or {}


def _idle_stats(twin: Twin, timeout: float = 10.0) -> dict[str, int]:
    """The counters once nothing runs (a finished stream's end is counted a moment later)."""
    deadline = time.monotonic() + timeout
    stats = _stats(twin)
    while stats.get("active") and time.monotonic() < deadline:
        time.sleep(0.02)
        stats = _stats(twin)
    return stats


def _delta(before: dict[str, int], after: dict[str, int], name: str) -> int:
    return after.get(name, 0) - before.get(name, 0)


def test_warm_up_evaluates_the_context_and_generates_nothing(twin):
    cells = _notebook()
    index = len(cells) - 1
    before = _stats(twin)
    work = twin.warm(cells, index, 0)
    assert work is not None and work.join(120)
    assert work.error is None
    warmed = _idle_stats(twin)
    assert _delta(before, warmed, "warmups") == 1
    assert _delta(before, warmed, "started") == 0  # no generation
    assert _delta(before, warmed, "warm_tokens") > 200  # the notebook's context
    # the first keystroke at the new cell evaluates only what follows the warmed prompt
    cells[index]["source"] = "t"
    twin.complete(cells, index, 1)
    after = _idle_stats(twin)
    prompt = _delta(warmed, after, "prompt_tokens")
    evaluated = prompt - _delta(warmed, after, "reused_tokens")
    assert prompt > 200 and evaluated < 20, (prompt, evaluated)


def test_a_real_request_stops_the_warm_up_at_once(twin):
    # a context far too big to evaluate before the keystroke (about 1,000 tokens)
    cells = _notebook(40)
    index = len(cells) - 1
    before = _stats(twin)
    work = twin.warm(cells, index, 0)
    deadline = time.monotonic() + 30
    while _delta(before, _stats(twin), "warmups") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # the warm-up is evaluating its first chunks
    cells[index]["source"] = "x = 1\n"
    started = time.monotonic()
    text = twin.complete(cells, index, len(cells[index]["source"]), strategy="cell")
    waited = time.monotonic() - started
    assert isinstance(text, str)
    assert work.join(10)
    after = _idle_stats(twin)
    assert _delta(before, after, "warm_cancelled") == 1
    # the warm-up stopped within a chunk: far less than the whole context was evaluated
    assert _delta(before, after, "warm_tokens") < 600
    assert waited < 10, waited


def test_same_place_again_and_typed_ahead_are_answered_from_the_cache(twin):
    cells = [
        {"cell_type": "code", "source": "def add(a, b):\n    "},
    ]
    first = twin.stream_complete(cells, 0)
    text = first.result()
    assert text and not first.cached
    before = _stats(twin)
    again = twin.stream_complete(cells, 0)
    assert again.result() == text and again.cached
    # the user types the suggestion's first two characters: the rest comes from the cache
    cells[0]["source"] += text[:2]
    ahead = twin.stream_complete(cells, 0)
    assert ahead.cached and ahead.result() == text[2:]
    assert _delta(before, _idle_stats(twin), "started") == 0  # no request reached the model
    stats = twin.status()["completion_cache"]
    assert stats["hits"] == 2 and stats["typed_ahead"] == 1 and stats["misses"] == 1


def test_prefetch_after_accept_is_joined_by_the_next_request(twin, model_path):
    cells = [{"cell_type": "code", "source": "def area(r):\n    import math\n    return "}]
    accepted = twin.complete(cells, 0)
    assert accepted
    # the user accepts: the next place is the end of the accepted text on a new line
    cells[0]["source"] += accepted + "\n\n"
    before = _stats(twin)
    work = twin.prefetch(cells, 0)
    assert work is not None
    stream = twin.stream_complete(cells, 0)  # at once: the prefetch is still running
    text = stream.result()
    assert _delta(before, _idle_stats(twin), "started") == 1  # one generation for both
    assert work.done.is_set() and not work.cancelled
    # the same text a fresh engine makes at that place
    fresh = _twin(model_path)
    assert fresh.complete(cells, 0) == text


def test_a_request_elsewhere_cancels_the_prefetch(twin):
    cells = [{"cell_type": "code", "source": "values = [1, 2, 3]\ntotal = "},
             {"cell_type": "code", "source": "names = ['a', 'b']\nfirst = "}]
    before = _stats(twin)
    work = twin.prefetch(cells, 0)
    assert work is not None
    twin.complete(cells, 1)
    assert work.join(10) and work.cancelled
    assert _delta(before, _stats(twin), "started") <= 2
