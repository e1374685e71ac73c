"""The engine behind the server extension: one ``Twin``, jobs pumped from threads.

Nothing here imports tornado or jupyter_server; the handlers are a thin layer on top.

A :class:`Job` runs one engine ``TaskStream`` in a worker thread and hands its deltas to
the event loop through an ``asyncio.Queue``, so the blocking backend never runs on the
tornado loop. ``Job.cancel()`` stops the stream on the backend (``TaskStream.cancel()``);
the worker keeps draining the stream until the backend has really stopped, so the
service knows how many generations are running at any moment and how many generated
tokens nobody saw.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable

from ..errors import ServerBusy, TwinError
from ..redact import redact, redact_status
from ..settings import Settings

if TYPE_CHECKING:  # the engine loads late (see make_twin)
    from ..twin import Twin

log = logging.getLogger(__name__)

#: how long a newer completion waits for the older one (same editor) to stop on the backend
SUPERSEDE_WAIT = 10.0
#: deltas produced within this many seconds go to the browser together
BATCH = 0.04


@dataclass
class Limits:
    """How much work the server takes at once (``c.TwinApp.max_running_jobs`` & co).

    Each running job holds a thread and a generation on the backend, which runs one or a
    few at a time anyway: more running jobs only cost memory and threads. A short queue
    absorbs a burst; beyond it a request gets 503 at once, and a user beyond their own
    share gets 429, rather than every request slowing down for everyone."""

    max_running: int = 4  # jobs whose thread runs (generating or stopping)
    max_queued: int = 8  # jobs admitted but waiting for a running slot
    max_per_user: int = 8  # jobs one user has admitted (running or waiting)
    queue_timeout: float = 15.0  # seconds a job may wait for a slot, then 503


@dataclass
class ServerCounters:
    """The server's job counters, one object (as the model process's generation `Stats`):
    /status ("server") and /metrics give them by these names, and a reset starts every
    one of them again. Touched on the event loop only, so no lock."""

    running: int = 0  # jobs whose thread runs
    max_running: int = 0
    running_complete: int = 0  # of which completions
    max_running_complete: int = 0
    jobs: int = 0  # admitted
    jobs_cancelled: int = 0
    deltas_total: int = 0  # deltas the backend produced
    deltas_discarded: int = 0  # of which generated for nobody (cancelled, failed, lost)
    deltas_delivered: int = 0  # of which in a final text the client received
    deltas_sent: int = 0  # of which handed to the handler for the browser
    max_queued: int = 0
    rejected_busy: int = 0  # 503
    rejected_user: int = 0  # 429
    #: seconds of the last delivered job per task, from its admission to its final text
    #: (/status "server_latency"; kept by a reset)
    last_latency: dict[str, float] = field(default_factory=dict)

    def begin(self, task: str) -> None:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        if task == "complete":
            self.running_complete += 1
            self.max_running_complete = max(self.max_running_complete, self.running_complete)

    def end(self, task: str) -> None:
        self.running -= 1
        if task == "complete":
            self.running_complete -= 1

    def counts(self) -> dict[str, int]:
        out = asdict(self)
        del out["last_latency"]
        return out

    def reset(self, queued: int) -> None:
        """Every count from zero; the maxima from what runs and waits now."""
        running, complete = self.running, self.running_complete
        for name in self.counts():
            setattr(self, name, 0)
        self.running = self.max_running = running
        self.running_complete = self.max_running_complete = complete
        self.max_queued = queued


def make_twin(settings: Settings) -> "Twin":
    """The engine for the server's settings."""
    from ..twin import Twin  # the engine; imported late so the server module loads fast

    return Twin(settings=settings)


def _delta(raw: str, partial: Callable[[], str] | None) -> str | tuple[str, str]:
    """A queued delta: the raw text, with the cleaned text so far for a completion."""
    return raw if partial is None else (raw, partial())


class Job:
    """One engine stream, run in a worker thread, read from the event loop."""

    def __init__(
        self,
        service: "TwinService",
        factory: Callable[[Any], Any],
        *,
        key: str | None,
        task: str,
    ) -> None:
        self.service = service
        self.factory = factory
        self.key = key
        self.task = task
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.stream: Any = None
        self._cancel = threading.Event()
        self.cancel_reason: str | None = None
        self.started_thread = False
        self.finished = asyncio.Event()
        self.deltas = 0  # deltas the backend produced (one per generated token)
        self.sent = 0  # of which handed to the handler for the browser
        self.chars = 0
        self.delivered = False  # the client received the final text
        self.discarded = False  # its deltas count as thrown away
        self.created = time.perf_counter()  # the server's one clock for this job
        self.ended_at: float | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.user = ""  # whose job it is (the per-user limit)
        self.admitted = False  # counted against the limits until it finishes
        self.slot = False  # holds one of the max_running slots

    # -- control ---------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the generation on the backend. Thread safe, idempotent."""
        if not self._cancel.is_set():
            self.cancel_reason = reason
            self._cancel.set()
        stream = self.stream
        if stream is not None:
            try:
                stream.cancel()
            except Exception:  # pragma: no cover - the engine's cancel must not break us
                log.exception("TaskStream.cancel() failed")
        if not self.started_thread and not self.finished.is_set():
            # never started: nothing runs on the backend
            self._put(("cancelled", self.cancel_reason))
            self._finish()

    def start(self) -> None:
        if self.cancelled or self.started_thread:
            return
        self.started_thread = True
        self.service._on_start(self)
        self.thread = threading.Thread(
            target=self._run, name=f"jupyter-twin-{self.task}", daemon=True
        )
        self.thread.start()

    # -- worker thread ---------------------------------------------------------------
    def _put(self, item: tuple[str, Any]) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # loop closed during shutdown
            pass

    def _run(self) -> None:
        try:
            twin = self.service.twin()
            engine_started = time.perf_counter()
            stream = self.factory(twin)
            self.stream = stream
            if self._cancel.is_set():
                stream.cancel()
            pending: list[str] = []
            last_put = 0.0
            # ghost text shows what would be inserted now (healed, cut), not the raw stream
            partial = getattr(stream, "partial", None) if self.task == "complete" else None
            # whether the browser has been sent text to show: until then every delta goes at
            # once. The first deltas of a healed completion are the typed word again, which
            # shows nothing; the token after it, held for BATCH, came 40 ms late or, when
            # the next keystroke cancelled the request meanwhile, never
            shown = False
            for delta in stream:
                if not delta:
                    continue
                self.deltas += 1
                self.chars += len(delta)
                now = time.perf_counter()
                if self._cancel.is_set():
                    continue  # draining: cancel() was called, the backend is stopping
                pending.append(delta)
                # wake the event loop at most every BATCH seconds once text is shown: fewer
                # wake-ups steal less CPU from the model on a small machine
                if not shown or now - last_put >= BATCH:
                    item = _delta("".join(pending), partial)
                    self._put(("delta", item))
                    self.sent += len(pending)
                    pending.clear()
                    last_put = now
                    shown = not isinstance(item, tuple) or bool(item[1])
            if pending and not self._cancel.is_set():
                self._put(("delta", _delta("".join(pending), partial)))
                self.sent += len(pending)
            if self._cancel.is_set():
                self._put(("cancelled", self.cancel_reason))
                return
            text = stream.result()
            self._put(
                (
                    "done",
                    {
                        "text": text,
                        "latency": getattr(stream, "latency", None),
                        "kind": getattr(stream, "kind", None),
                        # the engine's whole call (context building, generation, cleaning)
                        "engine_seconds": time.perf_counter() - engine_started,
                    },
                )
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the loop
            self.error = exc
            if self._cancel.is_set():
                self._put(("cancelled", self.cancel_reason))
            else:
                self._put(("error", exc))
        finally:
            try:
                self.loop.call_soon_threadsafe(self._finish)
            except RuntimeError:
                pass

    def _finish(self) -> None:
        if self.finished.is_set():
            return
        self.ended_at = time.perf_counter()
        self.finished.set()
        self.service._on_end(self)

    async def wait(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self.finished.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def elapsed(self) -> float:
        """Seconds since the job was admitted (queueing, the engine and cleaning)."""
        return (self.ended_at or time.perf_counter()) - self.created

    def summary(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "key": None if self.key is None else self.key.split("/", 1)[-1],
            "deltas": self.deltas,
            "chars": self.chars,
            "cancelled": self.cancelled,
            "cancel_reason": self.cancel_reason,
            "delivered": self.delivered,
            "started": self.started_thread,
            "seconds": None
            if self.ended_at is None
            else round(self.ended_at - self.created, 4),
        }


class TwinService:
    """Owns the engine, the in-flight jobs per editor, and the server's numbers."""

    def __init__(
        self,
        settings: Settings,
        *,
        twin_factory: Callable[[Settings], Any] = make_twin,
        logger: logging.Logger | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.settings = settings
        self.limits = limits or Limits()
        self._admitted = 0
        self._per_user: dict[str, int] = {}
        self._slots = 0
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self.counters = ServerCounters()
        # status, models and the engine's creation run here, one call per kind at a time:
        # a time-out stops the waiting, not the thread, so a second caller shares the call
        # in flight instead of starting one more thread that may hang as long
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=3, thread_name_prefix="jupyter-twin-call")
        self._calls: dict[Hashable, asyncio.Future[Any]] = {}
        self.log = logger or log
        self._twin_factory = twin_factory
        self._twin: "Twin | None" = None
        self._twin_error: BaseException | None = None
        self._twin_lock = threading.Lock()
        self.inflight: dict[str, Job] = {}  # the latest job per key
        self._running: dict[str, Job] = {}  # the job per key whose thread was started
        self.recent: deque[dict[str, Any]] = deque(maxlen=200)

    # -- engine --------------------------------------------------------------------------
    def twin(self) -> "Twin":
        """The engine, created on first use (blocking: call from a thread)."""
        if self._twin is not None:
            return self._twin
        with self._twin_lock:
            if self._twin is None:
                try:
                    self._twin = self._twin_factory(self.settings)
                    self._twin_error = None
                except BaseException as exc:
                    self._twin_error = exc
                    raise
            return self._twin

    def preload(self) -> None:
        """Create the engine in a background thread (loads an embedded model early)."""

        def run() -> None:
            try:
                twin = self.twin()
                # builds the backend and starts an embedded model's process, so that the
                # first keystroke does not wait for the model to load
                backend = getattr(twin, "backend", None)
                if backend is not None and backend.name == "embedded":
                    backend.info()
            except Exception as exc:  # reported by status
                self.log.warning("jupyter_twin: engine not ready: %s", exc)

        threading.Thread(target=run, name="jupyter-twin-preload", daemon=True).start()

    async def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """``fn(*args)`` in a worker thread, awaited at most ``timeout`` seconds.

        A thread cannot be stopped, so a call that times out keeps running; callers of
        the same ``fn`` and arguments meanwhile share it rather than each starting one
        (50 timed-out /status requests make one backend ping, not 50 stuck threads)."""
        loop = asyncio.get_running_loop()
        key = (fn, args)
        fut = self._calls.get(key)
        if fut is None or fut.done():
            fut = loop.run_in_executor(self._executor, fn, *args)
            self._calls[key] = fut

            def forget(done: asyncio.Future[Any], key: Hashable = key) -> None:
                if self._calls.get(key) is done:
                    del self._calls[key]
                if not done.cancelled():
                    done.exception()  # retrieved: no "exception never retrieved" noise

            fut.add_done_callback(forget)
        return await asyncio.wait_for(asyncio.shield(fut), timeout)

    async def status(self, timeout: float = 10.0) -> dict[str, Any]:
        """The engine's status (twin.status_base's keys when it cannot answer), with the
        server's latencies and counters."""
        from ..twin import status_base

        base = status_base(self.settings)
        try:
            twin = await self.call(self.twin, timeout=timeout)
            data = await self.call(twin.status, timeout=timeout)
            if isinstance(data, dict):
                base.update(data)
        except asyncio.TimeoutError:
            base["error"] = "the backend did not answer the status request in time"
        except TwinError as exc:
            base["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001
            self.log.exception("jupyter_twin: status failed")
            base["error"] = f"{type(exc).__name__}: {exc}"
        base["last_latency"] = dict(base.get("last_latency") or {})
        base["server_latency"] = dict(self.counters.last_latency)
        # the backend's counters may be a call to the model process: not on the loop
        try:
            stats = await self.call(self.backend_stats, timeout=timeout)
        except Exception:  # noqa: BLE001 - a status without counters is still a status
            stats = None
        base["server"] = self.metrics(backend_stats=stats)
        # for the browser: no backend credentials, no path on disk (the log has them)
        if base.get("error"):
            self.log.debug("jupyter_twin: status: %s", base["error"])
        return redact_status(base)

    async def warm(self, cells: list[dict[str, Any]], index: int, cursor: int, facts: Any, *,
                   prefetch: bool, editor: str) -> bool:
        """Start a warm-up (or a prefetch) of the completion at this place; False when it
        would only compete with a completion already running for this editor. The engine
        runs one at a time and stops it at the next real request, so a flood of these is
        bounded work: each one replaces the one before."""
        running = self._running.get("complete:" + editor)
        if running is not None and not running.finished.is_set():
            return False
        loop = asyncio.get_running_loop()

        def start() -> bool:
            twin = self.twin()
            method = twin.prefetch if prefetch else twin.warm
            return method(cells, index, cursor, kernel_facts=facts) is not None

        return await loop.run_in_executor(self._executor, start)

    async def models(self, timeout: float = 10.0) -> list[str]:
        twin = await self.call(self.twin, timeout=timeout)
        # model names for the browser: a GGUF path becomes its file name
        return [redact(str(m)) for m in await self.call(twin.models, timeout=timeout)]

    async def roles(self, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
        """Per role ("complete", "chat"): the model in use and the models its backend
        offers (the picker's lists)."""
        twin = await self.call(self.twin, timeout=timeout)

        def collect() -> dict[str, dict[str, Any]]:
            out = {}
            for role in ("complete", "chat"):
                backend = twin.backend_for(role)
                default = twin.default_model(role)
                out[role] = {"backend": backend.name, "current": redact(str(backend.model)),
                             "default": redact(str(default)) if default else None,
                             "models": [redact(str(m)) for m in backend.models()]}
            return out

        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._executor, collect), timeout)

    async def use_models(self, choices: dict[str, str | None], timeout: float = 30.0) -> dict[str, dict[str, Any]]:
        """Switch roles to models their backend lists (ModelNotFound otherwise), or back to
        the configured model for None; the next request uses them, with no restart."""
        twin = await self.call(self.twin, timeout=timeout)
        loop = asyncio.get_running_loop()
        for role, name in choices.items():
            await asyncio.wait_for(loop.run_in_executor(self._executor, twin.use_model, role, name), timeout)
        return await self.roles(timeout)

    # -- jobs ------------------------------------------------------------------------
    async def submit(
        self,
        factory: Callable[[Any], Any],
        *,
        key: str | None,
        task: str,
        user: str = "",
        on_job: Callable[[Job], None] | None = None,
    ) -> Job:
        """Start a job. Jobs with the same key are cancelled, and the one running on the
        backend is awaited, before this one starts: one generation per key at any moment.

        Raises ServerBusy (503) when the server has ``max_running + max_queued`` jobs
        already, or (429) when ``user`` has ``max_per_user``; a job that waits longer
        than ``queue_timeout`` for a running slot gets 503 too. ``on_job`` sees the job
        as soon as it exists, so that a client that goes away while it waits cancels it."""
        self._admit(user)
        job = Job(self, factory, key=key, task=task)
        job.user = user
        job.admitted = True
        self._admitted += 1
        self._per_user[user] = self._per_user.get(user, 0) + 1
        self.counters.jobs += 1
        if on_job is not None:
            on_job(job)
        if key is not None:
            older = self.inflight.get(key)
            self.inflight[key] = job
            if older is not None and not older.finished.is_set():
                older.cancel("superseded")  # not started yet: finishes at once
            while not job.cancelled:
                running = self._running.get(key)
                if running is None or running is job or running.finished.is_set():
                    break
                running.cancel("superseded")
                if not await running.wait(SUPERSEDE_WAIT):
                    self.log.warning("jupyter_twin: an older %s is slow to stop", running.task)
                    break
        if job.cancelled:  # a newer request superseded this one meanwhile
            return job
        try:
            got = await self._acquire(job)
        except ServerBusy:
            job._finish()
            raise
        if not got:
            return job
        if key is not None:
            self._running[key] = job
        job.start()
        if not job.started_thread:  # cancelled at the last moment
            self._release_slot(job)
        return job

    def _admit(self, user: str) -> None:
        lim = self.limits
        mine = self._per_user.get(user, 0)
        if mine >= lim.max_per_user:
            self.counters.rejected_user += 1
            raise ServerBusy(
                f"too many jupyter_twin requests at once from you: {mine} in progress "
                f"(at most {lim.max_per_user}); wait for one to end",
                status=429,
            )
        if self._admitted >= lim.max_running + lim.max_queued:
            self.counters.rejected_busy += 1
            raise ServerBusy(
                f"jupyter_twin is busy: {self._slots} requests running and "
                f"{self._admitted - self._slots} waiting (at most {lim.max_running} and "
                f"{lim.max_queued}); try again in a moment",
                status=503,
            )

    async def _acquire(self, job: Job) -> bool:
        """A running slot for ``job``: True when it has one, False when the job ended
        (cancelled) while it waited; ServerBusy after ``queue_timeout`` seconds."""
        lim = self.limits
        if self._slots < lim.max_running and not self._waiters:
            self._slots += 1
            job.slot = True
            return True
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self.counters.max_queued = max(self.counters.max_queued, len(self._waiters))
        ended = asyncio.ensure_future(job.finished.wait())
        try:
            await asyncio.wait({fut, ended}, timeout=lim.queue_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if fut.done() and not fut.cancelled():  # _release_slot handed its slot over
            job.slot = True
            if job.finished.is_set():
                self._release_slot(job)
                return False
            return True
        fut.cancel()
        try:
            self._waiters.remove(fut)
        except ValueError:
            pass
        if job.finished.is_set():
            return False
        self.counters.rejected_busy += 1
        raise ServerBusy(
            f"jupyter_twin is busy: the request waited {lim.queue_timeout:g} s for one of "
            f"{lim.max_running} running slots; try again in a moment",
            status=503,
        )

    def _release_slot(self, job: Job) -> None:
        if not job.slot:
            return
        job.slot = False
        self._slots -= 1
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                self._slots += 1  # handed straight to the first waiter
                fut.set_result(True)
                return

    def _on_start(self, job: Job) -> None:
        self.counters.begin(job.task)

    def _on_end(self, job: Job) -> None:
        counters = self.counters
        if job.started_thread:
            counters.end(job.task)
        self._release_slot(job)
        if job.admitted:
            job.admitted = False
            self._admitted -= 1
            left = self._per_user.get(job.user, 1) - 1
            if left > 0:
                self._per_user[job.user] = left
            else:
                self._per_user.pop(job.user, None)
        if job.key is not None and self.inflight.get(job.key) is job:
            del self.inflight[job.key]
        if job.key is not None and self._running.get(job.key) is job:
            del self._running[job.key]
        if job.cancelled:
            counters.jobs_cancelled += 1
        counters.deltas_total += job.deltas
        counters.deltas_sent += job.sent
        if job.cancelled or job.error is not None:
            # generated for nobody: cancelled (superseded, stopped, client gone) or failed
            counters.deltas_discarded += job.deltas
            job.discarded = True
        self.recent.append(job.summary())

    def mark_delivered(self, job: Job) -> None:
        job.delivered = True
        self.counters.deltas_delivered += job.deltas

    def mark_lost(self, job: Job) -> None:
        """The final text could not be written: the client went away at the last moment."""
        if job.finished.is_set() and not getattr(job, "discarded", False):
            self.counters.deltas_discarded += job.deltas
            job.discarded = True

    def record_latency(self, job: Job) -> float:
        """The job's seconds from admission to its final text, kept as the task's last
        server latency: the one place the server measures a request."""
        seconds = job.elapsed()
        self.counters.last_latency[job.task] = round(seconds, 4)
        return seconds

    def metrics(self, *, backend_stats: Any = ...) -> dict[str, Any]:
        """The server's counters; ``backend_stats`` given when already fetched."""
        if backend_stats is ...:
            backend_stats = self.backend_stats()
        return {
            **self.counters.counts(),
            # the job keys without the user part: one user's status shows no other's names
            "inflight": sorted(k.split("/", 1)[-1] for k in self.inflight),
            "queued": len(self._waiters),
            "limits": {
                "max_running": self.limits.max_running,
                "max_queued": self.limits.max_queued,
                "max_per_user": self.limits.max_per_user,
            },
            "threads": threading.active_count(),
            "backend_stats": backend_stats,
        }

    def backend_stats(self) -> dict[str, Any] | None:
        """The backend's own generation counters, if it keeps them (embedded model)."""
        twin = self._twin
        if twin is None:
            return None  # not created yet: do not create it for this
        try:
            return twin.backend_stats()
        except Exception:  # noqa: BLE001
            return None

    def reset_metrics(self) -> None:
        self.counters.reset(queued=len(self._waiters))
        self.recent.clear()

    def close(self) -> None:
        for job in list(self.inflight.values()):
            job.cancel("shutdown")
        self._executor.shutdown(wait=False, cancel_futures=True)
        twin, self._twin = self._twin, None
        if twin is not None and hasattr(twin, "close"):
            try:
                twin.close()
            except Exception:  # pragma: no cover
                self.log.exception("jupyter_twin: close failed")
