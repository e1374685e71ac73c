"""An opt-in IPython matcher that adds one model completion to the kernel's Tab completion.

So Tab in VS Code, the classic Notebook, Notebook 7 or the terminal shows the model's
suggestion next to IPython's own. Bounded in time: the model runs in a worker thread and
Tab waits ``TwinMagics.tab_timeout`` seconds at most, then cancels it (the matcher returns
nothing rather than hang). Turn on with ``%twin tab on`` or
``%config TwinMagics.tab_completion = True``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from IPython.core.completer import CompletionContext, SimpleCompletion, context_matcher

from . import sources
from .facts import collect_facts

MATCHER_ID = "jupyter_twin.model"
# Runs first. When it has a suggestion it asks IPython to suppress one matcher id that does
# not exist: IPython honours the first suppression request only, so a later matcher that
# would suppress all others (the dict key matcher on ``df["``) cannot drop the model's item,
# and every other matcher's items stay.
MATCHER_PRIORITY = 1000
_NO_MATCHER = "jupyter_twin.none"
MAX_LINE = 120


def _cells_for(magics: Any, full_text: str) -> tuple[list[dict], int]:
    push, _ = magics.live.snapshot()
    if push is not None and push.get("active_cell_id"):
        index, _how = sources.locate(push["cells"], push["active_cell_id"], None)
        if index is not None:
            cells = [dict(c) for c in push["cells"]]
            cells[index] = dict(cells[index], cell_type="code", source=full_text)
            return cells, index
    ctx = sources.from_history(magics.shell, None, full_text, magics.history_cells)
    # during a complete request the last history entry is an earlier cell, keep it
    hist = list(getattr(magics.shell.history_manager, "input_hist_raw", []) or [])
    if hist and hist[-1].strip() and not sources.is_twin_command(hist[-1]):
        ctx.cells.insert(len(ctx.cells) - 1, {"cell_type": "code", "source": hist[-1]})
        ctx.index = len(ctx.cells) - 1
    return ctx.cells, ctx.index


#: the Tab worker still running, if any (its stream is being built or stopping)
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()


def model_completion(magics: Any, full_text: str, offset: int, timeout: float) -> str | None:
    """The model's completion at ``offset`` of ``full_text`` within ``timeout`` seconds.

    On a time-out the generation is stopped even when the stream did not exist yet (the
    engine was still building the context or loading the model): the worker sees the
    time-out as soon as it has the stream and cancels it before reading. While an
    earlier Tab's worker is still on its way out, Tab adds no second one, so repeated
    time-outs never pile up threads or generations."""
    global _worker
    with _worker_lock:
        if _worker is not None and _worker.is_alive():
            magics.tab_timeouts = getattr(magics, "tab_timeouts", 0) + 1
            return None
    cells, index = _cells_for(magics, full_text)
    facts = collect_facts(full_text, magics.shell.user_ns) if magics.kernel_facts else None
    box: dict[str, Any] = {}
    lock = threading.Lock()
    done = threading.Event()
    started = time.monotonic()

    def work() -> None:
        try:
            stream = magics.twin().stream_complete(cells, index, offset, kernel_facts=facts or None)
            with lock:
                box["stream"] = stream
                expired = box.get("expired", False)
            if expired:  # Tab gave up while the stream was being made: stop it unread
                stream.cancel()
                stream.result()  # drains what the backend had already sent, ends it
                return
            box["text"] = stream.result()
        except BaseException as exc:  # reported as "no completion"
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=work, name="jupyter_twin-tab", daemon=True)
    with _worker_lock:
        _worker = thread
    thread.start()
    if not done.wait(timeout):
        with lock:
            box["expired"] = True
            stream = box.get("stream")
        if stream is not None:
            stream.cancel()
        magics.tab_timeouts = getattr(magics, "tab_timeouts", 0) + 1
        return None
    magics.tab_last_latency = time.monotonic() - started
    return box.get("text")


def _line_offset(full_text: str, line: int, column: int) -> int:
    lines = full_text.split("\n")
    return sum(len(l) + 1 for l in lines[:line]) + column


def make_matcher(magics: Any):
    @context_matcher(identifier=MATCHER_ID, priority=MATCHER_PRIORITY)
    def jupyter_twin_matcher(context: CompletionContext) -> dict:
        empty = {"completions": [], "suppress": False}
        if not magics.tab_completion:
            return empty
        text = context.full_text
        offset = _line_offset(text, context.cursor_line, context.cursor_position)
        if not context.line_with_cursor[: context.cursor_position].strip():
            return empty  # Tab on a blank line indents
        completion = model_completion(magics, text, offset, magics.tab_timeout)
        if not completion:
            return empty
        first = completion.split("\n", 1)[0].rstrip()[:MAX_LINE]
        if not first.strip():
            return empty
        token = context.token
        return {
            "completions": [SimpleCompletion(text=token + first, type="jupyter_twin")],
            "suppress": {_NO_MATCHER},
            "matched_fragment": token,
        }

    return jupyter_twin_matcher


def install(magics: Any) -> None:
    completer = getattr(magics.shell, "Completer", None)
    if completer is None or magics.matcher is not None:
        return
    magics.matcher = make_matcher(magics)
    completer.custom_matchers.append(magics.matcher)


def uninstall(magics: Any) -> None:
    completer = getattr(magics.shell, "Completer", None)
    if completer is not None and magics.matcher is not None:
        try:
            completer.custom_matchers.remove(magics.matcher)
        except ValueError:
            pass
    magics.matcher = None
