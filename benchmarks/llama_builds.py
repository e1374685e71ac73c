"""Prompt evaluation of llama-cpp-python builds against each other (issue 14, point 4).

    python benchmarks/llama_builds.py NAME=PYTHON[@LIBDIR] ... [--sizes 500,1000] [--rounds 3]

Each PYTHON is the interpreter of a virtual environment with one llama-cpp-python build;
@LIBDIR loads that folder's llama.cpp libraries instead (LLAMA_CPP_LIB_PATH), as the
model process does with the AVX-512 variant.
Every build gets the same prompts, in alternating rounds (a change in the machine's load
falls on all alike), evaluated from an empty KV cache; a build that crashes is reported
with its signal. Prints tokens/s (median) per build and prompt size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jupyter_twin.bench.prefill import _BARE, _CODE  # noqa: E402
from jupyter_twin.modelfiles import demo_model_path  # noqa: E402
from jupyter_twin.modelproc.__main__ import describe  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("builds", nargs="+", help="NAME=PYTHON")
    p.add_argument("--sizes", default="500,1000")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    model = demo_model_path()
    sizes = [int(s) for s in args.sizes.split(",")]
    builds = dict(b.split("=", 1) for b in args.builds)
    procs = {}
    for name, spec in builds.items():
        python, _, lib_dir = spec.partition("@")
        env = {k: v for k, v in os.environ.items() if k != "LLAMA_CPP_LIB_PATH"}
        if lib_dir:
            env["LLAMA_CPP_LIB_PATH"] = lib_dir
        proc = subprocess.Popen([python, "-c", _BARE, str(model), "4096", str(args.threads)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        if proc.stdout.readline().strip() != "ready":
            print(f"{name}: did not start ({describe(proc.wait())})")
            continue
        procs[name] = proc
    results: dict[str, dict[int, list[float]]] = {n: {s: [] for s in sizes} for n in procs}
    failed: dict[str, str] = {}
    for r in range(args.rounds):
        for size in sizes:
            prompt = f"# round {r}\n" + _CODE * max(1, size // 70)
            for name, proc in procs.items():
                if name in failed:
                    continue
                proc.stdin.write(json.dumps(prompt) + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                if not line:
                    failed[name] = describe(proc.wait())
                    continue
                n, seconds = json.loads(line)
                results[name][size].append(n / seconds)
    print(f"prompt evaluation, tokens/s (median of {args.rounds}), {args.threads} threads, {model.name}")
    print("| build | " + " | ".join(f"~{s} tokens" for s in sizes) + " |")
    print("| --- | " + " | ".join("---" for _ in sizes) + " |")
    for name in builds:
        if name in failed or name not in procs:
            print(f"| {name} | " + " | ".join(f"crashed: {failed.get(name, 'did not start')}" for _ in sizes) + " |")
            continue
        print(f"| {name} | " + " | ".join(f"{statistics.median(results[name][s]):.0f}" for s in sizes) + " |")
    for proc in procs.values():
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(30)


if __name__ == "__main__":
    main()
