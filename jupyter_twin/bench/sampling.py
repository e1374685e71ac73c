"""Fill-in-the-middle tasks sampled from the user's own notebooks, by the rules that made
../shared/bench/fim-dev.jsonl.

That file's README names the kinds and the `needs_context` flag; the finer rules below were
read off its 400 tasks and its notebooks (tests/bench/test_sampling.py checks them there):
every one of the 400 spans is a candidate of `spans()`, and `needs_context()` gives the
file's flag on 399 of the 400 (dev-0094, flagged false, uses `np` from another cell).

- `line-rest`: the cursor right after `.`, `(`, `[`, `, ` or `=` (a space after `=` goes
  into the prefix; never right before a space) anywhere on a code line, inside strings,
  operators and comments too; the rest of the line is missing (at least 4 characters, with
  at least 3 non-blank characters before the cursor on that line);
- `line`: the cursor at a line's indentation; the whole line is missing (at least 8
  characters);
- `block`: the cursor at the start of the body after a line ending in `:`; the body is
  missing: the lines below that are indented deeper, up to the first blank line, 1 to 6
  lines;
- never a comment line, a blank line, or an IPython magic or shell line;
- `needs_context`: the target has a name (an identifier of 2 or more characters, not a
  keyword or builtin) that the cell's remaining text never shows and another cell of the
  notebook (code or markdown) does.

Kinds are drawn 40 % / 40 % / 20 % (the file's 160 / 160 / 80), each uniformly over all
candidates of the notebooks given, with a fixed seed: the same notebooks give the same
tasks on every run.
"""

from __future__ import annotations

import builtins
import json
import keyword
import random
import re
from collections import Counter
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("line-rest", "line", "block")
SHARES = {"line-rest": 0.4, "line": 0.4, "block": 0.2}
SEED = 20261202
MIN_REST_CHARS = 4
MIN_BEFORE_CHARS = 3
MIN_LINE_CHARS = 8
MAX_BLOCK_LINES = 6

NAME = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*")
# after one of these the rest of the line is asked for; "= " keeps the space in the prefix
BOUNDARY = re.compile(r"\.|\(|\[|, |= ?")
SKIP_DIRS = {".ipynb_checkpoints", ".git", "node_modules", "__pycache__", "site-packages"}


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_code_line(line: str) -> bool:
    text = line.strip()
    return bool(text) and not text.startswith(("#", "%", "!"))


def _rest_boundaries(line: str) -> list[int]:
    # as plain as the shared set's: `==`, a float's `.` and a trailing comment count too
    # (its tasks cut there: dev-0248, dev-0093, dev-0310)
    return [m.end() for m in BOUNDARY.finditer(line) if not line[m.end():m.end() + 1] == " "]


def spans(source: str) -> list[Span]:
    """Every place in one code cell's source where a task of each kind can be cut."""
    lines = source.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    if lines and lines[0].lstrip().startswith("%%"):
        return []  # a cell magic: the body may not be Python at all
    found: list[Span] = []
    for i, line in enumerate(lines):
        if not _is_code_line(line):
            continue
        start, end = offsets[i], offsets[i] + len(line)
        for p in _rest_boundaries(line):
            rest = line[p:]
            if len(rest) >= MIN_REST_CHARS and rest.strip() and len(line[:p].strip()) >= MIN_BEFORE_CHARS:
                found.append(Span("line-rest", start + p, end))
        if len(line) - _indent(line) >= MIN_LINE_CHARS:
            found.append(Span("line", start + _indent(line), end))
        if line.rstrip().endswith(":"):
            j = i + 1
            while j < len(lines) and lines[j].strip() and _indent(lines[j]) > _indent(line):
                j += 1
            if 1 <= j - (i + 1) <= MAX_BLOCK_LINES:
                found.append(Span("block", offsets[i + 1] + _indent(lines[i + 1]), offsets[j - 1] + len(lines[j - 1])))
    return found


def names(text: str) -> set[str]:
    return set(NAME.findall(text))


def _meaningful(name: str) -> bool:
    return len(name) >= 2 and not keyword.iskeyword(name) and not hasattr(builtins, name)


def needs_context(target: str, rest_of_cell: str, other_names: Container[str]) -> bool:
    missing = {n for n in names(target) if _meaningful(n)} - names(rest_of_cell)
    return any(n in other_names for n in missing)


class _Elsewhere(Container[str]):
    """The names some other cell of the notebook shows (counted once per cell)."""

    def __init__(self, counts: Counter[str], own: set[str]) -> None:
        self.counts, self.own = counts, own

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.counts[name] - (name in self.own) > 0


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source or "")


def load_cells(path: Path) -> list[dict[str, Any]] | None:
    """The notebook's cells, or None when it is not a readable Python notebook."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None
    meta = data.get("metadata") or {}
    language = (meta.get("kernelspec") or {}).get("language") or (meta.get("language_info") or {}).get("name")
    if language and str(language).lower() != "python":
        return None
    return [c for c in data["cells"] if isinstance(c, dict)]


def find_notebooks(paths: Iterable[Path]) -> list[Path]:
    """The .ipynb files given or under the folders given, in a fixed order."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            for nb in sorted(path.rglob("*.ipynb")):
                parts = nb.relative_to(path).parts
                if not SKIP_DIRS.intersection(parts) and not any(p.startswith(".") for p in parts):
                    found[nb.resolve()] = None
        elif path.suffix == ".ipynb" and path.is_file():
            found[path.resolve()] = None
    return list(found)


def candidates(notebook: Path, cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every task the notebook offers, in cell and position order."""
    sources = [cell_source(c) for c in cells]
    cell_names = [names(s) for s in sources]
    counts = Counter(n for found in cell_names for n in found)
    tasks = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        source = sources[index]
        other = _Elsewhere(counts, cell_names[index])
        for span in spans(source):
            prefix, target, suffix = source[:span.start], source[span.start:span.end], source[span.end:]
            tasks.append({
                "notebook": str(notebook), "cell": index, "kind": span.kind,
                "prefix": prefix, "suffix": suffix, "target": target,
                "needs_context": needs_context(target, prefix + suffix, other),
            })
    return tasks


def quotas(n: int, available: dict[str, int]) -> dict[str, int]:
    """How many tasks of each kind: the shares of the shared set, topped up from the other
    kinds when a kind has too few candidates."""
    exact = {k: n * SHARES[k] for k in KINDS}
    want = {k: int(v) for k, v in exact.items()}
    # largest remainders first: 4 tasks are 2 / 1 / 1, not 2 / 2 / 0
    for k in sorted(KINDS, key=lambda k: -(exact[k] - want[k]))[: n - sum(want.values())]:
        want[k] += 1
    got = {k: min(want[k], available.get(k, 0)) for k in KINDS}
    short = n - sum(got.values())
    for k in KINDS:
        extra = min(short, available.get(k, 0) - got[k])
        got[k] += extra
        short -= extra
    return got


def sample_tasks(paths: Iterable[Path], n: int, seed: int = SEED) -> list[dict[str, Any]]:
    """`n` tasks from the notebooks given (files or folders), the same on every run."""
    pool: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    order: dict[str, int] = {}
    for rank, notebook in enumerate(find_notebooks(paths)):
        cells = load_cells(notebook)
        if cells is None:
            continue
        order[str(notebook)] = rank
        for task in candidates(notebook, cells):
            pool[task["kind"]].append(task)
    counts = quotas(n, {k: len(v) for k, v in pool.items()})
    rng = random.Random(seed)
    chosen = []
    for kind in KINDS:
        chosen.extend(rng.sample(pool[kind], counts[kind]))
    # as in the shared file: notebook by notebook, cell by cell, in text order
    chosen.sort(key=lambda t: (order[t["notebook"]], t["cell"], len(t["prefix"]), KINDS.index(t["kind"])))
    return [{"id": f"nb-{i:04d}", **t} for i, t in enumerate(chosen)]
