"""One settings model, read by the magics, the server extension and the CLI.

Values come from (lowest to highest precedence): defaults, environment variables, explicit
overrides (traitlets config in the server, magic options, CLI flags).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import SettingsError

BACKENDS = ("auto", "ollama", "openai", "embedded")

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
DEFAULT_OLLAMA_MODEL = "codestral"


def _normalise_ollama_host(value: str) -> str:
    # OLLAMA_HOST is often written without a scheme or port ("0.0.0.0", "localhost:11434").
    value = value.strip().rstrip("/")
    if "://" not in value:
        value = "http://" + value
    scheme, rest = value.split("://", 1)
    hostport = rest.split("/", 1)[0]
    if hostport.startswith("0.0.0.0"):
        # a bind-all address is where the server listens, not where a client connects
        rest = rest.replace("0.0.0.0", "127.0.0.1", 1)
        hostport = rest.split("/", 1)[0]
    if ":" not in hostport.rsplit("]", 1)[-1]:
        rest = hostport + ":11434" + rest[len(hostport):]
    return f"{scheme}://{rest}"


@dataclass
class Settings:
    backend: str = "auto"
    model: str | None = None
    host: str | None = None
    api_key: str | None = None
    model_path: str | None = None
    family: str | None = None
    num_ctx: int = 4096
    keep_alive: str = "30m"
    max_tokens_complete: int = 64
    max_tokens_chat: int = 768
    context_tokens: int = 1024
    connect_timeout: float = 3.0
    request_timeout: float = 120.0
    first_token_timeout: float = 60.0
    temperature: float = 0.0
    threads: int | None = None
    # the embedded backend's model process exits after this long without a request
    model_idle_timeout: float = 900.0
    extra: dict[str, Any] = field(default_factory=dict)

    ENV = {
        "backend": "JUPYTER_TWIN_BACKEND",
        "model": "JUPYTER_TWIN_MODEL",
        "api_key": "JUPYTER_TWIN_API_KEY",
        "model_path": "JUPYTER_TWIN_MODEL_PATH",
        "family": "JUPYTER_TWIN_FAMILY",
        "num_ctx": "JUPYTER_TWIN_NUM_CTX",
        "keep_alive": "JUPYTER_TWIN_KEEP_ALIVE",
        "max_tokens_complete": "JUPYTER_TWIN_MAX_TOKENS_COMPLETE",
        "max_tokens_chat": "JUPYTER_TWIN_MAX_TOKENS_CHAT",
        "context_tokens": "JUPYTER_TWIN_CONTEXT_TOKENS",
        "connect_timeout": "JUPYTER_TWIN_CONNECT_TIMEOUT",
        "request_timeout": "JUPYTER_TWIN_REQUEST_TIMEOUT",
        "temperature": "JUPYTER_TWIN_TEMPERATURE",
        "threads": "JUPYTER_TWIN_THREADS",
        "model_idle_timeout": "JUPYTER_TWIN_MODEL_IDLE_TIMEOUT",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then environment variables, then the non-None ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        for name, var in cls.ENV.items():
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            values[name] = _coerce(types[name], raw, var)
        # host: the backend's own conventional variable
        backend = overrides.get("backend") or values.get("backend") or "auto"
        if env.get("JUPYTER_TWIN_HOST"):
            values["host"] = env["JUPYTER_TWIN_HOST"]
        elif backend == "openai" and env.get("JUPYTER_TWIN_OPENAI_BASE_URL"):
            values["host"] = env["JUPYTER_TWIN_OPENAI_BASE_URL"]
        elif backend == "openai" and env.get("OPENAI_BASE_URL"):
            values["host"] = env["OPENAI_BASE_URL"]
        if "api_key" not in values and backend == "openai" and env.get("OPENAI_API_KEY"):
            values["api_key"] = env["OPENAI_API_KEY"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise SettingsError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        for name in ("num_ctx", "max_tokens_complete", "max_tokens_chat", "context_tokens"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")

    def ollama_host(self, env: Mapping[str, str] | None = None) -> str:
        env = os.environ if env is None else env
        return _normalise_ollama_host(self.host or env.get("OLLAMA_HOST") or DEFAULT_OLLAMA_HOST)

    def replace(self, **changes: Any) -> "Settings":
        new = dataclasses.replace(self, **changes)
        new.validate()
        return new

    def public(self) -> dict[str, Any]:
        """The settings without secrets, for status displays."""
        data = dataclasses.asdict(self)
        data.pop("extra", None)
        data["api_key"] = "set" if self.api_key else None
        return data


def _coerce(kind: Any, raw: str, var: str) -> Any:
    text = str(kind)
    try:
        if "int" in text and "float" not in text:
            return int(raw)
        if "float" in text:
            return float(raw)
    except ValueError:
        raise SettingsError(f"{var}={raw!r} is not a number") from None
    return raw
