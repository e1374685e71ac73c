"""The /complete NDJSON carries the cleaned text so far: what ghost text shows while it
streams (real Jupyter server, real embedded model)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from twin_server_helpers import CELLS, ndjson, on_server_loop

pytestmark = pytest.mark.model

SETUP = "import pandas as pd\nhousing = pd.read_csv('housing.csv')\nhousing['rooms'] = housing['total_rooms']"


async def _complete(jp_fetch: Any, cells: list[dict[str, Any]], index: int, editor: str) -> list[dict[str, Any]]:
    chunks: list[bytes] = []
    response = await jp_fetch(
        "jupyter-twin",
        "complete",
        method="POST",
        body=json.dumps(
            {"cells": cells, "index": index, "cursor": len(cells[index]["source"]), "editor_id": editor}
        ),
        streaming_callback=chunks.append,
        request_timeout=180,
    )
    assert response.code == 200
    return ndjson(chunks)


@on_server_loop
async def test_each_completion_delta_carries_the_cleaned_text_so_far(jp_fetch: Any, service: Any) -> None:
    await service.call(lambda: service.twin().backend.info(), timeout=120)
    typed = "price_per_room = housing['rooms'] / len(hou"
    cells = [{"cell_type": "code", "source": SETUP}, {"cell_type": "code", "source": typed}]
    events = await _complete(jp_fetch, cells, 1, "ghost-1")
    final = events[-1]
    assert final.get("done") is True, events
    updates = [e for e in events if "delta" in e]
    assert updates, events
    raw = "".join(e["delta"] for e in updates)
    # the raw stream starts again from the half-typed word (token healing) ...
    assert raw.startswith("hou"), raw
    for event in updates:
        # ... the ghost text never does, and it grows towards the final text
        assert isinstance(event["text"], str), event
        assert not event["text"].startswith("hou"), event
        assert final["text"].startswith(event["text"]), (event, final)
    assert updates[-1]["text"] == final["text"]


@on_server_loop
async def test_task_streams_stay_raw_deltas(jp_fetch: Any, service: Any) -> None:
    await service.call(lambda: service.twin().backend.info(), timeout=120)
    chunks: list[bytes] = []
    await jp_fetch(
        "jupyter-twin",
        "task",
        method="POST",
        body=json.dumps({"task": "ask", "cells": CELLS, "index": 2, "question": "One word: is 2 prime?"}),
        streaming_callback=chunks.append,
        request_timeout=180,
    )
    events = ndjson(chunks)
    assert events[-1].get("done") is True, events
    deltas = [e for e in events if "delta" in e]
    assert deltas and all(set(e) == {"delta"} for e in deltas), deltas
