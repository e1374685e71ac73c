"""In-process fake backends (server and kernel tests): no model, no sockets to a backend.

``SlowBackend`` streams ``tokens`` deltas ``delay`` seconds apart for both FIM and chat,
stops at once when cancelled, and counts what it did: requests, generations started, the
generations active now and at most at once."""

from __future__ import annotations

import threading
import time
from typing import Iterator

from jupyter_twin.backends import Backend, ChatRequest, FimRequest
from jupyter_twin.backends.base import ModelInfo
from jupyter_twin.errors import TwinError
from jupyter_twin.families import QWEN
from jupyter_twin.stream import BackendStream


class SlowStream(BackendStream):
    def __init__(self, backend: "SlowBackend") -> None:
        super().__init__()
        self.backend = backend

    def _generate(self) -> Iterator[str]:
        b = self.backend
        with b.lock:
            b.started += 1
            b.active += 1
            b.peak_active = max(b.peak_active, b.active)
        try:
            for i in range(b.tokens):
                if self.cancelled:
                    return
                time.sleep(b.delay)
                yield f"x{i}"
        finally:
            with b.lock:
                b.active -= 1


class SlowBackend(Backend):
    name = "slow"
    model = "qwen2.5-coder"

    def __init__(self, tokens: int = 20, delay: float = 0.05, fim_delay: float = 0.0) -> None:
        self.tokens = tokens
        self.delay = delay
        # seconds fim() takes before its stream exists (the context, a model being loaded)
        self.fim_delay = fim_delay
        self.lock = threading.Lock()
        self.requests: list[object] = []
        self.started = 0
        self.active = 0
        self.peak_active = 0

    def info(self) -> ModelInfo:
        return ModelInfo(model=self.model, family=QWEN)

    def fim(self, request: FimRequest) -> BackendStream:
        self.requests.append(request)
        if self.fim_delay:
            time.sleep(self.fim_delay)
        return SlowStream(self)

    def chat(self, request: ChatRequest) -> BackendStream:
        self.requests.append(request)
        return SlowStream(self)

    def ping(self) -> None:
        pass


class FailingBackend(SlowBackend):
    """Every call fails with ``message`` (a message that names secrets to redact)."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message
        self.host = "http://bob:s3cret@127.0.0.1:9"

    def fim(self, request: FimRequest) -> BackendStream:
        raise TwinError(self.message)

    def chat(self, request: ChatRequest) -> BackendStream:
        raise TwinError(self.message)

    def ping(self) -> None:
        raise TwinError(self.message)
