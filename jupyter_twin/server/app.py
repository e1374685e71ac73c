"""``TwinApp``: the jupyter_server ExtensionApp. Configure it like any Jupyter app::

    c.TwinApp.backend = "ollama"
    c.TwinApp.model = "qwen2.5-coder:1.5b"
    c.TwinApp.host = "http://127.0.0.1:11434"

Unset traits fall back to the engine's environment variables and defaults
(``jupyter_twin.settings.Settings.from_env``). The browser never chooses the backend,
its address or its key: those come from here only.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, CFloat, CInt, Unicode

from ..settings import BACKENDS, Settings
from .handlers import handlers
from .service import Limits, TwinService


class TwinApp(ExtensionApp):
    name = "jupyter_twin"
    description = "jupyter_twin: local AI coding assistant (completion, chat, cell actions)"
    load_other_extensions = True

    backend = Unicode(
        None, allow_none=True, config=True, help=f"Backend: one of {', '.join(BACKENDS)}."
    )
    model = Unicode(None, allow_none=True, config=True, help="Model name on the backend.")
    host = Unicode(
        None, allow_none=True, config=True, help="Backend address (Ollama or OpenAI-compatible)."
    )
    api_key = Unicode(
        None, allow_none=True, config=True, help="API key for an OpenAI-compatible backend."
    )
    model_path = Unicode(
        None, allow_none=True, config=True, help="GGUF file for the embedded backend."
    )
    family = Unicode(None, allow_none=True, config=True, help="Prompt family (FIM tokens).")
    num_ctx = CInt(None, allow_none=True, config=True, help="Model context window (tokens).")
    context_tokens = CInt(
        None, allow_none=True, config=True, help="Token budget for notebook context."
    )
    max_tokens_complete = CInt(
        None, allow_none=True, config=True, help="Most tokens generated for one completion."
    )
    max_tokens_chat = CInt(
        None, allow_none=True, config=True, help="Most tokens generated for a task or chat."
    )
    connect_timeout = CFloat(
        None, allow_none=True, config=True, help="Seconds to reach the backend."
    )
    request_timeout = CFloat(
        None, allow_none=True, config=True, help="Seconds for a whole request."
    )
    temperature = CFloat(None, allow_none=True, config=True, help="Sampling temperature.")
    threads = CInt(None, allow_none=True, config=True, help="CPU threads (embedded backend).")
    model_idle_timeout = CFloat(
        None, allow_none=True, config=True,
        help="Seconds without a request after which the embedded model's process exits.",
    )
    preload = Bool(
        True, config=True, help="Create the engine (load an embedded model) when the server starts."
    )
    max_running_jobs = CInt(
        Limits.max_running, config=True,
        help="Completions and tasks generating at once (each holds a thread); more wait in the queue.",
    )
    max_queued_jobs = CInt(
        Limits.max_queued, config=True,
        help="Requests that may wait for a running slot; beyond running + queued the answer is 503.",
    )
    max_jobs_per_user = CInt(
        Limits.max_per_user, config=True,
        help="Requests one user may have running or waiting; beyond it the answer is 429.",
    )
    queue_timeout = CFloat(
        Limits.queue_timeout, config=True,
        help="Seconds a request may wait in the queue for a running slot before a 503.",
    )

    _FIELDS = (
        "backend",
        "model",
        "host",
        "api_key",
        "model_path",
        "family",
        "num_ctx",
        "context_tokens",
        "max_tokens_complete",
        "max_tokens_chat",
        "connect_timeout",
        "request_timeout",
        "temperature",
        "threads",
        "model_idle_timeout",
    )

    def twin_settings(self) -> Settings:
        overrides: dict[str, Any] = {f: getattr(self, f) for f in self._FIELDS}
        return Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})

    def initialize_settings(self) -> None:
        limits = Limits(
            max_running=max(1, self.max_running_jobs),
            max_queued=max(0, self.max_queued_jobs),
            max_per_user=max(1, self.max_jobs_per_user),
            queue_timeout=max(0.0, self.queue_timeout),
        )
        self.service = TwinService(self.twin_settings(), logger=self.log, limits=limits)
        self.settings["jupyter_twin_service"] = self.service
        if self.preload:
            self.service.preload()

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers(self.service))

    async def stop_extension(self) -> None:
        service = getattr(self, "service", None)
        if service is not None:
            service.close()
