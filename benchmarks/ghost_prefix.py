"""Streaming ghost text against the final text: for fim-dev tasks (the cell alone, the
embedded demo model), every `TaskStream.partial()` after each delta is compared with the
final `result()`. Reported: updates, updates the final text does not start with (ghost
text that would be taken back), the tasks they are in, partial()'s mean cost.

    .venv/bin/python benchmarks/ghost_prefix.py                 # the first 200 tasks
    .venv/bin/python benchmarks/ghost_prefix.py --start 0 --stop 60
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from jupyter_twin import Twin
from jupyter_twin.errors import TwinError
from jupyter_twin.modelfiles import demo_model_path

TASKS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "fim-dev.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=Path, default=TASKS)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--stop", type=int, default=200)
    args = parser.parse_args()
    tasks = [json.loads(line) for line in args.tasks.read_text().splitlines() if line.strip()]
    tasks = tasks[args.start:args.stop]
    twin = Twin(backend="embedded", model=str(demo_model_path()))
    updates = taken_back = cost = 0.0
    bad_tasks: list[tuple[str, str, str]] = []
    failed: list[str] = []
    try:
        for task in tasks:
            cells = [{"cell_type": "code", "source": task["prefix"] + task["suffix"]}]
            try:
                stream = twin.stream_complete(cells, 0, len(task["prefix"]))
                shown = []
                for _ in stream:
                    started = time.perf_counter()
                    shown.append(stream.partial())
                    cost += time.perf_counter() - started
                final = stream.result()
            except TwinError as exc:  # e.g. the shared model process ended by someone else
                failed.append(f"{task['id']}: {exc}")
                continue
            wrong = [text for text in shown if not final.startswith(text)]
            updates += len(shown)
            taken_back += len(wrong)
            if wrong:
                bad_tasks.append((task["id"], wrong[-1], final))
    finally:
        twin.close()
    print(
        f"tasks {len(tasks) - len(failed)} (failed {len(failed)}), updates {int(updates)}, "
        f"not a prefix of the final text {int(taken_back)} in {len(bad_tasks)} tasks, "
        f"partial() mean {cost / max(updates, 1) * 1000:.3f} ms"
    )
    for task_id, text, final in bad_tasks[:20]:
        print(f"  {task_id}: showed {text!r}, final {final!r}")
    for line in failed:
        print("  failed", line)


if __name__ == "__main__":
    main()
