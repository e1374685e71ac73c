"""Faults: each a clear exception within its timeout, no leaked thread or connection."""

from __future__ import annotations

import time

import pytest

from fakes.fault_servers import (
    refused_url, start_blackhole_server, start_error_server, start_garbage_server,
    start_malformed_stream_server, start_stalling_stream_server, start_truncated_stream_server,
)
from jupyter_twin import BackendError, BackendTimeout, BackendUnavailable, ModelNotFound, Twin

# the cursor after ", ": no half-typed word, so the completion reads the stream until the
# fault (a healed word that the model does not continue would end the request early)
CELLS = [{"cell_type": "code", "source": "x = 1\nprint(x, "}]


def make(kind: str, url: str, **kw) -> Twin:
    host = url + "/v1" if kind == "openai" else url
    return Twin(backend=kind, model="qwen2.5-coder:0.5b", host=host, connect_timeout=1.0, **kw)


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_connection_refused(kind, no_leaked_threads):
    twin = make(kind, refused_url())
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="Cannot connect"):
        twin.complete(CELLS, 0)
    assert time.monotonic() - started < 3
    status = twin.status()
    assert status["reachable"] is False and "Cannot connect" in status["error"]


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_server_that_never_answers(kind, no_leaked_threads):
    with start_blackhole_server() as server:
        twin = make(kind, server.url, first_token_timeout=1.5)
        started = time.monotonic()
        with pytest.raises(BackendTimeout):
            twin.complete(CELLS, 0)
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_http_500(kind, no_leaked_threads):
    with start_error_server(500) as server:
        twin = make(kind, server.url)
        with pytest.raises(BackendError, match="500"):
            twin.complete(CELLS, 0)


@pytest.mark.parametrize("kind", ["ollama", "openai"])
@pytest.mark.parametrize("start", [start_malformed_stream_server, start_truncated_stream_server])
def test_malformed_or_truncated_stream(kind, start, no_leaked_threads):
    with start() as server:
        twin = make(kind, server.url)
        with pytest.raises(BackendError):
            twin.complete(CELLS, 0)
        with pytest.raises(BackendError):
            twin.explain(CELLS, 0)


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_truncated_close_delimited_stream(kind, no_leaked_threads):
    with start_truncated_stream_server(framing="close") as server:
        twin = make(kind, server.url)
        with pytest.raises(BackendError, match="final message|before \\[DONE\\]"):
            twin.explain(CELLS, 0)


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_garbage_answer(kind, no_leaked_threads):
    with start_garbage_server() as server:
        twin = make(kind, server.url)
        with pytest.raises(BackendError):
            twin.complete(CELLS, 0)


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_cancel_a_stalled_stream_closes_the_connection(kind, no_leaked_threads):
    with start_stalling_stream_server() as server:
        twin = make(kind, server.url, first_token_timeout=30)
        stream = twin.stream("explain", CELLS, 0)
        first = next(iter(stream))
        assert first
        started = time.monotonic()
        import threading

        threading.Timer(0.3, stream.cancel).start()
        rest = list(stream)
        assert time.monotonic() - started < 3
        assert stream.cancelled
        deadline = time.monotonic() + 3
        while server.closed_by_client < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.closed_by_client >= 1


def test_unknown_model_over_openai_404(no_leaked_threads):
    with start_error_server(404, message="model not found") as server:
        twin = make("openai", server.url)
        with pytest.raises(ModelNotFound):
            twin.complete(CELLS, 0)


def test_embedded_without_a_model_file(tmp_path):
    with pytest.raises(BackendUnavailable, match="does not exist"):
        Twin(backend="embedded", model=str(tmp_path / "missing.gguf")).complete(CELLS, 0)
