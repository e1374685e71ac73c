"""A backend that is down or breaks mid-stream: clear statuses and error lines.

The backends here are the loopback fault servers of tests/fault_servers.py (real sockets,
real HTTP): nothing in the jupyter_twin engine or server is mocked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes import fault_servers  # noqa: E402
from twin_server_helpers import CELLS, ndjson, on_server_loop  # noqa: E402


@pytest.fixture
def backend_url(request: Any) -> Any:
    kind = getattr(request, "param", "refused")
    if kind == "refused":
        yield fault_servers.refused_url()
        return
    starters = {
        "error": fault_servers.start_error_server,
        "truncated": fault_servers.start_truncated_stream_server,
    }
    server = starters[kind]()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def jp_server_config(backend_url: str) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_twin": True}},
        "TwinApp": {
            "backend": "ollama",
            "host": backend_url,
            "model": "qwen2.5-coder:0.5b",
            "preload": False,
            "connect_timeout": 2.0,
            "request_timeout": 20.0,
        },
    }


def complete_body() -> str:
    return json.dumps({"cells": CELLS, "index": 2, "cursor": len(CELLS[2]["source"])})


@pytest.mark.parametrize("backend_url", ["refused"], indirect=True)
@on_server_loop
async def test_backend_down_gives_503_and_status_says_why(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("jupyter-twin", "complete", method="POST", body=complete_body())
    assert info.value.code == 503
    data = json.loads(info.value.response.body)
    assert data["error_type"] == "BackendUnavailable"
    assert data["message"] and "\n" not in data["message"]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("jupyter-twin", "task", method="POST",
                       body=json.dumps({"task": "explain", "cells": CELLS, "index": 2}))
    assert info.value.code == 503
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("jupyter-twin", "models")
    assert info.value.code == 503
    status = json.loads((await jp_fetch("jupyter-twin", "status")).body)
    assert status["reachable"] is False
    assert status["backend"] == "ollama" and status["error"]


@pytest.mark.parametrize("backend_url", ["error"], indirect=True)
@on_server_loop
async def test_backend_error_gives_502_with_its_message(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("jupyter-twin", "complete", method="POST", body=complete_body())
    assert info.value.code == 502
    data = json.loads(info.value.response.body)
    assert data["message"] and data["error_type"] in ("BackendError", "ModelNotFound")


@pytest.mark.parametrize("backend_url", ["truncated"], indirect=True)
@on_server_loop
async def test_stream_broken_midway_ends_with_an_error_line(jp_fetch: Any) -> None:
    chunks: list[bytes] = []
    response = await jp_fetch("jupyter-twin", "complete", method="POST", body=complete_body(),
                              streaming_callback=chunks.append, request_timeout=60)
    assert response.code == 200
    events = ndjson(chunks)
    assert any("delta" in e for e in events), events
    last = events[-1]
    assert last.get("error") and last.get("error_type"), events
    assert "done" not in last
