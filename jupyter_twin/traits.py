"""Traitlets for the settings (jupyter_twin.settings.Settings), made from their one
declaration: the server's `c.TwinApp.<name>` and the magics' `%config TwinMagics.<name>`.

Every trait defaults to None, meaning "not set here": the engine then takes the
environment variable or the default (Settings.from_env), so a value is never written down
twice. Traitlets is a Jupyter library; the engine itself does not import it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from traitlets import CFloat, CInt, TraitType, Unicode

from .settings import Settings


def _trait(f: dataclasses.Field) -> TraitType:
    kind = str(f.type)
    help_text = f.metadata["help"].replace("`", "")
    env = f.metadata.get("env")
    if env:
        help_text += f" (environment: {env})"
    if "float" in kind:
        return CFloat(None, allow_none=True, help=help_text).tag(config=True)
    if "int" in kind:
        return CInt(None, allow_none=True, help=help_text).tag(config=True)
    return Unicode(None, allow_none=True, help=help_text).tag(config=True)


def settings_traits(where: str) -> dict[str, TraitType]:
    """The traits for `where` ("server" or "magics"), by setting name."""
    return {f.name: _trait(f) for f in dataclasses.fields(Settings) if f.metadata.get(where)}


def settings_overrides(obj: Any, where: str) -> dict[str, Any]:
    """The settings set on `obj`'s traits (None left out: not set here)."""
    names = [f.name for f in dataclasses.fields(Settings) if f.metadata.get(where)]
    return {name: getattr(obj, name) for name in names if getattr(obj, name, None) is not None}
