"""Notebook cells: the one place for every cell rule (what a cell is, its text, its error
output, where a completion goes in). The engine, the magics and the CLI all use it."""

from __future__ import annotations

import ast
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


def cell_dict(data: Mapping[str, Any] | Cell) -> dict[str, Any]:
    """A cell as the nbformat-shaped dict the kernel's notebook sources hand on (the source
    one string), by to_cell's rules; keys with nothing in them are left out."""
    cell = to_cell(data)
    out: dict[str, Any] = {"cell_type": cell.cell_type, "source": cell.source}
    if cell.id is not None:
        out["id"] = cell.id
    if cell.outputs:
        out["outputs"] = [dict(o) for o in cell.outputs]
    if cell.execution_count is not None:
        out["execution_count"] = cell.execution_count
    return out


def to_cells(cells: Iterable[Mapping[str, Any] | Cell]) -> list[Cell]:
    if isinstance(cells, (str, bytes)):
        raise ContextError("cells must be a list of cell dicts")
    return [to_cell(c) for c in cells]


def check_position(cells: Sequence[Cell], index: int, cursor: int | None = None) -> int:
    """The cursor to use (the cell's end for None), or ContextError for an index or a
    cursor outside the cell: a bad cursor is the caller's bug, never clamped silently."""
    if not cells:
        raise ContextError("the notebook has no cells")
    if not isinstance(index, int) or not 0 <= index < len(cells):
        raise ContextError(f"cell index {index!r} is out of range (0..{len(cells) - 1})")
    length = len(cells[index].source)
    if cursor is None:
        return length
    if not isinstance(cursor, int) or cursor < 0:
        raise ContextError(f"cursor must be a non-negative integer, not {cursor!r}")
    if cursor > length:
        raise ContextError(f"cursor {cursor} is out of range (0..{length})")
    return cursor


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


def error_text(cell: Cell | Mapping[str, Any], limit: int = 3000) -> str | None:
    """The traceback of a code cell's first error output, ANSI colours removed, ending in
    `ename: evalue`; None without one. Takes a Cell or a saved cell's dict: outputs that
    are not objects (a hand-edited notebook, another tool's bug) are skipped."""
    outputs = cell.outputs if isinstance(cell, Cell) else cell.get("outputs") if isinstance(cell, Mapping) else None
    if not isinstance(outputs, list):
        return None
    for output in outputs:
        if not isinstance(output, Mapping) or output.get("output_type") != "error":
            continue
        head = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        lines = output.get("traceback")
        text = "\n".join(strip_ansi(str(line)) for line in lines) if isinstance(lines, list) else ""
        body = text if text.strip() else head
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


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Text without ANSI colour codes (tracebacks are coloured)."""
    return _ANSI.sub("", text)


# --- where a completion goes in (the magics and the CLI) ---------------------------
# A line holding only this marker (any indentation) is where ``complete`` fills in.
_MARKER_RE = re.compile(r"^([ \t]*)#[ \t]*\.\.\.[ \t]*$", re.MULTILINE)


def source_text(source: Any) -> str:
    """nbformat stores a source as a str or as a list of lines."""
    if source is None:
        return ""
    if isinstance(source, str):
        return source
    return "".join(source)


def split_lines(text: str) -> list[str]:
    """The list-of-lines form nbformat writes: every line keeps its newline."""
    return text.splitlines(keepends=True)


def find_fill_point(code: str) -> tuple[str, int]:
    """Where ``complete`` asks the model to fill in.

    Returns ``(code_without_marker, cursor)``: with a ``# ...`` marker line the marker is
    removed (its indentation kept) and the cursor sits where it was; without one the
    cursor is at the end of the code (after a newline if the code ends a line).
    ``cursor`` counts code points, as the engine expects.
    """
    match = _MARKER_RE.search(code)
    if match is None:
        if ends_a_complete_line(code):
            # IPython may or may not leave the body's last newline: continuing after a
            # finished line means a new line, or the model writes nothing (or glues code on)
            code += "\n"
        return code, len(code)
    start = match.start() + len(match.group(1))
    return code[:start] + code[match.end():], start


def ends_a_complete_line(code: str) -> bool:
    """True when the code's last line is finished, so that "continue at the end" means the
    next line: a block opener (``def f():``), a comment, or a line ending in a closing
    bracket or quote where the code parses. A half-typed name (``np.su``) is not finished."""
    last = code.rsplit("\n", 1)[-1].rstrip()
    if not last.strip():
        return False
    if last.endswith(":") or last.lstrip().startswith("#"):
        return True
    if last[-1] not in ")]}\"'":
        return False
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def join_completion(code: str, cursor: int, completion: str) -> str:
    """The cell text after inserting ``completion`` at ``cursor``."""
    return code[:cursor] + completion + code[cursor:]


def strip_magic_line(raw_cell: str) -> str:
    """A cell's text without its leading ``%%magic`` line."""
    if raw_cell.lstrip().startswith("%%"):
        text = raw_cell.lstrip()
        newline = text.find("\n")
        return "" if newline < 0 else text[newline + 1:]
    return raw_cell
