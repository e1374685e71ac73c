"""HTTP plumbing shared by the HTTP backends: timeouts, error mapping, hard cancel.

Closing a socket from another thread does not wake a thread blocked in recv() on Linux;
shutting it down does, and the server sees the connection end at once. httpx does not
hand out its sockets, but httpcore's `trace` extension reports each new connection, so
we keep them and shut them down on cancel.
"""

from __future__ import annotations

import functools
import json
import socket
import ssl
import threading
from typing import Any, Callable

import httpx

from ..errors import BackendError, BackendTimeout, BackendUnavailable, ModelNotFound, TwinError


class SocketGrip:
    def __init__(self) -> None:
        self._streams: list[Any] = []
        self._lock = threading.Lock()
        self._shut = False

    def event_hooks(self) -> dict[str, list[Callable[..., Any]]]:
        return {"request": [self._on_request]}

    def _on_request(self, request: httpx.Request) -> None:
        request.extensions["trace"] = self._trace

    def _trace(self, name: str, info: dict[str, Any]) -> None:
        if name.endswith("connect_tcp.complete"):
            stream = info.get("return_value")
            with self._lock:
                self._streams.append(stream)
                shut = self._shut
            if shut:
                _shutdown(stream)

    def send(self, data: bytes) -> None:
        """Write raw bytes on the open connections (a note to the server before shutdown)."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            try:
                sock = stream.get_extra_info("socket")
                if sock is not None:
                    sock.send(data)
            except (OSError, AttributeError):
                pass

    def shutdown(self) -> None:
        with self._lock:
            self._shut = True
            streams = list(self._streams)
        for stream in streams:
            _shutdown(stream)


def _shutdown(stream: Any) -> None:
    try:
        sock = stream.get_extra_info("socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """The one verifying TLS context that every HTTP client of ours is given (`verify=`).

    Why: httpx builds a new context per Client and loads the CA bundle into it, 26 ms of
    CPU each time, and we make a Client per stream (SocketGrip cancels by shutting its
    sockets). Profiled on the embedded model, that was half the engine's CPU per
    keystroke, taken from the same 2 cores the model's threads run on. The context is
    httpx's own default, so what is trusted does not change; sharing one is safe."""
    return httpx.create_ssl_context()


def timeout(connect: float, read: float) -> httpx.Timeout:
    # read bounds the wait for each chunk, so also the wait for the first token
    return httpx.Timeout(connect=connect, read=read, write=connect, pool=connect)


def map_http_error(exc: BaseException, *, what: str, host: str, model: str | None = None) -> TwinError:
    """Turn transport and protocol failures into one-line engine errors."""
    if isinstance(exc, TwinError):
        return exc
    if isinstance(exc, (httpx.ConnectError, ConnectionRefusedError)) or (
        isinstance(exc, ConnectionError) and "Failed to connect" in str(exc)
    ):
        return BackendUnavailable(f"Cannot connect to {what} at {host}: is it running?")
    if isinstance(exc, httpx.ConnectTimeout):
        return BackendTimeout(f"Connecting to {what} at {host} timed out")
    if isinstance(exc, httpx.TimeoutException):
        return BackendTimeout(f"{what} at {host} did not answer in time")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return BackendError(f"{what} at {host} closed the stream before the answer was complete")
    if isinstance(exc, json.JSONDecodeError):
        return BackendError(f"{what} at {host} sent something that is not its protocol (invalid JSON)")
    if isinstance(exc, httpx.HTTPError):
        return BackendError(f"{what} at {host}: {exc}")
    return BackendError(f"{what} at {host}: {type(exc).__name__}: {exc}")


def error_for_status(status: int, message: str, *, what: str, host: str, model: str | None) -> TwinError:
    message = (message or "").strip().splitlines()[0][:300] if message else f"HTTP {status}"
    if status == 404 or "not found" in message.lower():
        return ModelNotFound(f"{what} at {host} has no model {model!r}: {message}")
    return BackendError(f"{what} at {host} answered HTTP {status}: {message}")


def error_message(body: str) -> str:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        return body.strip()[:300]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err)
        if err:
            return str(err)
        if data.get("message"):
            return str(data["message"])
    return body.strip()[:300]
