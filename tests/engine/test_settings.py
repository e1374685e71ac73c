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


def test_the_readme_configuration_table_is_made_from_the_declarations():
    """Each setting is declared once (jupyter_twin/settings.py); the README's table must be
    what that declaration makes, so a setting added or changed there shows here too."""
    from pathlib import Path

    from jupyter_twin.settings import settings_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme


def test_server_traits_and_cli_options_come_from_the_declarations():
    import dataclasses

    import click

    from jupyter_twin.cli import cli
    from jupyter_twin.server.app import TwinApp
    from jupyter_twin.settings import Settings

    traits = TwinApp.class_trait_names(config=True)
    for f in dataclasses.fields(Settings):
        if f.metadata["server"]:
            assert f.name in traits, f.name
    from jupyter_twin.kernel.magics import TwinMagics

    magic_traits = TwinMagics.class_trait_names(config=True)
    for f in dataclasses.fields(Settings):
        if f.metadata["magics"]:
            assert f.name in magic_traits, f.name
    explain = cli.commands["explain"]
    flags = {opt for p in explain.params if isinstance(p, click.Option) for opt in p.opts}
    for f in dataclasses.fields(Settings):
        if f.metadata["cli"]:
            assert "--" + f.name.replace("_", "-") in flags, f.name
