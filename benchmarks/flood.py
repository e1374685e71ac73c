"""Flood benchmark (not a timed test): many clients on loopback stream completions and
chats through a real Jupyter server with jupyter_twin, against a fake OpenAI-compatible
backend that streams made-up tokens (benchmarks/_fake_openai.py), so that what is
measured is the server: does it stay responsive, does it bound its threads and memory,
does it say "busy" instead of slowing down for everyone.

Each client loops until the time is up: a completion (its own editor_id), then a chat
task (explain, no request_id), reading each NDJSON stream to its last line; after a 503
or 429 it waits 0.25 s and goes on. Meanwhile the script samples the server process's
threads and resident memory (/proc) and times GET /api/status (jupyter_server's own) and
GET /jupyter-twin/status. Reported: answers, cancelled, error lines, 503s, 429s, other
statuses, client errors, peak threads and memory, status latencies.

Safety: everything is on 127.0.0.1 (server, fake backend, clients); at most 64 clients and
300 s; every request has a time-out; the server and the fake backend are stopped at the
end, whatever happens.

    .venv/bin/python benchmarks/flood.py                       # 50 clients, 60 s
    .venv/bin/python benchmarks/flood.py --duration 30 --json bench-results/flood.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fake_openai import FakeOpenAI  # noqa: E402
from _jupyter_server import JupyterServer, dumps, percentile  # noqa: E402

MAX_CLIENTS = 64
MAX_DURATION = 300.0
REQUEST_TIMEOUT = 60.0

CELLS = [
    {"cell_type": "markdown", "source": "# Sales\nMonthly revenue by region."},
    {"cell_type": "code", "source": "import pandas as pd\norders = pd.read_csv('orders.csv')"},
    {"cell_type": "code", "source": "def clean(df):\n    df = df.dropna()\n    return df[df['quantity'] > 0]"},
    {"cell_type": "code", "source": "orders = clean(orders)\nby_region = orders.groupby('region')['revenue']."},
]


def proc_sample(pid: int) -> tuple[int, int]:
    """(threads, resident kB) of a process, from /proc (Linux)."""
    threads = rss = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    return threads, rss


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.latency: dict[str, list[float]] = {"complete": [], "task": []}

    def add(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


async def one_request(client: httpx.AsyncClient, server: JupyterServer, kind: str, i: int, n: int,
                      tally: Tally) -> int:
    cells = [dict(c) for c in CELLS]
    cells[-1]["source"] += "sum"[: n % 4]  # each request differs a little, like typing
    if kind == "complete":
        body = {"cells": cells, "index": 3, "cursor": len(cells[3]["source"]), "editor_id": f"flood-{i}"}
        path = "complete"
    else:
        body = {"task": "explain", "cells": cells, "index": 2}
        path = "task"
    started = time.perf_counter()
    try:
        async with client.stream("POST", f"{server.url}/jupyter-twin/{path}", json=body,
                                 headers=server.headers, timeout=REQUEST_TIMEOUT) as r:
            if r.status_code != 200:
                await r.aread()
                tally.add(f"http_{r.status_code}")
                return r.status_code
            last: dict[str, Any] = {}
            async for line in r.aiter_lines():
                if line.strip():
                    last = json.loads(line)
            if last.get("done"):
                tally.add("answers")
                tally.latency[kind].append(time.perf_counter() - started)
            elif last.get("cancelled"):
                tally.add("cancelled")
            elif last.get("error"):
                tally.add("error_lines")
            else:
                tally.add("no_final_line")
            return 200
    except (httpx.HTTPError, OSError, ValueError) as exc:
        tally.add(f"client_{type(exc).__name__}")
        return 0


async def client_loop(client: httpx.AsyncClient, server: JupyterServer, i: int, deadline: float,
                      tally: Tally) -> None:
    n = 0
    while time.monotonic() < deadline:
        kind = "complete" if n % 2 == 0 else "task"
        status = await one_request(client, server, kind, i, n, tally)
        n += 1
        if status in (429, 503) or status == 0:
            await asyncio.sleep(0.25)


async def sampler(server: JupyterServer, deadline: float, samples: dict[str, list[float]]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        while time.monotonic() < deadline:
            threads, rss = proc_sample(server.proc.pid)
            samples["threads"].append(threads)
            samples["rss_kb"].append(rss)
            for name, path in (("api_status", "/api/status"), ("twin_status", "/jupyter-twin/status")):
                started = time.perf_counter()
                try:
                    r = await client.get(server.url + path, headers=server.headers)
                    if r.status_code == 200:
                        samples[name].append(time.perf_counter() - started)
                    else:
                        samples[name + "_failed"].append(r.status_code)
                except httpx.HTTPError:
                    samples[name + "_failed"].append(0)
            await asyncio.sleep(0.25)


async def flood(server: JupyterServer, clients: int, duration: float) -> dict[str, Any]:
    tally = Tally()
    samples: dict[str, list[float]] = {k: [] for k in (
        "threads", "rss_kb", "api_status", "twin_status", "api_status_failed", "twin_status_failed")}
    idle_threads, idle_rss = proc_sample(server.proc.pid)
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    deadline = time.monotonic() + duration
    started = time.monotonic()
    async with httpx.AsyncClient(limits=limits) as client:
        work = [asyncio.ensure_future(client_loop(client, server, i, deadline, tally)) for i in range(clients)]
        watch = asyncio.ensure_future(sampler(server, deadline, samples))
        # stops by itself: the loops end at the deadline; anything still out is cut off
        done, pending = await asyncio.wait([*work, watch], timeout=duration + REQUEST_TIMEOUT + 10)
        for task in pending:
            task.cancel()
    elapsed = time.monotonic() - started

    def lat(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        return {"p50_ms": round(percentile(values, 0.5) * 1000, 1), "p95_ms": round(percentile(values, 0.95) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1), "n": len(values)}

    return {
        "clients": clients,
        "duration_s": round(elapsed, 1),
        "outcomes": dict(sorted(tally.counts.items())),
        "answers_per_s": round(tally.counts.get("answers", 0) / elapsed, 2),
        "answer_latency": {k: lat(v) for k, v in tally.latency.items()},
        "server_threads": {"idle": idle_threads, "peak": max(samples["threads"], default=0)},
        "server_rss_mb": {"idle": round(idle_rss / 1024, 1), "peak": round(max(samples["rss_kb"], default=0) / 1024, 1)},
        "api_status_latency": lat(samples["api_status"]),
        "twin_status_latency": lat(samples["twin_status"]),
        "status_failures": {"api": len(samples["api_status_failed"]), "twin": len(samples["twin_status_failed"])},
        "pending_cut_off": len(pending),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of flood")
    ap.add_argument("--tokens", type=int, default=24, help="tokens per fake answer")
    ap.add_argument("--delay", type=float, default=0.02, help="seconds between fake tokens")
    ap.add_argument("--max-running", type=int, default=None, help="c.TwinApp.max_running_jobs (default: its default)")
    ap.add_argument("--max-queued", type=int, default=None, help="c.TwinApp.max_queued_jobs")
    ap.add_argument("--per-user", type=int, default=None, help="c.TwinApp.max_jobs_per_user")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    clients = max(1, min(args.clients, MAX_CLIENTS))
    duration = max(1.0, min(args.duration, MAX_DURATION))
    twin: dict[str, Any] = {"backend": "openai", "model": "fake-coder", "max_tokens_chat": args.tokens,
                            "max_tokens_complete": args.tokens, "preload": True, "request_timeout": 60.0}
    for key, value in (("max_running_jobs", args.max_running), ("max_queued_jobs", args.max_queued),
                       ("max_jobs_per_user", args.per_user)):
        if value is not None:
            twin[key] = value
    with FakeOpenAI(tokens=args.tokens, delay=args.delay) as fake:
        twin["host"] = fake.url
        # the fake answers on loopback: no key is needed or sent
        os.environ.pop("OPENAI_API_KEY", None)
        with JupyterServer(twin) as server:
            result = asyncio.run(flood(server, clients, duration))
            result["server_metrics"] = {k: v for k, v in server.metrics().items()
                                        if k in ("max_running", "max_queued", "rejected_busy", "rejected_user",
                                                 "jobs", "jobs_cancelled", "limits", "running", "threads")}
        result["fake_backend"] = fake.stats.snapshot()
    result["settings"] = {"tokens": args.tokens, "delay_s": args.delay, **{k: v for k, v in twin.items() if k.startswith("max_")}}
    print(dumps(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
