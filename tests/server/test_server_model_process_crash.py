"""The server extension when the model process dies or hangs mid-stream: the stream ends
with a clear error within 2 s, the Jupyter server keeps answering, nothing is left
running, and the next request starts a new model process."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

import pytest

from twin_server_helpers import CELLS, ndjson, on_server_loop

pytestmark = pytest.mark.model


def _threads() -> set[str]:
    # the executors' pooled threads stay by design (the service's own pool of at most 3,
    # "jupyter-twin-call_N", grows when two calls overlap, which is a matter of timing);
    # anything else is a leak
    return {t.name for t in threading.enumerate()
            if not t.name.startswith(("asyncio_", "ThreadPoolExecutor", "jupyter-twin-call_"))}


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGSTOP])
@on_server_loop
async def test_model_process_dies_mid_stream(jp_fetch: Any, service: Any, sig: int) -> None:
    await service.call(lambda: service.twin().backend.info(), timeout=120)
    proc = service.twin().backend.process
    pid = proc.current().pid
    threads_before = _threads()
    chunks: list[bytes] = []
    killed: dict[str, float] = {}

    def on_chunk(chunk: bytes) -> None:
        chunks.append(chunk)
        if b'"delta"' in chunk and "t" not in killed:
            killed["t"] = time.monotonic()
            os.kill(pid, sig)

    await jp_fetch("jupyter-twin", "task", method="POST",
                   body=json.dumps({"task": "explain", "cells": CELLS, "index": 3}),
                   streaming_callback=on_chunk, request_timeout=120)
    ended = time.monotonic()
    assert "t" in killed
    events = ndjson(chunks)
    final = events[-1]
    assert "error" in final, events[-3:]
    assert "The model process" in final["error"]
    assert ("signal 11" in final["error"]) if sig == signal.SIGSEGV else ("stopped by a signal" in final["error"])
    assert ended - killed["t"] < 2.0
    # the Jupyter server lives, and the status says what happened until the next request
    status = json.loads((await jp_fetch("jupyter-twin", "status")).body)
    assert status["backend"] == "embedded"
    # the next request works, on a new model process
    chunks.clear()
    await jp_fetch("jupyter-twin", "complete", method="POST",
                   body=json.dumps({"cells": CELLS, "index": 2, "cursor": len(CELLS[2]["source"]), "editor_id": "c"}),
                   streaming_callback=chunks.append, request_timeout=120)
    final = ndjson(chunks)[-1]
    assert final.get("done") is True and final["text"].strip(), final
    assert proc.current().pid != pid
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _threads() - threads_before:
        time.sleep(0.05)
    assert not _threads() - threads_before
