"""A jupyter_client driver for widget tests: it mirrors every ipywidgets model the kernel
opens (its state, kept up to date from the comm messages on IOPub) and clicks a Button the
way a front end does (a ``custom`` ``click`` comm message on the shell channel)."""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path
from typing import Any, Callable

from jupyter_client import KernelManager

ROOT = Path(__file__).resolve().parents[2]
WIDGET_TARGET = "jupyter.widget"


class WidgetKernel:
    def __init__(self, env: dict[str, str], cwd: str | None = None) -> None:
        full = dict(os.environ)
        full.update(env)
        full["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), full.get("PYTHONPATH")] if p)
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=cwd, env=full)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=90)
        self.models: dict[str, dict[str, Any]] = {}  # comm id -> widget state
        self.all: list[dict] = []  # every IOPub message seen

    # --- widgets ---------------------------------------------------------
    def _mirror(self, msg: dict) -> None:
        self.all.append(msg)
        content = msg["content"]
        if msg["msg_type"] == "comm_open" and content.get("target_name") == WIDGET_TARGET:
            self.models[content["comm_id"]] = dict(content["data"].get("state", {}))
        elif msg["msg_type"] == "comm_msg" and content.get("comm_id") in self.models:
            data = content.get("data", {})
            if data.get("method") in ("update", "echo_update"):
                self.models[content["comm_id"]].update(data.get("state", {}))

    def of_kind(self, model_name: str) -> dict[str, dict[str, Any]]:
        return {cid: s for cid, s in self.models.items() if s.get("_model_name") == model_name}

    def button(self, description: str) -> tuple[str, dict] | None:
        """The newest Button with this label."""
        found = [(cid, s) for cid, s in self.of_kind("ButtonModel").items() if s.get("description") == description]
        return found[-1] if found else None

    def click(self, comm_id: str) -> None:
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id,
                                               "data": {"method": "custom", "content": {"event": "click"}}})
        self.kc.shell_channel.send(msg)

    def set_value(self, comm_id: str, state: dict) -> None:
        """What a front end sends when the user changes a widget (a dropdown, a text box)."""
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {
            "method": "update", "state": state, "buffer_paths": []}})
        self.kc.shell_channel.send(msg)

    def drain(self, seconds: float) -> None:
        """Mirror what arrives for ``seconds`` (updates sent by callbacks after a cell)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._mirror(self.kc.get_iopub_msg(timeout=max(0.05, deadline - time.monotonic())))
            except queue.Empty:
                return

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 60, what: Callable[[], Any] | None = None) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            try:
                self._mirror(self.kc.get_iopub_msg(timeout=0.2))
            except queue.Empty:
                pass
        raise AssertionError(f"condition not met in {timeout} s" + (f": {what()}" if what else ""))

    # --- running cells -----------------------------------------------------
    def execute(self, code: str, cell_id: str | None = None, timeout: float = 600,
                on_iopub: Callable[[dict], None] | None = None) -> tuple[dict, list[dict]]:
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        msg = self.kc.session.msg("execute_request", content, metadata={"cellId": cell_id} if cell_id else {})
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        mine: list[dict] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                m = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no idle within {timeout} s: {mine[-3:]}")
            self._mirror(m)
            if on_iopub is not None:
                on_iopub(m)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            mine.append(m)
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                break
        while True:
            reply = self.kc.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"], mine

    @staticmethod
    def stream_text(messages: list[dict], name: str = "stdout") -> str:
        return "".join(m["content"]["text"] for m in messages
                       if m["msg_type"] == "stream" and m["content"]["name"] == name)

    @staticmethod
    def next_inputs(reply: dict) -> list[dict]:
        return [p for p in reply.get("payload", []) if p.get("source") == "set_next_input"]

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
