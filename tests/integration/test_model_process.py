"""The model process (jupyter_twin.modelproc) with the real demo model: shared, private,
fair between roles, and a crash or hang of it is a clear error here, never a crash."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from jupyter_twin import Twin
from jupyter_twin.modelproc.client import ModelProcessError, model_process
from jupyter_twin.modelproc.runtime import read_json

pytestmark = pytest.mark.model

CELLS = [
    {"cell_type": "code", "source": "import numpy as np\nprices = np.array([3.0, 4.5, 10.0])"},
    {"cell_type": "code", "source": "def add(a, b):\n    "},
]


def _twin(model_path, **kw) -> Twin:
    return Twin(backend="embedded", model=str(model_path), request_timeout=120.0, max_tokens_chat=200, **kw)


def _worker_pid(twin: Twin) -> int:
    return twin.backend.process.endpoint().pid


def _open_sockets() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # the fd of the listing itself, gone by now
            pass
    return n


def test_runtime_file_is_private_and_the_token_is_required(embedded_twin):
    proc = embedded_twin.backend.process
    ep = proc.endpoint()
    mode = stat.S_IMODE(proc.files["json"].stat().st_mode)
    assert mode == 0o600
    assert httpx.get(ep.url + "/health", timeout=5).status_code == 401
    assert httpx.get(ep.url + "/health", headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
    assert httpx.get(ep.url + "/health", headers=ep.headers, timeout=5).status_code == 200
    # loopback only
    assert read_json(proc.files["json"])["port"] == ep.port


def test_the_model_is_not_loaded_in_the_front_doors_process(model_path):
    # in a fresh interpreter: this test session also runs the Ollama test server in process
    code = ("import sys; from pathlib import Path; from jupyter_twin import Twin; "
            "t = Twin(backend='embedded', model=sys.argv[1]); "
            "print(repr(t.complete([{'cell_type': 'code', 'source': 'def add(a, b):\\n    '}], 0))); "
            "maps = Path('/proc/self/maps').read_text(); "
            "print('llama_cpp' in sys.modules, 'libllama' in maps or '.gguf' in maps)")
    out = subprocess.run([sys.executable, "-c", code, str(model_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    completion, flags = out.stdout.strip().splitlines()[-2:]
    assert "return" in completion
    assert flags == "False False"


def test_another_process_finds_the_same_worker(embedded_twin, model_path):
    pid = _worker_pid(embedded_twin)
    starts = embedded_twin.backend.process.starts
    code = ("import sys; from jupyter_twin import Twin; t = Twin(backend='embedded', model=sys.argv[1]); "
            "print(t.backend.process.endpoint().pid, t.complete([{'cell_type': 'code', 'source': 'x = 1\\ny = x +'}], 0))")
    out = subprocess.run([sys.executable, "-c", code, str(model_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[0]) == pid
    assert _worker_pid(embedded_twin) == pid and embedded_twin.backend.process.starts == starts


@pytest.fixture
def private_twin(model_path):
    """A Twin on a model process of its own (its context size is the key). These tests kill
    or stop their process: on the shared one they would also fail other users' requests,
    and another user's watchdog could end the stopped process before this test's does."""
    twin = _twin(model_path, num_ctx=2304)
    twin.backend.info()
    yield twin
    twin.backend.process.stop()


def test_segv_mid_stream_is_an_error_within_2_s_and_the_next_request_works(private_twin, no_leaked_threads):
    twin = private_twin
    pid = _worker_pid(twin)
    sockets = _open_sockets()
    stream = twin.stream("explain", CELLS, 1)
    got: list[str] = []
    with pytest.raises(ModelProcessError) as err:
        for delta in stream:
            got.append(delta)
            if len(got) == 2:
                killed = time.monotonic()
                os.kill(pid, signal.SIGSEGV)
    waited = time.monotonic() - killed
    assert waited < 2.0
    assert "signal 11" in str(err.value) and "SIGSEGV" in str(err.value)
    assert twin.complete(CELLS, 1) == "return a + b"
    assert _worker_pid(twin) != pid
    assert _open_sockets() <= sockets + 1  # the pooled connection to the new worker


def test_stopped_process_mid_stream_is_an_error_within_2_s_and_is_replaced(private_twin, no_leaked_threads):
    twin = private_twin
    pid = _worker_pid(twin)
    stream = twin.stream("explain", CELLS, 1)
    got: list[str] = []
    with pytest.raises(ModelProcessError) as err:
        for delta in stream:
            got.append(delta)
            if len(got) == 2:
                stopped = time.monotonic()
                os.kill(pid, signal.SIGSTOP)
    assert time.monotonic() - stopped < 2.0
    assert "stopped by a signal" in str(err.value)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    assert twin.complete(CELLS, 1) == "return a + b"


def test_a_worker_that_crashes_at_start_up_is_not_restarted_in_a_loop(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    twin = Twin(backend="embedded", model=str(bad), request_timeout=30.0)
    with pytest.raises(ModelProcessError) as err:
        twin.complete(CELLS, 1)
    assert "while loading broken.gguf" in str(err.value) and "doctor" in str(err.value)
    # one start, or two where a faster llama.cpp build was tried first (then the baseline)
    starts = twin.backend.process.starts
    assert starts in (1, 2)
    t = time.monotonic()
    with pytest.raises(ModelProcessError):
        twin.complete(CELLS, 1)
    assert time.monotonic() - t < 1.0
    assert twin.backend.process.starts == starts  # the next request starts nothing


def test_a_completion_does_not_wait_behind_a_chat_answer_and_does_not_cut_it(embedded_twin):
    twin = embedded_twin
    chat = twin.stream("explain", CELLS, 1)
    first = next(iter(chat))
    assert first
    t = time.monotonic()
    text = twin.complete(CELLS, 1)
    completion_s = time.monotonic() - t
    rest = chat.result()
    assert text == "return a + b"
    assert chat.done_reason not in ("cancelled",) and len(rest) > 40
    stats = twin.backend.process.stats()["roles"]
    assert stats["chat"]["max_active"] == 1 and stats["complete"]["max_active"] == 1
    print(f"completion during a chat answer: {completion_s:.2f} s")


def test_idle_worker_exits_and_the_next_request_starts_one(model_path):
    # its own context size: a process of its own, with a 3 s idle time
    twin = _twin(model_path, num_ctx=1024, model_idle_timeout=3.0)
    twin.backend.info()  # as the server's preload does
    pid = _worker_pid(twin)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists()
    # a status poll does not start it again (JupyterLab polls every 30 s)
    assert twin.status()["reachable"] and twin.backend.process.current() is None
    assert twin.complete(CELLS, 1) == "return a + b"
    assert _worker_pid(twin) != pid
    twin.backend.process.stop()


def test_worker_exits_when_its_last_user_is_gone(model_path, tmp_path):
    code = ("import sys; from jupyter_twin import Twin; "
            "t = Twin(backend='embedded', model=sys.argv[1], num_ctx=1536); "
            "print(t.backend.process.endpoint().pid)")
    out = subprocess.run([sys.executable, "-c", code, str(model_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists()


def test_cancel_stops_the_model_process_generation(model_path, no_leaked_threads):
    # a model process of its own: its counters count this test's generation only, not
    # those of anything else that uses the shared one meanwhile
    twin = _twin(model_path, num_ctx=1792)
    twin.backend.info()
    stats = twin.backend.stats
    before = stats.snapshot()
    stream = twin.stream("explain", CELLS, 1)
    for i, _ in enumerate(stream):
        if i == 1:
            stream.cancel()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and stats.active:
        time.sleep(0.02)
    after = stats.snapshot()
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["tokens"] - before["tokens"] <= 2 + 2
    twin.backend.process.stop()


def test_a_faster_build_that_dies_here_falls_back_to_the_baseline_at_once(model_path, tmp_path, monkeypatch):
    from jupyter_twin.modelproc import client

    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "libllama.so").write_bytes(b"\x7fELF not a library")
    monkeypatch.setattr(client, "best_variant", lambda: ("avx512", str(broken)))
    monkeypatch.delenv("LLAMA_CPP_LIB_PATH", raising=False)
    twin = _twin(model_path, num_ctx=1280)  # a process of its own
    assert twin.complete(CELLS, 1) == "return a + b"
    proc = twin.backend.process
    assert proc.starts == 2 and "crashed" in proc.status()["llama_build"]
    proc.stop()


def test_the_build_a_cpu_without_avx512_gets_runs_here_too(model_path, monkeypatch):
    from jupyter_twin.modelproc.build import VARIANTS, best_variant

    amd_zen3 = frozenset({"avx", "avx2", "fma", "f16c", "bmi2", "sse4_2"})
    assert best_variant(amd_zen3)[1] is None  # no AVX-512: the package's x86-64-v3 build
    assert best_variant(amd_zen3 | VARIANTS["avx512"][1])[0] in ("avx512", "x86-64-v3")
    monkeypatch.setenv("JUPYTER_TWIN_LLAMA_BUILD", "baseline")
    twin = _twin(model_path, num_ctx=1792)  # a process of its own, on the baseline build
    assert twin.complete(CELLS, 1) == "return a + b"
    info = twin.backend.info().details["system_info"]
    assert "AVX2 = 1" in info and "AVX512 = 1" not in info and "AMX" not in info
    twin.backend.process.stop()
