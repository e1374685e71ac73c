"""Every llama.cpp call of a role comes from one thread (worker.ModelThread).

llama.cpp leads each token's OpenMP team from the calling thread; with teams parked on
other threads, libgomp sleeps between regions and every token costs more (57 against
36 ms on 2 cores). These tests hold the rule, not the timing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from jupyter_twin.modelproc.worker import _END, Generation, ModelThread, Worker


def test_model_thread_runs_every_call_on_one_thread_and_hands_back_errors() -> None:
    mt = ModelThread("test-model-thread")
    seen = {mt.call(threading.get_ident) for _ in range(5)}
    assert len(seen) == 1 and threading.get_ident() not in seen
    with pytest.raises(ValueError, match="boom"):
        mt.call(lambda: (_ for _ in ()).throw(ValueError("boom")))
    assert mt.call(lambda: 41 + 1) == 42  # still serving after an error


def _drain(gen: Generation) -> list[dict]:
    gen.thread.start()
    events = []
    while (item := gen.events.get(timeout=60)) is not _END:
        events.append(item)
    return events


def test_load_first_decode_warm_up_and_generations_share_the_role_thread(model_path: Path) -> None:
    worker = Worker(model_path, 2048, 2)
    role = worker.role("complete")
    llm = role.llm
    callers: set[int] = set()
    for name in ("eval", "create_completion"):
        real = getattr(llm, name)

        def spy(*args, _real=real, **kwargs):
            callers.add(threading.get_ident())
            return _real(*args, **kwargs)

        setattr(llm, name, spy)
    loader = role.thread.call(threading.get_ident)
    prompt = "def add(a, b):\n    return"
    warm = _drain(Generation(worker, role, "eval", {"prompt": prompt * 3}, set()))
    assert warm[-1]["outcome"] == "completed"
    for _ in range(2):  # each request has a thread of its own that waits; the model work does not
        out = _drain(Generation(worker, role, "completion",
                                {"prompt": prompt, "max_tokens": 4, "temperature": 0, "top_k": 1}, set()))
        assert out[-1]["outcome"] == "completed" and any(e.get("t") for e in out)
    assert callers == {loader}
