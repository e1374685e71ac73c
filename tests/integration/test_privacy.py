"""Privacy: completions and chats open no network connection but the configured backend's."""

from __future__ import annotations

import socket
import sys

import pytest

from jupyter_twin import Twin
from fakes.ollama_testserver import start_ollama_testserver

pytestmark = pytest.mark.model

_RECORDING: list | None = None


def _audit(event: str, args: tuple) -> None:
    if _RECORDING is not None and event in ("socket.connect", "socket.getaddrinfo"):
        if event == "socket.connect":
            _RECORDING.append(("connect", args[1]))
        else:
            _RECORDING.append(("getaddrinfo", args[0], args[1]))


sys.addaudithook(_audit)  # hooks cannot be removed; the flag above turns recording on and off


def _exercise(twin: Twin) -> None:
    cells = [
        {"cell_type": "code", "source": "import numpy as np\nxs = np.arange(3)"},
        {"cell_type": "code", "source": "def add(a, b):\n    "},
    ]
    twin.complete(cells, 1)
    twin.explain(cells, 0)
    stream = twin.stream("refactor", cells, 1)
    for i, _ in enumerate(stream):
        if i == 2:
            stream.cancel()


def _record(twin: Twin) -> list:
    global _RECORDING
    _RECORDING = []
    try:
        _exercise(twin)
        return list(_RECORDING)
    finally:
        _RECORDING = None


def _peers(events: list) -> set:
    peers = set()
    for ev in events:
        if ev[0] == "connect":
            addr = ev[1]
            peers.add((addr[0], addr[1]) if isinstance(addr, tuple) else addr)
    return peers


def test_embedded_connects_only_to_its_model_process_on_loopback(embedded_twin):
    # the model runs in a process of its own (docs/model-process.md): the only peer is
    # that process, on 127.0.0.1, and no name is looked up
    port = embedded_twin.backend.process.endpoint().port
    events = _record(embedded_twin)
    assert _peers(events) <= {("127.0.0.1", port)}
    assert all(ev[1] == "127.0.0.1" for ev in events if ev[0] == "getaddrinfo")


def test_ollama_connects_only_to_its_host(model_path):
    server = start_ollama_testserver(str(model_path))
    try:
        twin = Twin(backend="ollama", model="qwen2.5-coder:0.5b", host=server.url, max_tokens_chat=64)
        events = _record(twin)
        assert _peers(events) == {("127.0.0.1", server.port)}
        assert all(ev[1] in ("127.0.0.1",) for ev in events if ev[0] == "getaddrinfo")
    finally:
        server.stop()


def test_openai_connects_only_to_its_host(llama_server):
    twin = Twin(backend="openai", model="qwen2.5-coder-0.5b", host=llama_server, max_tokens_chat=64)
    events = _record(twin)
    port = int(llama_server.rsplit(":", 1)[1].split("/")[0])
    assert _peers(events) == {("127.0.0.1", port)}
