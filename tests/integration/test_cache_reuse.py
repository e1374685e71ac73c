"""The model process keeps cells it evaluated when the context's first cells drop out: the
runs of the KV cache that the new prompt holds further on are shifted into place, not
evaluated again (llama.cpp server's cache reuse); `cache_reuse=0` turns that off. With the
real model in its process; its counters say what it did. (What the approximation does to
the answers is measured by the FIM benchmark, docs/benchmarks.md, not asserted here.)"""

from __future__ import annotations

import time

import pytest

from jupyter_twin import Twin
from jupyter_twin.backends import FimRequest

pytestmark = pytest.mark.model

# model processes of these tests' own (keyed by context size): their counters count only
# this test's requests, and the fresh one has never seen the first prompt
NUM_CTX = 3136
FRESH_NUM_CTX = 3168


def _cell(i: int) -> str:
    return (f"# %%\ndef load_region_{i}(path):\n    frame = pd.read_csv(path)\n"
            f"    frame['region'] = {i}\n    return frame[frame.amount > {i * 10}]\n")


def _request(twin: Twin, cells: range, prefix: str) -> FimRequest:
    stable = "\n".join(_cell(i) for i in cells) + "\n# %%\n"
    return FimRequest(stable=stable, prefix=prefix, suffix="", family=twin.family, max_tokens=24,
                      stop=["\n\n"], temperature=0.0)


def _idle_stats(twin: Twin, timeout: float = 10.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    stats = twin.backend_stats() or {}
    while stats.get("active") and time.monotonic() < deadline:
        time.sleep(0.02)
        stats = twin.backend_stats() or {}
    return stats


def _moved(model_path, num_ctx: int, **settings) -> tuple[dict[str, int], str]:
    """The user was in a cell after cells 0-9; then cells 0-2 drop out of the window and
    cell 10 joins it: cells 3-9 were evaluated already, at other positions."""
    with Twin(backend="embedded", model=str(model_path), request_timeout=120.0, num_ctx=num_ctx, **settings) as twin:
        "".join(twin.backend.fim(_request(twin, range(0, 10), "x = ")))
        before = _idle_stats(twin)
        answer = "".join(twin.backend.fim(_request(twin, range(3, 11), "frames = [load_region_")))
        after = _idle_stats(twin)
    return {k: after[k] - before[k] for k in ("prompt_tokens", "reused_tokens", "shifted_tokens")}, answer


def test_cells_that_moved_up_are_shifted_not_evaluated_again(model_path):
    counts, answer = _moved(model_path, NUM_CTX)
    prompt, reused, shifted = counts["prompt_tokens"], counts["reused_tokens"], counts["shifted_tokens"]
    # cells 3-9 are about 7 of the 8 cells: most of the prompt is not evaluated again
    assert shifted > prompt // 2, counts
    # the first cell changed: the common start is the few tokens up to its name's number
    assert 0 <= reused - shifted < 16, counts
    assert answer.strip()


def test_cache_reuse_0_reuses_only_the_common_start(model_path):
    counts, answer = _moved(model_path, FRESH_NUM_CTX, cache_reuse=0)
    assert counts["shifted_tokens"] == 0
    assert counts["reused_tokens"] < 16, counts
    assert answer.strip()


def test_a_request_cancelled_while_its_prompt_is_evaluated_stops_and_keeps_what_it_did(model_path):
    """A keystroke's new request must not wait for the whole prompt of the one it replaces:
    the prompt is evaluated in chunks, the cancel is seen between them, and the chunks done
    are in the cache for the next request."""
    import threading

    with Twin(backend="embedded", model=str(model_path), request_timeout=120.0, num_ctx=NUM_CTX + 64) as twin:
        twin.backend.info()
        big = _request(twin, range(0, 30), "x = ")  # about 1,400 tokens: seconds on 2 cores
        before = _idle_stats(twin)
        stream = twin.backend.fim(big)
        threading.Timer(1.0, stream.cancel).start()
        assert "".join(stream) == ""  # cancelled before its first token
        cancelled = _idle_stats(twin)
        assert cancelled["cancelled"] - before["cancelled"] == 1
        assert cancelled["tokens"] == before["tokens"]
        prompt = cancelled["prompt_tokens"] - before["prompt_tokens"]
        # the same prompt again: what the cancelled request evaluated is reused, and it had
        # not got to the end of its prompt
        again = twin.backend.fim(big)
        next(iter(again), None)
        again.cancel()  # and never read again: its watchdog must end all the same
        after = _idle_stats(twin)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(t.name == "jupyter-twin-watch" for t in threading.enumerate()):
            time.sleep(0.05)
        assert not [t.name for t in threading.enumerate() if t.name == "jupyter-twin-watch"]
    kept = after["reused_tokens"] - cancelled["reused_tokens"]
    assert 0 < kept < prompt - 1, (kept, prompt)
