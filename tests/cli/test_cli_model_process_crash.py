"""The CLI when the model process dies mid-stream: a non-zero exit with one clear message,
the notebook untouched, and the next run works (a new model process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from jupyter_twin.backends.embedded import default_threads
from jupyter_twin.modelproc.client import model_process

pytestmark = pytest.mark.model
NUM_CTX = 3584


def _kill_when_generating(proc_obj, sig: int, out: dict) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ep = proc_obj.current()
        stats = proc_obj.stats() if ep else None
        if stats and stats["total"]["active"] and stats["total"]["tokens"] > out["tokens_before"]:
            out["t"] = time.monotonic()
            os.kill(ep.pid, sig)
            return
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGSTOP])
def test_cli_explain_when_the_model_process_dies(nb_copy, embedded_env, monkeypatch, sig):
    path = nb_copy("tools_pandas.ipynb")
    before = path.read_bytes()
    cells = json.loads(before)["cells"]
    index = next(i for i, c in enumerate(cells) if c["cell_type"] == "code" and "".join(c["source"]).strip())
    # a model process of this test's own (its context size is the key): the killer must
    # see this CLI's generation, not one of another user of the shared process
    monkeypatch.setenv("JUPYTER_TWIN_NUM_CTX", str(NUM_CTX))
    proc_obj = model_process(embedded_env, NUM_CTX, default_threads())
    proc_obj.endpoint()  # running before the CLI starts, as when JupyterLab is open
    out: dict = {"tokens_before": proc_obj.stats()["total"]["tokens"]}
    killer = threading.Thread(target=_kill_when_generating, args=(proc_obj, sig, out))
    killer.start()
    run = subprocess.run([sys.executable, "-m", "jupyter_twin.cli", "explain", str(path), "--cell", str(index)],
                         capture_output=True, text=True, timeout=300)
    ended = time.monotonic()
    killer.join()
    assert "t" in out, "the model process never generated"
    assert run.returncode != 0
    message = run.stderr.strip().splitlines()
    assert message and "The model process" in message[-1] and "Traceback" not in run.stderr, run.stderr
    assert ended - out["t"] < 2.0 + 1.0  # the error within 2 s, plus the CLI's own exit
    assert path.read_bytes() == before
    again = subprocess.run([sys.executable, "-m", "jupyter_twin.cli", "explain", str(path), "--cell", str(index)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert path.read_bytes() != before
