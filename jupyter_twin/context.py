"""Notebook context: which other cells (and kernel facts) go with the cell being edited.

Context is chosen, not dumped: cells that define names the active cell uses come first,
then near cells, then cells that share names; markdown near the cell becomes comments;
outputs are reduced to errors and short text. Everything is rendered as one Python script
in the percent format (`# %%` per cell), the kind of text code models were trained on.

What is chosen must not change while the user types (so the backend's prompt cache is
reused): the choice depends on the other cells, the kernel facts and the active cell
WITHOUT the line being typed.
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .cells import Cell, summarise_outputs

TokenCounter = Callable[[str], int]

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMON = set(keyword.kwlist) | set(dir(builtins)) | {"self", "cls", "np", "pd", "plt", "i", "j", "k", "x", "y"}
_KEYWORDS = frozenset(keyword.kwlist)
# Every pattern here runs on text the user (or a downloaded notebook) wrote, in the
# server's thread while it holds the GIL, so each one must be linear in the text:
# ``[^\S\n]`` ("whitespace within the line") where a line is meant, never ``\s`` under
# ``re.M`` (``^\s*`` restarts at every line start and runs across every blank line
# after it: quadratic), and no two quantifiers that can match the same characters.
_WS = r"[^\S\n]"
_DEF_PATTERNS = (
    re.compile(rf"^{_WS}*(?:async{_WS}+)?def{_WS}+([A-Za-z_]\w*)", re.M),
    re.compile(rf"^{_WS}*class{_WS}+([A-Za-z_]\w*)", re.M),
    re.compile(
        rf"^{_WS}*import{_WS}+([\w.]+(?:{_WS}+as{_WS}+\w+)?(?:{_WS}*,{_WS}*[\w.]+(?:{_WS}+as{_WS}+\w+)?)*)",
        re.M,
    ),
    re.compile(rf"^{_WS}*from{_WS}+[\w.]+{_WS}+import{_WS}+\(?([^)\n]+)", re.M),
    re.compile(
        rf"^{_WS}*((?:[A-Za-z_]\w*{_WS}*,{_WS}*)*[A-Za-z_]\w*){_WS}*(?::[^=\n]+)?=(?!=)", re.M
    ),
    # the target list ends at a word character, so the lazy group and the blanks before
    # "in" never compete for the same run of spaces
    re.compile(rf"^{_WS}*for{_WS}+((?:[\w,]|{_WS})*?\w){_WS}+in\b", re.M),
    re.compile(rf"\bas{_WS}+([A-Za-z_]\w*){_WS}*:"),
)
# a string literal on one line; the body alternatives are disjoint (an escape, or any
# character but the quote, a backslash or a newline), so an unclosed quote costs one scan
_LINE_STRING = re.compile(r"'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"")
_COMMENT = re.compile(r"#[^\n]*")
# How much of one cell the name analysis reads (a 2 MB cell is data pasted into code;
# its first 64 KiB say what it defines). Bounds the time per cell whatever the text.
MAX_ANALYSED_CHARS = 65_536


def estimate_tokens(text: str) -> int:
    # code averages a little over 3 characters per token in the BPE vocabularies of code models
    return max(1, (len(text) + 2) // 3) if text else 0


# The three below are asked about every cell above the cursor at every keystroke, and
# the cells rarely change between two keystrokes: answers are kept per source text
# (a 2,300-cell notebook took 86 ms a request without, most of it here).
_PER_SOURCE = 4096


@functools.lru_cache(maxsize=_PER_SOURCE)
def defined_names(source: str) -> frozenset[str]:
    """Names a cell defines (def, class, import, assignment, for, with/except ... as)."""
    names: set[str] = set()
    source = source[:MAX_ANALYSED_CHARS]
    for pattern in _DEF_PATTERNS:
        for match in pattern.finditer(source):
            chunk = match.group(1)
            for part in chunk.split(","):
                part = part.strip()
                if " as " in part:
                    part = part.split(" as ")[-1]
                part = part.split(".")[0].strip()
                if part and IDENT.fullmatch(part):
                    names.add(part)
    return frozenset(names)


@functools.lru_cache(maxsize=_PER_SOURCE)
def used_names(source: str) -> frozenset[str]:
    """Identifiers a cell mentions outside comments and one-line strings."""
    code = _COMMENT.sub("", source[:MAX_ANALYSED_CHARS])
    code = _LINE_STRING.sub("", code)
    return frozenset(n for n in IDENT.findall(code) if n not in _KEYWORDS)


@dataclass
class Source:
    """Where a piece of context came from (shown by `%twin context` and previews)."""

    cell: int | None
    kind: str
    reason: str
    tokens: int

    def describe(self) -> str:
        where = f"cell {self.cell}" if self.cell is not None else self.kind
        return f"{where}: {self.reason} ({self.tokens} tokens)"


@dataclass
class Context:
    stable: str
    prefix: str
    suffix: str
    sources: list[Source] = field(default_factory=list)
    # the kernel-facts block alone (also inside `stable`), for chat prompts that list it apart
    facts: str = ""

    @property
    def cell_text(self) -> str:
        return self.prefix + self.suffix


@dataclass
class ContextOptions:
    budget_tokens: int = 1536
    max_prefix_tokens: int = 1536
    max_suffix_tokens: int = 512
    include_below: bool = True
    include_markdown: bool = True
    include_outputs: bool = True
    # "notebook" chooses cells; "cell" sends the active cell alone
    strategy: str = "notebook"
    #: markdown anywhere above (completion: whether a cell goes in must not depend on its
    #: distance), or only the 3 cells just above (chat tasks: far prose made the chat
    #: model answer a refactor in prose)
    far_markdown: bool = True


def _comment(text: str) -> str:
    return "\n".join(("# " + line).rstrip() for line in text.strip().splitlines())


@functools.lru_cache(maxsize=_PER_SOURCE)
def python_only(source: str) -> str:
    """The cell without IPython magics and shell escapes: they are not Python, and a code
    model copies them back as nonsense ("# %%config ...")."""
    # the same as dropping each line whose lstrip() starts with % or ! from
    # source.split("\n"), in C: a per-line Python loop over a 2 MB cell of blank lines
    # took a third of a second, twice per cell per request
    if not _MAGIC_LINE.search(source):
        return source
    kept = _MAGIC_LINE_SUB.sub("", source)
    if _MAGIC_LAST_LINE.search(source) and kept.endswith("\n"):
        kept = kept[:-1]  # the dropped last line took no newline of its own with it
    return kept


_MAGIC_LINE = re.compile(r"^[^\S\n]*[%!]", re.M)
_MAGIC_LINE_SUB = re.compile(r"^[^\S\n]*[%!][^\n]*\n?", re.M)
_MAGIC_LAST_LINE = re.compile(r"(?:^|\n)[^\S\n]*[%!][^\n]*\Z")


def render_cell(cell: Cell, *, with_output: bool = True, max_chars: int | None = None) -> str:
    if cell.cell_type in ("markdown", "raw"):
        text = cell.source
        if max_chars is not None and len(text) > 4 * max_chars:
            # far over any budget already (the caller drops it): comment only a window
            text = text[: 4 * max_chars] + "\n..."
        return f"# %% [{cell.cell_type}]\n" + _comment(text)
    body = python_only(cell.source).rstrip()
    if max_chars is not None and len(body) > max_chars:
        cut = body[:max_chars]
        body = cut[: cut.rfind("\n")] if "\n" in cut else cut
        body += "\n# ..."
    text = "# %%\n" + body
    if with_output:
        out = summarise_outputs(cell)
        if out:
            text += "\n" + _comment("Out: " + out)
    return text


def render_kernel_facts(facts: Sequence[Mapping[str, Any]], max_chars: int = 1500) -> str:
    """A compact block of what the live kernel knows about the names the cell uses."""
    lines = []
    for fact in facts:
        name = fact.get("name")
        if not name:
            continue
        kind = fact.get("type") or "object"
        parts = [f"{name}: {kind}"]
        if fact.get("module") and kind == "module":
            parts = [f"{name}: module {fact['module']}"]
        if fact.get("signature"):
            parts.append(f"{fact['signature']}")
        if fact.get("shape") is not None:
            parts.append(f"shape={tuple(fact['shape'])}")
        elif fact.get("len") is not None:
            parts.append(f"len={fact['len']}")
        if fact.get("dtype"):
            parts.append(f"dtype={fact['dtype']}")
        columns = fact.get("columns")
        if isinstance(columns, Mapping) and columns:
            cols = ", ".join(f"{c!r}:{t}" for c, t in list(columns.items())[:40])
            more = " ..." if len(columns) > 40 else ""
            parts.append(f"columns={{{cols}{more}}}")
        elif isinstance(columns, (list, tuple)) and columns:
            parts.append("columns=" + repr(list(columns)[:40]))
        keys = fact.get("keys")
        if isinstance(keys, (list, tuple)) and keys:
            parts.append("keys=" + repr(list(keys)[:20]))
        index = fact.get("index")
        if index:
            parts.append(f"index={str(index)[:80]}")
        if fact.get("value") is not None:
            parts.append(f"value={str(fact['value'])[:80]}")
        if fact.get("doc"):
            parts.append(f"- {str(fact['doc'])[:80]}")
        lines.append("# " + " ".join(parts))
    if not lines:
        return ""
    text = "# %% kernel state (live variables)\n" + "\n".join(lines)
    return text[:max_chars]


def _clip_prefix(prefix: str, max_chars: int) -> str:
    if len(prefix) <= max_chars:
        return prefix
    cut = prefix[-max_chars:]
    nl = cut.find("\n")
    return cut[nl + 1:] if 0 <= nl < len(cut) - 1 else cut


def _clip_suffix(suffix: str, max_chars: int) -> str:
    if len(suffix) <= max_chars:
        return suffix
    cut = suffix[:max_chars]
    nl = cut.rfind("\n")
    return cut[:nl] if nl > 0 else cut


def _without_current_line(prefix: str, suffix: str) -> str:
    """The cell minus the word being typed: what the choice of context may depend on."""
    # the partial identifier at the cursor changes on every keystroke; whole words before
    # it change rarely, and they are often the names that other cells define
    head = prefix[: len(prefix) - _trailing_identifier(prefix)]
    tail = suffix[suffix.find("\n"):] if "\n" in suffix else ""
    # only the text near the cursor is analysed (see MAX_ANALYSED_CHARS)
    half = MAX_ANALYSED_CHARS // 2
    return head[-half:] + tail[:half]


def _trailing_identifier(text: str) -> int:
    """Length of the identifier that ends ``text`` (0 if none), scanning back from the
    end: ``re.sub(r"[A-Za-z_]\\w*\\Z", ...)`` is quadratic on a long run of letters
    that does not reach the end, because the search restarts at every letter."""
    i = len(text)
    while i > 0 and (text[i - 1] in _IDENT_CHARS):
        i -= 1
    while i < len(text) and text[i].isdigit():  # an identifier cannot start with a digit
        i += 1
    return len(text) - i


_IDENT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def build_context(
    cells: Sequence[Cell],
    index: int,
    cursor: int,
    *,
    kernel_facts: Sequence[Mapping[str, Any]] | None = None,
    options: ContextOptions | None = None,
    count: TokenCounter = estimate_tokens,
) -> Context:
    opts = options or ContextOptions()
    active = cells[index]
    prefix = _clip_prefix(active.source[:cursor], opts.max_prefix_tokens * 4)
    suffix = _clip_suffix(active.source[cursor:], opts.max_suffix_tokens * 4)
    # keep exact token limits when a tokenizer is at hand, cheaply: only re-clip if over
    while count(prefix) > opts.max_prefix_tokens and len(prefix) > 64:
        prefix = _clip_prefix(prefix, int(len(prefix) * 0.8))
    while count(suffix) > opts.max_suffix_tokens and len(suffix) > 64:
        suffix = _clip_suffix(suffix, int(len(suffix) * 0.8))

    facts_text = render_kernel_facts(kernel_facts or []) if opts.strategy != "cell" else ""
    if opts.strategy == "cell":
        return Context(stable="", prefix=prefix, suffix=suffix)
    steady = _without_current_line(active.source[:cursor], active.source[cursor:])
    layout = lay_out(cells, index, steady, opts, count, facts_text, len(kernel_facts or []))
    parts = [text for _j, text in layout.blocks]
    if layout.facts:
        parts.append(layout.facts)
    stable = "\n\n".join(parts)
    stable = stable + "\n\n# %%\n" if stable else ""
    return Context(stable=stable, prefix=prefix, suffix=suffix, sources=layout.sources, facts=layout.facts)


# The layout that survives moving between cells. The backend reuses the longest common
# start of two prompts, so what comes first must change least often:
#   0. up to BELOW_CELLS cells below, first: far from the cursor, where the model does not
#      take them for the lines just before it (docs/benchmarks.md, "Context that survives
#      a cell switch"). While a notebook is written top-down there are none; when there
#      are, a move between cells evaluates everything again;
#   1. the window: the cells just above, in notebook order, from a first cell that only
#      moves in steps (WINDOW_STEP); going on to the next cell appends the cell
#      just left to it; nothing before is evaluated again;
#   2. pins: cells above the window that define names the cell uses (they change when the
#      cell starts using other names: only they and what follows are evaluated again);
#   3. the kernel facts (they change at every execution), then the cell itself.
#: the window's share of the budget; it does not depend on the facts or on the active
#: cell's text, or it would move while the user types or runs cells
WINDOW_SHARE = 0.6
#: cells below get at most this share and at most BELOW_CELLS of them
BELOW_SHARE = 0.15
BELOW_CELLS = 3
#: the window's start moves in steps of 1/WINDOW_STEP of its budget: moving it evaluates
#: the window again, so it moves once a quarter of the window has been added, not at every
#: cell; the window is always at least 3/4 full
WINDOW_STEP = 4


@dataclass
class Layout:
    blocks: list[tuple[int, str]]
    facts: str
    sources: list[Source]
    window_start: int


def _is_candidate(cell: Cell, opts: ContextOptions) -> bool:
    if not cell.source.strip() or cell.cell_type == "raw":
        return False
    if cell.cell_type != "code":
        return opts.include_markdown
    return bool(python_only(cell.source).strip())


def lay_out(
    cells: Sequence[Cell], index: int, steady_source: str, opts: ContextOptions, count: TokenCounter,
    facts_text: str = "", facts_count: int = 0,
) -> Layout:
    """Which cells go into the context, in which order, within `opts.budget_tokens`."""
    budget = opts.budget_tokens
    window_budget = int(budget * WINDOW_SHARE)
    # a cell may take at most about half of the window (about 3 characters per token);
    # fixed, so that a cell's text in the prompt does not depend on what else is chosen
    cell_chars = max(200, window_budget * 3 // 2)
    texts: dict[int, str] = {}
    rendered: dict[int, tuple[str, int]] = {}

    def text(j: int) -> str:
        if j not in texts:
            texts[j] = render_cell(cells[j], with_output=opts.include_outputs, max_chars=cell_chars)
        return texts[j]

    def render(j: int) -> tuple[str, int]:
        if j not in rendered:
            rendered[j] = (text(j), count(text(j)) + 1)
        return rendered[j]

    # every cell above may go in, markdown too (as comments): whether a cell is in the
    # window depends on the cell alone, never on its distance to the active cell, or
    # moving down would drop cells from the middle of the window
    above = [j for j in range(index) if _is_candidate(cells[j], opts)
             and (opts.far_markdown or cells[j].cell_type == "code" or index - j <= 3)]
    # where the window starts: a point on a grid of WINDOW_STEP tokens counted from the top
    # of the notebook, the first such point from which the cells up to the active one fit;
    # it moves only when a grid step's worth of cells has been added above. Positions are
    # estimated from the cells as rendered (outputs and headers too; the exact count of
    # every cell above would tokenize the whole notebook), which is cheap and enough for a grid
    positions: list[int] = []
    end = 0
    for j in above:
        positions.append(end)
        end += estimate_tokens(text(j)) + 1
    step = max(1, window_budget // WINDOW_STEP)

    def from_grid(point: int) -> list[int]:
        return [j for j, at in zip(above, positions) if at >= point]

    def fits(cells_in: list[int]) -> bool:
        return sum(render(j)[1] for j in cells_in) <= window_budget

    grid = max(0, -(-(end - window_budget) // step) * step)
    # estimates are not counts: the start moves by whole grid steps, never cell by cell
    # (one cell at a time, it moved at nearly every cell switch and the whole window was
    # evaluated again), up while the exact count fits, down until it does
    while grid >= step and fits(from_grid(grid - step)):
        grid -= step
    window = from_grid(grid)
    while window and not fits(window):
        grid += step
        window = from_grid(grid)
    start = window[0] if window else index
    used = sum(render(j)[1] for j in window)

    sources: list[Source] = []
    names_used = used_names(steady_source) - _COMMON
    names_all = used_names(steady_source)
    counts = [c.execution_count for c in cells if c.execution_count]
    latest = max(counts) if counts else None

    def reason(j: int) -> tuple[float, str]:
        return _score(cells[j], j, index, names_used, names_all, latest)

    for j in window:
        sources.append(Source(j, cells[j].cell_type, reason(j)[1], render(j)[1]))

    left = max(0, budget - used)
    facts = facts_text
    if facts:
        tokens = count(facts)
        if tokens <= min(left, budget // 2):
            left -= tokens
            sources.append(Source(None, "kernel", f"{facts_count} live variables", tokens))
        else:
            facts = ""

    below: list[int] = []
    if opts.include_below:
        room = min(left, int(budget * BELOW_SHARE))
        for j in range(index + 1, len(cells)):
            if len(below) >= BELOW_CELLS:
                break
            if cells[j].cell_type != "code" or not _is_candidate(cells[j], opts):
                continue
            tokens = render(j)[1]
            if tokens <= room:
                below.append(j)
                room -= tokens
                left -= tokens

    # pins: the best of the cells above the window that provide names the cell uses
    pins: list[int] = []
    ranked = sorted(
        ((reason(j), j) for j in above if j < start and cells[j].cell_type == "code"),
        key=lambda r: (-r[0][0], abs(r[1] - index)),
    )
    for _, j in ranked:
        # a pin defines a name the cell uses, other than a conventional alias or a loop
        # name (pd, np, plt, i, x: _COMMON): the model knows what `pd.` is, and the import
        # cell it would pin came mid-line (at `pd.`) and cost a whole cell's evaluation
        # (about 250 tokens, 2 s on 2 cores) before the next ghost text
        if not (defined_names(cells[j].source) & names_used):
            continue
        tokens = render(j)[1]
        if tokens <= left:
            pins.append(j)
            left -= tokens
    pins.sort()
    for j in pins:
        sources.append(Source(j, cells[j].cell_type, reason(j)[1], render(j)[1]))
    for j in below:
        sources.append(Source(j, cells[j].cell_type, reason(j)[1], render(j)[1]))

    blocks = [(j, render(j)[0]) for j in below + window + pins]
    sources.sort(key=lambda s: (s.cell is None, s.cell if s.cell is not None else 0))
    return Layout(blocks=blocks, facts=facts, sources=sources, window_start=start)


def _score(cell: Cell, j: int, index: int, used: set[str], used_all: set[str], latest: int | None) -> tuple[float, str]:
    """How useful cell j is to the active cell, and why (shown by `%twin context`)."""
    below = j > index
    distance = abs(j - index)
    if cell.cell_type != "code":
        return 1.0 / distance, "markdown above" if not below else "markdown below"
    defs = defined_names(cell.source)
    provides = defs & used_all
    shared = (used_names(cell.source) & used) - defs
    score = (2.0 if not below else 1.0) / (1 + distance)
    reasons = []
    if provides:
        score += 2.0 + 0.5 * min(len(provides), 6)
        reasons.append("defines " + ", ".join(sorted(provides)[:5]))
    if shared:
        score += 0.2 * min(len(shared), 5)
        reasons.append("uses " + ", ".join(sorted(shared)[:3]))
    if latest and cell.execution_count and latest - cell.execution_count < 3:
        score += 0.3
        reasons.append("ran recently")
    if not reasons:
        reasons.append(f"{distance} cell{'s' if distance > 1 else ''} {'below' if below else 'above'}")
    return score, "; ".join(reasons)
