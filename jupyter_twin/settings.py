"""One settings model, read by the magics, the server extension and the CLI.

Values come from (lowest to highest precedence): defaults, environment variables, explicit
overrides (traitlets config in the server, magic options, CLI flags).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from .errors import SettingsError

log = logging.getLogger("jupyter_twin")

#: the one host OPENAI_API_KEY is meant for; any other host needs its own key setting
OPENAI_OFFICIAL_HOST = "api.openai.com"

BACKENDS = ("auto", "ollama", "openai", "embedded")

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
DEFAULT_OLLAMA_MODEL = "codestral"


def host_name(url: str | None) -> str:
    """The lower-case host name of a URL ("" when there is none)."""
    if not url:
        return ""
    try:
        return (urlsplit(url if "://" in url else "//" + url).hostname or "").lower()
    except ValueError:
        return ""


def is_official_openai(url: str | None) -> bool:
    """True for an https URL on api.openai.com, the host OPENAI_API_KEY is issued for."""
    return host_name(url) == OPENAI_OFFICIAL_HOST and (url or "").lower().startswith("https://")


def is_loopback(url: str | None) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1: traffic that never leaves the machine."""
    name = host_name(url)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


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
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "api_key" not in values and values.get("backend", "auto") == "openai" and env.get("OPENAI_API_KEY"):
            # OPENAI_API_KEY is a key for OpenAI: it is sent to api.openai.com only. Any
            # other OpenAI-compatible host (a llama.cpp box on the LAN, a proxy, a typo)
            # must be given its key explicitly (JUPYTER_TWIN_API_KEY, api_key)
            if is_official_openai(values.get("host")):
                values["api_key"] = env["OPENAI_API_KEY"]
            else:
                log.warning(
                    "jupyter_twin: OPENAI_API_KEY is not sent to %s (it is not https://%s); set "
                    "JUPYTER_TWIN_API_KEY or the api_key setting to send a key to that host",
                    host_name(values.get("host")) or "an unset host", OPENAI_OFFICIAL_HOST,
                )
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
