"""Where the neighbouring cells come from when a magic runs, best first.

1. ``live``: the notebook the JupyterLab extension pushed on comm target
   ``jupyter_twin.notebook`` just before the cell's execute request (a kernel cannot ask
   the front end while a cell runs, so the front end sends it first; the shell channel
   handles the two messages in order).
2. ``saved``: the notebook file named by ``__session__`` / ``JPY_SESSION_NAME``, read with
   nbformat, the running cell located by its cell id (or, failing that, by its text).
3. ``history``: the kernel's own input history.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cells import cell_dict, source_text
from ..errors import ContextError

NOTEBOOK_TARGET = "jupyter_twin.notebook"
MAGIC_PREFIXES = ("%%refactor", "%%explain", "%%complete", "%twin", "%%twin")


@dataclass
class NotebookContext:
    cells: list[dict]
    index: int
    source: str  # "live" | "saved" | "history"
    detail: str
    path: str | None = None
    cell_id: str | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.source}: {self.detail}"


class LiveNotebook:
    """The last notebook pushed by the front end (thread safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.push: dict[str, Any] | None = None
        self.received: float | None = None
        self.count = 0

    def update(self, data: Any) -> None:
        if not isinstance(data, dict) or data.get("action", "notebook") != "notebook":
            return
        cells = data.get("cells")
        if not isinstance(cells, list):
            return
        clean = []
        for cell in cells:
            try:
                clean.append(cell_dict(cell))
            except ContextError:  # not a cell (a newer front end's kind, a bug): left out
                continue
        with self._lock:
            self.push = {
                "path": data.get("path"),
                "cells": clean,
                "active_cell_id": data.get("active_cell_id"),
            }
            self.received = time.monotonic()
            self.count += 1

    @property
    def present(self) -> bool:
        """Whether a front end with the jupyter_twin extension has talked to this kernel."""
        return self.count > 0

    def snapshot(self) -> tuple[dict | None, float | None]:
        with self._lock:
            return self.push, self.received

    # comm target callback: comm.get_comm_manager().register_target(NOTEBOOK_TARGET, ...)
    def on_comm_open(self, comm: Any, open_msg: dict) -> None:
        self.update(open_msg.get("content", {}).get("data"))

        def on_msg(msg: dict) -> None:
            self.update(msg.get("content", {}).get("data"))

        comm.on_msg(on_msg)


def current_cell_id(shell: Any) -> str | None:
    """The running cell's id (JupyterLab and Notebook 7 send it with execute requests)."""
    get_parent = getattr(shell, "get_parent", None)
    if get_parent is None:
        return None
    try:
        parent = get_parent() or {}
    except Exception:
        return None
    metadata = parent.get("metadata") or {}
    cell_id = metadata.get("cellId") or metadata.get("cell_id")
    return str(cell_id) if cell_id else None


def session_path(shell: Any) -> str | None:
    ns = getattr(shell, "user_ns", {}) or {}
    value = ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
    return str(value) if value else None


def _resolve_notebook_file(value: str) -> Path | None:
    candidates = [Path(value)]
    if not Path(value).is_absolute():
        candidates.append(Path.cwd() / value)
        candidates.append(Path.cwd() / Path(value).name)  # the kernel runs in the notebook's folder
    for path in candidates:
        if path.suffix == ".ipynb" and path.is_file():
            return path
    return None


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def locate(cells: list[dict], cell_id: str | None, raw_cell: str | None) -> tuple[int | None, str]:
    if cell_id:
        for i, cell in enumerate(cells):
            if cell.get("id") == cell_id:
                return i, "by cell id"
        if any(cell.get("id") for cell in cells):
            # the cells carry ids and this one is not among them: a new, unsaved cell (a
            # text match would find a copy elsewhere)
            return None, ""
    if raw_cell is not None and raw_cell.strip():
        wanted = _normal(raw_cell)
        matches = [i for i, c in enumerate(cells) if _normal(source_text(c.get("source"))) == wanted]
        if len(matches) == 1:
            return matches[0], "by its text"
    return None, ""


def _with_active(cells: list[dict], index: int, body: str, cell_id: str | None) -> list[dict]:
    cells = [dict(c) for c in cells]
    active = dict(cells[index])
    active["cell_type"] = "code"
    active["source"] = body
    active.pop("outputs", None)
    if cell_id:
        active["id"] = cell_id
    cells[index] = active
    return cells


def from_live(live: LiveNotebook, cell_id: str | None, raw_cell: str, body: str,
              max_age: float = 600.0) -> NotebookContext | None:
    push, received = live.snapshot()
    if push is None or received is None:
        return None
    age = time.monotonic() - received
    active = push.get("active_cell_id")
    if cell_id is not None and active is not None and active != cell_id:
        return None  # the push was for another cell: stale
    if cell_id is None and age > max_age:
        return None
    index, how = locate(push["cells"], cell_id or active, raw_cell)
    if index is None:
        return None
    cells = _with_active(push["cells"], index, body, cell_id or active)
    detail = f"notebook pushed by the front end {age:.1f} s before this ran ({len(cells)} cells"
    if push.get("path"):
        detail += f", {push['path']}"
    detail += f"), running cell found {how}"
    return NotebookContext(cells, index, "live", detail, push.get("path"), cell_id or active)


def from_saved(shell: Any, cell_id: str | None, raw_cell: str, body: str) -> tuple[NotebookContext | None, str]:
    value = session_path(shell)
    if not value:
        return None, "no __session__ / JPY_SESSION_NAME"
    path = _resolve_notebook_file(value)
    if path is None:
        return None, f"saved notebook {value!r} not found"
    try:
        import nbformat

        with open(path, encoding="utf-8") as fh:
            nb = nbformat.read(fh, as_version=4)
    except Exception as exc:  # unreadable or not a notebook
        return None, f"saved notebook {path} unreadable ({type(exc).__name__})"
    cells = []
    for cell in nb.cells:
        try:
            cells.append(cell_dict(cell))
        except ContextError:
            continue
    index, how = locate(cells, cell_id, raw_cell)
    if index is None:
        return None, f"running cell not in saved notebook {path} (not saved yet?)"
    cells = _with_active(cells, index, body, cell_id)
    detail = f"saved notebook {path} ({len(cells)} cells), running cell found {how}"
    return NotebookContext(cells, index, "saved", detail, str(path), cell_id), ""


def is_twin_command(text: str) -> bool:
    """A jupyter_twin command cell (or just ``%load_ext jupyter_twin``): noise as context."""
    stripped = text.strip()
    return stripped.startswith(MAGIC_PREFIXES) or stripped in (
        "%load_ext jupyter_twin", "%reload_ext jupyter_twin")


def from_history(shell: Any, cell_id: str | None, body: str, max_cells: int = 40) -> NotebookContext:
    hist = list(getattr(getattr(shell, "history_manager", None), "input_hist_raw", []) or [])
    # IPython stores the running cell before executing it: the last entry is this cell
    previous = hist[1:-1] if hist else []
    cells = [
        {"cell_type": "code", "source": text}
        for text in previous
        if text.strip() and not is_twin_command(text)
    ][-max_cells:]
    active: dict[str, Any] = {"cell_type": "code", "source": body}
    if cell_id:
        active["id"] = cell_id
    cells.append(active)
    detail = f"kernel input history ({len(cells) - 1} earlier cells)"
    return NotebookContext(cells, len(cells) - 1, "history", detail, None, cell_id)


def resolve(shell: Any, live: LiveNotebook | None, raw_cell: str, body: str,
            prefer: str | None = None) -> NotebookContext:
    """The best context available for the running cell whose full text is ``raw_cell``
    and whose text for the model is ``body`` (the cell without its magic line)."""
    cell_id = current_cell_id(shell)
    notes: list[str] = []
    order = ["live", "saved", "history"]
    if prefer in order:
        order = order[order.index(prefer):]
    for source in order:
        if source == "live":
            if live is None or not live.present:
                notes.append("live: no notebook pushed by the front end")
                continue
            ctx = from_live(live, cell_id, raw_cell, body)
            if ctx is not None:
                ctx.notes = notes
                return ctx
            notes.append("live: the last push was for another cell")
        elif source == "saved":
            ctx, why = from_saved(shell, cell_id, raw_cell, body)
            if ctx is not None:
                ctx.notes = notes
                return ctx
            notes.append(f"saved: {why}")
        else:
            ctx = from_history(shell, cell_id, body)
            ctx.notes = notes
            return ctx
    raise AssertionError("unreachable")
