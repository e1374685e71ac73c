"""Any OpenAI-compatible server (llama.cpp server, LM Studio, vLLM, hosted endpoints):
/v1/completions for raw FIM prompts, /v1/chat/completions for chat, server-sent events."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Iterator

import httpx

from ..errors import BackendError, TwinError
from ..families import detect_family
from ..redact import strip_credentials
from ..settings import Settings, is_loopback
from ..stream import BackendStream
from .base import Backend, ChatRequest, FimRequest, ModelInfo
from .http import SocketGrip, error_for_status, error_message, map_http_error, timeout, tls_context

WHAT = "the OpenAI-compatible server"

log = logging.getLogger("jupyter_twin")


def _base_url(host: str) -> str:
    host = host.rstrip("/")
    return host if host.endswith("/v1") else host + "/v1"


class SSEStream(BackendStream):
    def __init__(self, backend: "OpenAIBackend", path: str, body: dict[str, Any]) -> None:
        super().__init__(deadline=backend.settings.request_timeout)
        self._backend = backend
        self._path = path
        self._body = body
        self._grip = SocketGrip()

    def _generate(self) -> Iterator[str]:
        b = self._backend
        client = b._http(self._grip)
        saw_end = False
        try:
            with client.stream("POST", b.base_url + self._path, json=self._body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_for_status(
                        response.status_code, error_message(response.text), what=WHAT, host=b.host, model=b.model
                    )
                for line in response.iter_lines():
                    if not line or line.startswith(":"):
                        continue
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        saw_end = True
                        break
                    event = json.loads(data)
                    if not isinstance(event, dict):
                        raise BackendError(f"{WHAT} at {b.host} sent an event that is not an object")
                    if event.get("error"):
                        raise BackendError(f"{WHAT} at {b.host}: {error_message(data)}")
                    choices = event.get("choices") or []
                    if not choices:
                        continue
                    choice = choices[0]
                    if "delta" in choice:
                        text = (choice.get("delta") or {}).get("content") or ""
                    else:
                        text = choice.get("text") or ""
                    if choice.get("finish_reason"):
                        self.done_reason = choice["finish_reason"]
                    yield text
        except TwinError:
            if self.cancelled or self.finished_early:
                return
            raise
        except Exception as exc:
            if self.cancelled or self.finished_early:
                return
            raise map_http_error(exc, what=WHAT, host=b.host, model=b.model) from None
        finally:
            client.close()
        if not saw_end and not self.cancelled and self.done_reason is None:
            raise BackendError(f"{WHAT} at {b.host} ended the stream before [DONE]")

    def _abort(self) -> None:
        self._grip.shutdown()


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(
        self, settings: Settings, model: str | None = None, host: str | None = None, api_key: str | None = None
    ) -> None:
        self.settings = settings
        host = host or settings.host
        if not host:
            raise ValueError("the openai backend needs a base URL (host), e.g. http://127.0.0.1:8080/v1")
        self.base_url = _base_url(host.rstrip("/"))
        # what messages and /status show: the URL without user:password@
        self.host = strip_credentials(host.rstrip("/"))
        self.api_key = api_key if api_key is not None else settings.api_key
        if host.lower().startswith("http://") and not is_loopback(host):
            # cells, kernel facts and any key cross the network in clear text
            log.warning(
                "jupyter_twin: the OpenAI-compatible backend at %s is plain http to a host that is "
                "not this machine: notebook text%s travel unencrypted; use https",
                self.host, " and the API key" if self.api_key else "",
            )
        self.model = model or settings.model or ""
        self._info: ModelInfo | None = None
        self._lock = threading.Lock()

    def _http(self, grip: SocketGrip | None = None) -> httpx.Client:
        headers = {"Accept": "text/event-stream, application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return httpx.Client(
            timeout=timeout(self.settings.connect_timeout, self.settings.first_token_timeout),
            headers=headers,
            event_hooks=grip.event_hooks() if grip else None,
            verify=tls_context(),
        )

    def _get(self, path: str) -> Any:
        try:
            with self._http() as client:
                r = client.get(self.base_url + path)
        except Exception as exc:
            raise map_http_error(exc, what=WHAT, host=self.host, model=self.model) from None
        if r.status_code >= 400:
            raise error_for_status(r.status_code, error_message(r.text), what=WHAT, host=self.host, model=self.model)
        try:
            return r.json()
        except ValueError:
            raise BackendError(f"{WHAT} at {self.host} answered {path} with something that is not JSON") from None

    def models(self) -> list[str]:
        data = self._get("/models")
        items = data.get("data", []) if isinstance(data, dict) else []
        return [str(m.get("id")) for m in items if isinstance(m, dict) and m.get("id")]

    def info(self) -> ModelInfo:
        with self._lock:
            if self._info is None:
                if not self.model:
                    names = self.models()
                    if not names:
                        raise BackendError(f"{WHAT} at {self.host} lists no models")
                    self.model = names[0]
                family = detect_family(self.model, override=self.settings.family)
                self._info = ModelInfo(model=self.model, family=family, capabilities=["completion"])
            return self._info

    def ping(self) -> None:
        self.models()
        self.info()

    def fim_body(self, request: FimRequest) -> dict[str, Any]:
        self.info()
        return {
            "model": self.model,
            "prompt": request.raw_prompt,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stop": request.stop_all[:4] if self._stop_limit else request.stop_all,
            "stream": True,
        }

    # vLLM and llama.cpp accept any number of stop strings; OpenAI itself takes at most 4
    _stop_limit = False

    def preview_fim(self, request: FimRequest) -> dict[str, Any]:
        return {"endpoint": self.base_url + "/completions", **self.fim_body(request)}

    def fim(self, request: FimRequest) -> BackendStream:
        return SSEStream(self, "/completions", self.fim_body(request))

    def chat(self, request: ChatRequest) -> BackendStream:
        self.info()
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        return SSEStream(self, "/chat/completions", body)
