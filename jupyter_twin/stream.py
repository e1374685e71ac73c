"""Streams of generated text that can be cancelled from any thread.

A backend produces a `BackendStream`: an iterator of text deltas whose `cancel()` stops
the generation on the backend (closes the HTTP stream, or stops the worker thread of the
embedded model). A `TaskStream` wraps it with what the engine does after generation:
post-processing into the text to insert, and timing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import AsyncIterator, Callable, Iterator

from .errors import BackendTimeout


class BackendStream:
    """Base class: subclasses implement `_generate()` and, if they can, `_abort()`."""

    def __init__(self, *, deadline: float | None = None) -> None:
        self._cancelled = threading.Event()
        self._finished = False
        self._iterator: Iterator[str] | None = None
        self._deadline = None if deadline is None else time.monotonic() + deadline
        self.done_reason: str | None = None
        self.finished_early = False

    # --- for subclasses -------------------------------------------------
    def _generate(self) -> Iterator[str]:
        raise NotImplementedError

    def _abort(self) -> None:
        """Stop the transport from another thread; called once by `cancel()`."""

    # --- public ---------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def finished(self) -> bool:
        return self._finished

    def cancel(self) -> None:
        if self._cancelled.is_set() or self._finished:
            self._cancelled.set()
            return
        self._cancelled.set()
        self._abort()

    def __iter__(self) -> "BackendStream":
        return self

    def __next__(self) -> str:
        if self._finished:
            raise StopIteration
        if self._iterator is None:
            self._iterator = self._generate()
        while True:
            if self._cancelled.is_set():
                self._finish(cancelled=True)
                raise StopIteration
            if self._deadline is not None and time.monotonic() > self._deadline:
                self._finish(cancelled=True)
                raise BackendTimeout("The model took longer than the request timeout")
            try:
                delta = next(self._iterator)
            except StopIteration:
                self._finish(cancelled=self._cancelled.is_set())
                raise
            except BaseException:
                cancelled = self._cancelled.is_set()
                self._finish(cancelled=True)
                if cancelled:
                    # the transport was closed under the reader: that is the cancel, not an error
                    raise StopIteration from None
                raise
            if delta:
                return delta

    def _finish(self, cancelled: bool) -> None:
        if self._finished:
            return
        self._finished = True
        if cancelled:
            self.done_reason = self.done_reason or "cancelled"
        it = self._iterator
        if it is not None and hasattr(it, "close"):
            try:
                it.close()  # type: ignore[union-attr]
            except Exception:
                pass

    def finish_early(self) -> None:
        """Stop generating because the text is complete (not counted as a user cancel)."""
        if not self._finished:
            self.finished_early = True
            self._abort()
            self._finish(cancelled=False)
            self.done_reason = self.done_reason or "complete"

    def close(self) -> None:
        if not self._finished:
            self.cancel()
            self._finish(cancelled=True)


class TextListStream(BackendStream):
    """A stream over text already at hand (used for empty completions)."""

    def __init__(self, parts: list[str]) -> None:
        super().__init__()
        self._parts = parts

    def _generate(self) -> Iterator[str]:
        yield from self._parts


class TaskStream:
    """What the front doors hold: deltas while generating, cleaned text at the end."""

    def __init__(
        self,
        stream: BackendStream,
        finish: Callable[[str], str],
        *,
        kind: str,
        task: str,
        on_done: Callable[["TaskStream"], None] | None = None,
        is_finished: Callable[[str], bool] | None = None,
        cached: bool = False,
        hold_back: Callable[[str, str], str] | None = None,
    ) -> None:
        self._stream = stream
        # (cleaned, raw) -> what a streaming UI shows of the cleaned text (see partial())
        self._hold_back = hold_back
        #: the text came from the completion cache: no request was made
        self.cached = cached
        self._is_finished = is_finished
        self._finish_text = finish
        self.kind = kind
        self.task = task
        self._on_done = on_done
        self._parts: list[str] = []
        self._started = time.monotonic()
        self.first_token_latency: float | None = None
        self.latency: float | None = None
        self._result: str | None = None
        self._lock = threading.Lock()
        self._exhausted = False
        self.failed = False

    @property
    def text(self) -> str:
        """The raw text generated so far."""
        return "".join(self._parts)

    @property
    def cancelled(self) -> bool:
        return self._stream.cancelled

    @property
    def done_reason(self) -> str | None:
        return self._stream.done_reason

    def cancel(self) -> None:
        self._stream.cancel()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            delta = next(self._stream)
        except StopIteration:
            self._done()
            raise
        except BaseException:
            self.failed = True
            self._done()
            raise
        if self.first_token_latency is None:
            self.first_token_latency = time.monotonic() - self._started
        self._parts.append(delta)
        if self._is_finished is not None and self._is_finished(self.text):
            # the suggestion is whole: stop the model now rather than at max_tokens
            self._stream.finish_early()
        return delta

    def _done(self) -> None:
        with self._lock:
            if self._exhausted:
                return
            self._exhausted = True
            self.latency = time.monotonic() - self._started
        if self._on_done is not None:
            self._on_done(self)

    def partial(self) -> str:
        """The cleaned text so far: what a streaming UI shows (ghost text grows with it).

        For a completion, less what cleaning would still take away once the model writes
        more (postprocess.hold_back), so the final text starts with every update."""
        raw = self.text
        text = self._finish_text(raw)
        return text if self._hold_back is None else self._hold_back(text, raw)

    def result(self) -> str:
        """Block until the generation ends; the cleaned text (empty if cancelled early)."""
        if self._result is None:
            for _ in self:
                pass
            self._result = self._finish_text(self.text)
        return self._result

    async def __aiter__(self) -> AsyncIterator[str]:
        """The deltas on an event loop: each `next` runs in a worker thread (the server
        and `bench switch` pump the sync stream the same way)."""
        sentinel = object()
        try:
            while True:
                delta = await asyncio.to_thread(next, self, sentinel)  # type: ignore[arg-type]
                if delta is sentinel:
                    return
                yield delta  # type: ignore[misc]
        except BaseException:
            # the consumer went away (disconnect, task cancelled): stop the model too
            self.cancel()
            raise

    def __enter__(self) -> "TaskStream":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._exhausted:
            self.cancel()
            try:
                for _ in self:
                    pass
            except Exception:
                pass
