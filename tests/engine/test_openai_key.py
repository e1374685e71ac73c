"""OPENAI_API_KEY goes to api.openai.com only; other hosts need their own key setting;
plain http off this machine is warned about; URLs lose their credentials for display
(issue 9, point 11)."""

from __future__ import annotations

import logging

import pytest

from jupyter_twin.backends.openai import OpenAIBackend
from jupyter_twin.redact import redact, redact_status, strip_credentials
from jupyter_twin.settings import Settings, is_loopback, is_official_openai


@pytest.mark.parametrize("host", [
    "http://192.168.1.20:8080/v1", "https://my-proxy.example.com/v1", "http://127.0.0.1:8080/v1",
    "https://api.openai.com.evil.example/v1", "http://api.openai.com/v1", None,
])
def test_openai_api_key_is_not_sent_to_another_host(host, caplog):
    env = {"OPENAI_API_KEY": "sk-official", "JUPYTER_TWIN_BACKEND": "openai"}
    if host:
        env["OPENAI_BASE_URL"] = host
    with caplog.at_level(logging.WARNING, logger="jupyter_twin"):
        s = Settings.from_env(env)
    assert s.api_key is None
    assert "OPENAI_API_KEY is not sent" in caplog.text and "sk-official" not in caplog.text


def test_openai_api_key_goes_to_the_official_host():
    env = {"OPENAI_API_KEY": "sk-official", "JUPYTER_TWIN_BACKEND": "openai",
           "OPENAI_BASE_URL": "https://api.openai.com/v1"}
    assert Settings.from_env(env).api_key == "sk-official"
    # the host given as an override is the one that counts
    env.pop("OPENAI_BASE_URL")
    assert Settings.from_env(env, host="https://api.openai.com/v1").api_key == "sk-official"
    assert Settings.from_env(env, host="http://10.0.0.2:8000/v1").api_key is None


def test_an_explicit_key_goes_to_any_host():
    env = {"OPENAI_API_KEY": "sk-official", "JUPYTER_TWIN_API_KEY": "sk-lan", "JUPYTER_TWIN_BACKEND": "openai",
           "OPENAI_BASE_URL": "http://10.0.0.2:8000/v1"}
    assert Settings.from_env(env).api_key == "sk-lan"
    env.pop("JUPYTER_TWIN_API_KEY")
    assert Settings.from_env(env, api_key="sk-given").api_key == "sk-given"


def test_the_backend_sends_no_key_it_was_not_given():
    s = Settings.from_env({"OPENAI_API_KEY": "sk-official"}, backend="openai", host="http://10.0.0.2:8000/v1")
    with OpenAIBackend(s)._http() as client:
        assert "authorization" not in {k.lower() for k in client.headers}


def test_plain_http_off_this_machine_is_warned(caplog):
    with caplog.at_level(logging.WARNING, logger="jupyter_twin"):
        OpenAIBackend(Settings(backend="openai", host="http://127.0.0.1:8080/v1"))
        OpenAIBackend(Settings(backend="openai", host="http://localhost:8080"))
        OpenAIBackend(Settings(backend="openai", host="https://gpu.example.com/v1", api_key="k"))
    assert "plain http" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="jupyter_twin"):
        OpenAIBackend(Settings(backend="openai", host="http://gpu.example.com/v1", api_key="k"))
    assert "plain http" in caplog.text and "API key" in caplog.text


def test_the_backend_host_shown_has_no_credentials():
    b = OpenAIBackend(Settings(backend="openai", host="https://bob:s3cret@gpu.example.com/v1"))
    assert b.host == "https://gpu.example.com/v1"
    assert "bob:s3cret@" in b.base_url  # still used to connect


def test_host_checks():
    assert is_official_openai("https://api.openai.com/v1")
    assert not is_official_openai("https://api.openai.com.attacker.net/v1")
    assert not is_official_openai("https://user@evil.net/@api.openai.com")
    assert is_loopback("http://127.0.0.5:1") and is_loopback("http://[::1]:8080") and is_loopback("localhost:1")
    assert not is_loopback("http://10.0.0.1") and not is_loopback("http://example.com")


@pytest.mark.parametrize("text, hidden, kept", [
    ("Cannot connect to x at http://bob:s3cret@10.0.0.5:11434: is it running?", ["bob", "s3cret"], ["http://10.0.0.5:11434:"]),
    ("no model file at /home/alice/.cache/jupyter_twin/models/qwen.gguf", ["/home", "alice"], ["qwen.gguf"]),
    ("OSError: [Errno 2] No such file: 'C:\\Users\\alice\\m.gguf'", ["alice", "Users"], ["m.gguf"]),
    ("at https://h.example/v1?api_key=sk-1 then", ["sk-1"], ["https://h.example/v1"]),
    ("answered /models with something that is not JSON", [], ["/models"]),
])
def test_redact(text, hidden, kept):
    out = redact(text)
    for h in hidden:
        assert h not in out
    for k in kept:
        assert k in out


def test_redact_status_walks_nested_values():
    data = {"host": "http://u:p@h:1", "server": {"recent": [{"error": "/a/b/c.gguf"}]}, "n": 3}
    assert redact_status(data) == {"host": "http://h:1", "server": {"recent": [{"error": "c.gguf"}]}, "n": 3}
    assert strip_credentials("http://h:1/x") == "http://h:1/x"
