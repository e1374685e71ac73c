"""Prompt evaluation speed: through `Twin.complete` (the model process) against bare
`Llama.eval` on the same prompt tokens, in one run on one machine (issue 14, point 6).

Bare runs in a child process of its own (llama.cpp never loads in this process). Each
product request starts with a line no earlier prompt had, so nothing is reused from the
KV cache; its speed is the prompt tokens the worker evaluated divided by the time to the
first token, as the user waits for it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..twin import Twin

_BARE = r"""
import json, sys, time, llama_cpp
path, n_ctx, threads, prompts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.stdin.read())
llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, n_batch=512, verbose=False)
llm.eval(llm.tokenize(b"warm up", add_bos=False))
out = []
for text in prompts:
    ids = llm.tokenize(text.encode(), add_bos=False, special=True)
    llm.reset()
    t = time.monotonic()
    llm.eval(ids)
    out.append([len(ids), time.monotonic() - t])
print(json.dumps(out))
"""

_CODE = '''def moving_average(values, window):
    """Mean of each run of `window` values."""
    out = []
    for i in range(len(values) - window + 1):
        out.append(sum(values[i:i + window]) / window)
    return out

'''


def _cell(serial: int, approx_tokens: int) -> str:
    # about 70 tokens per copy of _CODE; the serial line makes every prompt new to the cache
    copies = max(1, approx_tokens // 70)
    return f"# run {serial}\n" + _CODE * copies + "result = moving_average(["


def run(twin: Twin, sizes: list[int], repeats: int) -> dict[str, Any]:
    backend = twin.backend
    path = Path(getattr(backend, "path"))
    threads = backend.process.threads
    n_ctx = backend.process.n_ctx
    twin.complete([{"cell_type": "code", "source": "x = 1\ny = "}], 0)  # start the process
    rows: dict[int, dict[str, list[float]]] = {}
    prompts: list[str] = []
    serial = 0
    for size in sizes:
        rows[size] = {"product": [], "bare": []}
        for _ in range(repeats):
            serial += 1
            cells = [{"cell_type": "code", "source": _cell(serial, size)}]
            prompts.append(twin.preview_complete(cells, 0).prompt or "")
            before = backend.generation_stats() or {}
            stream = twin.stream_complete(cells, 0)
            stream.result()
            after = backend.generation_stats() or {}
            evaluated = (after.get("prompt_tokens", 0) - before.get("prompt_tokens", 0)) - (
                after.get("reused_tokens", 0) - before.get("reused_tokens", 0))
            ttft = stream.first_token_latency or stream.latency or 0.0
            rows[size]["product"].append(evaluated / ttft if ttft else 0.0)
    bare = subprocess.run([sys.executable, "-c", _BARE, str(path), str(n_ctx), str(threads)],
                          input=json.dumps(prompts), capture_output=True, text=True, timeout=1800)
    if bare.returncode != 0:
        raise RuntimeError(f"bare llama.cpp failed ({bare.returncode}): {bare.stderr[-500:]}")
    timings = json.loads(bare.stdout.strip().splitlines()[-1])
    i = 0
    for size in sizes:
        for _ in range(repeats):
            n, seconds = timings[i]
            rows[size]["bare"].append(n / seconds)
            i += 1
    return {"threads": threads, "rows": {str(k): v for k, v in rows.items()}}


def table(result: dict[str, Any]) -> str:
    lines = [f"prompt evaluation, tokens/s (median), {result['threads']} threads",
             "| prompt tokens (about) | Twin.complete (model process) | bare Llama.eval | ratio |",
             "| --- | --- | --- | --- |"]
    for size, row in result["rows"].items():
        p, b = statistics.median(row["product"]), statistics.median(row["bare"])
        lines.append(f"| {size} | {p:.0f} | {b:.0f} | {p / b:.2f} |")
    return "\n".join(lines)
