"""The Tab matcher under time-outs (issue 9, point 10): a time-out that comes before the
stream exists still stops the generation, and 50 time-outs leave no thread and no
generation running. A slow fake backend (tests/fakes/backends.py) stands in for the model (no model needed)."""

from __future__ import annotations

import threading
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from fakes.backends import SlowBackend
from jupyter_twin import Twin
from jupyter_twin.kernel import matcher
from jupyter_twin.kernel.sources import LiveNotebook
from jupyter_twin.kernel.magics import get_magics


@pytest.fixture
def magics(monkeypatch):
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext jupyter_twin", store_history=True)
    m = get_magics(shell)
    m.live = LiveNotebook()
    m.kernel_facts = False
    # two seconds of tokens unless cancelled; fim() takes 50 ms before the stream exists
    backend = SlowBackend(tokens=100, delay=0.02, fim_delay=0.05)
    twin = Twin(backend)
    monkeypatch.setattr(m, "twin", lambda opts=None, purpose="chat": twin)
    m.fake_backend = backend
    yield m


def settle(predicate, timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def tab_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "jupyter_twin-tab"]


def test_fifty_tab_timeouts_leave_no_thread_and_no_generation(magics):
    backend = magics.fake_backend
    settle(lambda: not tab_threads())
    before = threading.active_count()
    text = "values = [1, 2, 3]\ntotal = sum("
    for _ in range(50):
        assert matcher.model_completion(magics, text, len(text), 0.01) is None
    # each generation would run two seconds if nothing stopped it; all stop at once
    assert settle(lambda: backend.active == 0 and not tab_threads(), timeout=1.0), (
        backend.active, len(tab_threads()))
    assert threading.active_count() <= before
    assert len(backend.requests) <= 50
    assert backend.started <= len(backend.requests)


def test_a_timeout_before_the_stream_exists_stops_that_generation(magics):
    backend = magics.fake_backend
    settle(lambda: not tab_threads())
    text = "total = sum("
    assert matcher.model_completion(magics, text, len(text), 0.01) is None  # fim() takes 50 ms
    assert settle(lambda: len(backend.requests) == 1 and not tab_threads(), timeout=1.0)
    assert backend.active == 0
    # Tab works again once the earlier worker has gone: this one runs to its end
    timeouts = magics.tab_timeouts
    completion = matcher.model_completion(magics, text, len(text), 5.0)
    assert completion is not None and magics.tab_timeouts == timeouts
    # the timed-out stream was stopped before it was read: only this one generated
    assert backend.started == 1 and backend.active == 0
