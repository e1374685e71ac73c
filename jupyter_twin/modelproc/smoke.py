"""A one-token smoke test of llama.cpp on a model file, in a child process (for `doctor`).

A llama.cpp build made for another CPU (or with a bad code path, such as AMX on some
Xeons) dies with a signal at its first decode; in a child that is a finding, not a crash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .__main__ import describe
from .build import best_variant, rebuild_command

_CHILD = r"""
import json, sys, time, llama_cpp
t = time.monotonic()
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=512, n_threads=int(sys.argv[2]), verbose=False)
ids = llm.tokenize(b"def first(xs):\n    return xs[0] if xs else None\n" * 2, add_bos=False)
llm.eval(ids)
token = llm.sample(top_k=1)
print(json.dumps({"token": llm.detokenize([token]).decode(errors="replace"),
                  "system_info": llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
                  "seconds": round(time.monotonic() - t, 2)}))
"""


@dataclass
class SmokeResult:
    ok: bool
    message: str
    system_info: str = ""
    fix: str | None = None


def smoke_test(model: Path, threads: int = 2, timeout: float = 120.0) -> SmokeResult:
    """The build the model process would load here (build.best_variant), one token."""
    env = dict(os.environ)
    variant, lib_dir = best_variant()
    if lib_dir is not None and "LLAMA_CPP_LIB_PATH" not in env:
        env["LLAMA_CPP_LIB_PATH"] = lib_dir
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(model), str(threads)],
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return SmokeResult(False, f"the smoke test did not finish in {timeout:.0f} s")
    if proc.returncode != 0:
        why = describe(proc.returncode)
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [""]
        return SmokeResult(False, f"llama.cpp died in a one-token test: {why} {tail[0]}".strip(),
                           fix=rebuild_command())
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return SmokeResult(False, f"the smoke test printed no result: {proc.stdout[-200:]!r}")
    return SmokeResult(True, f"one token in {data['seconds']} s with the {variant} build",
                       system_info=data["system_info"])
