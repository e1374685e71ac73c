"""The review panel: a code result shown with a diff and Replace original / Insert below /
Copy / Discard buttons, for front ends without the JupyterLab extension.

Why the cell waits. ``set_next_input`` only acts while the cell runs: its payload travels
with the cell's ``execute_reply``. A button callback normally runs after the cell has
finished, too late. ipykernel >= 7.4 dispatches comm messages (a widget click is one)
while an *async* cell awaits. So a cell that runs one of our magics is given two more
lines by an input transformer (:func:`add_wait`): one before the magic, and an ``await``
after it that lasts until a button is clicked (or ``review_timeout`` passes, or the kernel
is interrupted). The click's ``set_next_input`` then lands in the running cell's reply,
which every front end that implements the payload acts on: Replace swaps the magic's own
cell text for the code (the magic line goes), Insert below adds a cell under it.

Where that is impossible (an older ipykernel, or the magic called from inside other code)
the panel says so and the result goes in below at once, as before.
"""

from __future__ import annotations

import ast
import asyncio
import html
import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from . import widgets
from .frontend import unified_diff

_MODULE = "__import__('jupyter_twin.kernel.review', fromlist=['wait'])"
EXPECT_LINE = f"{_MODULE}.expect_wait()\n"
WAIT_LINE = f"await {_MODULE}.wait()\n"
_WRAPPED_MAGICS = {("run_cell_magic", "refactor"), ("run_cell_magic", "twin"), ("run_line_magic", "twin")}


def kernel_takes_clicks_while_awaiting() -> bool:
    """ipykernel >= 7.4 dispatches comm messages while an async cell awaits (checked
    against 7.4.0; earlier releases queue them until the cell ends)."""
    try:
        import ipykernel

        return tuple(ipykernel.version_info[:2]) >= (7, 4)
    except Exception:
        return False


class _CellState:
    """The cell being run: whether our ``await`` line follows the magic, and the panel
    that line waits for."""

    def __init__(self) -> None:
        self.expected = False
        self.pending: ReviewPanel | None = None


_state = _CellState()


def expect_wait() -> None:
    """First added line: the magic that follows may leave a panel for :func:`wait`."""
    _state.expected = True
    _state.pending = None


def expecting() -> bool:
    return _state.expected


async def wait() -> None:
    """Last added line: wait for the panel's button, if the magic left one."""
    _state.expected = False
    panel, _state.pending = _state.pending, None
    if panel is not None:
        await panel.wait_for_choice()


def reset(*_args: Any) -> None:
    """pre_run_cell: a magic that raised never reached its ``await`` line."""
    _state.expected = False
    _state.pending = None


def _is_wrapped_magic(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return False
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.args):
        return False
    owner = call.func.value
    if not (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "get_ipython"):
        return False
    first = call.args[0]
    return isinstance(first, ast.Constant) and (call.func.attr, first.value) in _WRAPPED_MAGICS


def add_wait(shell: Any, lines: list[str]) -> list[str]:
    """input_transformers_post: a cell that is exactly one of our magics gets the two lines
    that let it wait for a click (see the module doc). Nothing else is touched."""
    if not (getattr(shell, "autoawait", False) and widgets.in_kernel(shell)
            and kernel_takes_clicks_while_awaiting() and widgets.ipywidgets_module() is not None):
        return lines
    code = "".join(lines)
    if WAIT_LINE in code or not _is_wrapped_magic(code):
        return lines
    body = lines[:]
    if body and not body[-1].endswith("\n"):
        body[-1] += "\n"
    return [EXPECT_LINE, *body, WAIT_LINE]


@contextmanager
def keyboard_interrupts() -> Iterator[None]:
    """While the model streams inside an async cell, an interrupt raises KeyboardInterrupt
    at once (ipykernel's async-cell handler would only cancel the cell once the loop runs,
    which is after the stream)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    current = signal.getsignal(signal.SIGINT)
    if current is signal.default_int_handler or current is None:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, current)


class ReviewPanel:
    """A streamed code answer, then a diff and buttons. Model text is only ever the value
    of a Textarea (rendered as text) or escaped into an HTML widget."""

    rich = True

    def __init__(self, shell: Any, task: str, *, kind: str = "code", enabled: bool = True,
                 timeout: float = 600.0) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.shell = shell
        self.task = task
        self.kind = kind
        self.enabled = enabled
        self.timeout = timeout
        self.text = ""
        self.code = ""
        self.state = "streaming"  # streaming | waiting | shown | done
        self.choice: str | None = None
        self.replace_label = "Replace original"
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last = 0.0
        self.title = w.HTML(f"<b>jupyter_twin · {html.escape(task)}</b>")
        self.answer = w.Textarea(value="", disabled=True, rows=8, layout=w.Layout(width="100%"))
        self.diff = w.HTML(value="", layout=w.Layout(display="none", width="100%"))
        self.replace_button = w.Button(description="Replace original", button_style="success", disabled=True,
                                       tooltip="Replace this cell's text with the code (the magic line goes)")
        self.insert_button = w.Button(description="Insert below", button_style="info", disabled=True,
                                      tooltip="Add the code as a new cell below this one")
        self.copy_button = w.Button(description="Copy", disabled=True,
                                    tooltip="Make the code selectable in the box above")
        self.discard_button = w.Button(description="Discard", disabled=True, tooltip="Change nothing")
        self.status = w.Label(value="Generating…")
        self.replace_button.on_click(lambda _b: self._choose("replace"))
        self.insert_button.on_click(lambda _b: self._choose("insert"))
        self.discard_button.on_click(lambda _b: self._choose("discard"))
        self.copy_button.on_click(lambda _b: self._copy())
        self.buttons = w.HBox([self.replace_button, self.insert_button, self.copy_button, self.discard_button])
        self.box = w.VBox([self.title, self.answer, self.diff, self.buttons, self.status])
        display(self.box)

    # --- the streaming view the magics use (same calls as magics.task._View) ------
    def add(self, delta: str) -> None:
        self.text += delta
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.15:
            self.answer.value = self.text
            self._last = now

    def show(self, bundle: dict[str, Any]) -> None:
        self.answer.value = str(bundle.get("text/plain", ""))

    def finish(self, text: str, note: str = "") -> None:
        self.answer.value = text
        self.status.value = note or "Done."
        self._end_buttons()

    def stopped(self, message: str) -> None:
        """The stream ended without a result (interrupt, backend error)."""
        self.answer.value = self.text
        self.status.value = message
        self.state = "done"
        self._end_buttons()

    # --- the result ----------------------------------------------------------
    def propose(self, code: str, original: str | None, *, insert: bool, replace_label: str,
                can_wait: bool) -> bool:
        """Show ``code`` (and its diff against ``original``) with the buttons. True when the
        cell will wait for a click; False when nothing can act on a click any more (the
        caller then inserts as before, or, with ``insert`` off, nothing changes)."""
        self.code = code
        self.answer.value = code
        self.answer.rows = max(3, min(24, code.count("\n") + 2))
        self.answer.disabled = False  # selectable, for Copy
        if original is not None:
            self.diff.value = widgets.diff_html(unified_diff(original, code))
            self.diff.layout.display = None
        self.replace_button.description = replace_label
        self.copy_button.disabled = False
        if original is None:
            self.replace_button.layout.display = "none"
        if not insert:
            self.replace_button.layout.display = "none"
            self.insert_button.layout.display = "none"
            self.discard_button.disabled = False
            self.state = "shown"
            self.status.value = "Shown only (insert is off): nothing in the notebook changes."
            return False
        if not can_wait:
            self.state = "done"
            self.replace_button.disabled = True
            self.insert_button.disabled = True
            self.status.value = ("Inserted below as a new cell. (Replace and Insert below need ipykernel >= 7.4 "
                                 "and the magic alone in its cell: only then can a click act while the cell runs.)")
            return False
        self.state = "waiting"
        self.replace_button.disabled = original is None
        self.insert_button.disabled = False
        self.discard_button.disabled = False
        self.status.value = (f"Nothing changes until you click. This cell keeps running until then "
                             f"(at most {self.timeout:g} s); interrupting the kernel discards.")
        _state.pending = self
        return True

    def _choose(self, action: str) -> None:
        if self.state == "shown" and action == "discard":
            self.state = "done"
            self.choice = "discard"
            self.status.value = "Discarded: nothing changed."
            self._end_buttons()
            return
        if self.state != "waiting":
            self.status.value = "This cell has finished: a click can no longer change the notebook. Nothing changed."
            return
        text = self.answer.value
        if action == "replace":
            self.shell.set_next_input(text, replace=True)
            note = "Replaced this cell's text with the code."
        elif action == "insert":
            self.shell.set_next_input(text, replace=False)
            note = "Inserted below as a new cell."
        else:
            note = "Discarded: nothing changed."
        if action != "discard" and text != self.code:
            note += " (with your edits in the box)"
        self.choice = action
        self._settle(note)

    def _copy(self) -> None:
        self.answer.disabled = False
        self.status.value = ("Select the code in the box above and press Ctrl+C (Cmd+C): "
                             "a kernel cannot write to your clipboard."
                             + (" The other buttons still work." if self.state == "waiting" else ""))

    def _settle(self, note: str) -> None:
        self.state = "done"
        self.status.value = note
        self._end_buttons()
        event, loop = self._event, self._loop
        if event is not None and loop is not None:
            loop.call_soon_threadsafe(event.set)

    def _end_buttons(self) -> None:
        for button in (self.replace_button, self.insert_button, self.discard_button):
            button.disabled = True
        self.copy_button.disabled = not self.code

    async def wait_for_choice(self) -> None:
        """Until a click, the timeout or an interrupt (which discards)."""
        if self.state != "waiting":
            return
        loop = self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

        def interrupted() -> None:
            if self.state == "waiting":
                self.choice = "interrupted"
                self._settle("Interrupted: nothing changed.")

        # ipykernel's own async-cell SIGINT handler only cancels the cell when the loop next
        # wakes up, which here is the next click: wake it ourselves
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, lambda *_a: loop.call_soon_threadsafe(interrupted))
        try:
            await asyncio.wait_for(self._event.wait(), self.timeout)
        except asyncio.TimeoutError:
            self.choice = "timeout"
            self._settle(f"No choice within {self.timeout:g} s: nothing changed (Copy still works).")
        except asyncio.CancelledError:
            # the cell was cancelled (an interrupt through ipykernel): end it quietly
            interrupted()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
