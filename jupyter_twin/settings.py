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


def setting(default: Any, env: str | None, help: str, *, server: bool = True, magics: bool = False,
            cli: bool = False, env_doc: str | None = None, default_doc: str | None = None) -> Any:
    """One setting, declared once: its default, environment variable and help. Where it is
    offered comes from here too: a `c.TwinApp` trait (server), a `%config TwinMagics` trait
    (magics), a CLI option (cli); the README's configuration table is made from it
    (`settings_table()`, checked by tests/engine/test_settings.py)."""
    return field(default=default, metadata={
        "env": env, "help": help, "server": server, "magics": magics, "cli": cli,
        "env_doc": env_doc, "default_doc": default_doc,
    })


@dataclass
class Settings:
    backend: str = setting(
        "auto", "JUPYTER_TWIN_BACKEND",
        "`ollama`, `openai`, `embedded`, or `auto`: Ollama if it answers, else the embedded model if "
        "one is installed, else an error saying what to install or start",
        magics=True, cli=True)
    model: str | None = setting(
        None, "JUPYTER_TWIN_MODEL", "model name; for `embedded`, a GGUF path or a pinned model's name",
        magics=True, cli=True, default_doc="`codestral` (Ollama)")
    completion_model: str | None = setting(
        None, "JUPYTER_TWIN_COMPLETION_MODEL",
        "the model for completion (ghost text, `%%complete`): a small, fast FIM model, e.g. "
        "`qwen2.5-coder:1.5b`",
        magics=True, cli=True, default_doc="`model`")
    chat_model: str | None = setting(
        None, "JUPYTER_TWIN_CHAT_MODEL",
        "the model for chat, explain, refactor, fix, document and tests, e.g. `codestral`",
        magics=True, cli=True, default_doc="`model`")
    completion_backend: str | None = setting(
        None, "JUPYTER_TWIN_COMPLETION_BACKEND", "the backend of the completion model",
        magics=True, default_doc="`backend`")
    chat_backend: str | None = setting(
        None, "JUPYTER_TWIN_CHAT_BACKEND", "the backend of the chat model", magics=True, default_doc="`backend`")
    host: str | None = setting(
        None, None, "server address", magics=True, cli=True,
        env_doc="`OLLAMA_HOST` / `JUPYTER_TWIN_OPENAI_BASE_URL` (or `JUPYTER_TWIN_HOST`)",
        default_doc="`http://127.0.0.1:11434`")
    api_key: str | None = setting(
        None, "JUPYTER_TWIN_API_KEY",
        "sent only to the configured OpenAI-compatible server; a warning on plain http to a host "
        "that is not this machine",
        env_doc="`JUPYTER_TWIN_API_KEY` (or `OPENAI_API_KEY`, used only when the host is "
                "`https://api.openai.com`)", default_doc="none")
    model_path: str | None = setting(
        None, "JUPYTER_TWIN_MODEL_PATH", "GGUF file for `embedded`", default_doc="the demo model if installed")
    family: str | None = setting(
        None, "JUPYTER_TWIN_FAMILY",
        "FIM format: `codestral`, `qwen`, `deepseek`, `starcoder`, `codellama`, `codegemma`, `plain`",
        default_doc="detected")
    num_ctx: int = setting(
        4096, "JUPYTER_TWIN_NUM_CTX",
        "one context size for every request (changing it makes Ollama reload the model)")
    keep_alive: str = setting("30m", "JUPYTER_TWIN_KEEP_ALIVE", "how long Ollama keeps the model loaded")
    max_tokens_complete: int = setting(64, "JUPYTER_TWIN_MAX_TOKENS_COMPLETE", "most tokens generated for one completion")
    max_tokens_chat: int = setting(768, "JUPYTER_TWIN_MAX_TOKENS_CHAT", "most tokens generated for a task or chat answer")
    # 1,536 rather than 1,024: since the context is laid out to survive cell switches (the
    # window, cache reuse), the extra cells are evaluated when the whole window is new (the
    # first request in a notebook, a revisit with cells below), not at each switch or key;
    # fim-dev's first 120 tasks: 29 -> 32 exact, 17 -> 21 of the 70 that need another
    # cell's names (docs/benchmarks.md, issue 10)
    context_tokens: int = setting(1536, "JUPYTER_TWIN_CONTEXT_TOKENS", "budget for neighbouring cells and kernel facts")
    connect_timeout: float = setting(3.0, "JUPYTER_TWIN_CONNECT_TIMEOUT", "seconds to reach the backend")
    request_timeout: float = setting(120.0, "JUPYTER_TWIN_REQUEST_TIMEOUT", "seconds for a whole request")
    first_token_timeout: float = setting(
        60.0, "JUPYTER_TWIN_FIRST_TOKEN_TIMEOUT", "seconds the backend may take to its first token")
    temperature: float = setting(0.0, "JUPYTER_TWIN_TEMPERATURE", "sampling temperature")
    threads: int | None = setting(
        None, "JUPYTER_TWIN_THREADS", "llama.cpp threads for `embedded`", default_doc="the physical cores")
    cache_reuse: int = setting(
        32, "JUPYTER_TWIN_CACHE_REUSE",
        "`embedded`: runs of at least this many cached tokens that a new prompt holds further on "
        "are moved into place, not evaluated again, when cells drop out of the context (0: only "
        "the common start is reused)")
    model_idle_timeout: float = setting(
        900.0, "JUPYTER_TWIN_MODEL_IDLE_TIMEOUT",
        "the embedded model's process exits after this long without a request (and when its last "
        "user is gone)")

    @classmethod
    def fields(cls) -> list[dataclasses.Field]:
        return list(dataclasses.fields(cls))

    @classmethod
    def env_vars(cls) -> dict[str, str]:
        return {f.name: f.metadata["env"] for f in dataclasses.fields(cls) if f.metadata.get("env")}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then environment variables, then the non-None ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        for name, var in cls.env_vars().items():
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
        for name in ("backend", "completion_backend", "chat_backend"):
            value = getattr(self, name)
            if value is not None and value not in BACKENDS:
                raise SettingsError(f"{name} must be one of {', '.join(BACKENDS)}, not {value!r}")
        for name in ("num_ctx", "max_tokens_complete", "max_tokens_chat", "context_tokens"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")
        if self.cache_reuse < 0:
            raise SettingsError("cache_reuse must be 0 or more")

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


def _default_text(f: dataclasses.Field) -> str:
    if f.metadata.get("default_doc"):
        return f.metadata["default_doc"]
    value = f.default
    if isinstance(value, float) and "timeout" in f.name:
        return f"{value:g} s"
    if isinstance(value, str):
        return f"`{value}`"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def settings_table() -> str:
    """The README's configuration table, made from the declarations above."""
    rows = ["| setting | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for f in dataclasses.fields(Settings):
        env = f.metadata.get("env_doc") or (f"`{f.metadata['env']}`" if f.metadata.get("env") else "none")
        rows.append(f"| `{f.name}` | {env} | {_default_text(f)} | {f.metadata['help']} |")
    return "\n".join(rows)
