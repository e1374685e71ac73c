"""Overhead of the server path: a completion through the jupyter_twin server extension
(HTTP POST /jupyter-twin/complete, NDJSON stream read to the final line) versus the same
call on the engine directly (Twin.complete), with the embedded model.

Both sides run the same settings, the same model file and the same sequence of requests
(alternating: direct i, server i), so llama.cpp's prompt cache sees the same history on
both sides. Reported:

- end-to-end time per request on each side: median, p95;
- the paired difference (server - direct) per request: median, p95;
- the time the server path adds around the engine call inside one request (client round
  trip minus the engine call's duration measured in the server process: the same
  stream_complete + iterate + result that Twin.complete does), which has no model noise.

    .venv/bin/python benchmarks/server_overhead.py            # 50 requests
    .venv/bin/python benchmarks/server_overhead.py -n 100 --json bench-results/overhead.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _jupyter_server import JupyterServer, dumps, ms, percentile  # noqa: E402

from jupyter_twin import Settings, Twin  # noqa: E402
from jupyter_twin.modelfiles import demo_model_path  # noqa: E402

NOTEBOOK = [
    ("markdown", "# Sales report\nMonthly revenue by region, cleaned and summarised."),
    ("code", "import pandas as pd\nimport numpy as np\nimport matplotlib.pyplot as plt"),
    ("code", "orders = pd.read_csv('orders.csv', parse_dates=['date'])\norders.head()"),
    ("code", "def clean(df):\n    df = df.dropna(subset=['price', 'quantity'])\n    df = df[df['quantity'] > 0]\n    return df"),
    ("code", "orders = clean(orders)\norders['revenue'] = orders['price'] * orders['quantity']"),
    ("markdown", "## Revenue by region"),
    ("code", "by_region = orders.groupby('region')['revenue'].sum().sort_values(ascending=False)\nby_region"),
    ("code", "def monthly(df, column):\n    \"\"\"Sum a column per calendar month.\"\"\"\n    return df.set_index('date')[column].resample('MS').sum()"),
    ("code", "fig, ax = plt.subplots(figsize=(8, 4))\nmonthly(orders, 'revenue').plot(ax=ax)\nax.set_title('Revenue per month')"),
    ("code", "def top_customers(df, n=10):\n    "),
    ("code", "def growth(series):\n    \"\"\"Month over month growth in percent.\"\"\"\n    return "),
    ("code", "summary = pd.DataFrame({\n    'revenue': by_region,\n    "),
]


def cells() -> list[dict[str, Any]]:
    return [{"cell_type": t, "source": s} for t, s in NOTEBOOK]


TYPED = "    ranked = df.groupby('customer')['revenue'].sum().sort_values(ascending=False)\n    return ranked.head(n)\n"


def requests(n: int) -> list[tuple[list[dict[str, Any]], int, int]]:
    """n requests as a user types the body of top_customers one character at a time
    (each request differs from the one before by one character, like real typing)."""
    base = cells()
    index = 9
    head = base[index]["source"].rstrip(" ")
    out = []
    for i in range(n):
        text = head + TYPED[: (i % len(TYPED)) + 1]
        notebook = [dict(c) for c in base]
        notebook[index] = dict(notebook[index], source=text)
        out.append((notebook, index, len(text)))
    return out


def via_server(client: httpx.Client, server: JupyterServer, nb: list, index: int, cursor: int) -> dict[str, Any]:
    body = {"cells": nb, "index": index, "cursor": cursor, "editor_id": "bench"}
    started = time.perf_counter()
    final: dict[str, Any] = {}
    first: float | None = None
    with client.stream("POST", f"{server.url}/jupyter-twin/complete", json=body, headers=server.headers) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.strip():
                continue
            event = json.loads(line)
            if "delta" in event and first is None:
                first = time.perf_counter() - started
            if event.get("done") or event.get("error") or event.get("cancelled"):
                final = event
    total = time.perf_counter() - started
    if not final.get("done"):
        raise RuntimeError(f"the server did not complete: {final}")
    return {"total": total, "engine": final.get("engine_seconds", final["latency"]), "text": final["text"], "first": first}


def via_engine(twin: Twin, nb: list, index: int, cursor: int) -> dict[str, Any]:
    started = time.perf_counter()
    text = twin.complete(nb, index, cursor)
    return {"total": time.perf_counter() - started, "text": text}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50, help="requests per side (default 50)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    args = parser.parse_args()

    settings = {
        "backend": "embedded",
        "model_path": str(demo_model_path()),
        "max_tokens_complete": args.max_tokens,
        "num_ctx": 2048,
        "context_tokens": 1024,
        "temperature": 0.0,
    }
    print(f"model: {settings['model_path']}")
    twin = Twin(settings=Settings.from_env(**settings))
    twin.backend.info()  # start the model process now, not in the first timed request
    work = requests(args.n + args.warmup)
    rows = []
    with JupyterServer(settings) as server, httpx.Client(timeout=300) as client:
        for k, (nb, index, cursor) in enumerate(work):
            # alternate which side goes first, so neither always runs on a warmer machine
            if k % 2:
                s = via_server(client, server, nb, index, cursor)
                d = via_engine(twin, nb, index, cursor)
            else:
                d = via_engine(twin, nb, index, cursor)
                s = via_server(client, server, nb, index, cursor)
            if k >= args.warmup:
                rows.append({"direct": d["total"], "server": s["total"], "engine_in_server": s["engine"],
                             "same_text": d["text"] == s["text"], "first_delta": s["first"]})
            print(f"\r{k + 1}/{len(work)} requests", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        metrics = server.metrics()
    twin.close()

    direct = [r["direct"] for r in rows]
    server_t = [r["server"] for r in rows]
    paired = [r["server"] - r["direct"] for r in rows]
    around = [r["server"] - r["engine_in_server"] for r in rows]
    same = sum(r["same_text"] for r in rows)
    result = {
        "requests": len(rows),
        "direct": {"median": statistics.median(direct), "p95": percentile(direct, 0.95)},
        "server": {"median": statistics.median(server_t), "p95": percentile(server_t, 0.95)},
        "paired_difference": {"median": statistics.median(paired), "p95": percentile(paired, 0.95)},
        "server_around_engine": {"median": statistics.median(around), "p95": percentile(around, 0.95)},
        "same_text": same,
        "server_metrics": {k: metrics.get(k) for k in ("jobs", "jobs_cancelled", "max_running_complete")},
    }
    print(f"\nCompletion through the server extension vs. the engine directly ({len(rows)} requests each,")
    print(f"embedded Qwen2.5-Coder-0.5B, max {args.max_tokens} tokens, same request sequence both sides)\n")
    print(f"{'':34}{'median':>11}{'p95':>12}")
    print(f"{'engine directly (Twin.complete)':34}{ms(result['direct']['median'])}  {ms(result['direct']['p95'])}")
    print(f"{'through the server (HTTP, NDJSON)':34}{ms(result['server']['median'])}  {ms(result['server']['p95'])}")
    print(f"{'paired difference server - direct':34}{ms(result['paired_difference']['median'])}  {ms(result['paired_difference']['p95'])}")
    print(f"{'server time around the engine':34}{ms(result['server_around_engine']['median'])}  {ms(result['server_around_engine']['p95'])}")
    print(f"\nidentical completions on both paths: {same}/{len(rows)}")
    verdict = result["paired_difference"]["median"] <= 0.010
    print(f"added at the median: {result['paired_difference']['median'] * 1000:.1f} ms "
          f"({'within' if verdict else 'OVER'} the 10 ms budget)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(dumps({"summary": result, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
