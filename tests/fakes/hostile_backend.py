"""A loopback OpenAI-compatible server whose model answers with hostile text.

For the tests of issue 9 ("model output must never become active content"): every chat or
completion request is answered, streamed as server-sent events, with ``answer`` (HTML that
would run script or fetch a remote image if it were rendered as live HTML). Stdlib only;
``start_hostile_server(answer)`` returns a server with ``.url`` (the ``/v1`` base),
``.requests`` (method and path of each request) and ``.stop()``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOSTILE_ANSWER = (
    "Here is the answer.\n\n"
    '<img src=x onerror="window.__twinPwned = 1">\n\n'
    "<script>window.__twinPwned = 2</script>\n\n"
    "```\n</code></pre><img src=y onerror=\"window.__twinPwned = 3\">\n```\n"
    "Done."
)


class HostileServer:
    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                server.requests.append({"method": "GET", "path": self.path})
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"data": [{"id": "hostile"}]}).encode(), "application/json")
                else:
                    self._send(404, b"{}", "application/json")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"method": "POST", "path": self.path, "json": body})
                chat = self.path.endswith("/chat/completions")
                events = []
                # a few pieces, so the magics' streaming view is exercised too
                text = server.answer
                step = max(1, len(text) // 4)
                for i in range(0, len(text), step):
                    piece = text[i:i + step]
                    choice = {"index": 0, "delta": {"content": piece}} if chat else {"index": 0, "text": piece}
                    events.append({"id": "x", "object": "chunk", "choices": [choice]})
                last = {"index": 0, "delta": {}, "finish_reason": "stop"} if chat else \
                    {"index": 0, "text": "", "finish_reason": "stop"}
                events.append({"id": "x", "object": "chunk", "choices": [last]})
                payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                self._send(200, payload.encode(), "text/event-stream")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hostile-backend", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> "HostileServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_hostile_server(answer: str = HOSTILE_ANSWER) -> HostileServer:
    return HostileServer(answer)
