"""Every HTTP client we make shares one verifying TLS context: httpx builds a new one per
Client (26 ms of CPU loading the CA bundle), and we make a Client per stream."""

from __future__ import annotations

import ssl

import httpx

from jupyter_twin.backends import http as backend_http
from jupyter_twin.backends.http import SocketGrip, tls_context
from jupyter_twin.backends.ollama import OllamaBackend
from jupyter_twin.backends.openai import OpenAIBackend
from jupyter_twin.settings import Settings


def test_one_context_that_still_verifies() -> None:
    ctx = tls_context()
    assert ctx is tls_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


def test_clients_per_stream_build_no_new_context(monkeypatch) -> None:
    tls_context()  # made once, before counting
    built = []
    real = httpx.create_ssl_context

    def counting(verify=True, *args, **kwargs):  # noqa: ANN001 - httpx's own signature
        if not isinstance(verify, ssl.SSLContext):  # a context handed in is used as it is
            built.append(verify)
        return real(verify, *args, **kwargs)

    # the transport holds its own reference to the function
    monkeypatch.setattr("httpx._transports.default.create_ssl_context", counting)
    settings = Settings()
    ollama = OllamaBackend(settings, host="https://ollama.example:11434")
    openai = OpenAIBackend(settings, host="https://api.example/v1")
    for _ in range(3):
        ollama._client(SocketGrip())
        openai._http(SocketGrip()).close()
    assert built == []
    assert backend_http.tls_context.cache_info().currsize == 1
