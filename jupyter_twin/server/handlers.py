"""HTTP handlers under ``/jupyter-twin/``: a thin layer over :class:`TwinService`.

Streaming endpoints answer with NDJSON (``application/x-ndjson``), one JSON object a line:

- ``{"delta": "..."}`` zero or more times: raw text as the model produces it (a completion
  adds ``"text"``: the cleaned text so far, ``TaskStream.partial()``, which the final text
  starts with and ghost text shows);
- then exactly one of
  ``{"done": true, "text": "...", "latency": s, "kind": "code"|"markdown"}`` (``text`` is
  the cleaned result: for a completion exactly what to insert),
  ``{"cancelled": true, "reason": "superseded"|"cancelled"}``,
  ``{"error": "one line", "error_type": "BackendUnavailable", ...}``.

An error before the first delta is answered with a status instead (400 for bad input,
503 when the backend is down or too slow, 502 when it answered badly) and a JSON body
``{"message": ..., "error_type": ...}``.

Every verb is ``@tornado.web.authenticated`` and ``@authorized`` on the resource
``jupyter_twin`` (read: status, models, metrics; write: complete, task, warm, models (a pick), resetting
the metrics), so a deployment's Authorizer decides who may use the model. A body is
checked against ``MAX_BODY_BYTES`` from its Content-Length before it is read (413), and
the server takes a bounded amount of work (``TwinService.limits``: 503 when busy, 429
for one user beyond their share). Messages to the browser carry no credentials and no
paths on disk (``jupyter_twin.redact``).
"""

from __future__ import annotations

import hashlib
import asyncio
import json
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado.iostream import StreamClosedError

from ..errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ContextError,
    ModelNotFound,
    ServerBusy,
    TwinError,
)
from ..redact import redact
from ..tasks import TASKS, check_history, task_list
from .service import Job, TwinService

MAX_CELLS = 5000
#: characters of text in one request: cell sources, the outputs' text, error, question,
#: instruction and chat history together (images and other rich outputs are dropped)
MAX_SOURCE_CHARS = 2_000_000
MAX_FACTS = 100
#: the largest request body read at all; jupyter_server itself would take 512 MiB
MAX_BODY_BYTES = 8 * 1024 * 1024
#: the Authorizer's resource name for every jupyter_twin endpoint
AUTH_RESOURCE = "jupyter_twin"
#: what the engine reads of an output (cells.summarise_outputs, error_text); the rest of
#: an output (images, HTML, widget state) is dropped on arrival
_OUTPUT_KEYS = ("output_type", "name", "text", "ename", "evalue", "traceback", "execution_count")


def _bad(message: str) -> tornado.web.HTTPError:
    return tornado.web.HTTPError(400, reason=message[:200], log_message=message)


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def validate_cells(body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    cells = body.get("cells")
    if not isinstance(cells, list) or not cells:
        raise _bad("'cells' must be a non-empty list of cells")
    if len(cells) > MAX_CELLS:
        raise _bad(f"too many cells (at most {MAX_CELLS})")
    total = 0
    clean: list[dict[str, Any]] = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise _bad(f"cell {i} is not an object")
        ctype = cell.get("cell_type")
        if ctype not in ("code", "markdown", "raw"):
            raise _bad(f"cell {i}: 'cell_type' must be code, markdown or raw")
        src = cell.get("source", "")
        if isinstance(src, list):
            if not all(isinstance(s, str) for s in src):
                raise _bad(f"cell {i}: 'source' must be a string or a list of strings")
        elif not isinstance(src, str):
            raise _bad(f"cell {i}: 'source' must be a string or a list of strings")
        outputs = cell.get("outputs")
        if outputs is not None and not isinstance(outputs, list):
            raise _bad(f"cell {i}: 'outputs' must be a list")
        total += len(_source(cell))
        item: dict[str, Any] = {"cell_type": ctype, "source": _source(cell)}
        for key in ("id", "execution_count", "metadata"):
            if key in cell:
                item[key] = cell[key]
        if ctype == "code":
            item["outputs"] = [_slim_output(o) for o in (outputs or []) if isinstance(o, dict)]
            total += sum(_text_size(o) for o in item["outputs"])
        clean.append(item)
    # outputs count too: a traceback or a print loop can be far larger than the code
    if total > MAX_SOURCE_CHARS:
        raise _bad(f"the notebook is too large: {total:,} characters of code, text and outputs (at most {MAX_SOURCE_CHARS:,})")
    index = body.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise _bad("'index' must be an integer")
    if not 0 <= index < len(clean):
        raise _bad(f"'index' {index} is out of range (0..{len(clean) - 1})")
    return clean, index


def _slim_output(output: dict[str, Any]) -> dict[str, Any]:
    slim = {k: output[k] for k in _OUTPUT_KEYS if k in output}
    data = output.get("data")
    if isinstance(data, dict) and "text/plain" in data:
        slim["data"] = {"text/plain": data["text/plain"]}
    return slim


def _text_size(value: Any, depth: int = 0) -> int:
    """Characters of text in a JSON value (strings, nested lists and objects)."""
    if isinstance(value, str):
        return len(value)
    if depth > 8:
        return 0
    if isinstance(value, dict):
        return sum(_text_size(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return sum(_text_size(v, depth + 1) for v in value)
    return 0


def check_request_size(cells: list[dict[str, Any]], *texts: Any) -> None:
    """The cells' text (sources and outputs) and the request's own texts (error,
    question, instruction, history) against MAX_SOURCE_CHARS, all together."""
    total = sum(len(c["source"]) + sum(_text_size(o) for o in c.get("outputs", ())) for c in cells)
    total += sum(_text_size(t) for t in texts if t is not None)
    if total > MAX_SOURCE_CHARS:
        raise _bad(
            f"the request is too large: {total:,} characters of cells, outputs, error, question "
            f"and history (at most {MAX_SOURCE_CHARS:,})"
        )


def validate_facts(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    facts = body.get("kernel_facts")
    if facts is None:
        return None
    if not isinstance(facts, list) or not all(isinstance(f, dict) for f in facts):
        raise _bad("'kernel_facts' must be a list of objects")
    facts = [f for f in facts if isinstance(f.get("name"), str)][:MAX_FACTS]
    return facts or None


def _optional_str(body: dict[str, Any], key: str, limit: int = 20_000) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"'{key}' must be a string")
    if len(value) > limit:
        raise _bad(f"'{key}' is too long")
    return value


def _key(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 500:
        raise _bad(f"'{name}' must be a non-empty string")
    return value


def error_status(exc: BaseException) -> int:
    if isinstance(exc, ServerBusy):
        return exc.status
    if isinstance(exc, ContextError):
        return 400
    if isinstance(exc, (BackendUnavailable, BackendTimeout)):
        return 503
    if isinstance(exc, BackendError):
        return 502
    return 500


def error_message(exc: BaseException) -> str:
    """One line for the browser: no backend credentials, no path on disk."""
    if isinstance(exc, TwinError):
        text = str(exc).strip() or type(exc).__name__
        return redact(text.splitlines()[0])
    return redact(f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])


class _Busy(tornado.web.HTTPError):
    """503 (the server is full) or 429 (this user is), with a Retry-After."""

    def __init__(self, exc: ServerBusy) -> None:
        super().__init__(exc.status, reason="Busy" if exc.status == 503 else "Too Many Requests", log_message=str(exc))
        self.retry_after = exc.retry_after


@tornado.web.stream_request_body
class TwinHandler(APIHandler):
    """Base: access to the service; every verb below is @tornado.web.authenticated and
    @authorized on AUTH_RESOURCE. The body is streamed in (stream_request_body) so that
    its Content-Length is checked before a byte of it is read."""

    auth_resource = AUTH_RESOURCE

    def initialize(self, service: TwinService) -> None:
        self.service = service
        self._chunks: list[bytes] = []
        self._received = 0

    async def prepare(self) -> None:
        await super().prepare()  # jupyter_server: the user, XSRF, origin
        if self.request.method not in ("POST", "PUT", "PATCH"):
            return
        if not self.current_user:
            raise tornado.web.HTTPError(403)  # no body read for someone unknown
        length = self.request.headers.get("Content-Length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                raise _bad("Content-Length is not a number") from None
            if size > MAX_BODY_BYTES:
                raise tornado.web.HTTPError(
                    413, reason="Content Too Large",
                    log_message=f"the request body is {size:,} bytes; at most {MAX_BODY_BYTES:,} are read",
                )
        # a chunked body has no Content-Length: the connection stops it at the cap
        connection = getattr(self.request, "connection", None)
        if hasattr(connection, "set_max_body_size"):
            connection.set_max_body_size(MAX_BODY_BYTES)

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > MAX_BODY_BYTES:
            raise tornado.web.HTTPError(413, reason="Content Too Large", log_message="the request body is too large")
        self._chunks.append(chunk)

    @property
    def user_name(self) -> str:
        """Who asks (the per-user limit and the job keys).

        jupyter_server's identity, except for a request that presents a token: with the
        server's shared token and no login cookie, jupyter_server makes up a new
        anonymous user for every request, so a token client would escape any per-user
        limit. Whoever presents one token is one party here."""
        get_token = getattr(self.identity_provider, "get_token", None)
        token = get_token(self) if callable(get_token) else None
        if isinstance(token, str) and token:
            return "token-" + hashlib.sha256(token.encode()).hexdigest()[:16]
        user = self.current_user
        return str(getattr(user, "username", None) or user or "")

    def body(self) -> dict[str, Any]:
        raw = b"".join(self._chunks) or self.request.body
        if not raw:
            raise _bad("the request needs a JSON body")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _bad(f"the body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise _bad("the body must be a JSON object")
        return data

    async def submit(self, factory: Any, *, key: str | None, task: str) -> Job:
        """The service's submit for this user; ServerBusy becomes 503 or 429."""
        user = self.user_name

        def keep(job: Job) -> None:
            self.job = job  # a client that goes away while the job waits cancels it

        try:
            return await self.service.submit(
                factory, key=None if key is None else f"{user}/{key}", task=task, user=user, on_job=keep
            )
        except ServerBusy as exc:
            raise _Busy(exc) from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # APIHandler's JSON error, plus our one-line message even for HTTPError(reason=...)
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = redact(getattr(exc, "log_message", None) or self._reason)
        if isinstance(exc, _Busy):
            self.set_header("Retry-After", str(exc.retry_after))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": self._reason}))


def _delta_line(payload: str | tuple[str, str]) -> dict[str, str]:
    if isinstance(payload, tuple):
        return {"delta": payload[0], "text": payload[1]}
    return {"delta": payload}


class StreamingHandler(TwinHandler):
    job: Job | None = None

    def on_connection_close(self) -> None:
        # the browser aborted (AbortController) or went away: stop the model now
        if self.job is not None and not self.job.finished.is_set():
            self.job.cancel("disconnected")
        super().on_connection_close()

    async def stream_job(self, job: Job) -> None:
        self.job = job
        wrote = False
        if self.request.connection.stream.closed():  # type: ignore[attr-defined]
            job.cancel("disconnected")
        while True:
            kind, payload = await job.queue.get()
            if kind == "delta":
                if not wrote:
                    self.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
                    self.set_header("Cache-Control", "no-cache, no-transform")
                    self.set_header("X-Accel-Buffering", "no")
                    wrote = True
                lines = [_delta_line(payload)]
                # deltas that queued up meanwhile go out in the same flush
                while not job.queue.empty() and job.queue._queue[0][0] == "delta":  # type: ignore[attr-defined]
                    lines.append(_delta_line(job.queue.get_nowait()[1]))
                if not await self._send(*lines):
                    job.cancel("disconnected")
                    return
            elif kind == "done":
                seconds = self.service.record_latency(job)
                payload = dict(payload)
                payload["done"] = True
                if payload.get("latency") is None:
                    payload["latency"] = seconds
                payload["server_latency"] = seconds
                if not wrote:
                    self.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
                if await self._send(payload):
                    self.service.mark_delivered(job)
                else:
                    self.service.mark_lost(job)
                break
            elif kind == "cancelled":
                if not wrote:
                    self.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
                await self._send({"cancelled": True, "reason": payload or "cancelled"})
                break
            elif kind == "error":
                exc = payload
                if not isinstance(exc, TwinError):
                    self.log.error(
                        "jupyter_twin: %s failed", job.task, exc_info=(type(exc), exc, exc.__traceback__)
                    )
                info = {
                    "error": error_message(exc),
                    "error_type": type(exc).__name__,
                    "status": error_status(exc),
                }
                if not wrote:
                    self.set_status(info["status"])
                    self.set_header("Content-Type", "application/json")
                    self.finish(json.dumps({"message": info["error"], **info}))
                    return
                await self._send(info)
                break
        try:
            self.finish()
        except StreamClosedError:
            pass

    async def _send(self, *objs: dict[str, Any]) -> bool:
        try:
            self.write("".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in objs))
            await self.flush()
            return True
        except StreamClosedError:
            return False


def completion_place(body: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int, Any, str]:
    """cells, index, cursor, kernel facts and editor id of a completion request, or 400."""
    cells, index = validate_cells(body)
    cursor = body.get("cursor")
    if isinstance(cursor, bool) or not isinstance(cursor, int):
        raise _bad("'cursor' must be an integer (code points into the active cell)")
    length = len(cells[index]["source"])
    if not 0 <= cursor <= length:
        raise _bad(f"'cursor' {cursor} is out of range (0..{length})")
    return cells, index, cursor, validate_facts(body), _key(body, "editor_id") or "default"


class WarmHandler(TwinHandler):
    """POST /jupyter-twin/warm: evaluate the context of the completion at a place with no
    generation (a warm-up), or with `"prefetch": true` make that completion and cache it.
    Answers 202 at once; the next /complete stops a warm-up or joins the prefetch."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body()
        cells, index, cursor, facts, editor = completion_place(body)
        prefetch = body.get("prefetch") is True
        try:
            started = await self.service.warm(cells, index, cursor, facts, prefetch=prefetch, editor=editor)
        except TwinError as exc:
            raise tornado.web.HTTPError(error_status(exc), reason="Warm-up failed", log_message=error_message(exc)) from None
        self.set_status(202)
        self.finish(json.dumps({"started": started}))


class CompleteHandler(StreamingHandler):
    """POST /jupyter-twin/complete: fill-in-the-middle completion at a cursor."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body()
        cells, index, cursor, facts, editor = completion_place(body)

        def factory(twin: Any) -> Any:
            return twin.stream_complete(cells, index, cursor, kernel_facts=facts)

        job = await self.submit(factory, key="complete:" + editor, task="complete")
        await self.stream_job(job)


class TaskHandler(StreamingHandler):
    """POST /jupyter-twin/task: explain, refactor, fix, document, test, ask (chat)."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body()
        task = body.get("task")
        if task not in TASKS:  # the full names only: the browser sends those
            raise _bad(f"'task' must be one of {', '.join(TASKS)}")
        cells, index = validate_cells(body)
        facts = validate_facts(body)
        kw: dict[str, Any] = {}
        if facts:
            kw["kernel_facts"] = facts
        instruction = _optional_str(body, "instruction")
        question = _optional_str(body, "question")
        error = _optional_str(body, "error", 200_000)
        history = body.get("history")
        if task == "ask":
            if not question or not question.strip():
                raise _bad("'question' is required for the task 'ask'")
            if history is not None:
                try:
                    kw["history"] = check_history(history)
                except ValueError:
                    raise _bad("'history' must be a list of {role, content}") from None
            kw["question"] = question
        elif task == "refactor" and instruction:
            kw["instruction"] = instruction
        elif task == "fix" and error:
            kw["error"] = error
        request = _key(body, "request_id")
        check_request_size(cells, instruction, question, error, history)

        def factory(twin: Any) -> Any:
            return twin.stream(task, cells, index, **kw)

        job = await self.submit(factory, key=None if request is None else "task:" + request, task=task)
        await self.stream_job(job)


class StatusHandler(TwinHandler):
    """GET /jupyter-twin/status: backend, model, reachable, last latencies, server numbers."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        data = await self.service.status()
        data["tasks"] = task_list()
        self.finish(json.dumps(data, default=str))


class TasksHandler(TwinHandler):
    """GET /jupyter-twin/tasks: the task list of tasks.py, which the front end builds its
    buttons and commands from at start; answered without the engine (/status waits on it)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(json.dumps({"tasks": task_list()}))


class ModelsHandler(TwinHandler):
    """GET /jupyter-twin/models: the models the configured backend offers, per role;
    POST: pick the completion and chat models among them."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            models = await self.service.models()
        except TwinError as exc:
            self.set_status(error_status(exc) if error_status(exc) != 400 else 503)
            self.finish(json.dumps({"message": error_message(exc), "error_type": type(exc).__name__}))
            return
        except TimeoutError:
            self.set_status(503)
            self.finish(json.dumps({"message": "the backend did not answer in time"}))
            return
        try:
            roles = await self.service.roles()
        except (TwinError, TimeoutError):
            roles = None
        self.finish(json.dumps({"models": models, "current": redact(self.service.settings.model), "roles": roles}))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        """{"complete"?: name, "chat"?: name}: serve a role with another model of those its
        backend lists. Only a listed name is accepted: never a host, a path or a key.
        A role given as null goes back to the server's configured model (the setting
        cleared, or the picker's "server default")."""
        body = self.body()
        choices: dict[str, str | None] = {}
        for role in ("complete", "chat"):
            if role not in body:
                continue
            value = body[role]
            if value is None:
                choices[role] = None
                continue
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                raise _bad(f"'{role}' must be a model name")
            choices[role] = value
        if not choices:
            raise _bad("name a model for 'complete' or 'chat'")
        try:
            roles = await self.service.use_models(choices)
        except TwinError as exc:
            raise tornado.web.HTTPError(400 if isinstance(exc, ModelNotFound) else error_status(exc),
                                        reason="Model not offered", log_message=error_message(exc)) from None
        self.finish(json.dumps({"roles": roles}))


class MetricsHandler(TwinHandler):
    """GET /jupyter-twin/metrics: job counters (benchmarks); DELETE resets them."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        # in a thread: the embedded backend's counters are an HTTP call to the model process
        data = await asyncio.to_thread(self.service.metrics)
        data["recent"] = list(self.service.recent)
        self.finish(json.dumps(data))

    @tornado.web.authenticated
    @authorized
    async def delete(self) -> None:
        self.service.reset_metrics()
        self.set_status(204)
        self.finish()


def handlers(service: TwinService) -> list[tuple[str, type, dict[str, Any]]]:
    kw = {"service": service}
    return [
        (r"/jupyter-twin/complete", CompleteHandler, kw),
        (r"/jupyter-twin/warm", WarmHandler, kw),
        (r"/jupyter-twin/task", TaskHandler, kw),
        (r"/jupyter-twin/status", StatusHandler, kw),
        (r"/jupyter-twin/tasks", TasksHandler, kw),
        (r"/jupyter-twin/models", ModelsHandler, kw),
        (r"/jupyter-twin/metrics", MetricsHandler, kw),
    ]
