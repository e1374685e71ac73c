"""Picking the completion and chat models through the server (issue 12 point 2): only a
name the backend lists is accepted, and the next request is served by the new model, with
no restart. Real Jupyter server, real embedded model (a second name for the same GGUF
file in the model cache stands in for a second model)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_twin.modelfiles import cache_dir
from twin_server_helpers import CELLS, ndjson, on_server_loop

pytestmark = pytest.mark.model

ALIAS = "jupyter-twin-test-alias.gguf"


@pytest.fixture
def alias(model_path: str):
    link = cache_dir() / ALIAS  # under the test's own HOME (pytest-jupyter's jp_environ)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(model_path)
    yield ALIAS
    link.unlink(missing_ok=True)


async def _models(jp_fetch: Any) -> dict[str, Any]:
    return json.loads((await jp_fetch("jupyter-twin", "models")).body)


async def _pick(jp_fetch: Any, body: dict[str, Any]) -> Any:
    return await jp_fetch("jupyter-twin", "models", method="POST", body=json.dumps(body), request_timeout=120)


@on_server_loop
async def test_pick_a_listed_model_and_the_next_completion_uses_it(jp_fetch: Any, service: Any, alias: str) -> None:
    listed = await _models(jp_fetch)
    roles = listed["roles"]
    assert alias in roles["complete"]["models"] and alias in roles["chat"]["models"]
    before = roles["complete"]["current"]
    assert before != alias and "/" not in before  # file names only, no paths
    r = await _pick(jp_fetch, {"complete": alias})
    assert json.loads(r.body)["roles"]["complete"]["current"] == alias
    counted = await service.call(service.backend_stats, timeout=30) or {}
    chunks: list[bytes] = []
    await jp_fetch("jupyter-twin", "complete", method="POST",
                   body=json.dumps({"cells": CELLS, "index": 2, "cursor": len(CELLS[2]["source"]), "editor_id": "p"}),
                   streaming_callback=chunks.append, request_timeout=120)
    assert ndjson(chunks)[-1].get("done") is True
    status = json.loads((await jp_fetch("jupyter-twin", "status")).body)
    assert status["roles"]["complete"]["model"] == alias
    assert status["roles"]["chat"]["model"] == before  # the chat model stays
    # the completion backend is the alias's, and its model process generated the answer
    # (the same file under two names is one process: the alias is a symlink)
    backend = service.twin().backend
    assert backend.model == alias
    assert (await service.call(service.backend_stats, timeout=30))["started"] == counted.get("started", 0) + 1


@pytest.mark.parametrize("name", ["http://evil.example:11434", "/etc/passwd", "../../x.gguf", "no-such-model"])
@on_server_loop
async def test_only_a_listed_name_is_accepted(jp_fetch: Any, service: Any, name: str) -> None:
    before = (await _models(jp_fetch))["roles"]
    with pytest.raises(HTTPClientError) as info:
        await _pick(jp_fetch, {"chat": name})
    assert info.value.code == 400
    assert "not one of the models" in json.loads(info.value.response.body)["message"]
    assert (await _models(jp_fetch))["roles"] == before


@on_server_loop
async def test_a_bad_body_is_a_clear_400(jp_fetch: Any, service: Any) -> None:
    for body in ({}, {"complete": 3}, {"chat": ""}):
        with pytest.raises(HTTPClientError) as info:
            await _pick(jp_fetch, body)
        assert info.value.code == 400


@on_server_loop
async def test_null_goes_back_to_the_configured_model(jp_fetch: Any, service: Any, alias: str) -> None:
    """The picker's "server default" and a cleared setting: the role is served by the
    model the server was configured with again, from the next request on."""
    roles = (await _models(jp_fetch))["roles"]
    configured = roles["complete"]["current"]
    assert roles["complete"]["default"] == configured and roles["chat"]["default"] == configured
    await _pick(jp_fetch, {"complete": alias, "chat": alias})
    r = await _pick(jp_fetch, {"complete": None})
    back = json.loads(r.body)["roles"]
    assert back["complete"]["current"] == configured and back["complete"]["default"] == configured
    assert back["chat"]["current"] == alias  # only the role named goes back
    status = json.loads((await jp_fetch("jupyter-twin", "status")).body)
    assert status["roles"]["complete"]["model"] == configured
    assert service.twin().backend.model != alias
