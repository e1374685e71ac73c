"""``%twin chat``: a chat panel in the output area, for front ends without the sidebar.

The same engine call and history rules as the sidebar (labextension/src/sidebar.ts): each
question is ``Twin.stream("ask", cells, index, question=..., history=...)``; the history
sent is the last 10 turns of this notebook's chat, a question always, an answer only when
it finished (a stopped or failed answer is shown but not sent); the engine then keeps the
turns that fit (tasks.recent_turns). The answer streams in a background thread, so Stop
(another comm message) is handled while it runs, and Stop cancels the stream: the backend
stops generating.

Model text is shown escaped in an HTML widget: never live HTML.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from . import widgets

HISTORY_TURNS = 10


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    content: str
    state: str = "done"  # "done" | "streaming" | "stopped" | "failed"


def history_for_engine(turns: list[Turn]) -> list[dict[str, str]]:
    """What the sidebar sends: questions, and the answers that finished; the last 10."""
    kept = [t for t in turns if t.role == "user" or t.state == "done"]
    return [{"role": t.role, "content": t.content} for t in kept[-HISTORY_TURNS:]]


def render(turns: list[Turn]) -> str:
    """The history as escaped HTML (every text through html.escape)."""
    if not turns:
        return "<i>No messages yet.</i>"
    rows = []
    for t in turns:
        who = "You" if t.role == "user" else "jupyter_twin"
        suffix = {"streaming": " …", "stopped": " (stopped)", "failed": " (failed)"}.get(t.state, "")
        colour = "#0550ae" if t.role == "user" else "#116329"
        rows.append(f'<div><b style="color:{colour}">{who}{suffix}</b>'
                    + widgets.escaped_pre(t.content or " ") + "</div>")
    return "".join(rows)


class ChatPanel:
    def __init__(self, magics: Any, ctx: Any, facts: Any, turns: list[Turn], opts: dict[str, Any] | None = None) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.magics = magics
        self.ctx = ctx
        self.facts = facts
        self.opts = dict(opts or {})
        self.turns = turns  # shared with the magics: this notebook's chat
        self.stream: Any = None
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.history = w.HTML(value=render(turns), layout=w.Layout(max_height="28em", overflow="auto", width="100%"))
        self.question = w.Textarea(placeholder="Ask about this notebook…", layout=w.Layout(width="100%", height="4em"))
        self.send_button = w.Button(description="Send", button_style="primary")
        self.stop_button = w.Button(description="Stop", disabled=True)
        self.status = w.Label(value=f"Context: {ctx.describe()}")
        self.send_button.on_click(lambda _b: self.send())
        self.stop_button.on_click(lambda _b: self.stop())
        self.box = w.VBox([w.HTML("<b>jupyter_twin chat</b>"), self.history, self.question,
                           w.HBox([self.send_button, self.stop_button]), self.status])
        display(self.box)

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def send(self) -> None:
        question = self.question.value.strip()
        if not question or self.busy:
            return
        history = history_for_engine(self.turns)
        try:
            twin = self.magics.twin(self.opts)
            stream = twin.stream("ask", self.ctx.cells, self.ctx.index, kernel_facts=self.facts,
                                 question=question, history=history or None)
        except Exception as exc:
            self.status.value = f"No answer: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
            return
        answer = Turn("assistant", "", "streaming")
        self.turns.extend([Turn("user", question), answer])
        self.question.value = ""
        self.stream = stream
        self.send_button.disabled = True
        self.stop_button.disabled = False
        self.status.value = "Answering…"
        self.history.value = render(self.turns)
        self.thread = threading.Thread(target=self._run, args=(stream, answer), name="twin-chat", daemon=True)
        self.thread.start()

    def _run(self, stream: Any, answer: Turn) -> None:
        last = 0.0
        try:
            for delta in stream:
                answer.content += delta
                now = time.monotonic()
                if now - last >= 0.2:
                    self.history.value = render(self.turns)
                    last = now
            text = stream.result()
            if stream.cancelled:
                answer.state = "stopped"
            else:
                answer.content, answer.state = text, "done"
        except Exception as exc:
            answer.state = "stopped" if stream.cancelled else "failed"
            if not stream.cancelled:
                self.status.value = f"No answer: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        finally:
            stream.cancel()  # idempotent; the backend stops if it has not
            self.history.value = render(self.turns)
            self.send_button.disabled = False
            self.stop_button.disabled = True
            if answer.state == "done":
                self.status.value = "Done."
            elif answer.state == "stopped":
                self.status.value = "Stopped: the model was stopped."

    def stop(self) -> None:
        stream = self.stream
        if stream is not None and self.busy:
            stream.cancel()
            self.status.value = "Stopping…"

    def join(self, timeout: float | None = None) -> None:
        """Wait for the answer (tests)."""
        if self.thread is not None:
            self.thread.join(timeout)
