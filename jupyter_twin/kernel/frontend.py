"""Talking to the front end: the ``jupyter_twin`` comm, diffs, and ``set_next_input``.

Protocol (docs/comm-protocol.md): for each action the kernel opens a comm on target
``jupyter_twin`` with the message as the open data and closes it at once, so a reloaded
page or a front end that registered its target late never holds a dead comm.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

FRONTEND_TARGET = "jupyter_twin"
DIFF_MIME = "application/vnd.jupyter-twin.diff+json"
# Model text shown by the magics: the JupyterLab extension renders it inert (markdown
# without raw HTML, remote images or command links); other front ends show text/plain.
TEXT_MIME = "application/vnd.jupyter-twin.text+json"
PROTOCOL_VERSION = 1


def send_action(message: dict[str, Any]) -> bool:
    """Open-and-close a comm carrying ``message``; False when no kernel comm is possible."""
    try:
        import comm as comm_pkg

        data = {"v": PROTOCOL_VERSION, **message}
        c = comm_pkg.create_comm(target_name=FRONTEND_TARGET, data=data)
        c.close()
        return True
    except Exception:
        return False


def insert_cell(cell_id: str | None, cell_type: str, source: str, *, task: str) -> bool:
    return send_action(
        {"action": "insert", "cell_id": cell_id, "cell_type": cell_type, "source": source, "task": task}
    )


def replace_cell(cell_id: str, source: str, *, original: str, task: str) -> bool:
    """Ask the front end to replace cell ``cell_id``. The front end asks the user first and
    does nothing unless the cell's current text is still ``original``."""
    return send_action({"action": "replace", "cell_id": cell_id, "cell_type": "code", "source": source,
                        "original": original, "task": task})


def fenced(text: str, info: str = "") -> str:
    """``text`` as one markdown fenced code block that nothing inside can end.

    JupyterLab renders the markdown of outputs from cells the user ran without sanitizing
    it, so model text must never reach it as markdown that could hold HTML. The body of a
    top-level fenced block is never parsed as markdown or HTML, and only a line of at least
    as many backticks closes it: the fence is one backtick longer than any run in ``text``.
    """
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{info}\n{body}{fence}"


def text_bundle(text: str, kind: str, note: str = "") -> dict[str, Any]:
    """A display bundle for model text (``kind`` "code" or "markdown") plus our own note.

    Never raw model text as ``text/markdown``: that is trusted output, where HTML runs.
    Code goes in a fence (safe markdown); markdown answers go as ``text/plain`` for front
    ends without the extension, and as :data:`TEXT_MIME` for the extension's inert renderer.
    """
    bundle: dict[str, Any] = {
        TEXT_MIME: {"v": PROTOCOL_VERSION, "kind": kind, "text": text, "note": note},
        "text/plain": text + (f"\n{note}" if note else ""),
    }
    if kind == "code":
        # the note is ours (a fixed sentence), never model text
        bundle["text/markdown"] = fenced(text, "python") + (f"\n\n_{note}_" if note else "")
    return bundle


def unified_diff(original: str, proposed: str) -> str:
    lines = difflib.unified_diff(
        original.splitlines(keepends=True),
        proposed.splitlines(keepends=True),
        fromfile="original",
        tofile="proposed",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n")
    return "".join(out)


def diff_bundle(cell_id: str | None, original: str, proposed: str, *, task: str,
                cell_type: str = "code") -> dict[str, Any]:
    """A display bundle: the JupyterLab extension renders the diff with Replace original,
    Insert below and Discard buttons; every other front end shows the markdown diff."""
    diff = unified_diff(original, proposed)
    return {
        DIFF_MIME: {
            "v": PROTOCOL_VERSION,
            "task": task,
            "cell_id": cell_id,
            "cell_type": cell_type,
            "original": original,
            "proposed": proposed,
            "diff": diff,
        },
        # a fence the proposed code cannot close (it may hold ``` and HTML)
        "text/markdown": fenced(diff, "diff") + "\n" if diff else "_No changes proposed._",
        "text/plain": diff or "No changes proposed.",
    }
