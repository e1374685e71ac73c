"""HumanEval single-line infilling: first-line exact match and pass@1, for the full
pipeline (Twin.complete on the function as one cell) against the bare model with its plain
FIM prompt, both in one run."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from ..backends import FimRequest
from ..twin import Twin
from .scoring import median


def load(path: Path, limit: int | None = None, every: int = 1) -> list[dict[str, Any]]:
    """The tasks, every `every`-th one (the file holds each problem's lines together, so
    the first N tasks cover few problems; a stride spreads a sample over all of them),
    then the first `limit` of those."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:  # type: ignore[operator]
        tasks = [json.loads(line) for line in f if line.strip()][:: max(1, every)]
    return tasks[:limit] if limit else tasks


def first_line(text: str) -> str:
    return next((l for l in text.split("\n") if l.strip()), "")


def passes(task: dict[str, Any], line: str, timeout: float = 10.0) -> bool:
    """Run the completed function against the task's tests in a subprocess."""
    indent = task["canonical_solution"][: len(task["canonical_solution"]) - len(task["canonical_solution"].lstrip())]
    body = line if line.startswith((" ", "\t")) else indent + line.lstrip()
    program = (
        task["prompt"] + body.rstrip() + "\n" + task["suffix"] + "\n\n" + task["test"] + f"\n\ncheck({task['entry_point']})\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(program)
        path = f.name
    try:
        proc = subprocess.run([sys.executable, path], capture_output=True, timeout=timeout, cwd=tempfile.gettempdir())
        return proc.returncode == 0
    except subprocess.TimeoutExpired:
        return False
    finally:
        os.unlink(path)


def run(
    twin: Twin,
    tasks: list[dict[str, Any]],
    progress: Callable[[Iterable[Any], int, str], Iterable[Any]] | None = None,
) -> list[dict[str, Any]]:
    results = []
    items: Iterable[dict[str, Any]] = tasks
    if progress:
        items = progress(tasks, len(tasks), "humaneval")
    for task in items:
        prompt, suffix = task["prompt"], task["suffix"]
        target = task["canonical_solution"]
        # the bare model: its plain FIM prompt, first line of what it writes
        started = time.perf_counter()
        request = FimRequest(stable="", prefix=prompt, suffix=suffix, family=twin.family,
                             max_tokens=twin.settings.max_tokens_complete, stop=["\n\n"])
        bare = first_line("".join(twin.backend.fim(request)))
        bare_latency = time.perf_counter() - started
        # the pipeline: the function as one code cell, cursor at the start of the missing line
        started = time.perf_counter()
        ours = first_line(twin.complete([{"cell_type": "code", "source": prompt + suffix}], 0, len(prompt)))
        ours_latency = time.perf_counter() - started
        results.append({
            "task_id": task["task_id"],
            "bare": bare, "ours": ours, "target": target,
            "bare_exact": bare.strip() == target.strip(), "ours_exact": ours.strip() == target.strip(),
            "bare_pass": passes(task, bare), "ours_pass": passes(task, ours),
            "bare_latency": bare_latency, "ours_latency": ours_latency,
        })
    return results


def summary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    n = len(results)
    rows = []
    for who in ("bare", "ours"):
        rows.append({
            "pipeline": "bare model, plain FIM prompt" if who == "bare" else "jupyter_twin complete()",
            "n": n,
            "first_line_exact": sum(r[f"{who}_exact"] for r in results) / n if n else 0.0,
            "pass_at_1": sum(r[f"{who}_pass"] for r in results) / n if n else 0.0,
            "latency_median": median(r[f"{who}_latency"] for r in results),
        })
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'pipeline':<32} {'n':>5} {'1st-line exact':>14} {'pass@1':>7} {'median s':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['pipeline']:<32} {r['n']:>5} {r['first_line_exact']:>14.3f} {r['pass_at_1']:>7.3f} {r['latency_median']:>9.3f}")
    return "\n".join(lines)
