"""Per-keystroke latency, notebook context against the cell alone, measured two ways in one run.

Issue 10 measured a ratio of 1.55 where `jupyter-twin bench typing` had reported 0.66.
The two methods differ in what a keystroke is:

- `ahead` is `bench typing`'s method: from the task's cursor, the missing text (the
  task's target) is typed one character per request, 20 requests on each of 3 tasks,
  with the engine's completion cache on. When the suggestion on screen starts with the
  character typed, the engine answers from the cache with no request to the model, and
  notebook context gets the target right more often than the cell alone: so that ratio
  counts cache hits, not what a keystroke costs the model.
- `retype` is the issue's method: the 10 characters before the cursor are typed one per
  request, in 5 fim-dev tasks (cell 8 or later, a prefix of 40 characters or more, every
  40th such task), with the completion cache emptied before every request, so every key
  reaches the model (on its warm prompt cache).

Both print the median of all requests, the first request of each task (a new place) and
the later ones, per strategy, and the ratio notebook / cell of the medians.

    python benchmarks/typing_methods.py            # the embedded model (JUPYTER_TWIN_* settings)

Run it on a quiet machine (load below 1): the numbers are latencies.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from jupyter_twin import Twin
from jupyter_twin.bench.fim import NotebookCache, forget_completions, load_tasks
from jupyter_twin.bench.scoring import median
from jupyter_twin.bench.typing_sim import keystrokes

BENCH = Path(__file__).resolve().parents[1] / ".." / "shared" / "bench"
STRATEGIES = ("cell", "notebook")


def retype_steps(task: dict[str, Any], count: int) -> list[tuple[str, str]]:
    """(prefix, suffix) as the `count` characters before the cursor are typed again."""
    prefix = task["prefix"]
    return [(prefix[: len(prefix) - count + k], task["suffix"]) for k in range(1, count + 1)]


def issue_tasks(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's selection: cell 8 or later, a prefix of 40 characters or more, every 40th."""
    eligible = [t for t in tasks if t["cell"] >= 8 and len(t["prefix"]) >= 40]
    return eligible[::40][:5]


def measure(twin: Twin, notebooks: NotebookCache, tasks: list[dict[str, Any]], steps_of: Any,
            cache: bool) -> dict[str, list[list[float]]]:
    """Per strategy, per task, the latency of each keystroke's request."""
    out: dict[str, list[list[float]]] = {}
    for strategy in STRATEGIES:
        out[strategy] = []
        for task in tasks:
            forget_completions(twin)  # a new place
            times = []
            for prefix, suffix in steps_of(task):
                if not cache:
                    forget_completions(twin)
                cells = notebooks.cells_for({**task, "prefix": prefix, "suffix": suffix})
                started = time.perf_counter()
                twin.complete(cells, task["cell"], len(prefix), strategy=strategy)
                times.append(time.perf_counter() - started)
            out[strategy].append(times)
    return out


def report(name: str, result: dict[str, list[list[float]]]) -> dict[str, Any]:
    rows = {}
    for strategy, per_task in result.items():
        flat = [t for times in per_task for t in times]
        rows[strategy] = {
            "requests": len(flat),
            "median": median(flat),
            "first": median(times[0] for times in per_task),
            "later": median(t for times in per_task for t in times[1:]),
        }
    print(f"\n{name}")
    print(f"{'strategy':<10} {'requests':>8} {'median s':>9} {'first s':>8} {'later s':>8}")
    for strategy, r in rows.items():
        print(f"{strategy:<10} {r['requests']:>8} {r['median']:>9.3f} {r['first']:>8.3f} {r['later']:>8.3f}")
    ratio = rows["notebook"]["median"] / rows["cell"]["median"]
    later = rows["notebook"]["later"] / rows["cell"]["later"]
    print(f"median ratio notebook / cell: {ratio:.2f} (later keys only: {later:.2f})")
    return {"rows": rows, "ratio": ratio, "later_ratio": later}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", type=Path, default=BENCH / "fim-dev.jsonl")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    tasks = load_tasks(args.tasks.resolve())
    notebooks = NotebookCache(args.tasks.resolve().parent / "notebooks")
    twin = Twin()
    print(f"backend {twin.backend.name}, model {twin.backend.model}; load {os.getloadavg()[0]:.2f}")
    first = tasks[0]  # load the model once, outside the timings
    twin.complete(notebooks.cells_for(first), first["cell"], len(first["prefix"]), strategy="cell")
    ahead = measure(twin, notebooks, tasks[:3], lambda t: keystrokes(t, 20), cache=True)
    retype = measure(twin, notebooks, issue_tasks(tasks), lambda t: retype_steps(t, 10), cache=False)
    # and each method with the other cache rule, so the cause is shown, not guessed
    ahead_nocache = measure(twin, notebooks, tasks[:3], lambda t: keystrokes(t, 20), cache=False)
    results = {
        "ahead (bench typing: target typed, completion cache on)": report("ahead", ahead),
        "ahead, completion cache off": report("ahead, completion cache off", ahead_nocache),
        "retype (issue 10: 10 characters before the cursor, cache off)": report("retype", retype),
    }
    print(f"\nload {os.getloadavg()[0]:.2f} at the end")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "raw": {"ahead": ahead, "ahead_nocache": ahead_nocache,
                                                                       "retype": retype}}, indent=1))


if __name__ == "__main__":
    main()
