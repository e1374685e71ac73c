"""Several completion models on the same FIM tasks: quality, latency cold and while typing,
a PNG, and a one-line recommendation for this machine.

How the recommendation weighs quality against latency (docs/benchmarks.md says the same):
- speed is the median latency while typing (what each keystroke costs the model once it is
  loaded and its prompt cache is warm), or the cold median when typing was not measured;
- a model is usable for ghost text when that median is within the budget (1.0 s by default:
  the longest time llama.vim and llama.vscode allow a completion after the first);
- among usable models, from the fastest up, a slower model is preferred only when its exact
  match is higher by more than one standard error of the paired difference (sqrt(b + c) / n,
  b and c the tasks only one of the two got right): a gain that small samples cannot tell
  from noise is not worth the wait;
- with no usable model, the fastest one is named, and the line says it is over budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..settings import BACKENDS
from ..twin import Twin
from . import fim, typing_sim
from .scoring import median, percentile

DEFAULT_BUDGET_S = 1.0

Progress = Callable[[Iterable[Any], int, str], Iterable[Any]]


@dataclass(frozen=True)
class ModelChoice:
    """One `--model` value: `[BACKEND:]NAME`, e.g. `ollama:qwen2.5-coder:1.5b`,
    `embedded:qwen2.5-coder-0.5b`, `embedded:/models/x.gguf`, or a bare name for --backend."""

    label: str
    backend: str | None
    model: str | None


def parse_model(text: str | None, backend: str | None) -> ModelChoice:
    if text is None:
        return ModelChoice("default", backend, None)
    head, sep, rest = text.partition(":")
    if sep and head in BACKENDS and head != "auto" and rest:
        return ModelChoice(text, head, rest)
    return ModelChoice(text, backend, text)


@dataclass
class ModelRun:
    label: str
    backend: str
    model: str
    strategy: str
    load_s: float
    results: list[fim.TaskResult]
    typing: list[float] = field(default_factory=list)
    keys: int = 0
    typing_errors: list[str] = field(default_factory=list)

    @property
    def mine(self) -> list[fim.TaskResult]:
        return [r for r in self.results if r.strategy == self.strategy]

    @property
    def warm(self) -> list[float]:
        # the first keystroke of each typed task moves to a new place: that one is cold
        return [v for i, v in enumerate(self.typing) if self.keys and i % self.keys != 0]


def typing_tasks(tasks: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """`count` tasks spread over the whole list (the list is in notebook order)."""
    if count <= 0 or not tasks:
        return []
    step = max(1, len(tasks) // count)
    return tasks[::step][:count]


def run_model(
    twin: Twin,
    choice: ModelChoice,
    tasks: list[dict[str, Any]],
    notebooks: fim.NotebookCache,
    strategies: tuple[str, ...],
    typing_count: int,
    keys: int,
    progress: Progress | None = None,
    log: Any = None,
) -> ModelRun:
    def labelled(items: Iterable[Any], total: int, label: str) -> Iterable[Any]:
        return progress(items, total, f"{choice.label}, {label}") if progress else items

    started = time.perf_counter()
    twin.backend.info()  # loads the model (and starts its process): not part of any latency
    load_s = time.perf_counter() - started
    results = fim.run(twin, tasks, notebooks, strategies, progress=labelled, log=log)
    strategy = "notebook" if "notebook" in strategies else strategies[0]
    typed: list[float] = []
    errors: list[str] = []
    chosen = typing_tasks(tasks, typing_count)
    if chosen and keys > 0 and strategy != "bare":
        # the completion cache off: a better model's typed-ahead hits would hide what each
        # keystroke costs on this machine when the suggestion is wrong
        typed = typing_sim.run(twin, chosen, notebooks, [strategy], keys, errors=errors, completion_cache=False,
                               progress=lambda items, total, _strategy: labelled(items, total, "typing"))[strategy]
    return ModelRun(choice.label, twin.backend.name, twin.backend.model, strategy, load_s, results, typed, keys,
                    errors)


def summary(run: ModelRun) -> dict[str, Any]:
    mine = run.mine
    n = len(mine)
    warm = run.warm
    return {
        "model": run.label, "backend": run.backend, "served_by": run.model, "strategy": run.strategy, "n": n,
        "failed": sum(1 for r in mine if r.error),
        "exact_match": sum(r.exact for r in mine) / n if n else float("nan"),
        "edit_similarity": sum(r.similarity for r in mine) / n if n else float("nan"),
        "cold_median": median(r.latency for r in mine),
        "cold_p95": percentile([r.latency for r in mine], 0.95),
        "warm_median": median(warm),
        "warm_p95": percentile(warm, 0.95),
        "warm_requests": len(warm),
        "warm_failed": len(run.typing_errors),
        "load_s": run.load_s,
    }


def failures(run: ModelRun) -> str | None:
    """One line on the failed requests of a run (they score as empty suggestions), or None."""
    cold = [r.error for r in run.results if r.error]
    warm = run.typing_errors
    if not cold and not warm:
        return None
    first = (cold or warm)[0]
    return f"model {run.label}: {len(cold)} task and {len(warm)} keystroke requests failed; the first: {first}"


def format_table(rows: list[dict[str, Any]]) -> str:
    width = max([len("model")] + [len(r["model"]) for r in rows])
    head = (f"{'model':<{width}} {'n':>4} {'exact':>6} {'edit sim':>8} {'cold med s':>10} {'cold p95 s':>10} "
            f"{'warm med s':>10} {'warm p95 s':>10} {'failed':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['model']:<{width}} {r['n']:>4} {r['exact_match']:>6.3f} {r['edit_similarity']:>8.3f} "
            f"{r['cold_median']:>10.3f} {r['cold_p95']:>10.3f} {r['warm_median']:>10.3f} {r['warm_p95']:>10.3f} "
            f"{r['failed'] + r.get('warm_failed', 0):>6}"
        )
    return "\n".join(lines)


def _speed(row: dict[str, Any]) -> float:
    warm = row["warm_median"]
    return warm if not math.isnan(warm) else row["cold_median"]


def paired_se(a: ModelRun, b: ModelRun) -> float:
    """Standard error of the difference in exact match between two runs of the same tasks."""
    right_a = {r.id for r in a.mine if r.exact}
    right_b = {r.id for r in b.mine if r.exact}
    n = len(a.mine) or 1
    return math.sqrt(len(right_a ^ right_b)) / n


def recommend(runs: list[ModelRun], budget: float = DEFAULT_BUDGET_S) -> str:
    rows = {run.label: summary(run) for run in runs}
    alive = [run for run in runs if rows[run.label]["n"] and rows[run.label]["failed"] < rows[run.label]["n"]]
    if not alive:
        return "recommendation: none: every request failed (see the errors above)"
    kind = "per keystroke while typing" if all(rows[r.label]["warm_requests"] for r in alive) else "per cold request"
    by_speed = sorted(alive, key=lambda run: _speed(rows[run.label]))
    usable = [run for run in by_speed if _speed(rows[run.label]) <= budget]
    if not usable:
        fastest = rows[by_speed[0].label]
        return (f"recommendation: {fastest['model']}, the fastest, but no model is fast enough for ghost text here: "
                f"{_speed(fastest):.2f} s {kind} (budget {budget:.2f} s); try a smaller model or a faster machine")
    best = usable[0]
    for run in usable[1:]:
        gain = rows[run.label]["exact_match"] - rows[best.label]["exact_match"]
        if gain > paired_se(run, best) + 1e-9:  # one task more of n is not above its own noise
            best = run
    row = rows[best.label]
    others = [rows[r.label] for r in alive if r is not best]
    against = "; ".join(f"{o['model']} {o['exact_match']:.3f} at {_speed(o):.2f} s" for o in others)
    why = f"exact match {row['exact_match']:.3f} at {_speed(row):.2f} s {kind} (budget {budget:.2f} s)"
    return f"recommendation: {row['model']} for completion on this machine: {why}" + (f"; against {against}" if against else "")


def plot(rows: list[dict[str, Any]], path: Path, budget: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (quality, speed) = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = range(len(rows))
    width = 0.38
    quality.bar([x - width / 2 for x in xs], [r["exact_match"] for r in rows], width, label="exact match")
    quality.bar([x + width / 2 for x in xs], [r["edit_similarity"] for r in rows], width, label="edit similarity")
    quality.set_xticks(list(xs), [r["model"] for r in rows], rotation=10, fontsize=8)
    quality.set_ylim(0, 1)
    quality.set_title("quality")
    quality.legend(fontsize=8)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, r in enumerate(rows):
        for key, marker, label in (("cold", "s", "cold"), ("warm", "o", "while typing")):
            med, p95 = r[f"{key}_median"], r[f"{key}_p95"]
            if math.isnan(med):
                continue
            speed.errorbar([med], [r["exact_match"]], xerr=[[0], [max(0.0, p95 - med)]], fmt=marker, capsize=3,
                           color=colours[i % len(colours)], label=f"{r['model']}, {label} (median, to p95)")
    speed.axvline(budget, color="grey", linestyle="--", linewidth=1, label=f"budget {budget:g} s")
    speed.set_xscale("log")
    speed.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    speed.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    speed.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    top = max([r["exact_match"] for r in rows if not math.isnan(r["exact_match"])] + [0.0])
    speed.set_ylim(-0.02, min(1.0, max(0.5, top + 0.15)))
    speed.set_xlabel("latency, s")
    speed.set_ylabel("exact match")
    speed.set_title("quality against latency")
    speed.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
