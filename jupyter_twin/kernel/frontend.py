"""Talking to the front end: the ``jupyter_twin`` comm, diffs, and ``set_next_input``.

Protocol (docs/comm-protocol.md): for each action the kernel opens a comm on target
``jupyter_twin`` with the message as the open data and closes it at once, so a reloaded
page or a front end that registered its target late never holds a dead comm.
"""

from __future__ import annotations

import difflib
from typing import Any

FRONTEND_TARGET = "jupyter_twin"
DIFF_MIME = "application/vnd.jupyter-twin.diff+json"
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


def replace_cell(cell_id: str, source: str, *, task: str) -> bool:
    return send_action({"action": "replace", "cell_id": cell_id, "cell_type": "code", "source": source, "task": task})


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
        "text/markdown": f"```diff\n{diff}```\n" if diff else "_No changes proposed._",
        "text/plain": diff or "No changes proposed.",
    }
