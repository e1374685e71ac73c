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
- `retype, warm-up first` is the same keys as the front end sends them: a cell that
  becomes active is warmed up (`Twin.warm`, what the extension asks the server for) before
  the user types in it, so the first key at a place meets the new context evaluated. The
  warm-up is waited for (the user has not typed yet); the keys are timed as before.

Both print the median of all requests, the first request of each task (a new place) and
the later ones, the first text shown (ghost text grows as the model writes), the tokens
generated and evaluated, per strategy, and the ratio notebook / cell of the medians. A
request's end depends on how much the model writes (up to `max_tokens_complete`), which
the context changes: the `gen tok` column tells a slower model from a longer answer.

    python benchmarks/typing_methods.py            # the embedded model (JUPYTER_TWIN_* settings)

Run it on a quiet machine (load below 1): the numbers are latencies.
"""

from __future__ import annotations

import argparse
import json
import math
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


def _counts(twin: Twin) -> tuple[int, int, int]:
    """The model process's (generated, prompt, reused) token counters, zeros elsewhere."""
    total = twin.backend_stats() or {}
    return total.get("tokens", 0), total.get("prompt_tokens", 0), total.get("reused_tokens", 0)


def measure(twin: Twin, notebooks: NotebookCache, tasks: list[dict[str, Any]], steps_of: Any,
            cache: bool, warm: bool = False) -> dict[str, list[list[dict[str, Any]]]]:
    """Per strategy, per task, one record per keystroke's request: `s`, the time until the
    request ended (`Twin.complete`'s latency); `shown`, until its first non-empty cleaned
    text (what ghost text shows first, None if it ended empty); `generated` and `evaluated`,
    the tokens the model generated and the prompt tokens it evaluated (not reused)."""
    out: dict[str, list[list[dict[str, Any]]]] = {}
    for strategy in STRATEGIES:
        out[strategy] = []
        for task in tasks:
            forget_completions(twin)  # a new place
            records: list[dict[str, Any]] = []
            steps = steps_of(task)
            if warm:
                prefix, suffix = steps[0]
                cells = notebooks.cells_for({**task, "prefix": prefix, "suffix": suffix})
                work = twin.warm(cells, task["cell"], len(prefix), strategy=strategy)
                if work is not None:
                    work.join()
            for prefix, suffix in steps:
                if not cache:
                    forget_completions(twin)
                cells = notebooks.cells_for({**task, "prefix": prefix, "suffix": suffix})
                before = _counts(twin)
                started = time.perf_counter()
                shown = None
                stream = twin.stream_complete(cells, task["cell"], len(prefix), strategy=strategy)
                for _ in stream:
                    if shown is None and stream.partial().strip():
                        shown = time.perf_counter() - started
                text = stream.result()
                took = time.perf_counter() - started
                if shown is None and text.strip():
                    shown = took
                after = _counts(twin)
                records.append({"s": took, "shown": shown, "generated": after[0] - before[0],
                                "evaluated": (after[1] - before[1]) - (after[2] - before[2])})
            out[strategy].append(records)
    return out


def report(name: str, result: dict[str, list[list[dict[str, Any]]]]) -> dict[str, Any]:
    rows = {}
    for strategy, per_task in result.items():
        flat = [r for records in per_task for r in records]
        shown = [r["shown"] for r in flat if r["shown"] is not None]
        rows[strategy] = {
            "requests": len(flat),
            "median": median(r["s"] for r in flat),
            "first": median(records[0]["s"] for records in per_task),
            "later": median(r["s"] for records in per_task for r in records[1:]),
            "shown": median(shown) if shown else math.inf,
            "generated": median(r["generated"] for r in flat),
            "evaluated": median(r["evaluated"] for r in flat),
        }
    print(f"\n{name}")
    print(f"{'strategy':<10} {'requests':>8} {'median s':>9} {'first s':>8} {'later s':>8} {'shown s':>8}"
          f" {'gen tok':>8} {'eval tok':>8}")
    for strategy, r in rows.items():
        print(f"{strategy:<10} {r['requests']:>8} {r['median']:>9.3f} {r['first']:>8.3f} {r['later']:>8.3f}"
              f" {r['shown']:>8.3f} {r['generated']:>8.1f} {r['evaluated']:>8.1f}")
    ratio = rows["notebook"]["median"] / rows["cell"]["median"]
    later = rows["notebook"]["later"] / rows["cell"]["later"]
    shown_ratio = rows["notebook"]["shown"] / rows["cell"]["shown"]
    print(f"median ratio notebook / cell: {ratio:.2f} (later keys only: {later:.2f}; first text shown: {shown_ratio:.2f})")
    return {"rows": rows, "ratio": ratio, "later_ratio": later, "shown_ratio": shown_ratio}


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
    retype_warm = measure(twin, notebooks, issue_tasks(tasks), lambda t: retype_steps(t, 10), cache=False, warm=True)
    results = {
        "ahead (bench typing: target typed, completion cache on)": report("ahead", ahead),
        "ahead, completion cache off": report("ahead, completion cache off", ahead_nocache),
        "retype (issue 10: 10 characters before the cursor, cache off)": report("retype", retype),
        "retype, warm-up first (the front end's order: the cell becomes active, then keys)":
            report("retype, warm-up first", retype_warm),
    }
    print(f"\nload {os.getloadavg()[0]:.2f} at the end")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "raw": {"ahead": ahead, "ahead_nocache": ahead_nocache,
                                                                       "retype": retype, "retype_warm": retype_warm}}, indent=1))


if __name__ == "__main__":
    main()
