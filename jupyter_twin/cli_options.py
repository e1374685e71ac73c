"""Command-line options made from the settings' one declaration (jupyter_twin/settings.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from .settings import BACKENDS, Settings


def backend_options(f: Any) -> Any:
    """The settings offered on the command line (`cli=True` in jupyter_twin/settings.py),
    as options named after them: --backend, --model/-m, --host, --completion-model, ..."""
    for spec in reversed([s for s in dataclasses.fields(Settings) if s.metadata.get("cli")]):
        names = ["--" + spec.name.replace("_", "-")] + (["-m"] if spec.name == "model" else [])
        kind = click.Choice(BACKENDS) if spec.name.endswith("backend") else None
        help_text = spec.metadata["help"].replace("`", "") + " (default: settings)"
        f = click.option(*names, spec.name, type=kind, default=None, help=help_text)(f)
    return f


def settings_overrides(options: dict[str, Any]) -> dict[str, Any]:
    """The settings given on the command line (None: not given)."""
    return {k: v for k, v in options.items() if v is not None}
