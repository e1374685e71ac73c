"""The supervisor: `python -m jupyter_twin.modelproc --model FILE ...`.

It starts the worker as its child, waits for it and writes how it ended to the `.exit`
file (exit code, or the signal that killed it), then exits too. It never restarts the
worker itself: the next request of a front door does, so a worker that crashes at start-up
is not restarted in a loop. It holds no model and runs no native code, so it cannot be
taken down by what kills the worker.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .runtime import read_json, write_private_json


def describe(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown"
        return f"signal {-returncode} ({name})"
    return f"exit code {returncode}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--n-ctx", type=int, default=4096)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--idle", type=float, default=900.0)
    p.add_argument("--runtime-file", required=True)
    p.add_argument("--exit-file", required=True)
    p.add_argument("--detach", action="store_true",
                   help="fork and let the starter return at once: the model process is then "
                        "nobody's child, outlives the front door that started it, and leaves "
                        "that front door no thread or zombie to reap")
    args = p.parse_args(argv)
    if args.detach:
        pid = os.fork()
        if pid > 0:
            print(pid, flush=True)
            os._exit(0)
        # the starter reads our stdout to its end: hand it over to the log (stderr)
        os.dup2(2, 1)
    cmd = [sys.executable, "-m", "jupyter_twin.modelproc.worker", "--model", args.model,
           "--n-ctx", str(args.n_ctx), "--threads", str(args.threads), "--idle", str(args.idle),
           "--runtime-file", args.runtime_file]
    started = time.time()
    child = subprocess.Popen(cmd)

    def forward(signum: int, frame: object) -> None:
        child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    rc = child.wait()
    runtime = Path(args.runtime_file)
    ready = (read_json(runtime) or {}).get("pid") == child.pid
    if ready:
        try:
            runtime.unlink()
        except OSError:
            pass
    record = {"pid": child.pid, "returncode": rc, "reason": describe(rc),
              "at_startup": not ready, "started": started, "ended": time.time()}
    # one record per worker pid too: the shared one may be replaced by the next start
    # before the front door that saw this worker die has read it
    write_private_json(Path(f"{args.exit_file}-{child.pid}"), record)
    write_private_json(Path(args.exit_file), record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
