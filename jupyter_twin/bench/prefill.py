"""Prompt evaluation speed: through `Twin.complete` (the model process) against bare
`Llama.eval` on the same prompt tokens, in one run on one machine (issue 14, point 6).

Bare runs in a child process of its own (llama.cpp never loads in this process). Each
product request starts with a line no earlier prompt had, so nothing is reused from the
KV cache; its speed is the prompt tokens the worker evaluated divided by the time to the
first token, as the user waits for it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..modelproc.build import best_variant
from ..twin import Twin

# one prompt per stdin line, one timing per stdout line: the two paths alternate, so a
# change in the machine's load falls on both alike
_BARE = r"""
import json, sys, time, llama_cpp
path, n_ctx, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, n_batch=512, verbose=False)
llm.eval(llm.tokenize(b"warm up", add_bos=False))
print("ready", flush=True)
for line in sys.stdin:
    ids = llm.tokenize(json.loads(line).encode(), add_bos=False, special=True)
    llm.reset()
    t = time.monotonic()
    llm.eval(ids)
    print(json.dumps([len(ids), time.monotonic() - t]), flush=True)
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
    # the same llama.cpp build as the model process loads (build.best_variant)
    env = dict(os.environ)
    variant, lib_dir = best_variant()
    if lib_dir is not None and "LLAMA_CPP_LIB_PATH" not in env:
        env["LLAMA_CPP_LIB_PATH"] = lib_dir
    bare = subprocess.Popen([sys.executable, "-c", _BARE, str(path), str(n_ctx), str(threads)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert bare.stdin is not None and bare.stdout is not None
    if bare.stdout.readline().strip() != "ready":
        raise RuntimeError(f"bare llama.cpp did not start (exit {bare.wait()})")
    rows: dict[int, dict[str, list[float]]] = {}
    serial = 0
    try:
        for size in sizes:
            rows[size] = {"product": [], "bare": [], "tokens": []}
            for _ in range(repeats):
                serial += 1
                cells = [{"cell_type": "code", "source": _cell(serial, size)}]
                before = backend.generation_stats() or {}
                stream = twin.stream_complete(cells, 0)
                stream.result()
                after = backend.generation_stats() or {}
                evaluated = (after.get("prompt_tokens", 0) - before.get("prompt_tokens", 0)) - (
                    after.get("reused_tokens", 0) - before.get("reused_tokens", 0))
                ttft = stream.first_token_latency or stream.latency or 0.0
                rows[size]["product"].append(evaluated / ttft if ttft else 0.0)
                rows[size]["tokens"].append(evaluated)
                # the same prompt text, bare
                bare.stdin.write(json.dumps(twin.preview_complete(cells, 0).prompt or "") + "\n")
                bare.stdin.flush()
                n, seconds = json.loads(bare.stdout.readline())
                rows[size]["bare"].append(n / seconds)
    finally:
        bare.stdin.close()
        bare.wait(60)
    return {"threads": threads, "build": variant, "rows": {str(k): v for k, v in rows.items()}}


def table(result: dict[str, Any]) -> str:
    lines = [f"prompt evaluation, tokens/s (median), {result['threads']} threads, llama.cpp build {result['build']}",
             "| prompt tokens (about) | Twin.complete (model process) | bare Llama.eval | ratio |",
             "| --- | --- | --- | --- |"]
    for row in result["rows"].values():
        p, b = statistics.median(row["product"]), statistics.median(row["bare"])
        n = statistics.median(row["tokens"])
        lines.append(f"| {n:.0f} | {p:.0f} | {b:.0f} | {p / b:.2f} |")
    return "\n".join(lines)
