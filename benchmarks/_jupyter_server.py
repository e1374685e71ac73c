"""Start a real Jupyter server with the jupyter_twin extension for the benchmarks.

Only 127.0.0.1, a random free port, a random token, a temporary root; stopped by pid.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    def __init__(self, twin: dict[str, Any], *, startup_timeout: float = 240.0) -> None:
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.dir = tempfile.TemporaryDirectory(prefix="twin-bench-")
        root = Path(self.dir.name)
        (root / "nb").mkdir()
        lines = [
            "c.ServerApp.ip = '127.0.0.1'",
            f"c.ServerApp.port = {self.port}",
            "c.ServerApp.port_retries = 0",
            "c.ServerApp.open_browser = False",
            "c.ServerApp.allow_root = True",
            f"c.ServerApp.root_dir = {str(root / 'nb')!r}",
            f"c.IdentityProvider.token = {self.token!r}",
            "c.ServerApp.jpserver_extensions = {'jupyter_twin': True}",
        ]
        lines += [f"c.TwinApp.{k} = {v!r}" for k, v in twin.items()]
        config = root / "jupyter_server_config.py"
        config.write_text("\n".join(lines) + "\n")
        env = dict(os.environ)
        repo = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH")) if p)
        self.log = open(root / "server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={config}"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"token {self.token}"}
        self._wait(startup_timeout)

    def _wait(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Jupyter server exited: {self.tail()}")
            try:
                r = httpx.get(f"{self.url}/jupyter-twin/status", headers=self.headers, timeout=30)
                last = r.json()
                if r.status_code == 200 and last.get("reachable"):
                    return
            except (httpx.HTTPError, ValueError) as exc:
                last = exc
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the Jupyter server did not become ready: {last}")

    def tail(self) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return text[-2000:]

    def metrics(self) -> dict[str, Any]:
        r = httpx.get(f"{self.url}/jupyter-twin/metrics", headers=self.headers, timeout=30)
        r.raise_for_status()
        return r.json()

    def reset_metrics(self) -> None:
        httpx.delete(f"{self.url}/jupyter-twin/metrics", headers=self.headers, timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        self.dir.cleanup()

    def __enter__(self) -> "JupyterServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)
