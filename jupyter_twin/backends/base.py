"""What every backend offers: streaming FIM and chat, model facts, a health check."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..families import Family
from ..stream import BackendStream


@dataclass
class FimRequest:
    """A fill-in-the-middle request. `stable` is context that does not change while the
    user types; it goes first so that the backend's prompt cache is reused."""

    stable: str
    prefix: str
    suffix: str
    family: Family
    max_tokens: int
    stop: Sequence[str] = ()
    temperature: float = 0.0
    #: token healing: the half-typed word cut from the prefix, which the answer must start
    #: with. A backend that can constrain sampling (embedded) holds the first tokens to
    #: it; the others leave the model free, and the engine drops answers that do not.
    heal: str = ""

    @property
    def raw_prompt(self) -> str:
        return self.family.render_fim(self.stable + self.prefix, self.suffix)

    @property
    def stop_all(self) -> list[str]:
        return list(dict.fromkeys([*self.family.stop, *self.stop]))


@dataclass
class ChatRequest:
    messages: list[dict[str, str]]
    max_tokens: int
    stop: Sequence[str] = ()
    temperature: float = 0.0


@dataclass
class ModelInfo:
    model: str
    family: Family
    capabilities: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def supports_insert(self) -> bool:
        return "insert" in self.capabilities


class Backend(ABC):
    """A model server or in-process model. Subclasses stay small: one per transport."""

    name: str = "backend"
    model: str = ""
    host: str | None = None

    @abstractmethod
    def info(self) -> ModelInfo:
        """Facts about the model, fetched once and cached."""

    @abstractmethod
    def fim(self, request: FimRequest) -> BackendStream:
        """Stream the middle for a FIM request."""

    @abstractmethod
    def chat(self, request: ChatRequest) -> BackendStream:
        """Stream a chat answer."""

    @abstractmethod
    def ping(self) -> None:
        """Raise a TwinError subclass if the backend cannot serve the model now."""

    def models(self) -> list[str]:
        return [self.model]

    def warm(self, request: FimRequest) -> BackendStream:
        """Evaluate the request's prompt into the server's prompt cache, generating as
        little as the API allows (one token: Ollama's `num_predict` and the OpenAI API's
        `max_tokens` treat 0 as "no limit" or reject it). Cancel it like any stream."""
        return self.fim(dataclasses.replace(request, max_tokens=1, stop=()))

    def count_tokens(self, text: str) -> int | None:
        """Exact token count if this backend has the model's tokenizer at hand."""
        return None

    def preview_fim(self, request: FimRequest) -> dict[str, Any]:
        """Exactly what would be sent for this FIM request (for users who want to see it)."""
        return {"prompt": request.raw_prompt, "stop": request.stop_all, "raw": True}

    def close(self) -> None:
        pass
