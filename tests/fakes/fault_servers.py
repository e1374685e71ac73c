"""Tiny loopback servers that misbehave, for fault tests of the HTTP backends.

Every server binds 127.0.0.1 on a free port, runs on plain threads (stdlib only) and
is stopped with ``.stop()`` (or used as a context manager); ``stop()`` closes every
connection and joins every thread it started, so tests can check for leaked threads
(all thread names start with ``fault-server``).

Servers (each ``start_*`` function returns a :class:`FaultServer` with ``.url``):

- :func:`start_blackhole_server`: accepts TCP connections, reads what the client sends
  and never answers (connect succeeds, the read times out).
- :func:`start_error_server`: answers every request with an HTTP error (500 by default)
  and an Ollama-style ``{"error": "..."}`` body, or an OpenAI-style
  ``{"error": {"message", "type", "param", "code"}}`` body for paths under ``/v1/``.
- :func:`start_malformed_stream_server`: starts a stream (NDJSON for ``/api/generate`` and
  ``/api/chat``, server-sent events for ``/v1/completions`` and
  ``/v1/chat/completions``), sends a few good chunks, then a line that is not JSON, then
  ends the response cleanly.
- :func:`start_truncated_stream_server`: starts a stream, sends a few good chunks and
  closes the connection without the final ``done`` chunk / ``[DONE]`` line.
  ``framing="chunked"`` (default, as Ollama streams) leaves an incomplete chunked body
  (httpx raises ``RemoteProtocolError``); ``framing="close"`` uses a close-delimited
  body, so the client sees a clean end of stream that simply lacks the final chunk.
- :func:`start_stalling_stream_server`: sends a few good chunks and then stalls (no more
  bytes, connection held open) until the client gives up or the server stops.
- :func:`start_garbage_server`: answers 200 with a body that is not JSON.
- :func:`refused_url` / :func:`free_port`: a loopback address with nothing listening.

The stream servers also answer the metadata requests a backend makes first
(``GET /api/version``, ``GET /api/tags``, ``POST /api/show``, ``GET /v1/models``)
correctly, so the fault hits the generation request itself. Every request is recorded
in ``server.requests`` (dicts with ``method``, ``path``, ``headers``, ``body``, ``json``).
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

__all__ = [
    "FaultServer",
    "free_port",
    "refused_url",
    "start_blackhole_server",
    "start_error_server",
    "start_garbage_server",
    "start_malformed_stream_server",
    "start_stalling_stream_server",
    "start_truncated_stream_server",
]

HOST = "127.0.0.1"
THREAD_PREFIX = "fault-server"
_POLL = 0.05  # seconds between checks of the stop flag


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A loopback TCP port with nothing listening on it (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def refused_url() -> str:
    """``http://127.0.0.1:PORT`` where nothing listens: connecting fails at once."""
    return f"http://{HOST}:{free_port()}"


def _now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


class _Closed(Exception):
    """The peer closed the connection or the server is stopping."""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": dict(self.headers),
            "body": self.body,
            "json": self.json,
        }


class _Conn:
    """One accepted connection: buffered reads that honour the server's stop flag."""

    def __init__(self, sock: socket.socket, stop: threading.Event):
        self.sock = sock
        self.stop = stop
        self.buf = b""
        sock.settimeout(_POLL)

    def _recv_more(self) -> None:
        while True:
            if self.stop.is_set():
                raise _Closed()
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                raise _Closed() from e
            if not data:
                raise _Closed()
            self.buf += data
            return

    def read_request(self) -> Request:
        while b"\r\n\r\n" not in self.buf:
            self._recv_more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        method, path = (parts + ["", ""])[:2]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                self._recv_more()
            body, self.buf = self.buf[:n], self.buf[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        parsed = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        return Request(method, path.split("?", 1)[0], headers, body, parsed)

    def _read_chunked(self) -> bytes:
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._recv_more()
            size_line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            while len(self.buf) < size + 2:
                self._recv_more()
            out += self.buf[:size]
            self.buf = self.buf[size + 2 :]
            if size == 0:
                return out

    def send(self, data: bytes) -> None:
        if self.stop.is_set():
            raise _Closed()
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise _Closed() from e

    def wait(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise _Closed()

    def hold(self) -> None:
        """Keep the connection open, discarding input, until the peer or server stops."""
        while True:
            self._recv_more()
            self.buf = b""


def _status_line(status: int) -> bytes:
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
               500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return f"HTTP/1.1 {status} {reasons.get(status, 'Status')}\r\n".encode()


def _response(status: int, body: bytes, content_type: str, *, close: bool = False,
              extra: Optional[dict[str, str]] = None) -> bytes:
    head = _status_line(status)
    head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n".encode()
    head += f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}\r\n".encode()
    for k, v in (extra or {}).items():
        head += f"{k}: {v}\r\n".encode()
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


def _json_response(status: int, obj: Any, **kw: Any) -> bytes:
    return _response(status, json.dumps(obj).encode(), "application/json; charset=utf-8", **kw)


# --------------------------------------------------------------------------- server


class FaultServer:
    """A loopback server whose connections are handled by ``behaviour(server, conn)``."""

    def __init__(self, name: str, behaviour: Callable[["FaultServer", _Conn], None]):
        self.name = name
        self._behaviour = behaviour
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._socks: set[socket.socket] = set()
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []  # tracebacks of unexpected exceptions in handlers
        self.connections = 0  # accepted TCP connections
        self.closed_by_client = 0  # stalled streams the client abandoned (stalling server)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self.host = HOST
        self.port = self._listener.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"{THREAD_PREFIX}-{name}-{self.port}-accept",
            daemon=True,
        )
        self._acceptor.start()

    # ----------------------------------------------------------------- lifecycle
    def _accept_loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                if not sel.select(timeout=_POLL):
                    continue
                try:
                    sock, _ = self._listener.accept()
                except OSError:
                    continue
                with self._lock:
                    if self._stop.is_set():
                        sock.close()
                        break
                    self.connections += 1
                    self._socks.add(sock)
                    t = threading.Thread(
                        target=self._serve,
                        args=(sock,),
                        name=f"{THREAD_PREFIX}-{self.name}-{self.port}"
                             f"-conn{self.connections}",
                        daemon=True,
                    )
                    self._threads.append(t)
                t.start()
        finally:
            sel.close()

    def _serve(self, sock: socket.socket) -> None:
        conn = _Conn(sock, self._stop)
        try:
            self._behaviour(self, conn)
        except _Closed:
            pass
        except Exception:  # never take the test process down; keep the bug visible
            with self._lock:
                self.errors.append(traceback.format_exc())
        finally:
            with self._lock:
                self._socks.discard(sock)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def record(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req.as_dict())

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection; join every thread."""
        self._stop.set()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join(timeout)
        self._listener.close()
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads + [self._acceptor] if t.is_alive()]
        if alive:
            raise RuntimeError(f"fault server {self.name}: threads did not stop: {alive}")

    @property
    def alive_threads(self) -> list[threading.Thread]:
        with self._lock:
            threads = list(self._threads)
        return [t for t in threads + [self._acceptor] if t.is_alive()]

    def __enter__(self) -> "FaultServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<FaultServer {self.name} {self.url}>"


# --------------------------------------------------------------------------- metadata

_MODEL = "qwen2.5-coder:0.5b"


def _metadata_response(req: Request) -> Optional[bytes]:
    """Correct answers for the probes a backend sends before generating, else None."""
    details = {"parent_model": "", "format": "gguf", "family": "qwen2", "families": ["qwen2"],
               "parameter_size": "494.03M", "quantization_level": "Q4_K_M"}
    if req.method in ("GET", "HEAD") and req.path == "/":
        return _response(200, b"Ollama is running", "text/plain; charset=utf-8")
    if req.method in ("GET", "HEAD") and req.path == "/api/version":
        return _json_response(200, {"version": "0.6.8"})
    if req.method in ("GET", "HEAD") and req.path == "/api/tags":
        name = (req.json or {}).get("model") or _MODEL
        return _json_response(200, {"models": [{
            "name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z",
            "size": 491400064, "digest": "0" * 64, "details": details}]})
    if req.method == "POST" and req.path == "/api/show":
        return _json_response(200, {
            "template": "{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>"
                        "{{ .Suffix }}<|fim_middle|>{{- else }}{{ .Prompt }}{{- end }}",
            "details": details, "model_info": {"general.architecture": "qwen2"},
            "capabilities": ["completion", "insert"], "modified_at": "2026-01-01T00:00:00Z"})
    if req.method == "GET" and req.path == "/v1/models":
        return _json_response(200, {"object": "list", "data": [
            {"id": _MODEL, "object": "model", "created": 0, "owned_by": "library"}]})
    return None


_STREAM_PATHS = ("/api/generate", "/api/chat", "/v1/completions", "/v1/chat/completions")


def _model_of(req: Request) -> str:
    if isinstance(req.json, dict) and isinstance(req.json.get("model"), str):
        return req.json["model"]
    return _MODEL


def _wants_stream(req: Request) -> bool:
    body = req.json if isinstance(req.json, dict) else {}
    if req.path.startswith("/v1/"):
        return bool(body.get("stream", False))
    return body.get("stream", True) is not False  # Ollama streams by default


def _chunk_obj(req: Request, text: str, i: int) -> dict[str, Any]:
    model = _model_of(req)
    if req.path == "/api/generate":
        return {"model": model, "created_at": _now_iso(), "response": text, "done": False}
    if req.path == "/api/chat":
        return {"model": model, "created_at": _now_iso(),
                "message": {"role": "assistant", "content": text}, "done": False}
    if req.path == "/v1/completions":
        return {"id": "cmpl-fault", "object": "text_completion", "created": int(time.time()),
                "model": model, "choices": [{"text": text, "index": 0, "logprobs": None,
                                             "finish_reason": None}]}
    delta: dict[str, Any] = {"content": text}
    if i == 0:
        delta["role"] = "assistant"
    return {"id": "chatcmpl-fault", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def _frame(req: Request, obj_or_raw: Any) -> bytes:
    """One stream event: an NDJSON line for /api/*, an SSE event for /v1/*."""
    raw = obj_or_raw if isinstance(obj_or_raw, str) else json.dumps(obj_or_raw)
    if req.path.startswith("/v1/"):
        return f"data: {raw}\n\n".encode()
    return (raw + "\n").encode()


def _stream_head(req: Request, chunked: bool) -> bytes:
    ctype = "text/event-stream" if req.path.startswith("/v1/") else "application/x-ndjson"
    head = _status_line(200) + f"Content-Type: {ctype}\r\n".encode()
    head += f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}\r\n".encode()
    if chunked:
        head += b"Transfer-Encoding: chunked\r\n"
    return head + b"Connection: close\r\n\r\n"


def _chunk(data: bytes, chunked: bool) -> bytes:
    if not chunked:
        return data
    return f"{len(data):X}\r\n".encode() + data + b"\r\n"


def _handle_requests(server: FaultServer, conn: _Conn,
                     on_request: Callable[[Request], bool]) -> None:
    """Serve requests on a keep-alive connection; ``on_request`` returns False to close."""
    while True:
        req = conn.read_request()
        server.record(req)
        if not on_request(req):
            return


# --------------------------------------------------------------------------- servers


def start_blackhole_server() -> FaultServer:
    """(a) Accepts connections, reads and discards what the client sends, never answers."""

    def behaviour(server: FaultServer, conn: _Conn) -> None:
        conn.hold()

    return FaultServer("blackhole", behaviour)


def start_error_server(status: int = 500, message: str = "llama runner process has terminated",
                       style: str = "auto") -> FaultServer:
    """(b) Answers every request with ``status`` and an error body.

    ``style``: ``"ollama"`` -> ``{"error": message}``; ``"openai"`` ->
    ``{"error": {"message", "type", "param", "code"}}``; ``"auto"`` (default) picks the
    OpenAI shape for paths under ``/v1/`` and the Ollama shape elsewhere.
    """

    def behaviour(server: FaultServer, conn: _Conn) -> None:
        def on_request(req: Request) -> bool:
            openai = style == "openai" or (style == "auto" and req.path.startswith("/v1/"))
            if openai:
                kind = "server_error" if status >= 500 else "invalid_request_error"
                body = {"error": {"message": message, "type": kind, "param": None,
                                  "code": status}}
            else:
                body = {"error": message}
            conn.send(_json_response(status, body))
            return req.headers.get("connection", "").lower() != "close"

        _handle_requests(server, conn, on_request)

    return FaultServer(f"error{status}", behaviour)


def start_garbage_server(body: bytes = b"<html><body>502 Bad Gateway (proxy)</body></html>\n",
                         content_type: str = "text/html") -> FaultServer:
    """(f) Answers 200 to every request with a body that is not JSON."""

    def behaviour(server: FaultServer, conn: _Conn) -> None:
        def on_request(req: Request) -> bool:
            conn.send(_response(200, body, content_type))
            return req.headers.get("connection", "").lower() != "close"

        _handle_requests(server, conn, on_request)

    return FaultServer("garbage", behaviour)


def _stream_fault_server(name: str, good: tuple[str, ...], framing: str,
                         fault: Callable[[FaultServer, Request, _Conn, bool], None],
                         nonstream_fault: Callable[[Request, _Conn], None],
                         delay: float) -> FaultServer:
    if framing not in ("chunked", "close"):
        raise ValueError("framing must be 'chunked' or 'close'")
    chunked = framing == "chunked"

    def behaviour(server: FaultServer, conn: _Conn) -> None:
        def on_request(req: Request) -> bool:
            meta = _metadata_response(req)
            if meta is not None:
                conn.send(meta)
                return True
            if req.path not in _STREAM_PATHS:
                conn.send(_response(404, b"404 page not found", "text/plain"))
                return True
            if not _wants_stream(req):
                nonstream_fault(req, conn)
                return False
            conn.send(_stream_head(req, chunked))
            for i, text in enumerate(good):
                conn.send(_chunk(_frame(req, _chunk_obj(req, text, i)), chunked))
                if delay:
                    conn.wait(delay)
            fault(server, req, conn, chunked)
            return False

        _handle_requests(server, conn, on_request)

    return FaultServer(name, behaviour)


_GOOD = ("def", " add", "(a", ",", " b")


def start_malformed_stream_server(good: tuple[str, ...] = _GOOD, framing: str = "chunked",
                                  bad_line: str = '{"model": "qwen2.5-coder:0.5b", "respo',
                                  delay: float = 0.0) -> FaultServer:
    """(c)/(e) Streams ``good`` chunks, then a line that is not JSON, then ends cleanly.

    NDJSON on ``/api/generate`` and ``/api/chat``; SSE (``data: ...``) on
    ``/v1/completions`` and ``/v1/chat/completions``. A non-streaming request gets a
    200 whose JSON body is cut (``bad_line``).
    """

    def fault(server: FaultServer, req: Request, conn: _Conn, chunked: bool) -> None:
        conn.send(_chunk(_frame(req, bad_line), chunked))
        if chunked:
            conn.send(b"0\r\n\r\n")

    def nonstream(req: Request, conn: _Conn) -> None:
        conn.send(_response(200, bad_line.encode(), "application/json; charset=utf-8",
                            close=True))

    return _stream_fault_server("malformed", good, framing, fault, nonstream, delay)


def start_truncated_stream_server(good: tuple[str, ...] = _GOOD, framing: str = "chunked",
                                  delay: float = 0.0) -> FaultServer:
    """(d)/(e) Streams ``good`` chunks, then closes without the final chunk.

    ``framing="chunked"``: the chunked body is left incomplete (a protocol error in the
    client). ``framing="close"``: close-delimited body, a clean EOF without ``done``
    / ``[DONE]``. A non-streaming request gets a Content-Length larger than what is sent.
    """

    def fault(server: FaultServer, req: Request, conn: _Conn, chunked: bool) -> None:
        return  # returning closes the socket; no terminator, no done chunk

    def nonstream(req: Request, conn: _Conn) -> None:
        body = json.dumps({"model": _model_of(req), "created_at": _now_iso(),
                           "response": "".join(good), "done": True,
                           "done_reason": "stop"}).encode()
        whole = _response(200, body, "application/json; charset=utf-8", close=True)
        conn.send(whole[: len(whole) - len(body) // 2])

    return _stream_fault_server(f"truncated-{framing}", good, framing, fault, nonstream, delay)


def start_stalling_stream_server(good: tuple[str, ...] = _GOOD[:1],
                                 framing: str = "chunked") -> FaultServer:
    """Streams ``good`` chunks, then sends nothing more while holding the connection open
    (until the client closes it or the server stops). ``server.closed_by_client`` counts
    stalled streams that the client abandoned. ``good=()`` sends only the status line and
    headers (a server that never produces a first token)."""

    def fault(server: FaultServer, req: Request, conn: _Conn, chunked: bool) -> None:
        try:
            conn.hold()
        except _Closed:
            if not conn.stop.is_set():
                with server._lock:
                    server.closed_by_client += 1
            raise

    def nonstream(req: Request, conn: _Conn) -> None:
        conn.hold()

    server = _stream_fault_server("stalling", good, framing, fault, nonstream, 0.0)
    return server
