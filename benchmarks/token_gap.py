"""Time per generated token through the model process, against llama.cpp called directly.

The model process runs each request's model work on the role's ModelThread
(jupyter_twin/modelproc/worker.py). This prints, for the same prompt (the first 2,400
characters of jupyter_twin/context.py, about 740 tokens, cached after the first request)
and 30 greedy tokens:

- `process`: the median gap between streamed tokens and the time to the first token,
  through the running model process's /generate (what every embedded request pays);
- `direct`: the same with llama-cpp-python in this process, on its main thread, with the
  llama.cpp build the model process loads (the floor for this machine);
- `count`: the median round trip of the model process's /count for one short text, which
  the engine calls for every cell new to the context (44 ms when Nagle's algorithm held
  each reply's body for the client's delayed ACK; see worker.Handler).

    python benchmarks/token_gap.py [--repeat 3]

Run it on a quiet machine (load below 1): the numbers are latencies.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import httpx

PROMPT = (Path(__file__).resolve().parents[1] / "jupyter_twin" / "context.py").read_text()[:2400]
TOKENS = 30


def count_round_trip(n: int = 20) -> float:
    """Median seconds of one /count request through the engine's own client."""
    from jupyter_twin.twin import Twin

    twin = Twin(backend="embedded")
    try:
        twin.backend.count_tokens("warm")
        times = []
        for i in range(n):
            t0 = time.monotonic()
            twin.backend.count_tokens(f"housing = load_housing_data({i})")
            times.append(time.monotonic() - t0)
        return statistics.median(times)
    finally:
        twin.close()


def through_process(repeat: int) -> list[tuple[float, float]]:
    from jupyter_twin.twin import Twin

    twin = Twin(backend="embedded")
    try:
        proc = twin.backend.process
        ep = proc.endpoint()
        body = {"role": "complete", "kind": "completion", "stop_ids": [], "cache_reuse": 32,
                "kwargs": {"prompt": PROMPT, "max_tokens": TOKENS, "temperature": 0, "top_k": 1, "stop": []}}
        out = []
        for i in range(repeat + 1):  # the first request evaluates the prompt: left out
            t0 = time.monotonic()
            stamps = []
            with httpx.Client(timeout=None) as c, c.stream("POST", ep.url + "/generate", json=body,
                                                          headers=ep.headers) as r:
                for line in r.iter_lines():
                    if line.startswith('{"t"'):
                        stamps.append(time.monotonic() - t0)
            if i:
                out.append((stamps[0], statistics.median(b - a for a, b in zip(stamps, stamps[1:]))))
        return out
    finally:
        twin.close()


def direct(repeat: int) -> list[tuple[float, float]]:
    from jupyter_twin.backends.embedded import default_threads
    from jupyter_twin.modelfiles import demo_model_path
    from jupyter_twin.modelproc.build import best_variant

    lib = best_variant()[1]
    if lib:
        os.environ["LLAMA_CPP_LIB_PATH"] = lib
    import llama_cpp

    threads = default_threads()
    llm = llama_cpp.Llama(model_path=str(demo_model_path()), n_ctx=4096, n_threads=threads,
                          n_threads_batch=threads, n_batch=512, verbose=False)
    ids = llm.tokenize(PROMPT.encode(), add_bos=False)
    llm.eval(ids)
    out = []
    for _ in range(repeat):
        llm.n_tokens = len(ids) - 1  # the prompt stays cached; its last token is decoded again
        t0 = time.monotonic()
        stamps = [time.monotonic() - t0 for _ in llm.create_completion(ids, max_tokens=TOKENS, temperature=0,
                                                                         top_k=1, stream=True)]
        out.append((stamps[0], statistics.median(b - a for a, b in zip(stamps, stamps[1:]))))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    print(f"load at the start: {os.getloadavg()[0]:.2f}")
    for name, runs in (("process", through_process(args.repeat)), ("direct", direct(args.repeat))):
        first = statistics.median(r[0] for r in runs) * 1000
        gap = statistics.median(r[1] for r in runs) * 1000
        print(f"{name:<8} first token {first:6.1f} ms   per token {gap:5.1f} ms   ({len(runs)} runs)")
    print(f"count    round trip  {count_round_trip() * 1000:6.1f} ms   (median of 20)")


if __name__ == "__main__":
    main()
