"""Authorization and what the browser may see (issue 9, point 11): every endpoint asks
jupyter_server's Authorizer about the resource "jupyter_twin" (403 when it says no), and
/status, /models and error messages carry no backend credentials and no path on disk."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth.authorizer import Authorizer
from tornado.httpclient import HTTPClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes.backends import FailingBackend, SlowBackend  # noqa: E402
from twin_server_helpers import CELLS, on_server_loop  # noqa: E402

from jupyter_twin import Twin  # noqa: E402
from jupyter_twin.tasks import TASKS, task_list  # noqa: E402

VERBS = [
    ("POST", "complete", {"cells": CELLS, "index": 2, "cursor": 3}),
    ("POST", "task", {"task": "explain", "cells": CELLS, "index": 2}),
    ("GET", "status", None),
    ("GET", "tasks", None),
    ("GET", "models", None),
    ("GET", "metrics", None),
    ("DELETE", "metrics", None),
]


class NoTwin(Authorizer):
    """A deployment that lets users do anything but use jupyter_twin."""

    asked: list[tuple[str, str]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        NoTwin.asked.append((action, resource))
        return resource != "jupyter_twin"


@pytest.fixture
def authorizer() -> Any:
    return None


@pytest.fixture
def jp_server_config(authorizer: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "ServerApp": {"jpserver_extensions": {"jupyter_twin": True}},
        "TwinApp": {
            "backend": "ollama", "host": "http://bob:s3cret@127.0.0.1:9", "preload": False,
            "model_path": "/home/alice/private/models/secret-model.gguf",
        },
    }
    if authorizer is not None:
        config["ServerApp"]["authorizer_class"] = authorizer
    return config


@pytest.mark.parametrize("authorizer", [NoTwin])
@on_server_loop
async def test_an_authorizer_that_forbids_jupyter_twin_gets_403_everywhere(jp_fetch: Any, service: Any) -> None:
    service._twin = Twin(SlowBackend())
    NoTwin.asked.clear()
    for method, path, body in VERBS:
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("jupyter-twin", path, method=method,
                           body=None if body is None else json.dumps(body), allow_nonstandard_methods=True)
        assert info.value.code == 403, (method, path)
    assert {r for _, r in NoTwin.asked} == {"jupyter_twin"}
    assert {a for a, _ in NoTwin.asked} == {"read", "write"}
    assert service.counters.jobs == 0  # nothing ran
    # the rest of the server is allowed: the Authorizer is asked per resource
    response = await jp_fetch("api", "status")
    assert response.code == 200


@on_server_loop
async def test_status_has_no_credentials_and_no_paths(jp_fetch: Any, service: Any) -> None:
    text = (await jp_fetch("jupyter-twin", "status")).body.decode()
    data = json.loads(text)
    assert data["reachable"] is False and data["error"]
    for secret in ("s3cret", "bob", "/home/alice", "private"):
        assert secret not in text, secret
    # a backend that fails with a path in its message
    service._twin = Twin(FailingBackend("no model file at /home/alice/private/models/m.gguf for http://bob:s3cret@h:1"))
    text = (await jp_fetch("jupyter-twin", "status")).body.decode()
    assert "m.gguf" in text and "http://h:1" in text
    for secret in ("s3cret", "bob", "/home/alice", "private"):
        assert secret not in text, secret


@on_server_loop
async def test_the_task_list_is_served_without_the_engine(jp_fetch: Any, service: Any) -> None:
    """GET /tasks (the JupyterLab extension builds its task buttons and commands from it)
    answers at once, with the backend down and no engine made (/status waits on the engine)."""
    data = json.loads((await jp_fetch("jupyter-twin", "tasks")).body)
    assert data == {"tasks": task_list()}
    assert [t["name"] for t in data["tasks"]] == list(TASKS)
    assert service._twin is None


@on_server_loop
async def test_error_messages_have_no_credentials_and_no_paths(jp_fetch: Any, service: Any) -> None:
    # the real Ollama backend, refused: its message names the host
    for path, body in (("complete", {"cells": CELLS, "index": 2, "cursor": 3}),
                       ("task", {"task": "explain", "cells": CELLS, "index": 2})):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("jupyter-twin", path, method="POST", body=json.dumps(body))
        text = info.value.response.body.decode()
        assert info.value.code == 503 and "127.0.0.1:9" in text
        assert "s3cret" not in text and "bob" not in text
    service._twin = Twin(FailingBackend("cannot open /home/alice/private/models/m.gguf"))
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("jupyter-twin", "task", method="POST",
                       body=json.dumps({"task": "explain", "cells": CELLS, "index": 2}))
    text = info.value.response.body.decode()
    assert "m.gguf" in text and "/home/alice" not in text and "private" not in text
