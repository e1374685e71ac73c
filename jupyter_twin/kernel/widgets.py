"""What the kernel-side panels share: whether ipywidgets can be used here, and model text
made inert for the widgets that show it.

The panels (review.py, control_panel.py, chat_panel.py) are used where the JupyterLab
extension has not announced itself: one check of what the front end offers
(:func:`use_panels`), not a list of front ends. Model text goes only into widgets that
render text (``Textarea``, ``Label``) or, escaped, into an ``HTML`` widget: an ``HTML``
widget's value is set as live HTML by the front end.
"""

from __future__ import annotations

import html
import importlib
import sys
from typing import Any

INSTALL_HINT = ("jupyter_twin: `pip install ipywidgets` adds a review panel here (the answer, a diff, "
                "Replace original / Insert below / Copy / Discard), a control panel and a chat panel.")


def ipywidgets_module() -> Any | None:
    """ipywidgets, or None where it cannot be imported (a bare kernel)."""
    try:
        return importlib.import_module("ipywidgets")
    except Exception:  # ImportError, or sys.modules["ipywidgets"] = None
        return None


def in_kernel(shell: Any) -> bool:
    """A kernel with comms (what widgets need to reach a front end), not terminal IPython."""
    return getattr(getattr(shell, "kernel", None), "comm_manager", None) is not None


def use_panels(shell: Any, extension_present: bool) -> bool:
    """Whether the magics show ipywidgets panels: in a kernel whose front end has not
    announced the JupyterLab extension (it pushes the live notebook before a cell runs),
    and with ipywidgets importable."""
    return in_kernel(shell) and not extension_present and ipywidgets_module() is not None


class HintOnce:
    """Prints :data:`INSTALL_HINT` once per kernel where panels would help but ipywidgets
    is missing."""

    def __init__(self) -> None:
        self.shown = False

    def maybe(self, shell: Any, extension_present: bool) -> None:
        if self.shown or not in_kernel(shell) or extension_present or ipywidgets_module() is not None:
            return
        self.shown = True
        print(INSTALL_HINT, file=sys.stdout)


def escaped_pre(text: str, style: str = "") -> str:
    """``text`` as an HTML ``<pre>`` whose content is escaped: safe as an HTML widget's value."""
    return f'<pre style="margin:0;white-space:pre-wrap;{style}">{html.escape(text, quote=True)}</pre>'


_DIFF_COLOURS = {"+": "#116329", "-": "#82071e", "@": "#0550ae"}


def diff_html(diff: str) -> str:
    """A unified diff as escaped, coloured HTML lines (every line through html.escape)."""
    if not diff:
        return "<i>No changes proposed.</i>"
    rows = []
    for line in diff.splitlines():
        colour = _DIFF_COLOURS.get(line[:1], "")
        if line.startswith(("+++", "---")):
            colour = "#57606a"
        style = f' style="color:{colour}"' if colour else ""
        rows.append(f"<span{style}>{html.escape(line, quote=True) or ' '}</span>")
    return ('<pre style="margin:0;white-space:pre-wrap;font-family:var(--jp-code-font-family,monospace)">'
            + "\n".join(rows) + "</pre>")
