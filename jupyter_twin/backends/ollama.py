"""Ollama through the official `ollama` client, one client per stream so that a cancel
can end exactly that stream's connection (Ollama stops generating when it closes)."""

from __future__ import annotations

import threading
from typing import Any, Iterator

import httpx
import ollama

from ..errors import BackendError, BackendUnavailable, ModelNotFound, TwinError
from ..families import detect_family
from ..settings import DEFAULT_OLLAMA_MODEL, Settings
from ..stream import BackendStream
from .base import Backend, ChatRequest, FimRequest, ModelInfo
from .http import SocketGrip, error_for_status, map_http_error, timeout, tls_context

WHAT = "Ollama"


class OllamaStream(BackendStream):
    def __init__(self, backend: "OllamaBackend", call: str, kwargs: dict[str, Any]) -> None:
        super().__init__(deadline=backend.settings.request_timeout)
        self._backend = backend
        self._call = call
        self._kwargs = kwargs
        self._grip = SocketGrip()
        self._client: ollama.Client | None = None

    def _text(self, part: Any) -> str:
        if part.done:
            self._saw_done = True
            self.done_reason = part.done_reason or "stop"
        if self._call == "chat":
            return part.message.content if part.message and part.message.content else ""
        return part.response or ""

    def _raise_unless_stopped(self, exc: Exception) -> None:
        """A failure mid-stream as a TwinError; nothing when we closed the socket ourselves
        (a cancel or an early stop makes the client raise on the dead connection)."""
        if isinstance(exc, TwinError):
            raise exc
        if self.cancelled or self.finished_early:
            return
        if isinstance(exc, ollama.ResponseError):
            raise self._backend._response_error(exc) from None
        raise map_http_error(exc, what=WHAT, host=self._backend.host, model=self._backend.model) from None

    def _check_end(self) -> None:
        if not self._saw_done and not self.cancelled and not self.finished_early:
            raise BackendError(f"{WHAT} at {self._backend.host} ended the stream without its final message")

    def _generate(self) -> Iterator[str]:
        self._saw_done = False
        client = self._backend._client(self._grip)
        parts = None
        try:
            parts = getattr(client, self._call)(stream=True, **self._kwargs)
            for part in parts:
                yield self._text(part)
        except Exception as exc:
            self._raise_unless_stopped(exc)
            return
        finally:
            if parts is not None:
                parts.close()  # leaves the client's `with` block: the response is closed
            client.close()
        self._check_end()

    def _abort(self) -> None:
        self._grip.shutdown()


class OllamaBackend(Backend):
    name = "ollama"

    def __init__(self, settings: Settings, model: str | None = None, host: str | None = None) -> None:
        self.settings = settings
        self.model = model or settings.model or DEFAULT_OLLAMA_MODEL
        self.host = (host or settings.ollama_host()).rstrip("/")
        self._info: ModelInfo | None = None
        self._lock = threading.Lock()

    def _client(self, grip: SocketGrip | None = None) -> ollama.Client:
        kwargs: dict[str, Any] = {
            "timeout": timeout(self.settings.connect_timeout, self.settings.first_token_timeout),
            "verify": tls_context(),
        }
        if grip is not None:
            kwargs["event_hooks"] = grip.event_hooks()
        return ollama.Client(host=self.host, **kwargs)

    def _response_error(self, exc: ollama.ResponseError) -> TwinError:
        return error_for_status(exc.status_code, str(exc.error), what=WHAT, host=self.host, model=self.model)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        client = self._client()
        try:
            return getattr(client, name)(*args, **kwargs)
        except ollama.ResponseError as exc:
            raise self._response_error(exc) from None
        except Exception as exc:
            raise map_http_error(exc, what=WHAT, host=self.host, model=self.model) from None
        finally:
            client.close()

    def info(self) -> ModelInfo:
        with self._lock:
            if self._info is None:
                shown = self._call("show", self.model)
                details = shown.details.model_dump() if shown.details else {}
                family = detect_family(
                    self.model,
                    override=self.settings.family,
                    template=shown.template,
                    details=details,
                )
                self._info = ModelInfo(
                    model=self.model,
                    family=family,
                    capabilities=list(shown.capabilities or []),
                    details=details,
                )
            return self._info

    def ping(self) -> None:
        self._call("version") if hasattr(ollama.Client, "version") else self._call("list")
        self.info()

    def models(self) -> list[str]:
        listed = self._call("list")
        return [m.model for m in listed.models if m.model]

    def _options(self, max_tokens: int, stop: list[str], temperature: float) -> dict[str, Any]:
        # one num_ctx for every request: a different value makes Ollama reload the model
        return {
            "num_ctx": self.settings.num_ctx,
            "num_predict": max_tokens,
            "temperature": temperature,
            "stop": stop,
        }

    def fim_kwargs(self, request: FimRequest) -> dict[str, Any]:
        info = self.info()
        options = self._options(request.max_tokens, request.stop_all, request.temperature)
        base = {"model": self.model, "options": options, "keep_alive": self.settings.keep_alive}
        if info.supports_insert and request.suffix.strip():
            # Ollama renders the model's own FIM template
            return {**base, "prompt": request.stable + request.prefix, "suffix": request.suffix}
        # no insert capability, or an empty suffix (which Ollama would turn into a chat
        # prompt): send the family's FIM format ourselves, raw, so no template wraps it
        return {**base, "prompt": request.raw_prompt, "raw": True}

    def preview_fim(self, request: FimRequest) -> dict[str, Any]:
        return {"endpoint": f"{self.host}/api/generate", **self.fim_kwargs(request)}

    def fim(self, request: FimRequest) -> BackendStream:
        return OllamaStream(self, "generate", self.fim_kwargs(request))

    def chat(self, request: ChatRequest) -> BackendStream:
        kwargs = {
            "model": self.model,
            "messages": request.messages,
            "options": self._options(request.max_tokens, list(request.stop), request.temperature),
            "keep_alive": self.settings.keep_alive,
        }
        return OllamaStream(self, "chat", kwargs)


def ollama_answers(host: str, connect_timeout: float = 1.0) -> tuple[bool, str]:
    """Whether an Ollama server answers at `host` (for backend choice and `doctor`)."""
    try:
        with httpx.Client(timeout=connect_timeout, verify=tls_context()) as client:
            r = client.get(host.rstrip("/") + "/api/version")
        if r.status_code == 200 and "version" in r.text:
            return True, f"Ollama {r.json().get('version', '?')} answers at {host}"
        return False, f"{host} answered HTTP {r.status_code}, not like Ollama"
    except httpx.HTTPError as exc:
        return False, f"no Ollama at {host} ({type(exc).__name__})"
    except ValueError:
        return False, f"{host} answered, but not like Ollama"


__all__ = ["OllamaBackend", "ollama_answers", "BackendUnavailable", "ModelNotFound"]
