"""How a failed worker is named: a crash that looks hung for a moment (its sockets refuse
while the kernel tears it down, /proc does not yet say Z) is reported as the crash, with
its signal; a worker that really hung is reported as ended by us.

The supervisor's exit record is written here by the test, as the supervisor writes it when
its child ends; the stand-in worker is a `sleep` the client kills, as it kills a hung one."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from jupyter_twin.modelproc.client import Endpoint, ModelProcess
from jupyter_twin.modelproc.runtime import write_private_json


@pytest.fixture
def proc(tmp_path, monkeypatch) -> ModelProcess:
    monkeypatch.setenv("JUPYTER_TWIN_RUNTIME_DIR", str(tmp_path))
    return ModelProcess(tmp_path / "model.gguf", 512, 1)


def _record(proc: ModelProcess, pid: int, returncode: int, reason: str) -> None:
    write_private_json(Path(f"{proc.files['exit']}-{pid}"),
                       {"pid": pid, "returncode": returncode, "reason": reason, "at_startup": False})


def test_a_worker_dying_of_sigsegv_is_reported_with_its_signal_not_as_hung(proc):
    dying = subprocess.Popen(["sleep", "30"])
    # the supervisor saw the worker end by signal 11 (the kill below cannot change that)
    _record(proc, dying.pid, -11, "signal 11 (SIGSEGV)")
    error = proc.hung(Endpoint(dying.pid, 1, "token"), "stopped answering")
    assert dying.wait(5) == -9
    assert str(error) == "The model process stopped (signal 11 (SIGSEGV)); the next request starts a new one"
    assert proc.last_failure == str(error)


def test_a_hung_worker_is_ended_and_said_to_have_stopped_answering(proc):
    hung = subprocess.Popen(["sleep", "30"])
    started = time.monotonic()
    error = proc.hung(Endpoint(hung.pid, 1, "token"), "stopped answering")
    assert hung.wait(5) == -9
    assert str(error) == "The model process stopped answering and was ended; the next request starts a new one"
    assert time.monotonic() - started < 2.0
