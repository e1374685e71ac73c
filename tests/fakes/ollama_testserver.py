"""An Ollama look-alike HTTP server on 127.0.0.1 that generates with a real GGUF model.

It lets the Ollama backend be tested with the official ``ollama`` Python client and no
Ollama install: the server speaks Ollama's documented REST API (NDJSON streaming,
durations in nanoseconds, Ollama's error bodies and statuses) and runs the model in
process with ``llama_cpp``.

Usage (e.g. from a pytest fixture)::

    handle = start_ollama_testserver(model_path)          # port=0: a free port
    client = ollama.Client(host=handle.url)
    ...
    handle.stop()                                         # joins every thread

Models served (both backed by the same GGUF, loaded once and shared):

- ``qwen2.5-coder:0.5b``: capabilities ``["completion", "insert"]``; its template has a
  suffix branch, so ``suffix`` renders Qwen's FIM prompt
  ``<|fim_prefix|>{prompt}<|fim_suffix|>{suffix}<|fim_middle|>``.
- ``qwen-nofim:0.5b``: capabilities ``["completion"]``; a non-empty ``suffix`` is refused
  the way Ollama refuses it (400, ``"<full name> does not support insert"``).

Endpoints: ``GET /``, ``GET /api/version``, ``GET /api/tags``, ``GET /api/ps``,
``POST /api/show``, ``POST /api/generate``, ``POST /api/chat``.

Behaviour copied from Ollama's server (``server/routes.go``, 0.6.x):

- ``/api/generate``: unknown model -> 404 ``model 'NAME' not found``; ``raw`` with
  ``system``/``template``/``context`` -> 400; ``suffix`` on a model without ``insert``
  -> 400 ``"registry.ollama.ai/library/NAME does not support insert"``; empty prompt ->
  ``done_reason: "load"`` (``"unload"`` with ``keep_alive: 0``); ``raw`` passes the
  prompt as is (a suffix is then ignored); with a suffix the FIM branch is rendered;
  otherwise the prompt (and ``system``) go through the chat template.
- ``/api/chat``: unknown model -> 404 ``model "NAME" not found, try pulling it first``.
- ``/api/show``: unknown model -> 404 ``model 'NAME' not found``.
- Bad JSON -> 400 ``{"error": ...}``; empty body -> 400 ``missing request body``.
- ``stream`` defaults to true: ``application/x-ndjson``, chunked, one line per token,
  then a ``done: true`` line with ``done_reason`` ("stop" | "length"), durations and
  token counts (and ``context`` when not raw).
- One generation at a time (a lock, like one Ollama runner); other requests queue.
- Options: ``num_predict`` (default -1: until a stop or the context is full),
  ``temperature`` (0.8), ``top_k`` (40), ``top_p`` (0.9), ``min_p`` (0.0),
  ``repeat_penalty`` (1.1), ``seed``, ``stop`` (plus the model's end tokens), ``num_ctx``
  (default 4096; a different value reloads the model, as Ollama does).
- Prompt cache: the model keeps its KV cache; the longest common token prefix with the
  previous prompt is reused (``generations[i]["cached_tokens"]``).
- Cancellation: when the client closes the connection (during prompt evaluation or
  generation, streaming or not) generation stops within one token / one 32-token
  prompt batch and is counted in ``stats.generations_cancelled``.

Observability for tests: ``handle.stats`` (counters, see :class:`ServerStats`),
``handle.requests`` (every request: method, path, headers, body), ``handle.generations``
(one dict per generation: rendered prompt, options, token counts, cancelled, ...),
``handle.wait_idle()``, ``handle.reset()``. ``handle.token_delay`` (seconds) slows
generation per token so that tests can cancel mid-stream reliably.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import select
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

__all__ = [
    "FIM_MODEL",
    "NOFIM_MODEL",
    "ModelSpec",
    "OllamaTestServer",
    "ServerStats",
    "start_ollama_testserver",
]

HOST = "127.0.0.1"
THREAD_PREFIX = "ollama-testserver"
OLLAMA_VERSION = "0.6.8"
DEFAULT_NUM_CTX = 4096
PROMPT_BATCH = 32  # prompt tokens evaluated between two cancellation checks

FIM_MODEL = "qwen2.5-coder:0.5b"
NOFIM_MODEL = "qwen-nofim:0.5b"

DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

# The Go templates reported by /api/show (written for this server, in Ollama's
# template language). The Python rendering below implements exactly these.
_CHAT_PART = (
    "{{- if .Messages }}\n"
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}\n"
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
    "{{- if ne .Role \"system\" }}<|im_start|>{{ .Role }}\n{{ .Content }}"
    "{{ if not (and $last (eq .Role \"assistant\")) }}<|im_end|>\n{{ end }}{{ end }}\n"
    "{{- if and $last (ne .Role \"assistant\") }}<|im_start|>assistant\n{{ end }}\n"
    "{{- end }}\n"
    "{{- else }}\n"
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"
)
FIM_TEMPLATE = (
    "{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>\n"
    "{{- else }}" + _CHAT_PART + "\n{{- end }}"
)
NOFIM_TEMPLATE = _CHAT_PART

# end/control tokens of Qwen2.5-Coder: generation stops when one is produced
MODEL_STOPS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)

_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
    16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16",
}


@dataclass
class ModelSpec:
    """A model name served by the test server (all share the one GGUF)."""

    name: str
    capabilities: tuple[str, ...]
    template: str
    system: str = DEFAULT_SYSTEM

    @property
    def supports_insert(self) -> bool:
        return "insert" in self.capabilities


def default_models() -> list[ModelSpec]:
    return [
        ModelSpec(FIM_MODEL, ("completion", "insert"), FIM_TEMPLATE),
        ModelSpec(NOFIM_MODEL, ("completion",), NOFIM_TEMPLATE),
    ]


# --------------------------------------------------------------------------- names


def _split_name(name: str) -> tuple[str, str]:
    """Ollama model name -> (short 'model:tag', full 'host/namespace/model:tag')."""
    n = name.strip()
    host, namespace = "registry.ollama.ai", "library"
    parts = n.split("/")
    if len(parts) == 3:
        host, namespace, n = parts
    elif len(parts) == 2:
        namespace, n = parts
    if ":" not in n:
        n += ":latest"
    default_ns = (host, namespace) == ("registry.ollama.ai", "library")
    short = n if default_ns else f"{host}/{namespace}/{n}"
    return short.lower(), f"{host}/{namespace}/{n}"


# --------------------------------------------------------------------------- stats


class ServerStats:
    """Counters of the test server. Read attributes directly or ``stats["name"]``;
    ``snapshot()`` returns a dict copy."""

    FIELDS = (
        "requests",                  # HTTP requests received
        "generations_started",       # generations that got the model (prompt eval began)
        "generations_completed",     # finished with done_reason stop/length, final chunk sent
        "generations_cancelled",     # stopped because the client went away (or server stop)
        "generations_failed",        # errors inside generation
        "tokens_generated",          # sampled tokens, all generations
        "prompt_tokens",             # prompt tokens of all generations
        "prompt_tokens_cached",      # of which reused from the KV cache
        "prompt_tokens_evaluated",   # of which evaluated (so far, if cancelled)
        "active_generations",        # holding the model now (0 or 1)
        "max_concurrent_generations",
        "queued",                    # requests waiting for the model now
        "max_queued",
        "abandoned_in_queue",        # clients that left while waiting for the model
        "model_loads",               # physical loads of the GGUF (num_ctx changes reload)
        "unloads",                   # keep_alive=0 unload requests
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        for f in self.FIELDS:
            setattr(self, f, 0)

    def add(self, name: str, n: int = 1) -> None:
        with self._cond:
            setattr(self, name, getattr(self, name) + n)
            if name == "active_generations":
                self.max_concurrent_generations = max(
                    self.max_concurrent_generations, self.active_generations)
            if name == "queued":
                self.max_queued = max(self.max_queued, self.queued)
            self._cond.notify_all()

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f: getattr(self, f) for f in self.FIELDS}

    def reset(self) -> None:
        with self._cond:
            for f in self.FIELDS:
                if f not in ("active_generations", "queued"):
                    setattr(self, f, 0)
            self.max_concurrent_generations = self.active_generations
            self.max_queued = self.queued

    def wait_for(self, predicate: Callable[["ServerStats"], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def __getitem__(self, name: str) -> int:
        if name not in self.FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def __repr__(self) -> str:
        return f"ServerStats({self.snapshot()})"


# --------------------------------------------------------------------------- errors


class _HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _Cancelled(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _go_json_error(body: bytes, exc: ValueError) -> str:
    """Roughly the message Go's encoding/json gives for a malformed body."""
    text = body.decode("utf-8", "replace").lstrip()
    if text and text[0] not in '{["-0123456789tfn':
        return f"invalid character '{text[0]}' looking for beginning of value"
    if isinstance(exc, json.JSONDecodeError) and exc.pos >= len(body.rstrip()):
        return "unexpected EOF"
    return f"invalid JSON: {exc}"


_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_keep_alive(value: Any) -> Optional[float]:
    """Ollama's keep_alive (number of seconds or Go duration string) -> seconds.
    None when absent; negative means forever."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _HTTPError(400, f"json: cannot unmarshal bool into Go value of type api.Duration")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        s = value.strip()
        try:
            return float(s)
        except ValueError:
            pass
        sign = -1.0 if s.startswith("-") else 1.0
        rest = s.lstrip("+-")
        total, pos = 0.0, 0
        for m in _DURATION_RE.finditer(rest):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if rest and pos == len(rest):
            return sign * total
        raise _HTTPError(400, f'time: invalid duration "{value}"')
    raise _HTTPError(400, "json: cannot unmarshal into Go value of type api.Duration")


def _now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def _human_number(n: int) -> str:
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.2f}".rstrip("0").rstrip(".") + unit
    return str(n)


def _coerce(v: str) -> Any:
    for conv in (int, float):
        try:
            return conv(v)
        except (TypeError, ValueError):
            pass
    if v in ("true", "false"):
        return v == "true"
    return v


# --------------------------------------------------------------------------- engine


class _Engine:
    """The one llama.cpp model, shared by all model names; one generation at a time."""

    def __init__(self, model_path: str, n_threads: Optional[int], default_num_ctx: int):
        self.model_path = str(model_path)
        self.n_threads = n_threads
        self.default_num_ctx = default_num_ctx
        self.lock = threading.Lock()  # held for loading and for each generation
        self.llm: Any = None
        self.num_ctx = 0
        self.metadata: dict[str, Any] = {}
        self.n_params = 0
        self.stop_token_ids: set[int] = set()

    def ensure_loaded(self, num_ctx: int, stats: ServerStats) -> float:
        """Load (or reload for another num_ctx); caller holds ``self.lock``."""
        if self.llm is not None and self.num_ctx == num_ctx:
            return 0.0
        import llama_cpp

        t0 = time.monotonic()
        if self.llm is not None:
            self.llm.close()
            self.llm = None
        self.llm = llama_cpp.Llama(
            model_path=self.model_path,
            n_ctx=num_ctx,
            n_batch=512,
            n_threads=self.n_threads,
            n_threads_batch=self.n_threads,
            verbose=False,
        )
        self.num_ctx = num_ctx
        if not self.metadata:
            self.metadata = dict(self.llm.metadata)
            try:
                self.n_params = int(llama_cpp.llama_model_n_params(self.llm.model))
            except Exception:
                self.n_params = 0
        self.stop_token_ids = set()
        for s in MODEL_STOPS:
            toks = self.llm.tokenize(s.encode(), add_bos=False, special=True)
            if len(toks) == 1:
                self.stop_token_ids.add(toks[0])
        eos = self.llm.token_eos()
        if eos >= 0:
            self.stop_token_ids.add(eos)
        stats.add("model_loads")
        return time.monotonic() - t0

    def close(self) -> None:
        with self.lock:
            if self.llm is not None:
                self.llm.close()
                self.llm = None

    # ----------------------------------------------------------------- details
    def details(self) -> dict[str, Any]:
        md = self.metadata
        arch = md.get("general.architecture", "qwen2")
        try:
            ftype = _FILE_TYPES.get(int(md.get("general.file_type", -1)), "unknown")
        except ValueError:
            ftype = "unknown"
        return {
            "parent_model": "",
            "format": "gguf",
            "family": arch,
            "families": [arch],
            "parameter_size": _human_number(self.n_params) if self.n_params else "494.03M",
            "quantization_level": ftype,
        }

    def model_info(self) -> dict[str, Any]:
        info = {k: _coerce(v) for k, v in self.metadata.items()
                if k not in ("general.name", "tokenizer.chat_template")}
        if self.n_params:
            info["general.parameter_count"] = self.n_params
        return info


@dataclass
class _GenRequest:
    endpoint: str            # "generate" | "chat"
    model: ModelSpec
    prompt: str              # rendered prompt
    options: dict[str, Any]
    stream: bool
    raw: bool
    keep_alive: Optional[float]
    body: dict[str, Any]
    record: dict[str, Any] = field(default_factory=dict)


class OllamaTestServer:
    """Handle returned by :func:`start_ollama_testserver`."""

    def __init__(self, model_path: str, port: int = 0, *, models: Optional[list[ModelSpec]] = None,
                 version: str = OLLAMA_VERSION, preload: bool = True,
                 default_num_ctx: int = DEFAULT_NUM_CTX, n_threads: Optional[int] = None,
                 token_delay: float = 0.0):
        if not os.path.isfile(model_path):
            raise FileNotFoundError(model_path)
        self.model_path = str(model_path)
        self.version = version
        self.models: dict[str, ModelSpec] = {}
        for spec in models or default_models():
            self.models[_split_name(spec.name)[0]] = spec
        self.token_delay = float(token_delay)
        self.stats = ServerStats()
        self.requests: list[dict[str, Any]] = []
        self.generations: list[dict[str, Any]] = []
        self.errors: list[str] = []  # tracebacks of unexpected exceptions in handlers
        self._rec_lock = threading.Lock()
        self._stopping = threading.Event()
        self._expires: dict[str, float] = {}  # short name -> monotonic expiry (logical)
        # one thread per two cores: llama.cpp threads spin, and oversubscribing a small
        # shared machine slows generation several times over
        threads = n_threads or max(1, min(4, (os.cpu_count() or 2) // 2))
        self._engine = _Engine(self.model_path, threads, default_num_ctx)
        st = os.stat(self.model_path)
        self._digest = hashlib.sha256(
            f"{self.model_path}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
        self._modified_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime))
        self._size = st.st_size
        if preload:
            with self._engine.lock:
                self._engine.ensure_loaded(default_num_ctx, self.stats)

        self._httpd = _HTTPServer((HOST, port), _Handler, self)
        self.host, self.port = self._httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._serve_thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"{THREAD_PREFIX}-{self.port}-serve", daemon=True)
        self._serve_thread.start()
        self._stopped = False

    # ----------------------------------------------------------------- public
    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving: cancel running generations, close every connection, join every
        thread, free the model. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.close_all_connections()
        self._httpd.server_close()  # joins the handler threads
        self._serve_thread.join(timeout)
        self._httpd.join_threads(timeout)
        self._engine.close()

    def __enter__(self) -> "OllamaTestServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def threads(self) -> list[threading.Thread]:
        """Threads of this server still alive (empty after ``stop()``)."""
        out = [self._serve_thread] if self._serve_thread.is_alive() else []
        return out + [t for t in self._httpd.threads() if t.is_alive()]

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """True once no generation runs and none waits for the model."""
        return self.stats.wait_for(
            lambda s: s.active_generations == 0 and s.queued == 0, timeout)

    def wait_for_stat(self, name: str, at_least: int, timeout: float = 5.0) -> bool:
        return self.stats.wait_for(lambda s: s[name] >= at_least, timeout)

    def reset(self) -> None:
        """Clear recorded requests/generations and the counters (the model stays loaded)."""
        with self._rec_lock:
            self.requests.clear()
            self.generations.clear()
            self.errors.clear()
        self.stats.reset()

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        with self._rec_lock:
            return [r for r in self.requests if r["path"] == path]

    @property
    def last_request(self) -> Optional[dict[str, Any]]:
        with self._rec_lock:
            return self.requests[-1] if self.requests else None

    def __repr__(self) -> str:
        return f"<OllamaTestServer {self.url} models={list(self.models)}>"

    # ----------------------------------------------------------------- internals
    def _record_request(self, rec: dict[str, Any]) -> None:
        with self._rec_lock:
            self.requests.append(rec)
        self.stats.add("requests")

    def _lookup(self, name: Any) -> Optional[ModelSpec]:
        if not isinstance(name, str) or not name.strip():
            return None
        return self.models.get(_split_name(name)[0])

    def _loaded_names(self) -> list[str]:
        now = time.monotonic()
        return [n for n, exp in self._expires.items() if exp > now]

    def _touch(self, spec: ModelSpec, keep_alive: Optional[float]) -> None:
        ka = 300.0 if keep_alive is None else keep_alive
        short = _split_name(spec.name)[0]
        if ka == 0:
            self._expires.pop(short, None)
        else:
            self._expires[short] = float("inf") if ka < 0 else time.monotonic() + ka


# --------------------------------------------------------------------------- http


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type, owner: OllamaTestServer):
        self.owner = owner
        self._conn_lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []  # type: ignore[assignment]
        self._n = 0
        super().__init__(addr, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._n += 1
            self._conns.add(request)
            t = threading.Thread(target=self.process_request_thread,
                                 args=(request, client_address),
                                 name=f"{THREAD_PREFIX}-{self.server_address[1]}"
                                      f"-conn{self._n}",
                                 daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def threads(self) -> list[threading.Thread]:
        with self._conn_lock:
            return list(self._threads)

    def join_threads(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads():
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self.threads() if t.is_alive()]
        if alive:
            raise RuntimeError(f"ollama test server threads did not stop: {alive}")

    def server_close(self) -> None:
        # socketserver.server_close; our own join_threads does the joining
        self.socket.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # connection resets are expected in cancellation tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ollama-testserver"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    @property
    def owner(self) -> OllamaTestServer:
        return self.server.owner

    # ----------------------------------------------------------------- plumbing
    def _read_body(self) -> bytes:
        n = self.headers.get("Content-Length")
        if n is not None:
            return self.rfile.read(int(n)) if int(n) > 0 else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8")

    def _send_error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": message})

    def _peer_closed(self) -> bool:
        sock = self.connection
        try:
            r, _, _ = select.select([sock], [], [], 0)
            if not r:
                return False
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except (OSError, ValueError):
            return True

    def _check_cancel(self) -> None:
        if self.owner._stopping.is_set():
            raise _Cancelled("server stopping")
        if self._peer_closed():
            raise _Cancelled("client closed connection")

    # ----------------------------------------------------------------- dispatch
    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path = self.path.split("?", 1)[0]
        raw = self._read_body() if self.command in ("POST", "PUT", "DELETE") else b""
        body: Any = None
        parse_error: Optional[str] = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as e:
                parse_error = _go_json_error(raw, e)
        self.owner._record_request({
            "method": self.command, "path": path, "headers": dict(self.headers.items()),
            "raw_body": raw, "body": body, "time": time.time(),
        })
        routes: dict[str, dict[str, Callable[[Any], None]]] = {
            "/": {"GET": self._root, "HEAD": self._root},
            "/api/version": {"GET": self._version, "HEAD": self._version},
            "/api/tags": {"GET": self._tags, "HEAD": self._tags},
            "/api/ps": {"GET": self._ps},
            "/api/show": {"POST": self._show},
            "/api/generate": {"POST": self._generate},
            "/api/chat": {"POST": self._chat},
        }
        if path not in routes:
            self._send(404, b"404 page not found", "text/plain")
            return
        fn = routes[path].get(self.command)
        if fn is None:
            self._send(405, b"405 method not allowed", "text/plain")
            return
        if self.command == "POST":
            if not raw:
                self._send_error(400, "missing request body")
                return
            if parse_error is not None:
                self._send_error(400, parse_error)
                return
            if not isinstance(body, dict):
                self._send_error(400, "json: cannot unmarshal into Go value of type struct")
                return
        try:
            fn(body)
        except _HTTPError as e:
            self._send_error(e.status, e.message)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        except Exception as e:  # a bug in the test server: keep it visible to tests
            self.owner.errors.append(traceback.format_exc())
            self.close_connection = True
            try:
                self._send_error(500, f"ollama test server error: {type(e).__name__}: {e}")
            except OSError:
                pass

    # ----------------------------------------------------------------- metadata
    def _root(self, body: Any) -> None:
        self._send(200, b"Ollama is running", "text/plain; charset=utf-8")

    def _version(self, body: Any) -> None:
        self._send_json(200, {"version": self.owner.version})

    def _model_entry(self, spec: ModelSpec) -> dict[str, Any]:
        o = self.owner
        short = _split_name(spec.name)[0]
        return {"name": short, "model": short, "modified_at": o._modified_at,
                "size": o._size, "digest": hashlib.sha256((o._digest + short).encode()).hexdigest(),
                "details": o._engine.details()}

    def _tags(self, body: Any) -> None:
        self._send_json(200, {"models": [self._model_entry(s) for s in self.owner.models.values()]})

    def _ps(self, body: Any) -> None:
        o = self.owner
        out = []
        for short in o._loaded_names():
            spec = o.models[short]
            exp = o._expires[short]
            expires = ("2318-01-01T00:00:00Z" if exp == float("inf") else time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + exp - time.monotonic())))
            entry = self._model_entry(spec)
            entry.pop("modified_at")
            entry.update({"expires_at": expires, "size_vram": 0,
                          "context_length": o._engine.num_ctx})
            out.append(entry)
        self._send_json(200, {"models": out})

    def _show(self, body: dict[str, Any]) -> None:
        name = body.get("model") or body.get("name")
        if not name:
            raise _HTTPError(400, "model is required")
        spec = self.owner._lookup(name)
        if spec is None:
            raise _HTTPError(404, f"model '{name}' not found")
        eng = self.owner._engine
        params = "\n".join(f'{"stop":<30} "{s}"' for s in MODEL_STOPS)
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            "# To build a new Modelfile based on this, replace FROM with:\n"
            f"# FROM {_split_name(spec.name)[0]}\n\n"
            f"FROM {self.owner.model_path}\n"
            f'TEMPLATE """{spec.template}"""\n'
            f'SYSTEM "{spec.system}"\n'
            + "".join(f'PARAMETER stop "{s}"\n' for s in MODEL_STOPS)
        )
        self._send_json(200, {
            "license": "Apache License Version 2.0",
            "modelfile": modelfile,
            "parameters": params,
            "template": spec.template,
            "system": spec.system,
            "details": eng.details(),
            "model_info": eng.model_info(),
            "tensors": [],
            "capabilities": list(spec.capabilities),
            "modified_at": self.owner._modified_at,
        })

    # ----------------------------------------------------------------- generate / chat
    @staticmethod
    def _str_field(body: dict[str, Any], key: str, struct: str) -> str:
        v = body.get(key)
        if v is None:
            return ""
        if not isinstance(v, str):
            raise _HTTPError(400, f"json: cannot unmarshal {type(v).__name__} into Go struct "
                                  f"field {struct}.{key} of type string")
        return v

    @staticmethod
    def _options(body: dict[str, Any]) -> dict[str, Any]:
        opts = body.get("options")
        if opts is None:
            return {}
        if not isinstance(opts, dict):
            raise _HTTPError(400, "json: cannot unmarshal options into Go struct field of type "
                                  "map[string]interface {}")
        return opts

    def _generate(self, body: dict[str, Any]) -> None:
        o = self.owner
        name = body.get("model") if isinstance(body.get("model"), str) else ""
        spec = o._lookup(name)
        if spec is None:
            raise _HTTPError(404, f"model '{name}' not found")
        prompt = self._str_field(body, "prompt", "GenerateRequest")
        suffix = self._str_field(body, "suffix", "GenerateRequest")
        system = self._str_field(body, "system", "GenerateRequest")
        template = self._str_field(body, "template", "GenerateRequest")
        raw = bool(body.get("raw") or False)
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        opts = self._options(body)
        stream = body.get("stream") is not False

        if not prompt and keep_alive == 0:
            o._touch(spec, 0)
            o.stats.add("unloads")
            self._send_json(200, {"model": name, "created_at": _now_iso(), "response": "",
                                  "done": True, "done_reason": "unload"})
            return
        if raw and (template or system or body.get("context")):
            raise _HTTPError(400, "raw mode does not support template, system, or context")
        if suffix and not spec.supports_insert:
            raise _HTTPError(400, f"{_split_name(name)[1]} does not support insert")
        if template:
            raise _HTTPError(400, "custom templates are not supported by the test server")
        if not prompt:
            self._load_only(spec, opts, keep_alive, name, chat=False)
            return

        if raw:
            rendered = prompt
        elif suffix:
            rendered = f"<|fim_prefix|>{prompt}<|fim_suffix|>{suffix}<|fim_middle|>"
        else:
            messages = [{"role": "user", "content": prompt}]
            rendered = _render_chat(messages, system or spec.system)
        self._run(_GenRequest("generate", spec, rendered, opts, stream, raw, keep_alive, body))

    def _chat(self, body: dict[str, Any]) -> None:
        o = self.owner
        name = body.get("model") if isinstance(body.get("model"), str) else ""
        if not name:
            raise _HTTPError(400, "model is required")
        spec = o._lookup(name)
        if spec is None:
            raise _HTTPError(404, f'model "{name}" not found, try pulling it first')
        messages = body.get("messages") or []
        if not isinstance(messages, list) or not all(
                isinstance(m, dict) and isinstance(m.get("role", ""), str)
                and isinstance(m.get("content") or "", str) for m in messages):
            raise _HTTPError(400, "json: cannot unmarshal messages into Go struct field "
                                  "ChatRequest.messages of type []api.Message")
        keep_alive = parse_keep_alive(body.get("keep_alive"))
        opts = self._options(body)
        stream = body.get("stream") is not False
        if body.get("tools"):
            raise _HTTPError(400, f"{_split_name(name)[1]} does not support tools")
        if not messages:
            if keep_alive == 0:
                o._touch(spec, 0)
                o.stats.add("unloads")
                self._send_json(200, {"model": name, "created_at": _now_iso(),
                                      "message": {"role": "assistant", "content": ""},
                                      "done_reason": "unload", "done": True})
                return
            self._load_only(spec, opts, keep_alive, name, chat=True)
            return
        system = spec.system
        if messages and messages[0].get("role") == "system":
            system = ""
        rendered = _render_chat(messages, system)
        self._run(_GenRequest("chat", spec, rendered, opts, stream, False, keep_alive, body))

    def _load_only(self, spec: ModelSpec, opts: dict[str, Any], keep_alive: Optional[float],
                   name: str, chat: bool) -> None:
        o = self.owner
        with o._engine.lock:
            o._engine.ensure_loaded(_num_ctx(opts, o._engine.default_num_ctx), o.stats)
        o._touch(spec, keep_alive)
        out: dict[str, Any] = {"model": name, "created_at": _now_iso()}
        if chat:
            out["message"] = {"role": "assistant", "content": ""}
        else:
            out["response"] = ""
        out.update({"done_reason": "load", "done": True})
        self._send_json(200, out)

    # ----------------------------------------------------------------- the generation
    def _run(self, req: _GenRequest) -> None:
        o = self.owner
        eng = o._engine
        stats = o.stats
        t_start = time.monotonic()
        opts = req.options
        num_ctx = _num_ctx(opts, eng.default_num_ctx)
        num_predict = int(opts["num_predict"]) if opts.get("num_predict") is not None else -1
        temperature = float(opts.get("temperature", 0.8))
        stops = opts.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        stops = [s for s in stops if isinstance(s, str) and s]
        all_stops = list(dict.fromkeys(stops + list(MODEL_STOPS)))
        rec = {
            "endpoint": req.endpoint, "model": req.model.name,
            "requested_model": req.body.get("model"),
            "prompt": req.prompt, "raw": req.raw, "suffix": req.body.get("suffix"),
            "stream": req.stream, "options": dict(opts), "num_ctx": num_ctx,
            "num_predict": num_predict, "stop": stops, "keep_alive": req.keep_alive,
            "prompt_tokens": 0, "cached_tokens": 0, "evaluated_tokens": 0, "truncated": False,
            "tokens": 0, "response": "", "done_reason": None, "cancelled": False,
            "cancel_reason": None, "error": None, "queued_s": 0.0, "started": None,
            "ended": None,
        }
        req.record = rec

        # wait for the model (like Ollama's scheduler queue), leaving if the client does
        stats.add("queued")
        got = False
        try:
            while not got:
                got = eng.lock.acquire(timeout=0.02)
                if not got:
                    try:
                        self._check_cancel()
                    except _Cancelled as c:
                        stats.add("abandoned_in_queue")
                        rec.update(cancelled=True, cancel_reason=c.reason)
                        with o._rec_lock:
                            o.generations.append(rec)
                        self.close_connection = True
                        return
        finally:
            stats.add("queued", -1)
        headers_sent = False
        released = False

        def release() -> None:
            # the model is idle (and the counters final) before the client sees "done"
            nonlocal released
            if not released:
                released = True
                rec["ended"] = time.time()
                stats.add("active_generations", -1)
                eng.lock.release()

        active = False
        try:
            rec["queued_s"] = time.monotonic() - t_start
            try:
                eng.ensure_loaded(num_ctx, stats)
            except Exception as e:  # pragma: no cover - a broken model file
                raise _HTTPError(500, f"llama runner process has terminated: {e}")
            t_loaded = time.monotonic()
            o._touch(req.model, req.keep_alive)
            stats.add("active_generations")
            active = True
            stats.add("generations_started")
            rec["started"] = time.time()
            with o._rec_lock:
                o.generations.append(rec)
            try:
                if req.stream:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-ndjson")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    headers_sent = True
                pieces: list[str] = []

                def emit(text: str) -> None:
                    pieces.append(text)
                    if req.stream and text:
                        self._write_chunk(self._chunk(req, text, done=False))

                result = self._generate_tokens(req, num_ctx, num_predict, temperature,
                                               all_stops, emit)
                if not req.stream:
                    self._check_cancel()  # the client of a non-streaming request left
                text = "".join(pieces)
                final = self._chunk(req, "" if req.stream else text, done=True)
                final.update({
                    "done_reason": result["done_reason"],
                    "total_duration": int((time.monotonic() - t_start) * 1e9),
                    "load_duration": int((t_loaded - t_start) * 1e9),
                    "prompt_eval_count": result["prompt_tokens"],
                    "prompt_eval_duration": int(result["prompt_eval_s"] * 1e9),
                    "eval_count": result["tokens"],
                    "eval_duration": int(result["eval_s"] * 1e9),
                })
                if req.endpoint == "generate" and not req.raw:
                    final["context"] = result["context"]
                rec["response"] = text
                rec["done_reason"] = result["done_reason"]
                stats.add("generations_completed")
                release()
                try:
                    if req.stream:
                        self._write_chunk(final)
                        self._end_chunks()
                    else:
                        self._send_json(200, final)
                except OSError as e:
                    rec["final_write_error"] = type(e).__name__
                    self.close_connection = True
            except _Cancelled as c:
                rec.update(cancelled=True, cancel_reason=c.reason)
                stats.add("generations_cancelled")
                self.close_connection = True
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
                rec.update(cancelled=True, cancel_reason=f"write failed: {type(e).__name__}")
                stats.add("generations_cancelled")
                self.close_connection = True
            except Exception as e:
                rec["error"] = f"{type(e).__name__}: {e}"
                stats.add("generations_failed")
                release()
                if headers_sent:
                    try:
                        self._write_chunk({"error": str(e)})
                        self._end_chunks()
                    except OSError:
                        pass
                    self.close_connection = True
                else:
                    self._send_error(500, str(e))
        finally:
            if active:
                release()
            elif not released:
                released = True
                eng.lock.release()

    def _chunk(self, req: _GenRequest, text: str, done: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"model": req.body.get("model"), "created_at": _now_iso()}
        if req.endpoint == "chat":
            out["message"] = {"role": "assistant", "content": text}
        else:
            out["response"] = text
        out["done"] = done
        return out

    def _write_chunk(self, obj: dict[str, Any]) -> None:
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _generate_tokens(self, req: _GenRequest, num_ctx: int, num_predict: int,
                         temperature: float, stops: list[str],
                         emit: Callable[[str], None]) -> dict[str, Any]:
        o = self.owner
        eng = o._engine
        llm = eng.llm
        stats = o.stats
        rec = req.record
        opts = req.options

        tokens = llm.tokenize(req.prompt.encode("utf-8"), add_bos=True, special=True)
        if not tokens:
            tokens = [llm.token_bos() if llm.token_bos() >= 0 else llm.token_eos()]
        # keep room to generate; drop the start of over-long prompts (keep num_keep)
        room = max(1, min(num_predict if num_predict > 0 else 256, num_ctx // 4))
        if len(tokens) > num_ctx - room:
            keep = max(0, int(opts.get("num_keep", 4) or 0))
            tail = num_ctx - room - keep
            tokens = tokens[:keep] + tokens[len(tokens) - tail:]
            rec["truncated"] = True
        n_prompt = len(tokens)

        # prompt cache: reuse the longest common prefix (keep >= 1 token to evaluate)
        cached = 0
        prev = llm.input_ids[: llm.n_tokens]
        limit = min(len(prev), n_prompt - 1)
        while cached < limit and int(prev[cached]) == tokens[cached]:
            cached += 1
        rec.update(prompt_tokens=n_prompt, cached_tokens=cached, evaluated_tokens=0)
        stats.add("prompt_tokens", n_prompt)
        stats.add("prompt_tokens_cached", cached)

        seed = opts.get("seed")
        if isinstance(seed, int) and seed >= 0:
            llm.set_seed(seed)
        else:
            llm.set_seed(int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF)

        t0 = time.monotonic()
        # evaluate all but the last prompt token in small batches, checking for cancel
        llm.n_tokens = cached
        pos = cached
        while pos < n_prompt - 1:
            self._check_cancel()
            end = min(n_prompt - 1, pos + PROMPT_BATCH)
            llm.eval(tokens[pos:end])
            rec["evaluated_tokens"] += end - pos
            stats.add("prompt_tokens_evaluated", end - pos)
            pos = end
        self._check_cancel()
        rec["evaluated_tokens"] += 1  # the last prompt token, evaluated by generate()
        stats.add("prompt_tokens_evaluated")

        gen = llm.generate(
            tokens,
            top_k=int(opts.get("top_k", 40)),
            top_p=float(opts.get("top_p", 0.9)),
            min_p=float(opts.get("min_p", 0.0)),
            typical_p=float(opts.get("typical_p", 1.0)),
            temp=temperature,
            repeat_penalty=float(opts.get("repeat_penalty", 1.1)),
            frequency_penalty=float(opts.get("frequency_penalty", 0.0)),
            presence_penalty=float(opts.get("presence_penalty", 0.0)),
            reset=True,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""  # text held back because it may start a stop string
        generated: list[int] = []
        done_reason = "length"
        t_first: Optional[float] = None
        try:
            for tok in gen:
                if t_first is None:
                    t_first = time.monotonic()
                if tok in eng.stop_token_ids or llm.token_eos() == tok:
                    done_reason = "stop"
                    break
                generated.append(tok)
                rec["tokens"] = len(generated)
                stats.add("tokens_generated")
                piece = llm.detokenize([tok], special=True)
                pending += decoder.decode(piece)
                hit = _find_stop(pending, stops)
                if hit is not None:
                    emit(pending[:hit])
                    pending = ""
                    done_reason = "stop"
                    break
                keep = _partial_stop_len(pending, stops)
                if len(pending) > keep:
                    emit(pending[: len(pending) - keep])
                    pending = pending[len(pending) - keep:]
                if 0 < num_predict <= len(generated):
                    done_reason = "length"
                    break
                if llm.n_tokens + 1 >= num_ctx:
                    done_reason = "length"
                    break
                if o.token_delay > 0:
                    if o._stopping.wait(o.token_delay):
                        raise _Cancelled("server stopping")
                self._check_cancel()
        finally:
            gen.close()
        pending += decoder.decode(b"", final=True)
        if pending and done_reason != "stop":
            emit(pending)
        elif pending and done_reason == "stop":
            hit = _find_stop(pending, stops)
            emit(pending if hit is None else pending[:hit])
        t_end = time.monotonic()
        t_first = t_first or t_end
        return {
            "done_reason": done_reason,
            "tokens": len(generated),
            "prompt_tokens": n_prompt,
            "prompt_eval_s": t_first - t0,
            "eval_s": t_end - t_first,
            "context": [int(t) for t in tokens] + generated,
        }


# --------------------------------------------------------------------------- helpers


def _num_ctx(opts: dict[str, Any], default: int) -> int:
    v = opts.get("num_ctx")
    try:
        n = int(v) if v is not None else default
    except (TypeError, ValueError):
        raise _HTTPError(400, f"invalid num_ctx: {v!r}")
    return max(64, n)


def _render_chat(messages: list[dict[str, Any]], system: str) -> str:
    """The chat branch of the template: ChatML with an optional system message."""
    out = []
    if system:
        out.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    for i, m in enumerate(messages):
        role = m.get("role") or "user"
        content = m.get("content") or ""
        last = i == len(messages) - 1
        if role == "system" and i == 0 and not system:
            out.append(f"<|im_start|>system\n{content}<|im_end|>\n")
            continue
        if last and role == "assistant":
            out.append(f"<|im_start|>assistant\n{content}")  # continue the answer
        else:
            out.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
    if not messages or messages[-1].get("role") != "assistant":
        out.append("<|im_start|>assistant\n")
    return "".join(out)


def _find_stop(text: str, stops: list[str]) -> Optional[int]:
    best = None
    for s in stops:
        i = text.find(s)
        if i >= 0 and (best is None or i < best):
            best = i
    return best


def _partial_stop_len(text: str, stops: list[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a stop."""
    best = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:n]):
                best = n
                break
    return best


def start_ollama_testserver(model_path: str, port: int = 0, **kwargs: Any) -> OllamaTestServer:
    """Start the server on 127.0.0.1:``port`` (0 = a free port) and return its handle.

    Keyword arguments: ``models`` (list of :class:`ModelSpec`, default the two Qwen
    names), ``version`` (reported by /api/version, default "0.6.8"), ``preload`` (load
    the model before returning, default True), ``default_num_ctx`` (4096), ``n_threads``
    (default: one per two cores, at least 1), ``token_delay`` (seconds slept per
    generated token, default 0; settable later as ``handle.token_delay``).

    The handle has:

    - ``url`` (``http://127.0.0.1:PORT``), ``host``, ``port``;
    - ``stop()``: cancels generations, closes connections, joins threads, frees the model;
    - ``stats``: :class:`ServerStats` (``stats.generations_cancelled`` or
      ``stats["generations_cancelled"]``; ``stats.snapshot()``);
    - ``requests``: dicts ``{method, path, headers, raw_body, body, time}``, ``body`` the
      parsed JSON; ``requests_to(path)``; ``last_request``;
    - ``generations``: one dict per generation request that reached the model queue:
      ``endpoint``, ``model``, ``requested_model``, ``prompt`` (as rendered and fed to
      the model), ``raw``, ``suffix``, ``stream``, ``options``, ``num_ctx``,
      ``num_predict``, ``stop``, ``keep_alive`` (seconds, None if absent),
      ``prompt_tokens``, ``cached_tokens``, ``evaluated_tokens``, ``truncated``,
      ``tokens`` (generated), ``response``, ``done_reason``, ``cancelled``,
      ``cancel_reason``, ``error``, ``queued_s``, ``started``, ``ended``;
    - ``errors``: tracebacks of unexpected handler exceptions (should stay empty);
    - ``wait_idle(timeout)``, ``wait_for_stat(name, at_least, timeout)``, ``reset()``,
      ``threads`` (alive server threads; empty after ``stop()``).
    """
    return OllamaTestServer(str(model_path), port, **kwargs)
