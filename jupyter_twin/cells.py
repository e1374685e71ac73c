"""Notebook cells as the engine sees them, normalised from nbformat-style dicts."""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from .errors import ContextError


@dataclass
class Cell:
    cell_type: str
    source: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    id: str | None = None
    execution_count: int | None = None

    @property
    def is_code(self) -> bool:
        return self.cell_type == "code"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "".join(str(v) for v in value)
    raise ContextError(f"cell source must be a string or a list of strings, not {type(value).__name__}")


def to_cell(data: Mapping[str, Any] | Cell) -> Cell:
    if isinstance(data, Cell):
        return data
    if not isinstance(data, Mapping):
        raise ContextError(f"a cell must be a dict, not {type(data).__name__}")
    cell_type = data.get("cell_type", "code")
    if cell_type not in ("code", "markdown", "raw"):
        raise ContextError(f"unknown cell_type {cell_type!r}")
    outputs = data.get("outputs") or []
    if not isinstance(outputs, list):
        outputs = []
    count = data.get("execution_count")
    return Cell(
        cell_type=cell_type,
        source=_text(data.get("source", "")),
        outputs=[o for o in outputs if isinstance(o, Mapping)],
        id=data.get("id") if isinstance(data.get("id"), str) else None,
        execution_count=count if isinstance(count, int) else None,
    )


def to_cells(cells: Iterable[Mapping[str, Any] | Cell]) -> list[Cell]:
    if isinstance(cells, (str, bytes)):
        raise ContextError("cells must be a list of cell dicts")
    return [to_cell(c) for c in cells]


def check_position(cells: Sequence[Cell], index: int, cursor: int | None = None) -> int:
    """Validate index and clamp the cursor into the cell; return the cursor to use."""
    if not cells:
        raise ContextError("the notebook has no cells")
    if not isinstance(index, int) or not 0 <= index < len(cells):
        raise ContextError(f"cell index {index!r} is out of range (0..{len(cells) - 1})")
    length = len(cells[index].source)
    if cursor is None:
        return length
    if not isinstance(cursor, int) or cursor < 0:
        raise ContextError(f"cursor must be a non-negative integer, not {cursor!r}")
    return min(cursor, length)


def _output_text(output: Mapping[str, Any]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return _text(output.get("text"))
    if kind in ("execute_result", "display_data"):
        data = output.get("data") or {}
        return _text(data.get("text/plain")) if isinstance(data, Mapping) else ""
    return ""


_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f]")  # below " ", except tab and newline
# How much of one output is read: a summary keeps a few short lines, and a program can
# print megabytes (a per-character pass over all of them would hold the server).
MAX_OUTPUT_CHARS = 20_000


def _clean(text: str) -> str:
    # outputs may hold anything a program printed; drop what would confuse a tokenizer
    # lone surrogates come from bytes that were not UTF-8; they cannot be encoded to send
    text = _SURROGATES.sub("\ufffd", text)
    return _CONTROLS.sub("", text)


def error_text(cell: Cell, limit: int = 3000) -> str | None:
    """The cell's error output (ename, evalue and traceback without ANSI colours)."""
    for output in cell.outputs:
        if output.get("output_type") == "error":
            tb = output.get("traceback") or []
            text = "\n".join(_strip_ansi(str(line)) for line in tb if isinstance(line, str))
            head = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
            body = text if text else head
            if head not in body:
                body = body + "\n" + head
            # the end of a traceback says what went wrong; read only a window of it
            return _clean(body[-4 * limit:])[-limit:]
    return None


# reprs that say nothing about the data: "<Figure size 640x480 with 1 Axes>",
# "[<matplotlib.lines.Line2D at 0x7f...>]", "Text(0.5, 1.0, 'title')"; worse than
# nothing, because a small model copies them into the cell being completed
# (matched line by line: no pattern here crosses a newline)
_OBJECT_REPR = re.compile(r"^[^\S\n]*([\[(]?<[^<>=\n]*>(, <[^<>=\n]*>)*,?[\])]?|(Text|Line2D)\(.*\))\s*$")


def summarise_outputs(cell: Cell, limit: int = 300) -> str | None:
    """Errors and short text outputs only: long outputs and rich data are not worth tokens."""
    err = error_text(cell, limit=limit)
    if err:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        return f"error: {last}"[:limit]
    parts = []
    for output in cell.outputs:
        text = _clean(_output_text(output)[:MAX_OUTPUT_CHARS])
        text = "\n".join(l for l in text.splitlines() if not _OBJECT_REPR.match(l)).strip()
        if text:
            parts.append(text)
    if not parts:
        return None
    text = "\n".join(parts)
    if len(text) > limit:
        lines = text.splitlines()
        text = "\n".join(lines[:4])[:limit] + "\n..."
    return text


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
