"""A local GGUF file run by llama.cpp (llama-cpp-python) in a model process of its own.

The model never runs in this process: a native crash, a GIL-holding loop or 500 MB of
weights must not take down the Jupyter server or a user's kernel. The process
(jupyter_twin.modelproc) is shared by every front door of the user for one model file,
and its KV cache holds the last prompt of each role, so the next request evaluates only
the tokens after the common prefix (the reason the engine puts stable context first).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable
from ..families import detect_family
from ..modelfiles import find_local_model, local_models, resolve_model_name
from ..modelproc.client import ModelProcess, ProcessStream, model_process
from ..settings import Settings
from ..stream import BackendStream
from .base import Backend, ChatRequest, FimRequest, ModelInfo


def default_threads() -> int:
    """The physical cores this process may use, as llama.cpp itself picks by default.

    Hyper-threads share a core's vector units, so counting them oversubscribes the core
    and llama.cpp's spinning threads slow each other down; one thread per real core is
    fastest (measured on 2 cores without SMT: 85 tokens/s prompt evaluation with 2
    threads against 50 with 1)."""
    try:
        allowed = set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        allowed = set(range(os.cpu_count() or 2))
    try:
        cores = physical_cores(Path("/proc/cpuinfo").read_text(), allowed)
    except OSError:
        cores = 0
    return cores or max(1, len(allowed) // 2)


def physical_cores(cpuinfo: str, allowed: set[int]) -> int:
    """Distinct (package, core) pairs among the allowed processors of a /proc/cpuinfo text;
    0 when it does not say (some ARM kernels list no core ids)."""
    cores: set[tuple[str, str]] = set()
    for block in cpuinfo.strip().split("\n\n"):
        fields = dict((k.strip(), v.strip()) for k, _, v in (l.partition(":") for l in block.splitlines()))
        try:
            processor = int(fields.get("processor", ""))
        except ValueError:
            continue
        if processor in allowed and "core id" in fields:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
    return len(cores)


class RemoteStats:
    """The worker's generation counters, read over its API (same fields as before the
    model moved out of process: started, completed, cancelled, failed, tokens, active)."""

    def __init__(self, proc: ModelProcess) -> None:
        self._proc = proc

    def snapshot(self) -> dict[str, int]:
        data = self._proc.stats()
        return dict(data["total"]) if data else {}

    @property
    def active(self) -> int:
        return int(self.snapshot().get("active", 0))


class EmbeddedBackend(Backend):
    """A GGUF file run by llama.cpp in a model process of its own (jupyter_twin.modelproc).

    The process is started on first use and shared by every front door of the user; a
    crash there is an error here, never a crash of the Jupyter server or the kernel."""

    name = "embedded"

    def __init__(self, settings: Settings, model: str | None = None) -> None:
        self.settings = settings
        # `model` names a GGUF file here; a model name meant for a server is ignored
        looks_like_file = bool(model) and (str(model).endswith(".gguf") or Path(str(model)).expanduser().exists())
        path_text = model if looks_like_file else settings.model_path
        if model and Path(str(model)).name == str(model) and str(model) in local_models():
            path_text = str(local_models()[str(model)])  # a file name from models(): the picker
        elif model and not looks_like_file and resolve_model_name(str(model)) is not None:
            path_text = str(resolve_model_name(str(model)))  # a pinned model's name
        path, origin = find_local_model(path_text)
        if path is None:
            raise BackendUnavailable(f"No model file for the embedded backend: {origin}")
        if importlib.util.find_spec("llama_cpp") is None:
            raise BackendUnavailable(
                "The embedded backend needs llama-cpp-python: pip install 'jupyter_twin[embedded]'"
            )
        self.path = path
        self.origin = origin
        self.host = None
        self.model = path.name
        self.process = model_process(path, settings.num_ctx, settings.threads or default_threads(),
                                     idle=settings.model_idle_timeout)
        self._info: ModelInfo | None = None
        self._remote: dict[str, Any] | None = None

    @property
    def stats(self) -> RemoteStats:
        return RemoteStats(self.process)

    def generation_stats(self) -> dict[str, int] | None:
        """The worker's counters, None while no worker runs (never starts one)."""
        data = self.process.stats()
        return dict(data["total"]) if data else None

    def process_status(self) -> dict[str, Any]:
        return self.process.status()

    def remote_info(self) -> dict[str, Any]:
        if self._remote is None:
            self._remote = self.process.get("/info")
        return self._remote

    @property
    def special(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.remote_info()["special"].items()}

    def info(self) -> ModelInfo:
        if self._info is None:
            remote = self.remote_info()
            meta = remote.get("metadata") or {}
            family = detect_family(
                f"{self.path.name} {meta.get('general.name', '')}",
                override=self.settings.family,
                vocabulary=self.special.keys(),
                details={"family": meta.get("general.architecture", "")},
            )
            self._info = ModelInfo(
                model=self.model,
                family=family,
                capabilities=["completion", "insert"] if family.supports_fim else ["completion"],
                details={"architecture": meta.get("general.architecture"), "name": meta.get("general.name"),
                         "system_info": remote.get("system_info"), "pid": remote.get("pid")},
            )
        return self._info

    def ping(self) -> None:
        # a status poll must not start the model process again after it exited idle: once
        # the model's facts are known, an idle process is fine (the next request starts it)
        if self._remote is None or self.process.current() is not None:
            self.process.get("/health")
        self.info()

    def tokenize(self, text: str) -> list[int]:
        return [int(i) for i in self.process.post("/tokenize", {"text": text})["ids"]]

    def count_tokens(self, text: str) -> int | None:
        return int(self.process.post("/count", {"texts": [text]})["counts"][0])

    def _stop_ids(self, stops: list[str]) -> set[int]:
        special = self.special
        return {special[s] for s in stops if s in special}

    def fim(self, request: FimRequest) -> BackendStream:
        stops = request.stop_all
        special = self.special
        kwargs = {
            "prompt": request.raw_prompt,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_k": 1 if request.temperature == 0 else 40,
            "stop": [s for s in stops if s not in special],
        }
        body = {"role": "complete", "kind": "completion", "kwargs": kwargs,
                "stop_ids": sorted(self._stop_ids(stops)), "cache_reuse": self.settings.cache_reuse}
        if request.heal:
            body["heal"] = request.heal
        return ProcessStream(self.process, body, deadline=self.settings.request_timeout)

    def warm(self, request: FimRequest) -> BackendStream:
        # evaluate only: the worker fills the completion role's KV cache, in chunks that a
        # keystroke's request can stop (worker.Generation._evaluate)
        body = {"role": "complete", "kind": "eval", "kwargs": {"prompt": request.raw_prompt},
                "cache_reuse": self.settings.cache_reuse}
        return ProcessStream(self.process, body, deadline=self.settings.request_timeout)

    def chat(self, request: ChatRequest) -> BackendStream:
        kwargs = {
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_k": 1 if request.temperature == 0 else 40,
            "stop": list(request.stop) or None,
        }
        body = {"role": "chat", "kind": "chat", "kwargs": kwargs, "stop_ids": []}
        return ProcessStream(self.process, body, deadline=self.settings.request_timeout)

    def models(self) -> list[str]:
        """This model's file and the other GGUF files in the model cache (file names only:
        the browser sees no path)."""
        return list(dict.fromkeys([self.model, *local_models()]))

    def preview_fim(self, request: FimRequest) -> dict[str, Any]:
        return {"model_file": str(self.path), "prompt": request.raw_prompt, "stop": request.stop_all}


def wait_idle(backend: EmbeddedBackend, timeout: float = 5.0) -> bool:
    """True once no generation is running on the model (for tests and benchmarks)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if backend.stats.active == 0:
            return True
        time.sleep(0.01)
    return backend.stats.active == 0
