"""Notebook fill-in-the-middle: the tasks of ../shared/bench/fim-dev.jsonl, each run exactly
as the inline completer would run it (same context, same post-processing)."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable

from ..errors import TwinError
from ..twin import Twin
from .scoring import edit_similarity, exact_match, median, percentile

STRATEGIES = ("cell", "notebook", "bare")


@dataclass
class TaskResult:
    id: str
    strategy: str
    kind: str
    needs_context: bool
    completion: str
    target: str
    exact: bool
    similarity: float
    latency: float
    error: str | None = None


def load_tasks(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    tasks = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return tasks[:limit] if limit else tasks


class NotebookCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def cells_for(self, task: dict[str, Any]) -> list[dict[str, Any]]:
        name = task["notebook"]
        if name not in self._cache:
            self._cache[name] = json.loads((self.directory / name).read_text())["cells"]
        cells = copy.deepcopy(self._cache[name])
        cells[task["cell"]]["source"] = task["prefix"] + task["suffix"]
        return cells


def bare_completion(twin: Twin, prefix: str, suffix: str, max_tokens: int) -> str:
    """The bare model: its plain FIM prompt on the masked cell alone, no post-processing
    beyond cutting at the first line end after text (as in the bench README's floor,
    but without looking at the task kind)."""
    from ..backends import FimRequest

    request = FimRequest(stable="", prefix=prefix, suffix=suffix, family=twin.family, max_tokens=max_tokens)
    text = "".join(twin.backend.fim(request))
    lines = [l for l in text.split("\n")]
    first = next((l for l in lines if l.strip()), "")
    return first


def forget_completions(twin: Twin) -> None:
    """Each task is a place the user comes to fresh: a suggestion the engine's completion
    cache kept from an earlier task in the same cell would be a hit no user gets there."""
    cache = getattr(twin, "cache", None)
    if cache is not None and hasattr(cache, "clear"):
        cache.clear()


def run_task(twin: Twin, cells: list[dict[str, Any]], task: dict[str, Any], strategy: str) -> tuple[str, float, str | None]:
    cursor = len(task["prefix"])  # Python strings index code points
    started = time.perf_counter()
    error = None
    try:
        if strategy == "bare":
            completion = bare_completion(twin, task["prefix"], task["suffix"], twin.settings.max_tokens_complete)
        else:
            completion = twin.complete(cells, task["cell"], cursor, strategy=strategy)
    except TwinError as exc:
        # a failed request scores as an empty suggestion, as the user would see it
        completion, error = "", str(exc)
    return completion, time.perf_counter() - started, error


def run(
    twin: Twin,
    tasks: list[dict[str, Any]],
    notebooks: NotebookCache,
    strategies: Iterable[str],
    progress: Callable[[Iterable[Any], int, str], Iterable[Any]] | None = None,
    log: IO[str] | None = None,
) -> list[TaskResult]:
    results: list[TaskResult] = []
    # load the model and fill its cache once, outside the timings
    first = tasks[0]
    twin.complete(notebooks.cells_for(first), first["cell"], len(first["prefix"]), strategy="cell")
    for strategy in strategies:
        items: Iterable[dict[str, Any]] = tasks
        if progress:
            items = progress(tasks, len(tasks), strategy)
        for task in items:
            cells = notebooks.cells_for(task)
            forget_completions(twin)
            completion, latency, error = run_task(twin, cells, task, strategy)
            result = TaskResult(
                id=task["id"], strategy=strategy, kind=task["kind"], needs_context=bool(task["needs_context"]),
                completion=completion, target=task["target"],
                exact=exact_match(completion, task["target"]),
                similarity=edit_similarity(completion, task["target"]), latency=latency, error=error,
            )
            results.append(result)
            if log is not None:
                log.write(json.dumps(asdict(result)) + "\n")
                log.flush()
    return results


def summarise(results: list[TaskResult]) -> list[dict[str, Any]]:
    rows = []
    for strategy in dict.fromkeys(r.strategy for r in results):
        mine = [r for r in results if r.strategy == strategy]
        groups: dict[str, list[TaskResult]] = {"all": mine}
        for kind in ("line-rest", "line", "block"):
            groups[kind] = [r for r in mine if r.kind == kind]
        groups["needs_context"] = [r for r in mine if r.needs_context]
        for group, items in groups.items():
            if not items:
                continue
            rows.append({
                "strategy": strategy,
                "group": group,
                "n": len(items),
                "exact_match": sum(r.exact for r in items) / len(items),
                "edit_similarity": sum(r.similarity for r in items) / len(items),
                "latency_median": median(r.latency for r in items),
                "latency_p95": percentile([r.latency for r in items], 0.95),
            })
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'strategy':<10} {'group':<14} {'n':>4} {'exact':>7} {'edit sim':>9} {'median s':>9} {'p95 s':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['strategy']:<10} {r['group']:<14} {r['n']:>4} {r['exact_match']:>7.3f} "
            f"{r['edit_similarity']:>9.3f} {r['latency_median']:>9.3f} {r['latency_p95']:>7.3f}"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    groups = ["all", "line-rest", "line", "block", "needs_context"]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(1, len(strategies))
    for i, strategy in enumerate(strategies):
        values = []
        for g in groups:
            match = [r["exact_match"] for r in rows if r["strategy"] == strategy and r["group"] == g]
            values.append(match[0] if match else 0)
        ax.bar([x + i * width for x in range(len(groups))], values, width, label=strategy)
    ax.set_xticks([x + width * (len(strategies) - 1) / 2 for x in range(len(groups))], groups)
    ax.set_ylabel("exact match")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def to_json(results: list[TaskResult], rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    return json.dumps({"meta": meta, "summary": rows, "results": [asdict(r) for r in results]}, indent=1)
