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
from traitlets import Bool, CFloat, CInt

from ..settings import Settings
from ..traits import settings_overrides, settings_traits
from .handlers import handlers
from .service import Limits, TwinService


class TwinApp(ExtensionApp):
    name = "jupyter_twin"
    description = "jupyter_twin: local AI coding assistant (completion, chat, cell actions)"
    load_other_extensions = True

    # every engine setting (jupyter_twin/settings.py declares them once) as a trait
    locals().update(settings_traits("server"))

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

    def twin_settings(self) -> Settings:
        return Settings.from_env(**settings_overrides(self, "server"))

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
