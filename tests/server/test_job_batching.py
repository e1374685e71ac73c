"""Job batching of streamed deltas (server/service.py): once ghost text is on screen,
deltas within BATCH seconds go out together, but none is held while nothing is shown
yet (a healed completion starts with the typed word again, which shows nothing)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Iterator

from jupyter_twin.server.service import Job


class ScriptedStream:
    """Yields `deltas` quickly, then waits until cancelled, like a generation that the next
    keystroke stops; `partial()` is the text shown so far (the typed word left out)."""

    def __init__(self, deltas: list[str], typed: str) -> None:
        self.deltas = deltas
        self.typed = typed
        self.raw = ""
        self.stopped = threading.Event()

    def __iter__(self) -> Iterator[str]:
        for d in self.deltas:
            self.raw += d
            yield d
        self.stopped.wait(10)

    def partial(self) -> str:
        return self.raw[len(self.typed):] if self.raw.startswith(self.typed) else ""

    def cancel(self) -> None:
        self.stopped.set()

    def result(self) -> str:
        return self.partial()


class FakeService:
    def _on_start(self, job: Job) -> None:
        pass

    def _on_end(self, job: Job) -> None:
        pass

    def twin(self) -> Any:
        return None


async def _first_shown(deltas: list[str], typed: str) -> list[Any]:
    stream = ScriptedStream(deltas, typed)
    job = Job(FakeService(), lambda _twin: stream, key=None, task="complete")  # type: ignore[arg-type]
    job.start()
    got: list[Any] = []
    try:
        while True:
            kind, payload = await asyncio.wait_for(job.queue.get(), 5)
            got.append(payload)
            if isinstance(payload, tuple) and payload[1]:
                return got
    finally:
        job.cancel("superseded")


def test_the_first_text_to_show_is_not_held() -> None:
    # "gro" typed: the model writes the word again ("gro", "up") and then "by(" at once;
    # the text that first shows something ("up") must reach the browser before the
    # stream goes quiet (the next keystroke would cancel it), not wait for a later delta
    got = asyncio.run(_first_shown(["gro", "up", "by("], "gro"))
    assert got[0] == ("gro", "")
    shown = [p for p in got if p[1]]
    assert shown and shown[0][1] in ("up", "upby(")
