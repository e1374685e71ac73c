"""The magics in a real ipykernel, driven through jupyter_client, with the embedded demo
model: streamed output, the set_next_input payload, comm messages to the front end's
target, the live notebook pushed on the shell channel, the saved notebook located by
cell id, the input history, an interrupt mid-stream and Tab completion."""

import os
import queue
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager

from jupyter_twin.kernel.frontend import DIFF_MIME

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.model


class Client:
    def __init__(self, km: KernelManager):
        self.km = km
        self.kc = km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=90)

    def send(self, msg_type: str, content: dict, metadata: dict | None = None) -> str:
        msg = self.kc.session.msg(msg_type, content, metadata=metadata or {})
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def push_notebook(self, cells: list[dict], active: str, path: str = "live.ipynb") -> None:
        """What the JupyterLab extension sends before the execute request."""
        self.send("comm_open", {
            "comm_id": uuid.uuid4().hex, "target_name": "jupyter_twin.notebook",
            "data": {"v": 1, "action": "notebook", "path": path, "cells": cells, "active_cell_id": active},
        })

    def execute(self, code: str, cell_id: str | None = None, timeout: float = 600,
                on_iopub=None) -> tuple[dict, list[dict]]:
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        msg_id = self.send("execute_request", content, {"cellId": cell_id} if cell_id else {})
        messages: list[dict] = []
        deadline = time.monotonic() + timeout
        idle = False
        while not idle:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no idle within {timeout} s: {messages[-3:]}")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(msg)
            if on_iopub is not None:
                on_iopub(msg)
            idle = msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
        while True:
            reply = self.kc.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"], messages

    def stdout(self, messages, name="stdout") -> str:
        return "".join(m["content"]["text"] for m in messages
                       if m["msg_type"] == "stream" and m["content"]["name"] == name)

    def close(self):
        self.kc.stop_channels()


@pytest.fixture(scope="module")
def saved_notebook(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Saved on disk", id="s-md"),
        nbformat.v4.new_code_cell("import pandas as pd\nsaved_df = pd.DataFrame({'city': ['x'], 'pop_k': [3]})", id="s-1"),
        nbformat.v4.new_code_cell("%twin context", id="s-2"),
    ]
    path = folder / "analysis.ipynb"
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def kernel(model_env, saved_notebook):
    env = dict(os.environ)
    env.update(model_env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH")] if p)
    env["JPY_SESSION_NAME"] = str(saved_notebook)  # what jupyter_server sets
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(saved_notebook.parent), env=env)
    client = Client(km)
    try:
        # a bare kernel: these tests are the text front door (the ipywidgets panels are
        # tested in test_review_panel.py)
        reply, _ = client.execute("import sys; sys.modules['ipywidgets'] = None")
        assert reply["status"] == "ok"
        reply, _ = client.execute("%load_ext jupyter_twin")
        assert reply["status"] == "ok"
        yield client
    finally:
        client.close()
        km.shutdown_kernel(now=True)


def test_context_from_saved_notebook_by_cell_id(kernel, saved_notebook):
    reply, _ = kernel.execute("import pandas as pd\nsaved_df = pd.DataFrame({'city': ['x'], 'pop_k': [3]})", "s-1")
    assert reply["status"] == "ok"
    reply, msgs = kernel.execute("%twin context", "s-2")
    out = kernel.stdout(msgs)
    assert f"Neighbouring cells from: saved: saved notebook {saved_notebook}" in out, out
    assert "found by cell id" in out
    assert "saved_df: pandas.DataFrame shape=[1, 2] columns={city:" in out  # kernel facts
    assert "# Saved on disk" in out  # the markdown cell from the file is in what is sent


def test_context_from_history_when_cell_unknown(kernel):
    reply, msgs = kernel.execute("%twin context", "not-in-file")
    out = kernel.stdout(msgs)
    assert "Neighbouring cells from: history: kernel input history" in out, out
    assert "running cell not in saved notebook" in out


def test_refactor_streams_and_sets_next_input(kernel):
    reply, msgs = kernel.execute(
        "%%refactor use a list comprehension\nsquares = []\nfor i in range(12):\n    squares.append(i * i)",
        "new-cell-1")
    assert reply["status"] == "ok"
    displays = [m for m in msgs if m["msg_type"] in ("display_data", "update_display_data")]
    assert displays[0]["msg_type"] == "display_data"
    display_id = displays[0]["content"]["transient"]["display_id"]
    updates = [m for m in displays if m["msg_type"] == "update_display_data"]
    assert updates and all(m["content"]["transient"]["display_id"] == display_id for m in updates)
    # the text grew while it was generated
    texts = [m["content"]["data"]["text/plain"] for m in displays]
    assert len(set(texts)) >= 2
    payloads = [p for p in reply["payload"] if p["source"] == "set_next_input"]
    assert len(payloads) == 1 and payloads[0]["replace"] is False
    code = payloads[0]["text"]
    assert "squares" in code
    compile(code, "<refactored>", "exec")
    assert not [m for m in msgs if m["msg_type"] == "comm_open"]  # no extension: no comm


def test_live_notebook_push_then_comm_insert(kernel):
    cells = [
        {"id": "L1", "cell_type": "markdown", "source": "Radius in metres"},
        {"id": "L2", "cell_type": "code", "source": "import math\nradius = 2.0", "outputs": []},
        {"id": "L3", "cell_type": "code", "source": "%%complete\narea = math."},
    ]
    kernel.execute("import math\nradius = 2.0", "L2")
    kernel.push_notebook(cells, active="L3")
    reply, msgs = kernel.execute("%%complete\narea = math.", "L3")
    assert reply["status"] == "ok"
    assert not [p for p in reply["payload"] if p["source"] == "set_next_input"]
    opens = [m for m in msgs if m["msg_type"] == "comm_open"]
    assert len(opens) == 1
    content = opens[0]["content"]
    assert content["target_name"] == "jupyter_twin"
    data = content["data"]
    assert data["v"] == 1 and data["action"] == "insert" and data["cell_id"] == "L3"
    assert data["cell_type"] == "code" and data["source"].startswith("area = math.")
    assert data["task"] == "complete"
    closes = [m for m in msgs if m["msg_type"] == "comm_close"]
    assert closes and closes[0]["content"]["comm_id"] == content["comm_id"]
    # %twin context names the live source for a pushed cell
    kernel.push_notebook(cells + [{"id": "L4", "cell_type": "code", "source": "%twin context complete"}], active="L4")
    _, msgs = kernel.execute("%twin context complete", "L4")
    out = kernel.stdout(msgs)
    assert "Neighbouring cells from: live: notebook pushed by the front end" in out, out
    assert "Radius in metres" in out


def test_live_refactor_shows_diff_bundle(kernel):
    body = "total = 0\nfor v in [1, 2, 3]:\n    total = total + v"
    kernel.push_notebook([{"id": "D1", "cell_type": "code", "source": "%%refactor\n" + body}], active="D1")
    reply, msgs = kernel.execute("%%refactor\n" + body, "D1")
    assert reply["status"] == "ok"
    assert not reply["payload"]
    bundles = [m["content"]["data"] for m in msgs if m["msg_type"] in ("display_data", "update_display_data")]
    diff = bundles[-1][DIFF_MIME]
    assert diff["cell_id"] == "D1" and diff["task"] == "refactor" and diff["original"] == body
    assert diff["proposed"].strip() and "text/markdown" in bundles[-1]


def test_interrupt_mid_stream(kernel):
    seen: dict = {}

    def on_iopub(msg):
        if msg["msg_type"] == "update_display_data" and "t" not in seen:
            seen["t"] = time.monotonic()
            kernel.km.interrupt_kernel()

    reply, msgs = kernel.execute(
        "%%twin ask --no-facts\nWrite a very long, detailed tutorial on Python decorators with many examples.",
        "int-1", on_iopub=on_iopub)
    ended = time.monotonic()
    assert "t" in seen, "no streamed update before the end"
    err = kernel.stdout(msgs, "stderr")
    assert "jupyter_twin: interrupted; the model was stopped." in err
    assert "Traceback" not in err and not [m for m in msgs if m["msg_type"] == "error"]
    assert reply["status"] == "ok"
    assert ended - seen["t"] < 5
    # the kernel and the model are usable right after
    reply, msgs = kernel.execute("%twin status")
    assert "reachable" in kernel.stdout(msgs)


def test_backend_down_is_one_line(kernel):
    reply, msgs = kernel.execute("%%refactor -b ollama --host http://127.0.0.1:9\nx = 1")
    assert reply["status"] == "ok"
    err = [line for line in kernel.stdout(msgs, "stderr").splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("jupyter_twin: ") and "127.0.0.1:9" in err[0]
    assert not [m for m in msgs if m["msg_type"] == "error"]


def test_tab_completion_through_the_kernel(kernel):
    kernel.execute("import pandas as pd\nclimate = pd.DataFrame({'temp_c_avg': [1.0], 'station_code': ['x']})")
    kernel.execute("%twin tab on\n%config TwinMagics.tab_timeout = 120")
    code = "# highest average temperature\nhottest = climate['temp_c"
    msg_id = kernel.send("complete_request", {"code": code, "cursor_pos": len(code)})
    while True:
        reply = kernel.kc.get_shell_msg(timeout=180)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    content = reply["content"]
    types = content["metadata"].get("_jupyter_types_experimental", [])
    ours = [t for t in types if t.get("type") == "jupyter_twin"]
    assert len(ours) == 1, types
    assert ours[0]["text"].startswith("temp_c") and ours[0]["text"] in content["matches"]
    # bounded: a tiny limit answers at once, without the model's item
    kernel.execute("%config TwinMagics.tab_timeout = 0.01")
    started = time.monotonic()
    msg_id = kernel.send("complete_request", {"code": "climate.", "cursor_pos": 8})
    while True:
        reply = kernel.kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    assert time.monotonic() - started < 3
    types = reply["content"]["metadata"].get("_jupyter_types_experimental", [])
    assert not [t for t in types if t.get("type") == "jupyter_twin"]
    kernel.execute("%twin tab off")


def _running_worker(demo_model):
    from jupyter_twin.backends.embedded import default_threads
    from jupyter_twin.modelproc.client import model_process

    return model_process(demo_model, 4096, default_threads()).current()


@pytest.mark.parametrize("sig", ["SIGSEGV", "SIGSTOP"])
def test_model_process_crash_mid_stream_is_one_line_and_the_kernel_lives(kernel, demo_model, sig):
    import signal

    kernel.execute("survivor = 41")
    seen: dict = {}

    def on_iopub(msg):
        if msg["msg_type"] == "update_display_data" and "t" not in seen:
            ep = _running_worker(demo_model)
            assert ep is not None
            seen["t"] = time.monotonic()
            os.kill(ep.pid, getattr(signal, sig))

    reply, msgs = kernel.execute("%%explain\ndef add(a, b):\n    return a + b", "crash-1", on_iopub=on_iopub)
    ended = time.monotonic()
    assert "t" in seen, "no streamed update before the end"
    assert reply["status"] == "ok"
    err = [line for line in kernel.stdout(msgs, "stderr").splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("jupyter_twin: The model process"), err
    assert ("signal 11" in err[0]) if sig == "SIGSEGV" else ("stopped by a signal" in err[0])
    assert ended - seen["t"] < 2.5  # the error within 2 s, plus the kernel's own messages
    # the kernel kept its variables, and the next request starts a new model process
    reply, msgs = kernel.execute("print(survivor + 1)")
    assert kernel.stdout(msgs).strip() == "42"
    reply, msgs = kernel.execute("%twin status")
    status = kernel.stdout(msgs)
    assert "model process: not running" in status and "last failure: The model process" in status, status
    reply, msgs = kernel.execute("%%explain\ndef add(a, b):\n    return a + b", "crash-2")
    assert reply["status"] == "ok" and not kernel.stdout(msgs, "stderr").strip()
