"""The model process's HTTP replies go out without Nagle's delay.

Its handler writes a reply's headers and body, and each streamed token, as separate small
writes. With Nagle's algorithm the second write waits for the client's delayed ACK (40 ms
on Linux): every /count, which the engine calls for each new cell in the context, took
44 ms against 0.7 ms without it. The test holds the rule (TCP_NODELAY on each accepted
connection), not the timing."""

from __future__ import annotations

import socket
import threading
from typing import Any

import httpx

from jupyter_twin.modelproc.worker import WorkerServer


class _Tokenizer:
    def tokenize(self, text: str) -> list[int]:
        return list(range(len(text.split())))


class _Recording(WorkerServer):
    def __init__(self) -> None:
        super().__init__(_Tokenizer(), "t0ken")  # type: ignore[arg-type]
        self.nodelay: list[int] = []

    def finish_request(self, request: Any, client_address: Any) -> None:
        super().finish_request(request, client_address)
        self.nodelay.append(request.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_every_connection_of_the_model_process_has_tcp_nodelay() -> None:
    server = _Recording()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        headers = {"Authorization": "Bearer t0ken"}
        with httpx.Client() as client:
            r = client.post(url + "/count", json={"texts": ["a b c", "d"]}, headers=headers)
            assert r.json() == {"counts": [3, 1]}
        with httpx.Client() as client:  # a second connection
            assert client.get(url + "/health", headers=headers).json()["ok"] is True
    finally:
        server.shutdown()
        server.server_close()
    assert len(server.nodelay) == 2 and all(server.nodelay)
