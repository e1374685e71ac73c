"""Cleaning raw completions into exactly the text the inline completer inserts."""

from __future__ import annotations

import functools
import re

# where a cell ends in the prompt's own notation: the next cell's marker, a fence, or the
# "# Out:" comment that context.render_cell puts after a cell's code
# (whitespace within the line only: ``^\s*`` under re.M runs across every blank line after
# each line start, quadratic in a run of blank lines; see _marker)
_CELL_MARKERS = re.compile(r"^[^\S\n]*(# %%|# In\[|#%%|```|# Out:)", re.M)
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}

# How much of the text around the cursor cleaning reads: the engine sends at most a few
# thousand characters each side, and a caller with a whole 2 MB cell must not make the
# bracket counting (a Python loop) run over all of it.
MAX_CONTEXT_CHARS = 65_536
# (and of the model's text: a completion is a few hundred tokens)
# The longest overlap between a completion's end and the text after the cursor that is
# looked for (each size tried is one endswith: quadratic without a bound).
MAX_OVERLAP_CHARS = 4096


def current_line(prefix: str) -> str:
    return prefix[prefix.rfind("\n") + 1:]


def previous_code_line(prefix: str) -> str:
    lines = prefix.split("\n")[:-1]
    for line in reversed(lines):
        if line.strip() and not line.strip().startswith("#"):
            return line
    return ""


def completion_mode(prefix: str, suffix: str) -> str:
    """'line' for the rest of a line, 'block' for the body after a colon."""
    line = current_line(prefix)
    rest_of_line = suffix.split("\n", 1)[0]
    header = previous_code_line(prefix)
    if line.strip() == "" and rest_of_line.strip() == "" and header.rstrip().endswith(":"):
        # a body that already has lines below the cursor needs one line, not a block
        following = [l for l in suffix.split("\n")[1:] if l.strip()]
        if following and _indent(following[0]) > _indent(header):
            return "line"
        return "block"
    return "line"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _bracket_depth(text: str) -> int:
    depth = 0
    in_str: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if in_str:
            if ch == "\\":
                i += 2
                continue
            if text.startswith(in_str, i):
                i += len(in_str)
                in_str = None
                continue
        elif ch == "#":
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        elif text.startswith('"""', i) or text.startswith("'''", i):
            in_str = text[i:i + 3]
            i += 3
            continue
        elif ch in "\"'":
            in_str = ch
        elif ch in _OPENERS:
            depth += 1
        elif ch in _CLOSERS:
            depth -= 1
        i += 1
    return depth


# the same prefix is cleaned again at every streamed delta (TaskStream.partial): counting
# its brackets once keeps that per-delta call at a fraction of a millisecond for big cells
_prefix_depth = functools.lru_cache(maxsize=16)(_bracket_depth)


def strip_suffix_overlap(completion: str, suffix: str) -> str:
    """Drop the tail of the completion that the text after the cursor already has."""
    rest = suffix.split("\n", 1)[0] if "\n" not in completion else suffix
    rest_stripped = rest.strip()
    if not rest_stripped:
        return completion
    comp = completion.rstrip()
    for size in range(min(len(comp), len(rest_stripped), MAX_OVERLAP_CHARS), 0, -1):
        if comp.endswith(rest_stripped[:size]) and (size > 2 or rest_stripped[:size] in _CLOSERS or size == len(rest_stripped)):
            return comp[: len(comp) - size]
    return completion


def _marker(text: str) -> int | None:
    """Where the text before the first cell marker ends, or None without a marker.

    The same cut as the old ``^\\s*(marker)`` match: blank lines just before the marker
    go with it (the whole text if only blanks precede it), the newline of the last line
    with text stays."""
    m = _CELL_MARKERS.search(text)
    if m is None:
        return None
    head = text[: m.start()]
    keep = len(head.rstrip())
    if keep == 0:
        return 0
    nl = head.find("\n", keep)
    return nl + 1 if nl >= 0 else len(head)


# the last piece of the line before the cursor, back to a space, quote, opening bracket
# or comma: 'degree=' in 'plt.title(f"degree='
_PIECE_ENDS = frozenset("\"'([{,")


def _last_piece(line: str) -> str:
    """Scanned back from the end (``re.search(r"[^\\s...]+\\Z")`` restarts at every
    character of a long run that does not reach the end: quadratic)."""
    i = len(line)
    while i > 0 and not (line[i - 1].isspace() or line[i - 1] in _PIECE_ENDS):
        i -= 1
    return line[i:]


def strip_prefix_echo(completion: str, prefix: str) -> str:
    """Models sometimes start by repeating the line being typed, or its last piece
    (prefix 'f"degree=', completion 'degree={d}"'): drop the repeat."""
    line = current_line(prefix)
    if line.strip() and len(line.strip()) >= 4:
        stripped = line.lstrip()
        if completion.startswith(stripped) and stripped != completion:
            return completion[len(stripped):]
    piece = _last_piece(line)
    # code never starts by repeating the piece before the cursor (docs/benchmarks.md)
    if len(piece) >= 3 and completion.startswith(piece) and completion != piece:
        return completion[len(piece):]
    return completion


def clean_completion(raw: str, prefix: str, suffix: str, *, stop_markers: bool = True) -> str:
    prefix, suffix = prefix[-MAX_CONTEXT_CHARS:], suffix[:MAX_CONTEXT_CHARS]
    text = raw[:MAX_CONTEXT_CHARS].replace("\r\n", "\n")
    # the end of the cell: a model that goes on into the next cell or a fence has finished
    if stop_markers:
        cut = _marker(text)
        if cut is not None:
            text = text[:cut]
    text = strip_prefix_echo(text, prefix)
    mode = completion_mode(prefix, suffix)
    line = current_line(prefix)
    if mode == "line":
        first, _, rest = text.partition("\n")
        if first.strip() == "" and rest and line.strip() == "":
            # cursor at the start of an empty line: the model began with a newline
            first = rest.split("\n", 1)[0]
            if line and first.startswith(line):
                first = first[len(line):]
        if line and not line.strip() and first[:1] in (" ", "\t"):
            # the cursor's line already holds the indentation
            first = first.lstrip(" \t")
        text = first
        # closers beyond what the cell has opened before the cursor (calls may span lines)
        # are the model closing brackets that do not exist
        open_before = max(0, _prefix_depth(prefix))
        if _bracket_depth(text) < -open_before:
            text = _trim_unbalanced_closers(text, open_before)
    else:
        text = _clean_block(text, prefix)
    text = strip_suffix_overlap(text, suffix)
    if mode == "line" and not line.strip() and is_last_line_again(line + text, suffix):
        return ""
    return text.rstrip()


def is_last_line_again(full_line: str, suffix: str) -> bool:
    """A whole-line suggestion that is the cell's last line, indentation and all: the model
    jumped to the end of the cell (`plt.show()` at any empty line of a plotting cell):
    always wrong where measured (docs/benchmarks.md, "Numbers behind the code"). A line
    repeated anywhere below is too common to drop (`return False`)."""
    below = [l.rstrip() for l in suffix.split("\n") if l.strip()]
    return bool(full_line.strip()) and bool(below) and full_line.rstrip() == below[-1]


def _trim_unbalanced_closers(text: str, allowed: int = 0) -> str:
    depth = 0
    for i, ch in enumerate(text):
        if ch in _OPENERS:
            depth += 1
        elif ch in _CLOSERS:
            depth -= 1
            if depth < -allowed:
                return text[:i]
    return text


def _clean_block(text: str, prefix: str) -> str:
    """The body of a block: lines indented deeper than the header, up to the dedent."""
    header = previous_code_line(prefix)
    base = _indent(header)
    line = current_line(prefix)
    lines = text.split("\n")
    # the first line continues the current line, which already holds its indentation
    first = lines[0]
    if line and first.startswith(line) and len(line) > 0 and first.strip():
        first = first[len(line):]
    elif line and first.strip():
        first = first.lstrip(" \t") if _indent(line) > base else first
    elif not first.strip() and len(lines) > 1:
        # the model started on a new line: the cursor's line already has the indentation
        lines = lines[1:]
        first = lines[0][len(line):] if lines[0].startswith(line) else lines[0].lstrip()
    body_indent = _indent(line) if line.strip() == "" else base + 4
    out = [first]
    depth = _bracket_depth(prefix.split("\n")[-1] + first)
    blank_run = 0
    for raw_line in lines[1:]:
        if not raw_line.strip():
            blank_run += 1
            if blank_run >= 2:
                break
            out.append("")
            continue
        if depth <= 0 and _indent(raw_line) < body_indent:
            break
        blank_run = 0
        out.append(raw_line)
        depth += _bracket_depth(raw_line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def is_finished(raw: str, prefix: str, suffix: str) -> bool:
    """True once the raw text holds a whole suggestion, so the model can be stopped early
    instead of generating tokens that cleaning would throw away."""
    prefix, suffix = prefix[-MAX_CONTEXT_CHARS:], suffix[:MAX_CONTEXT_CHARS]
    text = raw[:MAX_CONTEXT_CHARS].replace("\r\n", "\n")
    cut = _marker(text)
    if cut:  # text before the marker: the suggestion is whole
        return True
    mode = completion_mode(prefix, suffix)
    line = current_line(prefix)
    if mode == "line":
        if line.strip() == "":
            # at the start of an empty line the model may open with a newline
            stripped = text.lstrip("\n")
            return "\n" in stripped and stripped.split("\n", 1)[0].strip() != ""
        return "\n" in text
    header = previous_code_line(prefix)
    body_indent = _indent(line) if line.strip() == "" else _indent(header) + 4
    lines = text.split("\n")
    if len(lines) < 2:
        return False
    if "\n\n\n" in text:
        return True
    depth = _bracket_depth(prefix.split("\n")[-1] + lines[0])
    for done_line in lines[1:-1]:  # the last line may still be growing
        if not done_line.strip():
            continue
        if depth <= 0 and _indent(done_line) < body_indent:
            return True
        depth += _bracket_depth(done_line)
    last = lines[-1]
    # a line that has begun with text at a lower indentation ends the block already
    return bool(last.strip()) and depth <= 0 and _indent(last) < body_indent


_PARTIAL = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,23}\Z")


def partial_word(prefix: str, suffix: str) -> str:
    """The identifier being typed at the cursor, if the cursor ends it ('' otherwise)."""
    if suffix[:1].isalnum() or suffix[:1] == "_":
        return ""
    m = _PARTIAL.search(prefix)
    if not m:
        return ""
    start = m.start()
    if start > 0 and (prefix[start - 1].isalnum() or prefix[start - 1] == "_"):
        return ""  # longer than we heal
    return m.group(0)


def unheal(raw: str, heal: str) -> str:
    """The text after the typed part of the word; '' if the model wrote another word."""
    if not heal:
        return raw
    return raw[len(heal):] if raw.startswith(heal) else ""


_MARKERS = ("# %%", "# In[", "#%%", "```", "# Out:")


def hold_back(text: str, raw: str, prefix: str, suffix: str) -> str:
    """What streaming ghost text shows of ``text`` (the cleaning of ``raw``, the model's
    text so far): ``text`` less what cleaning would take away again once the model writes
    a little more, so each update is one the final text starts with:

    - a last line that is the start of a cell marker (``#``, ``# %``, two backticks): cut
      once the marker is whole;
    - a repeat of the line or piece before the cursor still being written (``plt`` after
      ``x = plt.``): dropped once whole;
    - on an empty line, the start of the cell's last line: the whole line would be the
      model jumping to the cell's end (``is_last_line_again``), dropped.

    Costs a few string comparisons: called for every batch of streamed deltas."""
    if not text:
        return text
    prefix, suffix = prefix[-MAX_CONTEXT_CHARS:], suffix[:MAX_CONTEXT_CHARS]
    head, _, last = text.rpartition("\n")
    start = last.lstrip()
    if start and raw.rstrip(" \t").endswith(last) and any(m.startswith(start) and m != start for m in _MARKERS):
        text = head.rstrip()
        if not text:
            return ""
    line = current_line(prefix)
    stripped = line.lstrip()
    piece = _last_piece(line)
    if (len(stripped.strip()) >= 4 and stripped.startswith(text) and text != stripped) or (
        len(piece) >= 3 and piece.startswith(text) and text != piece
    ):
        return ""
    if not line.strip() and "\n" not in text and completion_mode(prefix, suffix) == "line":
        below = [l.rstrip() for l in suffix.split("\n") if l.strip()]
        if below and below[-1].startswith((line + text).rstrip()):
            return ""
    return text
