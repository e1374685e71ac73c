"""Work the engine does while the user is not waiting: warm-ups and prefetches.

A warm-up evaluates the context of the next completion into the backend's prompt cache
and generates nothing (llama.vim's `n_predict: 0` request); a prefetch makes the
completion at the place the user is about to reach (after accepting a suggestion) and
leaves it in the completion cache. One runs at a time per `Twin`, and a real request
never waits behind one: it cancels it, down to the backend, unless it is the prefetch of
that very place, which it then joins.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterator

from .errors import TwinError
from .stream import BackendStream

log = logging.getLogger("jupyter_twin")


class BackgroundWork:
    """One warm-up or prefetch on a thread of its own."""

    def __init__(self, kind: str, key: Any, run: Callable[["BackgroundWork"], None]) -> None:
        self.kind = kind
        self.key = key
        self.started = time.monotonic()
        self.ended: float | None = None
        self.error: BaseException | None = None
        #: what the work left: a prefetch's raw text, a warm-up's token counts
        self.result: Any = None
        self.done = threading.Event()
        self._cancelled = threading.Event()
        self._stream: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, args=(run,), daemon=True, name=f"jupyter-twin-{kind}")

    def start(self) -> "BackgroundWork":
        self._thread.start()
        return self

    def _main(self, run: Callable[["BackgroundWork"], None]) -> None:
        try:
            run(self)
        except TwinError as exc:  # the backend is down or refused: the real request will say so
            self.error = exc
        except BaseException as exc:  # noqa: BLE001 - never kill the thread noisily
            self.error = exc
            log.exception("jupyter_twin: %s failed", self.kind)
        finally:
            self.ended = time.monotonic()
            self.done.set()

    def attach(self, stream: Any) -> Any:
        """Run `stream` (anything with cancel()) as this work's; cancelled already if the
        work was."""
        with self._lock:
            self._stream = stream
            if self._cancelled.is_set():
                stream.cancel()
        return stream

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled.set()
            stream = self._stream
        if stream is not None:
            stream.cancel()

    def join(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


class AfterBackground(BackendStream):
    """A real request for the place a prefetch is making: it waits for the prefetch and
    gives its raw text, or, if the prefetch did not finish, makes the request itself."""

    def __init__(self, work: BackgroundWork, raw: Callable[[], str | None], request: Callable[[], BackendStream],
                 *, deadline: float | None) -> None:
        super().__init__(deadline=deadline)
        self._work = work
        self._raw = raw
        self._request = request
        self._inner: BackendStream | None = None
        self.joined = False

    def _generate(self) -> Iterator[str]:
        while not self._work.done.wait(0.02):
            yield ""  # lets the reader check cancel and the deadline
        text = self._raw()
        if text is not None:
            self.joined = True
            yield text
            return
        self._inner = self._request()
        if self.cancelled:
            self._inner.cancel()
        for delta in self._inner:
            yield delta
        self.done_reason = self._inner.done_reason

    def _abort(self) -> None:
        if self._inner is not None:
            self._inner.cancel()

    def finish_early(self) -> None:
        if self._inner is not None:
            self._inner.finish_early()
        super().finish_early()
