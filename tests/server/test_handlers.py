"""Handler tests against a real Jupyter server and the real embedded model."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from twin_server_helpers import CELLS, MAX_TOKENS_CHAT, ndjson, on_server_loop

pytestmark = pytest.mark.model

ENDPOINTS = [
    ("POST", "complete"),
    ("POST", "warm"),
    ("POST", "task"),
    ("GET", "status"),
    ("GET", "tasks"),
    ("GET", "models"),
    ("POST", "models"),
    ("GET", "metrics"),
    ("DELETE", "metrics"),
]


def backend_stats(service: Any) -> dict[str, int]:
    stats = service.backend_stats()
    assert stats is not None, "the embedded model is not loaded"
    return stats


async def wait_backend_idle(service: Any, timeout: float = 20.0) -> dict[str, int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        stats = service.backend_stats()
        if stats is not None and stats["active"] == 0 and not service.counters.running:
            return stats
        await asyncio.sleep(0.02)
    raise AssertionError(f"the backend is still generating: {service.backend_stats()}")


async def loaded(service: Any) -> None:
    # the model loads in a background thread at server start (TwinApp.preload)
    await service.call(lambda: service.twin().backend.info(), timeout=120)


@pytest.mark.parametrize("method,endpoint", ENDPOINTS)
@on_server_loop
async def test_every_verb_needs_authentication(
    jp_fetch: Any, http_server_client: Any, jp_base_url: str, method: str, endpoint: str
) -> None:
    url = f"{jp_base_url.rstrip('/')}/jupyter-twin/{endpoint}"
    body = json.dumps({"cells": CELLS, "index": 2, "cursor": 0}) if method == "POST" else None
    with pytest.raises(HTTPClientError) as info:
        await http_server_client.fetch(url, method=method, body=body, allow_nonstandard_methods=True)
    assert info.value.code == 403
    # a wrong token is no better
    with pytest.raises(HTTPClientError) as info:
        await http_server_client.fetch(
            url,
            method=method,
            body=body,
            headers={"Authorization": "token not-the-token"},
            allow_nonstandard_methods=True,
        )
    assert info.value.code == 403


@on_server_loop
async def test_status_and_models(jp_fetch: Any, service: Any) -> None:
    await loaded(service)
    response = await jp_fetch("jupyter-twin", "status")
    status = json.loads(response.body)
    assert status["backend"] == "embedded"
    assert status["reachable"] is True, status
    assert status["model"].endswith(".gguf")
    assert "server" in status and "tasks" in status
    response = await jp_fetch("jupyter-twin", "models")
    models = json.loads(response.body)["models"]
    assert models and models[0].endswith(".gguf")


BAD_BODIES = [
    ("complete", b"not json", "not valid JSON"),
    ("complete", b"[1, 2]", "JSON object"),
    ("complete", b"{}", "'cells'"),
    ("complete", json.dumps({"cells": [{"cell_type": "code"}], "index": 3, "cursor": 0}), "'index'"),
    ("complete", json.dumps({"cells": [{"cell_type": "python", "source": ""}], "index": 0, "cursor": 0}), "cell_type"),
    ("complete", json.dumps({"cells": [{"cell_type": "code", "source": 5}], "index": 0, "cursor": 0}), "source"),
    ("complete", json.dumps({"cells": CELLS, "index": 2, "cursor": 10_000}), "'cursor'"),
    ("complete", json.dumps({"cells": CELLS, "index": 2}), "'cursor'"),
    ("complete", json.dumps({"cells": CELLS, "index": 2, "cursor": 0, "kernel_facts": "x"}), "kernel_facts"),
    ("task", json.dumps({"task": "dance", "cells": CELLS, "index": 2}), "'task'"),
    ("task", json.dumps({"task": "ask", "cells": CELLS, "index": 2}), "'question'"),
    ("task", json.dumps({"task": "ask", "cells": CELLS, "index": 2, "question": "?", "history": [1]}), "history"),
    ("task", json.dumps({"task": "refactor", "cells": CELLS, "index": 2, "instruction": 7}), "instruction"),
]


@pytest.mark.parametrize("endpoint,body,message", BAD_BODIES)
@on_server_loop
async def test_bad_bodies_get_400_with_a_message(
    jp_fetch: Any, endpoint: str, body: Any, message: str
) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("jupyter-twin", endpoint, method="POST", body=body)
    assert info.value.code == 400
    data = json.loads(info.value.response.body)
    assert message in data["message"], data


@on_server_loop
async def test_completion_streams_in_several_chunks(jp_fetch: Any, service: Any) -> None:
    await loaded(service)
    chunks: list[tuple[float, bytes]] = []
    start = time.monotonic()
    cursor = len(CELLS[2]["source"])
    response = await jp_fetch(
        "jupyter-twin",
        "complete",
        method="POST",
        body=json.dumps({"cells": CELLS, "index": 2, "cursor": cursor, "editor_id": "t1"}),
        streaming_callback=lambda chunk: chunks.append((time.monotonic() - start, chunk)),
        request_timeout=180,
    )
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    events = ndjson([c for _, c in chunks])
    deltas = [e["delta"] for e in events if "delta" in e]
    final = events[-1]
    assert final.get("done") is True, events
    assert len(chunks) >= 3, f"expected a stream, got {len(chunks)} chunk(s)"
    assert len(deltas) >= 2
    # the first delta arrived before the end: streamed, not buffered
    assert chunks[0][0] < chunks[-1][0]
    assert isinstance(final["text"], str) and final["text"].strip()
    assert final["latency"] > 0
    stats = await wait_backend_idle(service)
    assert stats["completed"] >= 1


@on_server_loop
async def test_task_streams_and_ends_with_clean_text(jp_fetch: Any, service: Any) -> None:
    await loaded(service)
    chunks: list[bytes] = []
    await jp_fetch(
        "jupyter-twin",
        "task",
        method="POST",
        body=json.dumps({"task": "document", "cells": CELLS, "index": 3}),
        streaming_callback=chunks.append,
        request_timeout=180,
    )
    events = ndjson(chunks)
    assert len(chunks) >= 3
    final = events[-1]
    assert final["done"] is True and final["kind"] == "code"
    assert "```" not in final["text"]  # code extracted from the fences


async def _open_stream(
    port: int, base_url: str, token: str, path: str, body: dict[str, Any]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw HTTP/1.1 POST, so the test can hang up mid-stream like a browser abort."""
    payload = json.dumps(body).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"POST {base_url.rstrip('/')}/jupyter-twin/{path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: token {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    writer.write(request)
    await writer.drain()
    return reader, writer


async def _read_until(reader: asyncio.StreamReader, marker: bytes, timeout: float = 120) -> bytes:
    data = b""
    end = time.monotonic() + timeout
    while marker not in data and time.monotonic() < end:
        try:
            chunk = await asyncio.wait_for(reader.read(4096), max(0.1, end - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


@on_server_loop
async def test_client_disconnect_cancels_generation_on_the_backend(
    jp_serverapp: Any, http_server_client: Any, jp_http_port: int, jp_base_url: str, service: Any
) -> None:
    # (http_server_client makes pytest-jupyter listen on jp_http_port)
    await loaded(service)
    before = backend_stats(service)
    reader, writer = await _open_stream(
        jp_http_port,
        jp_base_url,
        jp_serverapp.identity_provider.token,
        "task",
        {"task": "explain", "cells": CELLS, "index": 3},
    )
    head = await _read_until(reader, b'{"delta"', timeout=60)
    assert b"200 OK" in head and b'{"delta"' in head, head[:300]
    assert backend_stats(service)["active"] == 1  # generating right now
    writer.close()  # the browser's AbortController
    stats = await wait_backend_idle(service, timeout=10)
    assert stats["cancelled"] == before["cancelled"] + 1, stats
    generated = stats["tokens"] - before["tokens"]
    assert generated < MAX_TOKENS_CHAT, f"the model kept going: {generated} tokens"
    recent = service.recent[-1]
    assert recent["cancelled"] and recent["cancel_reason"] == "disconnected"
    # nothing keeps running afterwards
    await asyncio.sleep(0.5)
    assert backend_stats(service)["tokens"] == stats["tokens"]


@on_server_loop
async def test_newer_completion_cancels_the_older_one(
    jp_fetch: Any, service: Any
) -> None:
    await loaded(service)
    before = backend_stats(service)
    service.reset_metrics()
    cursor = len(CELLS[2]["source"])
    body = {"cells": CELLS, "index": 2, "cursor": cursor, "editor_id": "same-editor"}
    first_chunks: list[bytes] = []
    first_started = asyncio.Event()

    def on_first(chunk: bytes) -> None:
        first_chunks.append(chunk)
        first_started.set()

    first = asyncio.ensure_future(
        jp_fetch(
            "jupyter-twin", "complete", method="POST", body=json.dumps(body),
            streaming_callback=on_first, request_timeout=180,
        )
    )
    await asyncio.wait_for(first_started.wait(), 120)
    second_chunks: list[bytes] = []
    body2 = dict(body, cells=[dict(c) for c in CELLS])
    body2["cells"][2]["source"] += "if n < 2:\n        "
    body2["cursor"] = len(body2["cells"][2]["source"])
    await jp_fetch(
        "jupyter-twin", "complete", method="POST", body=json.dumps(body2),
        streaming_callback=second_chunks.append, request_timeout=180,
    )
    await first
    first_events = ndjson(first_chunks)
    assert first_events[-1] == {"cancelled": True, "reason": "superseded"}
    assert ndjson(second_chunks)[-1]["done"] is True
    stats = await wait_backend_idle(service)
    assert stats["cancelled"] == before["cancelled"] + 1
    assert stats["max_active"] == 1
    assert service.counters.max_running_complete == 1
    assert service.metrics()["jobs_cancelled"] == 1


@on_server_loop
async def test_metrics_count_discarded_tokens(jp_fetch: Any, service: Any) -> None:
    response = await jp_fetch("jupyter-twin", "metrics")
    data = json.loads(response.body)
    for key in ("running", "max_running_complete", "deltas_total", "deltas_discarded", "recent"):
        assert key in data
    response = await jp_fetch("jupyter-twin", "metrics", method="DELETE")
    assert response.code == 204
