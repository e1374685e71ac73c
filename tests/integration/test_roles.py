"""Separate completion and chat models (issue 12 point 1), with the official `ollama`
client against the API test server (both names served by the real demo model)."""

from __future__ import annotations

import pytest

from jupyter_twin import Twin
from jupyter_twin.errors import ModelNotFound

from fakes.ollama_testserver import FIM_MODEL, NOFIM_MODEL, start_ollama_testserver

pytestmark = pytest.mark.model

CELLS = [
    {"cell_type": "code", "source": "import numpy as np\nprices = np.array([3.0, 4.5])"},
    {"cell_type": "code", "source": "def add(a, b):\n    "},
]


@pytest.fixture(scope="module")
def server(model_path):
    handle = start_ollama_testserver(str(model_path))
    yield handle
    handle.stop()


def _models_used(server, path: str) -> list[str]:
    return [r["body"]["model"] for r in server.requests_to(path)]


def test_completion_and_chat_each_go_to_their_own_model(server):
    server.reset()
    twin = Twin(backend="ollama", host=server.url, completion_model=FIM_MODEL, chat_model=NOFIM_MODEL)
    assert "return a + b" in twin.complete(CELLS, 1, len(CELLS[1]["source"]))
    assert len(twin.explain(CELLS, 0)) > 20
    assert _models_used(server, "/api/generate") == [FIM_MODEL]
    assert _models_used(server, "/api/chat") == [NOFIM_MODEL]
    roles = twin.status()["roles"]
    assert roles["complete"]["model"] == FIM_MODEL and roles["chat"]["model"] == NOFIM_MODEL
    assert roles["complete"]["fim"] is True


def test_both_default_to_model_and_share_one_backend(server):
    twin = Twin(backend="ollama", host=server.url, model=FIM_MODEL)
    assert twin.backend is twin.chat_backend
    assert twin.choice("chat") == ("ollama", FIM_MODEL)


def test_a_model_that_cannot_fill_in_the_middle_is_never_used_for_completion(server, caplog):
    server.reset()
    # family "plain" (no FIM format known) and no 'insert' capability on the server
    twin = Twin(backend="ollama", host=server.url, model=NOFIM_MODEL, family="plain")
    with caplog.at_level("WARNING", logger="jupyter_twin"):
        for _ in range(2):
            with pytest.raises(ModelNotFound, match="cannot fill in the middle.*completion_model"):
                twin.complete(CELLS, 1)
    assert sum("cannot fill in the middle" in r.getMessage() for r in caplog.records) == 1  # said once
    assert _models_used(server, "/api/generate") == []  # nothing was sent
    assert twin.status()["roles"]["complete"]["fim"] is False


def test_switching_the_model_takes_effect_at_the_next_request_and_only_listed_names(server):
    server.reset()
    twin = Twin(backend="ollama", host=server.url, model=NOFIM_MODEL)
    twin.complete(CELLS, 1, len(CELLS[1]["source"]))
    twin.use_model("complete", FIM_MODEL)
    twin.complete(CELLS, 1, len(CELLS[1]["source"]))
    assert _models_used(server, "/api/generate") == [NOFIM_MODEL, FIM_MODEL]
    for bad in ("http://evil.example:11434", "/etc/passwd", "no-such-model:7b"):
        with pytest.raises(ModelNotFound):
            twin.use_model("chat", bad)
    assert twin.choice("chat") == ("ollama", NOFIM_MODEL)
