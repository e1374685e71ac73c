"""An in-process llama.cpp model (llama-cpp-python) on a GGUF file.

The loaded model is kept per file and reused by every Twin in the process: its KV cache
holds the last prompt, so the next request evaluates only the tokens after the common
prefix (the reason the engine puts stable context first). Generation runs in a worker
thread that checks for cancel after every token.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import BackendError, BackendUnavailable
from ..families import FAMILIES, detect_family
from ..modelfiles import find_local_model
from ..settings import Settings
from ..stream import BackendStream
from .base import Backend, ChatRequest, FimRequest, ModelInfo

_END = object()


@dataclass
class GenerationStats:
    """Counters that tests and benchmarks read to see what the model really did."""

    started: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    tokens: int = 0
    active: int = 0
    max_active: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def begin(self) -> None:
        with self._lock:
            self.started += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)

    def end(self, outcome: str) -> None:
        with self._lock:
            self.active -= 1
            setattr(self, outcome, getattr(self, outcome) + 1)

    def token(self) -> None:
        with self._lock:
            self.tokens += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


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


class LoadedModel:
    def __init__(self, path: Path, n_ctx: int, threads: int | None) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise BackendUnavailable(
                "The embedded backend needs llama-cpp-python: pip install 'jupyter_twin[embedded]'"
            ) from None
        self.path = path
        self.llama_cpp = llama_cpp
        threads = threads or default_threads()
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=512,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendUnavailable(f"Cannot load the model file {path}: {exc}") from None
        self.lock = threading.Lock()
        self.stats = GenerationStats()
        self.special = self._special_tokens()

    def _special_tokens(self) -> dict[str, int]:
        """FIM and stop markers that are single tokens of this model's vocabulary."""
        found: dict[str, int] = {}
        for fam in FAMILIES.values():
            for text in (*fam.markers, *fam.stop):
                text = text.strip()
                if not text or text in found:
                    continue
                ids = self.tokenize(text)
                if len(ids) == 1:
                    found[text] = ids[0]
        return found

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    @property
    def name(self) -> str:
        meta = self.llm.metadata or {}
        return str(meta.get("general.name") or self.path.stem)


_LOADED: dict[tuple[str, int, int | None], LoadedModel] = {}
_LOADED_LOCK = threading.Lock()


def load_model(path: Path, n_ctx: int, threads: int | None) -> LoadedModel:
    key = (str(path.resolve()), n_ctx, threads)
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = LoadedModel(path, n_ctx, threads)
        return _LOADED[key]


class EmbeddedStream(BackendStream):
    def __init__(self, model: LoadedModel, kind: str, kwargs: dict[str, Any], stop_ids: set[int], settings: Settings) -> None:
        super().__init__(deadline=settings.request_timeout)
        self._model = model
        self._kind = kind
        self._kwargs = kwargs
        self._stop_ids = stop_ids
        self._queue: queue.Queue[Any] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._stop_event = threading.Event()

    def _should_stop(self, input_ids: Any, logits: Any) -> bool:
        # called by llama.cpp after each sampled token
        if self._stop_event.is_set():
            return True
        return int(input_ids[-1]) in self._stop_ids

    def _work(self) -> None:
        model = self._model
        while not model.lock.acquire(timeout=0.05):
            if self._stop_event.is_set():
                self._queue.put(_END)
                return
        outcome = "completed"
        model.stats.begin()
        try:
            if self._stop_event.is_set():
                outcome = "cancelled"
                return
            criteria = model.llama_cpp.StoppingCriteriaList([self._should_stop])
            if self._kind == "chat":
                # no stopping_criteria here: the loop below checks for cancel after each token
                gen = model.llm.create_chat_completion(stream=True, **self._kwargs)
            else:
                gen = model.llm.create_completion(stream=True, stopping_criteria=criteria, **self._kwargs)
            try:
                for chunk in gen:
                    model.stats.token()
                    if self._stop_event.is_set():
                        outcome = "completed" if self.finished_early else "cancelled"
                        break
                    choice = chunk["choices"][0]
                    text = (choice.get("delta") or {}).get("content") if self._kind == "chat" else choice.get("text")
                    if choice.get("finish_reason"):
                        self.done_reason = choice["finish_reason"]
                    self._queue.put(text or "")
            finally:
                gen.close()
            if self._stop_event.is_set() and not self.finished_early:
                outcome = "cancelled"
        except Exception as exc:  # the model failed: hand the error to the reader
            outcome = "failed"
            self._queue.put(BackendError(f"The embedded model failed: {type(exc).__name__}: {exc}"))
        finally:
            model.stats.end(outcome)
            model.lock.release()
            self._queue.put(_END)

    def _generate(self) -> Iterator[str]:
        self._worker = threading.Thread(target=self._work, name="jupyter-twin-embedded", daemon=True)
        self._worker.start()
        while True:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                if self.cancelled:
                    return
                # yield nothing so that the caller's loop can check cancel and deadline
                yield ""
                continue
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def _abort(self) -> None:
        self._stop_event.set()

    def _finish(self, cancelled: bool) -> None:
        if cancelled:
            self._stop_event.set()
        super()._finish(cancelled)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread to end; True if it has."""
        if self._worker is None:
            return True
        self._worker.join(timeout)
        return not self._worker.is_alive()


class EmbeddedBackend(Backend):
    name = "embedded"

    def __init__(self, settings: Settings, model: str | None = None) -> None:
        self.settings = settings
        # `model` names a GGUF file here; a model name meant for a server is ignored
        looks_like_file = bool(model) and (str(model).endswith(".gguf") or Path(str(model)).expanduser().exists())
        path_text = model if looks_like_file else settings.model_path
        path, origin = find_local_model(path_text)
        if path is None:
            raise BackendUnavailable(f"No model file for the embedded backend: {origin}")
        self.path = path
        self.origin = origin
        self.host = None
        self._loaded: LoadedModel | None = None
        self._info: ModelInfo | None = None
        self.model = path.name

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = load_model(self.path, self.settings.num_ctx, self.settings.threads)
        return self._loaded

    @property
    def stats(self) -> GenerationStats:
        return self.loaded.stats

    def info(self) -> ModelInfo:
        if self._info is None:
            loaded = self.loaded
            meta = dict(loaded.llm.metadata or {})
            family = detect_family(
                f"{self.path.name} {meta.get('general.name', '')}",
                override=self.settings.family,
                vocabulary=loaded.special.keys(),
                details={"family": meta.get("general.architecture", "")},
            )
            self._info = ModelInfo(
                model=self.model,
                family=family,
                capabilities=["completion", "insert"] if family.supports_fim else ["completion"],
                details={"architecture": meta.get("general.architecture"), "name": meta.get("general.name")},
            )
        return self._info

    def ping(self) -> None:
        self.info()

    def count_tokens(self, text: str) -> int | None:
        return len(self.loaded.tokenize(text))

    def _stop_ids(self, stops: list[str]) -> set[int]:
        special = self.loaded.special
        return {special[s] for s in stops if s in special}

    def fim(self, request: FimRequest) -> BackendStream:
        stops = request.stop_all
        kwargs = {
            "prompt": request.raw_prompt,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_k": 1 if request.temperature == 0 else 40,
            "stop": [s for s in stops if s not in self.loaded.special],
        }
        return EmbeddedStream(self.loaded, "completion", kwargs, self._stop_ids(stops), self.settings)

    def chat(self, request: ChatRequest) -> BackendStream:
        kwargs = {
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_k": 1 if request.temperature == 0 else 40,
            "stop": list(request.stop) or None,
        }
        return EmbeddedStream(self.loaded, "chat", kwargs, set(), self.settings)

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
