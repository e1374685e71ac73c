"""The server under floods and big bodies (issue 9, points 4, 9 and 10), with an
in-process slow fake backend: a global limit with a short queue (503 beyond it), a
per-user limit (429), Content-Length checked before the body is read (413), outputs,
error and question counted against the request's size, whole cells or a clear refusal,
and status calls that time out without piling up threads."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes.backends import SlowBackend  # noqa: E402
from twin_server_helpers import CELLS, ndjson, on_server_loop  # noqa: E402

from jupyter_twin import Twin  # noqa: E402
from jupyter_twin.server.handlers import MAX_BODY_BYTES, MAX_SOURCE_CHARS  # noqa: E402
from jupyter_twin.server.service import Limits, TwinService  # noqa: E402
from jupyter_twin.settings import Settings  # noqa: E402

BASE_LIMITS = {"max_running_jobs": 2, "max_queued_jobs": 2, "max_jobs_per_user": 50, "queue_timeout": 10.0}


@pytest.fixture
def limits(request: Any) -> dict[str, Any]:
    return {**BASE_LIMITS, **getattr(request, "param", {})}


@pytest.fixture
def jp_server_config(limits: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_twin": True}},
        # no model: the engine is swapped for one over a fake backend (fixture `fake`)
        "TwinApp": {"backend": "ollama", "host": "http://127.0.0.1:9", "preload": False, "num_ctx": 4096, **limits},
    }


@pytest.fixture
def fake(service: Any) -> SlowBackend:
    backend = SlowBackend(tokens=20, delay=0.05)  # one second per answer
    service._twin = Twin(backend, num_ctx=4096, max_tokens_chat=768)
    return backend


def complete_body(editor: str, cells: list[dict] | None = None) -> str:
    cells = cells or [{"cell_type": "code", "source": "import math\n"}, {"cell_type": "code", "source": "total = sum("}]
    return json.dumps({"cells": cells, "index": len(cells) - 1, "cursor": len(cells[-1]["source"]), "editor_id": editor})


async def fetch(jp_fetch: Any, path: str, body: str, **kw: Any) -> tuple[int, Any, Any]:
    """(status, parsed body or NDJSON lines, headers), for 2xx and errors alike."""
    try:
        r = await jp_fetch("jupyter-twin", path, method="POST", body=body, request_timeout=60, **kw)
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body) if exc.response is not None else None, (
            exc.response.headers if exc.response is not None else {})
    return r.code, ndjson([r.body]), r.headers


async def settled(service: Any, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if service.counters.running == 0 and service._admitted == 0 and service._slots == 0 and not service._waiters:
            return True
        await asyncio.sleep(0.05)
    return False


@on_server_loop
async def test_beyond_running_and_queued_the_answer_is_503(jp_fetch: Any, service: Any, fake: SlowBackend) -> None:
    results = await asyncio.gather(*(fetch(jp_fetch, "complete", complete_body(f"ed{i}")) for i in range(8)))
    codes = sorted(code for code, _, _ in results)
    assert codes == [200] * 4 + [503] * 4, codes  # 2 running + 2 queued, the rest refused
    for code, data, headers in results:
        if code == 503:
            assert "busy" in data["message"] and "\n" not in data["message"]
            assert headers.get("Retry-After")
        else:
            assert data[-1].get("done") is True
    assert fake.peak_active <= 2 and service.counters.max_running <= 2
    assert service.metrics()["rejected_busy"] == 4
    assert await settled(service)


@on_server_loop
async def test_chat_tasks_without_request_id_are_limited_too(jp_fetch: Any, service: Any, fake: SlowBackend) -> None:
    body = json.dumps({"task": "explain", "cells": CELLS, "index": 2})
    results = await asyncio.gather(*(fetch(jp_fetch, "task", body) for _ in range(6)))
    codes = sorted(code for code, _, _ in results)
    assert codes == [200] * 4 + [503] * 2, codes
    assert fake.peak_active <= 2
    assert await settled(service)


@pytest.mark.parametrize("limits", [{"max_running_jobs": 4, "max_queued_jobs": 4, "max_jobs_per_user": 2}], indirect=True)
@on_server_loop
async def test_one_user_beyond_their_share_gets_429(jp_fetch: Any, service: Any, fake: SlowBackend) -> None:
    results = await asyncio.gather(*(fetch(jp_fetch, "complete", complete_body(f"ed{i}")) for i in range(4)))
    codes = sorted(code for code, _, _ in results)
    assert codes == [200, 200, 429, 429], codes
    assert all("from you" in data["message"] for code, data, _ in results if code == 429)
    assert await settled(service)


@pytest.mark.parametrize("limits", [{"max_running_jobs": 1, "max_queued_jobs": 1, "queue_timeout": 0.3}], indirect=True)
@on_server_loop
async def test_a_request_that_waits_too_long_in_the_queue_gets_503(jp_fetch: Any, service: Any, fake: SlowBackend) -> None:
    first, second = await asyncio.gather(
        fetch(jp_fetch, "complete", complete_body("a")), fetch(jp_fetch, "complete", complete_body("b")))
    assert sorted([first[0], second[0]]) == [200, 503]
    refused = first if first[0] == 503 else second
    assert "waited" in refused[1]["message"]
    assert fake.started == 1
    assert await settled(service)


@pytest.mark.parametrize("limits", [{"max_running_jobs": 1, "max_queued_jobs": 4}], indirect=True)
@on_server_loop
async def test_a_client_that_leaves_the_queue_never_runs(jp_fetch: Any, service: Any, fake: SlowBackend) -> None:
    running = asyncio.ensure_future(fetch(jp_fetch, "complete", complete_body("a")))
    await asyncio.sleep(0.2)
    with pytest.raises(Exception):  # the client gives up while its job waits for a slot
        await jp_fetch("jupyter-twin", "complete", method="POST", body=complete_body("b"), request_timeout=0.3)
    code, _, _ = await running
    assert code == 200
    assert await settled(service)
    assert fake.started == 1  # the abandoned job never reached the backend


@on_server_loop
async def test_a_body_over_the_cap_is_refused_from_its_content_length(
    jp_fetch: Any, jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str], service: Any
) -> None:
    # (jp_fetch: the fixture that starts the HTTP server)
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    size = 512 * 1024 * 1024  # announced, never sent
    head = (
        f"POST {jp_base_url.rstrip('/')}/jupyter-twin/complete HTTP/1.1\r\nHost: 127.0.0.1:{jp_http_port}\r\n"
        f"Authorization: {jp_auth_header['Authorization']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    )
    writer.write(head.encode() + b'{"cells": [')
    await writer.drain()
    started = time.monotonic()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    assert b" 413 " in status_line, status_line
    assert time.monotonic() - started < 5  # answered without waiting for the body
    rest = await asyncio.wait_for(reader.read(4096), 10)
    assert f"{MAX_BODY_BYTES:,}".encode() in rest
    writer.close()
    assert service.counters.jobs == 0


@on_server_loop
async def test_outputs_error_and_question_count_against_the_request_size(
    jp_fetch: Any, service: Any, fake: SlowBackend
) -> None:
    big = "printed line\n" * (MAX_SOURCE_CHARS // 13 + 10)  # over the cap in outputs alone
    cells = [{"cell_type": "code", "source": "for i in range(10**6): print('printed line')",
              "outputs": [{"output_type": "stream", "name": "stdout", "text": big}]}]
    code, data, _ = await fetch(jp_fetch, "task", json.dumps({"task": "explain", "cells": cells, "index": 0}))
    assert code == 400 and "too large" in data["message"]
    code, data, _ = await fetch(jp_fetch, "complete", complete_body("e", cells + [{"cell_type": "code", "source": "x = ("}]))
    assert code == 400 and "too large" in data["message"]
    # code near the cap plus the error and the question: over it together
    source = "x = 1\n" * ((MAX_SOURCE_CHARS - 150_000) // 6)
    cells = [{"cell_type": "code", "source": source}]
    body = {"task": "fix", "cells": cells, "index": 0, "error": "E" * 199_000}
    code, data, _ = await fetch(jp_fetch, "task", json.dumps(body))
    assert code == 400 and "too large" in data["message"]
    # an image is not text the engine reads: it is dropped, not counted
    cells = [{"cell_type": "code", "source": "plot()", "outputs": [
        {"output_type": "display_data", "data": {"image/png": "A" * (MAX_SOURCE_CHARS + 10), "text/plain": "<Figure>"}}]}]
    code, data, _ = await fetch(jp_fetch, "task", json.dumps({"task": "explain", "cells": cells, "index": 0}))
    assert code == 200 and data[-1].get("done")
    assert await settled(service)


@on_server_loop
async def test_a_cell_beyond_the_model_context_is_refused_not_cut(jp_fetch: Any, service: Any, fake: SlowBackend) -> None:
    source = "\n".join(f"value_{i:05d} = compute({i}, scale=0.5)  # step {i}" for i in range(400))
    cells = [{"cell_type": "code", "source": source}]
    code, data, _ = await fetch(jp_fetch, "task", json.dumps({"task": "refactor", "cells": cells, "index": 0}))
    assert code == 400
    assert data["error_type"] == "CellTooLarge"
    assert f"{len(source):,} characters" in data["message"] and "num_ctx 4,096" in data["message"]
    assert fake.requests == []  # nothing went to the model
    # a long cell that fits goes whole
    source = "\n".join(f"value_{i:05d} = compute({i})" for i in range(200))
    assert len(source) > 5000  # completion's clip keeps about 4,100 characters of it
    cells = [{"cell_type": "code", "source": source}]
    code, data, _ = await fetch(jp_fetch, "task", json.dumps({"task": "refactor", "cells": cells, "index": 0}))
    assert code == 200
    sent = "\n".join(m["content"] for m in fake.requests[-1].messages)
    assert source in sent


class _SlowStatusTwin:
    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def status(self) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
        time.sleep(1.0)  # a backend that is slow to answer its health check
        return {"reachable": True}

    def models(self) -> list[str]:
        time.sleep(1.0)
        return ["m"]


def test_fifty_status_timeouts_make_one_call_and_leave_no_threads() -> None:
    fake = _SlowStatusTwin()
    service = TwinService(Settings(backend="ollama"), twin_factory=lambda s: fake, limits=Limits())

    async def flood() -> list[dict[str, Any]]:
        before = threading.active_count()
        answers = [await service.status(timeout=0.01) for _ in range(50)]
        for _ in range(50):
            with pytest.raises(asyncio.TimeoutError):
                await service.models(timeout=0.01)
        during = threading.active_count()
        assert during - before <= 3, (before, during)  # not one thread per timed-out call
        await asyncio.sleep(1.5)
        return answers

    answers = asyncio.run(flood())
    assert all("did not answer" in (a["error"] or "") for a in answers)
    assert fake.calls <= 2  # the calls in flight were shared, not repeated 50 times
    service.close()


@pytest.mark.parametrize("limits", [{"max_running_jobs": 1, "max_queued_jobs": 1}], indirect=True)
@on_server_loop
async def test_a_newer_completion_still_supersedes_the_older_one_within_the_limits(
    jp_fetch: Any, service: Any, fake: SlowBackend
) -> None:
    # one running slot: the newer request of the same editor must not be refused or wait
    # for the older to finish; it cancels it, takes its slot, and answers
    older = asyncio.ensure_future(fetch(jp_fetch, "complete", complete_body("same")))
    await asyncio.sleep(0.3)
    newer = await fetch(jp_fetch, "complete", complete_body("same"))
    first = await older
    assert first[0] == 200 and first[1][-1].get("cancelled") is True and first[1][-1]["reason"] == "superseded"
    assert newer[0] == 200 and newer[1][-1].get("done") is True
    assert fake.peak_active == 1
    assert await settled(service)
