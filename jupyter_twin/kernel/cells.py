"""Small helpers shared by the magics and the notebook command line (no Jupyter imports)."""

from __future__ import annotations

import ast
import re

# A line holding only this marker (any indentation) is where ``complete`` fills in.
_MARKER_RE = re.compile(r"^([ \t]*)#[ \t]*\.\.\.[ \t]*$", re.MULTILINE)


def source_text(source) -> str:
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


def error_text(cell: dict) -> str | None:
    """The traceback text of a code cell's first error output, ANSI colours removed."""
    outputs = cell.get("outputs") if isinstance(cell, dict) else None
    if not isinstance(outputs, list):
        return None  # a hand-edited or broken notebook: no error output to read
    for output in outputs:
        # an output that is not an object (hand edited, another tool's bug) has no error
        # to read; skipping it beats a traceback in the middle of a magic or the CLI
        if not isinstance(output, dict) or output.get("output_type") != "error":
            continue
        lines = output.get("traceback")
        if not isinstance(lines, list) or not lines:
            lines = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return strip_ansi("\n".join(str(line) for line in lines))
    return None


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI_RE.sub("", text)
