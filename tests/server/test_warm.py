"""POST /jupyter-twin/warm against a real Jupyter server and the real model (issue 10
points 2 and 4): a warm-up fills the model's prompt cache and generates nothing, the next
completion stops it, and a prefetch is joined by the completion at its place."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from twin_server_helpers import ndjson, on_server_loop

pytestmark = pytest.mark.model


def _notebook(n: int) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = [{"cell_type": "code", "source": "import statistics\nreadings = [3, 1, 4, 1, 5, 9, 2, 6]"}]
    for i in range(n):
        cells.append({"cell_type": "code", "source": f"def scaled_{i}(xs):\n    return [x * {i + 2} for x in xs]\n\nscaled_readings_{i} = scaled_{i}(readings)"})
    cells.append({"cell_type": "code", "source": ""})
    return cells


async def _stats(service: Any, timeout: float = 20.0) -> dict[str, int]:
    """The model process's counters once nothing runs on it."""
    end = time.monotonic() + timeout
    while True:
        stats = await service.call(service.backend_stats, timeout=10)
        if stats is not None and not stats.get("active") or time.monotonic() > end:
            return stats or {}
        await asyncio.sleep(0.02)


async def _loaded(service: Any) -> None:
    await service.call(lambda: service.twin().backend.info(), timeout=120)


async def _post(jp_fetch: Any, path: str, body: dict[str, Any]) -> Any:
    return await jp_fetch("jupyter-twin", path, method="POST", body=json.dumps(body), request_timeout=180)


async def _warm_done(service: Any, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = service.twin().background_status()
        if status is None or not status["running"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the warm-up did not end")


@on_server_loop
async def test_warm_up_answers_at_once_and_the_next_completion_reuses_it(jp_fetch: Any, service: Any) -> None:
    await _loaded(service)
    cells = _notebook(8)
    index = len(cells) - 1
    before = await _stats(service)
    started = time.monotonic()
    r = await _post(jp_fetch, "warm", {"cells": cells, "index": index, "cursor": 0, "editor_id": "e1"})
    assert r.code == 202 and json.loads(r.body) == {"started": True}
    assert time.monotonic() - started < 2.0  # the evaluation runs after the answer
    await _warm_done(service)
    warmed = await _stats(service)
    assert warmed["warmups"] - before["warmups"] == 1
    assert warmed["started"] == before["started"]  # nothing generated
    cells[index]["source"] = "s"
    r = await _post(jp_fetch, "complete", {"cells": cells, "index": index, "cursor": 1, "editor_id": "e1"})
    assert ndjson([r.body])[-1]["done"]
    after = await _stats(service)
    prompt = after["prompt_tokens"] - warmed["prompt_tokens"]
    evaluated = prompt - (after["reused_tokens"] - warmed["reused_tokens"])
    assert prompt > 150 and evaluated < 20, (prompt, evaluated)


@on_server_loop
async def test_a_completion_stops_the_warm_up(jp_fetch: Any, service: Any) -> None:
    await _loaded(service)
    cells = _notebook(30)
    index = len(cells) - 1
    before = await _stats(service)
    await _post(jp_fetch, "warm", {"cells": cells, "index": index, "cursor": 0, "editor_id": "e2"})
    end = time.monotonic() + 30
    while (await service.call(service.backend_stats, timeout=10))["warmups"] == before["warmups"]:
        assert time.monotonic() < end
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    cells[index]["source"] = "for x in readings:\n    "
    r = await _post(jp_fetch, "complete", {"cells": cells, "index": index, "cursor": len(cells[index]["source"]),
                                           "editor_id": "e2"})
    assert ndjson([r.body])[-1]["done"]
    after = await _stats(service)
    assert after["warm_cancelled"] - before["warm_cancelled"] == 1


@on_server_loop
async def test_prefetch_is_joined_by_the_completion_at_its_place(jp_fetch: Any, service: Any) -> None:
    await _loaded(service)
    cells = [{"cell_type": "code", "source": "def mean(xs):\n    return "}]
    before = await _stats(service)
    r = await _post(jp_fetch, "warm", {"cells": cells, "index": 0, "cursor": len(cells[0]["source"]),
                                       "editor_id": "e3", "prefetch": True})
    assert json.loads(r.body) == {"started": True}
    r = await _post(jp_fetch, "complete", {"cells": cells, "index": 0, "cursor": len(cells[0]["source"]),
                                           "editor_id": "e3"})
    done = ndjson([r.body])[-1]
    assert done["done"] and done["text"]
    after = await _stats(service)
    assert after["started"] - before["started"] == 1  # the prefetch's generation only
    status = json.loads((await jp_fetch("jupyter-twin", "status")).body)
    assert status["completion_cache"]["prefetched"] == 1
    # the same place again: a cache hit, no generation
    r = await _post(jp_fetch, "complete", {"cells": cells, "index": 0, "cursor": len(cells[0]["source"]),
                                           "editor_id": "e3"})
    assert ndjson([r.body])[-1]["text"] == done["text"]
    assert (await _stats(service))["started"] == after["started"]
    status = json.loads((await jp_fetch("jupyter-twin", "status")).body)
    assert status["completion_cache"]["hits"] == 1


@on_server_loop
async def test_warm_with_a_bad_cursor_is_a_clear_400(jp_fetch: Any, service: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await _post(jp_fetch, "warm", {"cells": [{"cell_type": "code", "source": "x"}], "index": 0, "cursor": 9})
    assert info.value.code == 400
    assert "out of range" in json.loads(info.value.response.body)["message"]
