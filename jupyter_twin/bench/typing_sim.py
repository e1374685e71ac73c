"""Typing simulation: one character per request, the way a user types into a cell, to
measure per-request latency with each context strategy (the prompt cache at work)."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from ..errors import TwinError
from ..twin import Twin
from .fim import NotebookCache, forget_completions
from .scoring import median, percentile


def keystrokes(task: dict[str, Any], count: int) -> list[tuple[str, str]]:
    """(prefix, suffix) after each of `count` characters of the missing text is typed."""
    text = task["target"] + task["suffix"]
    steps = []
    for k in range(1, count + 1):
        steps.append((task["prefix"] + text[:k], task["suffix"] if k <= len(task["target"]) else text[k:]))
    return steps


def run(
    twin: Twin,
    tasks: list[dict[str, Any]],
    notebooks: NotebookCache,
    strategies: Iterable[str],
    requests_per_task: int = 20,
    progress: Callable[[Iterable[Any], int, str], Iterable[Any]] | None = None,
    errors: list[str] | None = None,
    completion_cache: bool = True,
) -> dict[str, list[float]]:
    """Latency of each keystroke's request, per strategy. With `completion_cache` off, every
    keystroke reaches the model (on its warm prompt cache): what the model costs per key,
    not what a user with typed-ahead hits sees."""
    latencies: dict[str, list[float]] = {}
    for strategy in strategies:
        values: list[float] = []
        items: Iterable[dict[str, Any]] = tasks
        if progress:
            items = progress(tasks, len(tasks), strategy)
        for task in items:
            forget_completions(twin)  # the typist arrives at this place fresh
            steps = keystrokes(task, requests_per_task)
            for i, (prefix, suffix) in enumerate(steps):
                cells = notebooks.cells_for({**task, "prefix": prefix, "suffix": suffix})
                if not completion_cache:
                    forget_completions(twin)
                started = time.perf_counter()
                try:
                    twin.complete(cells, task["cell"], len(prefix), strategy=strategy)
                except TwinError as exc:
                    # the user waited this long for nothing: kept, and told where asked
                    if errors is None:
                        raise
                    errors.append(f"{strategy}: {exc}")
                elapsed = time.perf_counter() - started
                # the first request of a task moves to a new notebook position: a user pays
                # it once when they start typing there; it is reported, not hidden
                values.append(elapsed)
        latencies[strategy] = values
    return latencies


def summary(latencies: dict[str, list[float]], requests_per_task: int) -> list[dict[str, Any]]:
    rows = []
    for strategy, values in latencies.items():
        following = [v for i, v in enumerate(values) if i % requests_per_task != 0]
        rows.append({
            "strategy": strategy,
            "requests": len(values),
            "median": median(values),
            "p95": percentile(values, 0.95),
            "first_median": median(v for i, v in enumerate(values) if i % requests_per_task == 0),
            "following_median": median(following),
        })
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'strategy':<10} {'requests':>8} {'median s':>9} {'p95 s':>7} {'1st key s':>9} {'later keys s':>12}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['strategy']:<10} {r['requests']:>8} {r['median']:>9.3f} {r['p95']:>7.3f} {r['first_median']:>9.3f} {r['following_median']:>12.3f}")
    base = next((r for r in rows if r["strategy"] == "cell"), None)
    for r in rows:
        if base and r is not base and base["median"] > 0:
            lines.append(f"median ratio {r['strategy']}/cell: {r['median'] / base['median']:.2f}")
    return "\n".join(lines)
