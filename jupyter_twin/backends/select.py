"""Choosing a backend: explicit config wins; otherwise Ollama if it answers, otherwise the
embedded model if one is found, otherwise an error that says what to install or start."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import BackendUnavailable, TwinError
from ..modelfiles import DEMO_INSTALL_HINT, find_local_model
from ..settings import Settings
from .base import Backend


@dataclass
class Choice:
    backend: str | None
    reasons: list[str] = field(default_factory=list)


def choose(settings: Settings) -> Choice:
    """Which backend `auto` means here, with the findings behind it (for `doctor`)."""
    from .ollama import ollama_answers

    if settings.backend != "auto":
        return Choice(settings.backend, [f"backend {settings.backend!r} is configured"])
    reasons = []
    host = settings.ollama_host()
    ok, why = ollama_answers(host, min(settings.connect_timeout, 1.0))
    reasons.append(why)
    if ok:
        return Choice("ollama", reasons)
    path, origin = find_local_model(settings.model_path)
    if path is not None:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            reasons.append(f"model file found ({origin}) but llama-cpp-python is not installed")
        else:
            reasons.append(f"embedded model: {path} ({origin})")
            return Choice("embedded", reasons)
    else:
        reasons.append(origin)
    return Choice(None, reasons)


def no_backend_message(choice: Choice) -> str:
    return (
        "No model backend found: start Ollama (`ollama serve` then `ollama pull codestral`), "
        "set JUPYTER_TWIN_BACKEND=openai with JUPYTER_TWIN_OPENAI_BASE_URL, or install the "
        f"embedded model with {DEMO_INSTALL_HINT}."
    )


def make_backend(
    settings: Settings, *, model: str | None = None, host: str | None = None
) -> Backend:
    choice = choose(settings)
    if choice.backend is None:
        raise BackendUnavailable(no_backend_message(choice))
    if choice.backend == "ollama":
        from .ollama import OllamaBackend

        return OllamaBackend(settings, model=model, host=host)
    if choice.backend == "openai":
        from .openai import OpenAIBackend

        return OpenAIBackend(settings, model=model, host=host)
    if choice.backend == "embedded":
        from .embedded import EmbeddedBackend

        return EmbeddedBackend(settings, model=model)
    raise TwinError(f"unknown backend {choice.backend!r}")
