"""Does a change leave the FIM benchmark's numbers as they were? Record once, replay anywhere.

A refactor that keeps behaviour must send the model the same requests and clean the same
model text into the same completions. Running the benchmark twice with the real model
would show that only up to the model's near ties (a greedy pick can tip with the cached
state), and costs 15 minutes a run on 2 cores. So:

    # in the checkout before the change: the real benchmark, every model request recorded
    python benchmarks/same_requests.py record --limit 120 --out before.jsonl
    # in the checkout after it: the same tasks, the model's recorded text played back
    python benchmarks/same_requests.py replay before.jsonl

`record` runs `jupyter_twin.bench.fim.run` (strategy notebook, the embedded model) and
writes, per request to the model process, the request body and the text streamed back,
then per task the completion and its score. `replay` runs the same tasks with the model
process's stream replaced: each request body must equal the recorded one, and the
recorded text is streamed back, so the completions show what the code after the change
makes of the same model output. It prints how many requests and completions are the same
and both exact-match rates. Tokenizing still goes to the real model process (the context
budget counts tokens), so the model file is needed, but nothing is generated.

`record --requests-only` generates nothing (every answer is empty): it checks in seconds
that a change sends the same requests, which is all for a change that does not touch how
the model's text is cleaned.

Run each side with its checkout first on the path: PYTHONPATH=/path/to/checkout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterator

BENCH = Path(__file__).resolve().parents[1] / ".." / "shared" / "bench"

# fields a request body gained for other reasons than the change under test are compared
# only when both sides have them
OPTIONAL = {"cache_reuse"}


class _TaskLog:
    """fim.run's log: one JSON line per task as it ends, handed on as a `task` row."""

    def __init__(self, on_task: Any) -> None:
        self.on_task = on_task

    def write(self, line: str) -> None:
        if line.strip():
            r = json.loads(line)
            self.on_task({"task": r["id"], "completion": r["completion"], "exact": r["exact"], "error": r["error"]})

    def flush(self) -> None:
        pass


def _run(limit: int, tasks_path: Path, on_task: Any) -> list[Any]:
    import jupyter_twin
    from jupyter_twin import Twin
    from jupyter_twin.bench import fim

    print(f"jupyter_twin from {Path(jupyter_twin.__file__).parent}", file=sys.stderr)
    tasks = fim.load_tasks(tasks_path, limit)
    notebooks = fim.NotebookCache(tasks_path.parent / "notebooks")
    twin = Twin(backend="embedded")
    # each task's row is written when it ends, so a stopped recording keeps what it has
    return fim.run(twin, tasks, notebooks, ["notebook"], log=_TaskLog(on_task))  # type: ignore[arg-type]


def _body(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(body))  # what goes over the wire


def record(args: argparse.Namespace) -> None:
    from jupyter_twin.modelproc import client

    out = open(args.out, "w")
    original = client.ProcessStream._generate

    def recorded(self: Any) -> Iterator[str]:
        texts: list[str] = []
        try:
            for delta in (iter(()) if args.requests_only else original(self)):
                texts.append(delta)
                yield delta
        finally:
            out.write(json.dumps({"request": _body(self._body), "deltas": texts}) + "\n")
            out.flush()

    client.ProcessStream._generate = recorded
    results = _run(args.limit, args.tasks, lambda row: (out.write(json.dumps(row) + "\n"), out.flush()))
    out.close()
    exact = sum(r.exact for r in results)
    print(f"recorded {len(results)} tasks: exact {exact}/{len(results)} = {exact / len(results):.3f}")


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = (set(a) | set(b)) - {k for k in OPTIONAL if (k in a) != (k in b)}
    return all(a.get(k) == b.get(k) for k in keys)


def replay(args: argparse.Namespace) -> None:
    from jupyter_twin.modelproc import client

    rows = [json.loads(line) for line in Path(args.recording).read_text().splitlines() if line.strip()]
    calls = [r for r in rows if "request" in r]
    before = {r["task"]: r for r in rows if "task" in r}
    seen = {"requests": 0, "same": 0, "first_diff": None}

    def played(self: Any) -> Iterator[str]:
        i = seen["requests"]
        seen["requests"] += 1
        if i >= len(calls):
            raise RuntimeError(f"request {i + 1}: the recording has only {len(calls)}")
        body = _body(self._body)
        if _same(body, calls[i]["request"]):
            seen["same"] += 1
        elif seen["first_diff"] is None:
            old = calls[i]["request"]
            keys = sorted(k for k in set(old) | set(body) if old.get(k) != body.get(k))
            seen["first_diff"] = (i, keys, {k: (old.get(k), body.get(k)) for k in keys})
        yield from calls[i]["deltas"]

    client.ProcessStream._generate = played
    # a recording stopped before its first task ended has no task rows: its requests are
    # fim.run's warm-up and then one per task
    tasks = len(before) or len(calls) - 1
    now: list[dict[str, Any]] = []
    results = _run(tasks, args.tasks, now.append)
    exact_now = sum(r.exact for r in results)
    print(f"requests: {seen['same']} of {seen['requests']} the same as recorded ({len(calls)} recorded)")
    if args.write:  # a full recording: the recorded requests, this checkout's completions
        args.write.write_text("".join(json.dumps(r) + "\n" for r in calls + now))
    if not before:
        print(f"exact match: replayed {exact_now}/{tasks} = {exact_now / tasks:.3f} (no completions recorded)")
        return
    same = sum(r.completion == before[r.id]["completion"] for r in results)
    exact_before = sum(before[r.id]["exact"] for r in results)
    print(f"completions: {same} of {len(results)} the same")
    print(f"exact match: recorded {exact_before}/{tasks} = {exact_before / tasks:.3f}, "
          f"replayed {exact_now}/{tasks} = {exact_now / tasks:.3f}")
    if seen["first_diff"] is not None:
        i, keys, diff = seen["first_diff"]
        print(f"first request that differs: #{i + 1}, fields {keys}")
        for k, (old, new) in diff.items():
            print(f"  {k}: recorded {str(old)[:300]!r}\n  {' ' * len(k)}  now      {str(new)[:300]!r}")
    for r in results:
        if r.completion != before[r.id]["completion"]:
            print(f"  {r.id}: recorded {before[r.id]['completion']!r}, now {r.completion!r}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--limit", type=int, default=120)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--requests-only", action="store_true",
                     help="generate nothing: record the requests with empty answers (seconds, not minutes; "
                          "enough for a change that cannot touch the cleaning of the model's text)")
    rep = sub.add_parser("replay")
    rep.add_argument("recording", type=Path)
    rep.add_argument("--write", type=Path, default=None,
                     help="write the recorded requests with this checkout's completions (to complete a "
                          "recording that was stopped before its task rows)")
    for q in (rec, rep):
        q.add_argument("--tasks", type=Path, default=BENCH / "fim-dev.jsonl")
    args = p.parse_args()
    args.tasks = args.tasks.resolve()
    {"record": record, "replay": replay}[args.command](args)


if __name__ == "__main__":
    main()
