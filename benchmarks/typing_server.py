"""Fast typing through the server extension: a simulated user types 10 characters per
second for 10 seconds into a cell of a 30-cell notebook, with the front end's request
logic, against a real Jupyter server with jupyter_twin on the embedded model.

The simulated front end does what labextension/src/provider.ts and JupyterLab's inline
completer do:
- automatic trigger on each keystroke, debounced (JupyterLab skips a fetch when another key
  came within the debounce delay; `--debounce`, default 400 ms = our provider's default);
  no automatic trigger when the line before the cursor is blank;
- a new fetch aborts the request before it (AbortController: the connection closes);
- a keystroke that does not type along the streamed suggestion aborts it at once;
- the server cancels the older generation of the same editor before starting a new one.

Keystroke intervals are log-normal (mean 100 ms, seeded), so a few pauses exceed the
debounce delay as in real typing. Measured on the server and the backend:
- generations running at once: sampled every 20 ms from /jupyter-twin/metrics, and the
  embedded backend's own max_active counter;
- generated tokens thrown away: tokens of generations that were cancelled, over all
  tokens generated during the run (the backend's own token counter).

    .venv/bin/python benchmarks/typing_server.py
    .venv/bin/python benchmarks/typing_server.py --debounce 0 --debounce 250 --debounce 400 --json bench-results/typing.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _jupyter_server import JupyterServer, dumps  # noqa: E402

from jupyter_twin.modelfiles import demo_model_path  # noqa: E402

ACTIVE = 20
HEADER = "# revenue per region and month, with growth\n"
_LINES = "monthly = orders.groupby('region')['revenue'].sum()\nshare = monthly / monthly.sum()\n"
# ends inside a call, so the last suggestion (the one the user keeps) is a real one
TYPED = _LINES + "share.plot(kind="
assert len(TYPED) == 100


def notebook() -> list[dict[str, Any]]:
    """30 cells of a plausible analysis notebook; cell ACTIVE is where the user types."""
    cells: list[dict[str, Any]] = []
    topics = ["orders", "customers", "products", "returns", "shipping", "marketing"]
    cells.append({"cell_type": "markdown", "source": "# Quarterly sales analysis"})
    cells.append({"cell_type": "code", "source": "import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt"})
    i = 0
    while len(cells) < 30:
        t = topics[i % len(topics)]
        k = i // len(topics)
        if len(cells) == ACTIVE:
            cells.append({"cell_type": "code", "source": HEADER})
            continue
        if i % 3 == 0:
            cells.append({"cell_type": "markdown", "source": f"## {t.title()} (part {k + 1})\nChecks and summaries of the {t} table."})
        elif i % 3 == 1:
            cells.append({"cell_type": "code", "source": f"{t} = pd.read_csv('{t}_{k}.csv', parse_dates=['date'])\n{t} = {t}.dropna()\n{t}.describe()"})
        else:
            cells.append({"cell_type": "code", "source": f"def summarise_{t}_{k}(df):\n    \"\"\"Totals of the {t} table per region.\"\"\"\n    return df.groupby('region').sum(numeric_only=True)\n\nsummarise_{t}_{k}({t})"})
        i += 1
    cells[3] = {"cell_type": "code", "source": "orders['revenue'] = orders['price'] * orders['quantity']"}
    assert len(cells) == 30 and cells[ACTIVE]["source"] == HEADER
    return cells


def keystroke_times(n: int, seconds: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    sigma = 0.6
    mu = math.log(seconds / n) - sigma * sigma / 2
    gaps = [rng.lognormvariate(mu, sigma) for _ in range(n)]
    scale = seconds / sum(gaps)
    out, t = [], 0.0
    for g in gaps:
        t += g * scale
        out.append(t)
    return out


def typed_along(request_text: str, now: str, suggestion: str) -> bool:
    """provider.ts typedAlong for a cursor at the end of the cell."""
    if not now.startswith(request_text) or len(now) <= len(request_text):
        return False
    return suggestion.startswith(now[len(request_text):])


class Request:
    def __init__(self, serial: int, text: str) -> None:
        self.serial = serial
        self.text = text
        self.suggestion = ""
        self.state = "starting"
        self.task: asyncio.Task | None = None
        self.response: httpx.Response | None = None
        self.started = time.perf_counter()
        self.first_delta: float | None = None
        self.received = 0  # deltas that reached the client (shown as ghost text)

    def abort(self) -> None:
        if self.state in ("starting", "streaming"):
            self.state = "aborted"
            if self.task is not None:
                self.task.cancel()


async def run_once(server: JupyterServer, debounce: float, seed: int, chars: int, seconds: float) -> dict[str, Any]:
    base = notebook()
    times = keystroke_times(chars, seconds, seed)
    text_typed = TYPED[:chars]
    server.reset_metrics()
    before = server.metrics()["backend_stats"] or {}
    requests: list[Request] = []
    inflight: list[Request | None] = [None]
    last_key = [0]
    samples: list[int] = []
    stop_sampling = asyncio.Event()

    async with httpx.AsyncClient(timeout=120) as client:

        async def sample() -> None:
            while not stop_sampling.is_set():
                try:
                    r = await client.get(f"{server.url}/jupyter-twin/metrics", headers=server.headers)
                    m = r.json()
                    active = (m.get("backend_stats") or {}).get("active", 0)
                    samples.append(max(active, m.get("running_complete", 0)))
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.02)

        async def fetch(req: Request) -> None:
            cells = [dict(c) for c in base]
            cells[ACTIVE] = dict(cells[ACTIVE], source=req.text)
            body = {"cells": cells, "index": ACTIVE, "cursor": len(req.text), "editor_id": "typing-bench"}
            try:
                async with client.stream("POST", f"{server.url}/jupyter-twin/complete",
                                         json=body, headers=server.headers) as r:
                    req.state = "streaming"
                    async for line in r.aiter_lines():
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        if "delta" in event:
                            req.received += 1
                            req.suggestion += event["delta"]
                            if req.first_delta is None:
                                req.first_delta = time.perf_counter() - req.started
                        elif event.get("done"):
                            req.suggestion = event["text"]
                            req.state = "done"
                        elif event.get("cancelled"):
                            req.state = "superseded"
                        elif event.get("error"):
                            req.state = "error"
            except asyncio.CancelledError:
                req.state = "aborted"
            finally:
                if inflight[0] is req:
                    inflight[0] = None

        def start(serial: int, text: str) -> None:
            if serial != last_key[0]:
                return  # another key came within the debounce delay
            if inflight[0] is not None:
                inflight[0].abort()  # the provider aborts the older request
            req = Request(serial, text)
            requests.append(req)
            inflight[0] = req
            req.task = asyncio.ensure_future(fetch(req))

        sampler = asyncio.ensure_future(sample())
        t0 = time.perf_counter()
        text = base[ACTIVE]["source"]
        loop = asyncio.get_running_loop()
        for k, at in enumerate(times, start=1):
            delay = t0 + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            text += text_typed[k - 1]
            last_key[0] = k
            req = inflight[0]
            if req is not None and not typed_along(req.text, text, req.suggestion):
                req.abort()
            line = text.rsplit("\n", 1)[-1]
            if not line.strip():
                continue  # JupyterLab: no automatic trigger on a blank line
            if debounce <= 0:
                start(k, text)
            else:
                loop.call_later(debounce, start, k, text)
        typing_seconds = time.perf_counter() - t0
        # let the last debounced request start and finish
        await asyncio.sleep(debounce + 0.05)
        pending = [r.task for r in requests if r.task is not None and not r.task.done()]
        if pending:
            await asyncio.wait(pending, timeout=120)
        await asyncio.sleep(0.3)
        stop_sampling.set()
        await sampler

    # the backend has stopped everything it was asked to stop
    for _ in range(200):
        metrics = server.metrics()
        if (metrics.get("backend_stats") or {}).get("active", 0) == 0 and metrics["running"] == 0:
            break
        await asyncio.sleep(0.05)
    after = metrics["backend_stats"] or {}
    tokens = after.get("tokens", 0) - before.get("tokens", 0)
    states: dict[str, int] = {}
    for r in requests:
        states[r.state] = states.get(r.state, 0) + 1
    delivered = metrics["deltas_delivered"]
    discarded = metrics["deltas_discarded"]
    completed = after.get("completed", 0) - before.get("completed", 0)
    # the backend counts one last (empty) chunk per completed generation: not a token
    generated = tokens - completed
    return {
        "debounce_ms": round(debounce * 1000),
        "keystrokes": len(times),
        "typing_seconds": round(typing_seconds, 2),
        "requests": len(requests),
        "request_states": states,
        "max_concurrent_sampled": max(samples) if samples else 0,
        "backend_max_active": after.get("max_active"),
        "server_max_running_complete": metrics["max_running_complete"],
        "backend_generations": after.get("started", 0) - before.get("started", 0),
        "backend_cancelled": after.get("cancelled", 0) - before.get("cancelled", 0),
        "backend_tokens": tokens,
        "server_deltas_total": metrics["deltas_total"],
        "server_deltas_delivered": delivered,
        "server_deltas_discarded": discarded,
        "thrown_away_share": (discarded / metrics["deltas_total"]) if metrics["deltas_total"] else 0.0,
        "backend_completed": completed,
        "generated_tokens": generated,
        "thrown_away_share_backend": ((generated - delivered) / generated) if generated else 0.0,
        "client_received_lines": sum(r.received for r in requests),
        "server_deltas_sent": metrics["deltas_sent"],
        "never_shown_share": ((generated - metrics["deltas_sent"]) / generated) if generated else 0.0,
        "final_suggestion": requests[-1].suggestion if requests else None,
        "final_state": requests[-1].state if requests else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debounce", type=float, action="append",
                        help="debounce in ms (repeatable; default: 400)")
    parser.add_argument("--seed", type=int, action="append", help="keystroke timing seeds (default 1 2 3)")
    parser.add_argument("--chars", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    debounces = [d / 1000 for d in (args.debounce or [400.0])]
    seeds = args.seed or [1, 2, 3, 4, 5]
    settings = {
        "backend": "embedded",
        "model_path": str(demo_model_path()),
        "num_ctx": 4096,
        "context_tokens": 1536,
        "max_tokens_complete": 64,
    }
    results = []
    for debounce in debounces:
        for seed in seeds:
            # a server of its own per run: the same text typed again would otherwise be
            # answered by the completion cache of the run before (no generation at all)
            with JupyterServer(settings) as server:
                # warm the model and the prompt cache with the notebook, as a user who opened it
                base = notebook()
                httpx.post(f"{server.url}/jupyter-twin/complete", headers=server.headers, timeout=300,
                           json={"cells": base, "index": ACTIVE, "cursor": len(HEADER), "editor_id": "warm"})
                r = asyncio.run(run_once(server, debounce, seed, args.chars, args.seconds))
            r["seed"] = seed
            results.append(r)
            print(f"debounce {r['debounce_ms']:>3} ms seed {seed}: {r['requests']:>3} requests "
                  f"{r['request_states']}, max concurrent {r['max_concurrent_sampled']} "
                  f"(backend max_active {r['backend_max_active']}), tokens {r['backend_tokens']}, "
                  f"thrown away {r['thrown_away_share']:.1%}", file=sys.stderr)
    print(f"\nSimulated typing: {args.chars} characters in {args.seconds:.0f} s into cell {ACTIVE + 1} "
          f"of a 30-cell notebook, embedded Qwen2.5-Coder-0.5B through the server extension\n")
    print("tokens: generated, by the backend's own counter. kept: tokens of suggestions that")
    print("finished (the user sees the whole suggestion). thrown away: the other tokens, i.e. of")
    print("generations cancelled because the user typed on. never shown: tokens the server never")
    print("sent to the browser (generated after the user moved on, before the model stopped).\n")
    print(f"{'debounce':>9}{'seed':>6}{'requests':>10}{'cancelled':>11}{'max gen.':>10}"
          f"{'tokens':>8}{'kept':>6}{'thrown away':>13}{'never shown':>13}")
    for r in results:
        print(f"{r['debounce_ms']:>6} ms{r['seed']:>6}{r['requests']:>10}{r['backend_cancelled']:>11}"
              f"{max(r['max_concurrent_sampled'], r['backend_max_active'] or 0):>10}"
              f"{r['generated_tokens']:>8}{r['server_deltas_delivered']:>6}{r['thrown_away_share_backend']:>12.1%}"
              f"{r['never_shown_share']:>12.1%}")
    for debounce in debounces:
        rows = [r for r in results if r["debounce_ms"] == round(debounce * 1000)]
        total = sum(r["generated_tokens"] for r in rows)
        shown = sum(r["server_deltas_delivered"] for r in rows)
        received = sum(r["server_deltas_sent"] for r in rows)
        conc = max(max(r["max_concurrent_sampled"], r["backend_max_active"] or 0) for r in rows)
        print(f"\ndebounce {round(debounce * 1000)} ms ({len(rows)} runs): at most {conc} generation(s) running at any moment; "
              f"{total - shown}/{total} generated tokens thrown away = {(total - shown) / total if total else 0:.1%}; "
              f"never shown: {total - received}/{total} = {(total - received) / total if total else 0:.1%}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
