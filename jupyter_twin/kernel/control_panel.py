"""``%twin`` alone: a small control panel (ipywidgets) or, without widgets, the same as text.

It shows the backend and whether it answers, the completion and chat models (dropdowns
filled from the backend's own list: only a listed name can be chosen, never a host, a path
typed in or a key), the last latencies, and a Tab-completion switch. Changes apply to this
kernel's magics at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..redact import redact
from ..twin import status_base


@dataclass
class Facts:
    """What the panel shows, gathered once (the status call may start the model)."""

    backend: str
    host: str
    reachable: bool
    error: str
    latencies: dict[str, float]
    models: list[str] = field(default_factory=list)
    models_error: str = ""
    completion_model: str | None = None
    chat_model: str | None = None
    tab_completion: bool = False


def gather(magics: Any) -> Facts:
    try:
        status = magics.twin().status()
    except Exception as exc:  # a settings error: shown, never raised at the user
        status = status_base(None, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    facts = Facts(
        backend=str(status.get("backend") or "-"),
        host=str(status.get("host") or "-"),
        reachable=bool(status.get("reachable")),
        error=str(status.get("error") or ""),
        latencies=dict(status.get("last_latency") or {}),
        tab_completion=bool(magics.tab_completion),
    )
    try:
        facts.models = [str(m) for m in magics.twin().models("chat")]
    except Exception as exc:
        facts.models_error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    facts.completion_model = magics.current_model("complete")
    facts.chat_model = magics.current_model("chat")
    return facts


def label_of(name: str) -> str:
    """A model's name as shown: a GGUF path becomes its file name."""
    if os.sep in name or name.endswith(".gguf"):
        return os.path.basename(name)
    return redact(name)


def latency_text(latencies: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f} s" for k, v in sorted(latencies.items())) or "none yet"


def as_text(facts: Facts) -> str:
    reach = "reachable" if facts.reachable else f"NOT reachable: {facts.error}"
    listed = ", ".join(label_of(m) for m in facts.models) if facts.models else f"(none listed{': ' + facts.models_error if facts.models_error else ''})"
    return "\n".join([
        f"backend: {facts.backend}  host: {facts.host}  {reach}",
        f"completion model: {label_of(facts.completion_model) if facts.completion_model else '-'}  "
        f"chat model: {label_of(facts.chat_model) if facts.chat_model else '-'}",
        f"models the backend lists: {listed}",
        f"last latency: {latency_text(facts.latencies)}",
        f"tab completion: {'on' if facts.tab_completion else 'off'}",
    ])


class ControlPanel:
    """The widget form of :func:`as_text`; every value shown is text (Label, Dropdown labels)."""

    def __init__(self, magics: Any, facts: Facts) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.magics = magics
        self.facts = facts
        reach = "reachable" if facts.reachable else f"NOT reachable: {facts.error}"
        self.backend = w.Label(value=f"backend: {facts.backend}  host: {facts.host}  {reach}")
        options = [(label_of(m), m) for m in facts.models]
        self.completion = w.Dropdown(options=options, description="completion",
                                     value=facts.completion_model if facts.completion_model in facts.models else None,
                                     disabled=not options)
        self.chat = w.Dropdown(options=options, description="chat",
                               value=facts.chat_model if facts.chat_model in facts.models else None,
                               disabled=not options)
        self.latency = w.Label(value=f"last latency: {latency_text(facts.latencies)}")
        self.tab = w.Checkbox(value=facts.tab_completion, description="Tab completion", indent=False)
        note = "" if options else f"The backend lists no models{': ' + facts.models_error if facts.models_error else ''}."
        self.status = w.Label(value=note)
        self.completion.observe(lambda change: self._pick("complete", change["new"]), names="value")
        self.chat.observe(lambda change: self._pick("chat", change["new"]), names="value")
        self.tab.observe(lambda change: self._tab(bool(change["new"])), names="value")
        self.box = w.VBox([w.HTML("<b>jupyter_twin</b>"), self.backend, w.HBox([self.completion, self.chat]),
                           self.latency, self.tab, self.status])
        display(self.box)

    def _pick(self, purpose: str, name: Any) -> None:
        if name is None:
            return
        if name not in self.facts.models:  # the dropdown only offers listed names; say no to anything else
            self.status.value = "Not a model the backend lists: nothing changed."
            return
        self.magics.set_model(purpose, str(name))
        self.status.value = f"{'completion' if purpose == 'complete' else 'chat'} model: {label_of(str(name))} (this kernel's magics)"

    def _tab(self, on: bool) -> None:
        self.magics.tab_completion = on
        self.status.value = f"Tab completion {'on' if on else 'off'}"
