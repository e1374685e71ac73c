"""A tiny OpenAI-compatible server on 127.0.0.1 that streams made-up tokens, for the flood
benchmark: it stands in for a model so that the numbers measure the Jupyter server and
the extension, not llama.cpp.

``GET /v1/models``; ``POST /v1/completions`` and ``/v1/chat/completions`` with
``"stream": true`` answer server-sent events: ``tokens`` deltas ``delay`` seconds apart,
then ``data: [DONE]``. A client that goes away stops its generation at the next token.
``stats`` counts requests, generations started, active now and at most at once.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORDS = ["total", " =", " sum", "(", "x", " for", " x", " in", " values", ")", "\n", "print", "(", "total", ")", "\n"]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.started = 0
        self.finished = 0
        self.cancelled = 0
        self.active = 0
        self.peak_active = 0

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {k: getattr(self, k) for k in ("requests", "started", "finished", "cancelled", "active", "peak_active")}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tokens: int, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tokens = tokens
        self.delay = delay
        self.stats = Stats()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the stream ends when the connection closes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "fake-coder", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        stats = self.server.stats
        with stats.lock:
            stats.requests += 1
        chat = self.path.rstrip("/") == "/v1/chat/completions"
        if self.path.rstrip("/") not in ("/v1/completions", "/v1/chat/completions"):
            self._json(404, {"error": {"message": "not found"}})
            return
        limit = min(int(body.get("max_tokens") or self.server.tokens), self.server.tokens)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        with stats.lock:
            stats.started += 1
            stats.active += 1
            stats.peak_active = max(stats.peak_active, stats.active)
        done = False
        try:
            for i in range(limit):
                time.sleep(self.server.delay)
                word = WORDS[i % len(WORDS)]
                choice = {"index": 0, "delta": {"content": word}} if chat else {"index": 0, "text": word}
                self.wfile.write(b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n")
                self.wfile.flush()
            end = {"index": 0, "delta": {}, "finish_reason": "length"} if chat else {"index": 0, "text": "", "finish_reason": "length"}
            self.wfile.write(b"data: " + json.dumps({"choices": [end]}).encode() + b"\n\ndata: [DONE]\n\n")
            self.wfile.flush()
            done = True
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            with stats.lock:
                stats.active -= 1
                if done:
                    stats.finished += 1
                else:
                    stats.cancelled += 1


class FakeOpenAI:
    """``with FakeOpenAI(tokens=24, delay=0.02) as fake: fake.url``; stopped on exit."""

    def __init__(self, tokens: int = 24, delay: float = 0.02) -> None:
        self._server = _Server(tokens, delay)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self.stats = self._server.stats
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> "FakeOpenAI":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
