import pytest

from jupyter_twin.settings import Settings


def test_env_then_overrides():
    env = {"JUPYTER_TWIN_BACKEND": "ollama", "JUPYTER_TWIN_MODEL": "qwen2.5-coder:1.5b", "JUPYTER_TWIN_NUM_CTX": "8192"}
    s = Settings.from_env(env)
    assert (s.backend, s.model, s.num_ctx) == ("ollama", "qwen2.5-coder:1.5b", 8192)
    s2 = Settings.from_env(env, model="codestral")
    assert s2.model == "codestral"


@pytest.mark.parametrize("value, expected", [
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("localhost:11500", "http://localhost:11500"),
    ("http://example.internal:8000", "http://example.internal:8000"),
    ("https://gpu-box", "https://gpu-box:11434"),
])
def test_ollama_host(value, expected):
    s = Settings.from_env({})
    assert s.ollama_host({"OLLAMA_HOST": value}) == expected


def test_bad_values_are_clear():
    with pytest.raises(ValueError, match="backend must be one of"):
        Settings.from_env({"JUPYTER_TWIN_BACKEND": "gpt"})
    with pytest.raises(ValueError, match="not a number"):
        Settings.from_env({"JUPYTER_TWIN_NUM_CTX": "lots"})


def test_public_hides_secrets():
    s = Settings.from_env({}, backend="openai", host="http://127.0.0.1:1/v1", api_key="sk-secret")
    assert "sk-secret" not in str(s.public())
