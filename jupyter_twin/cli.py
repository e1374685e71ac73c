"""The `jupyter-twin` command line: doctor, notebook commands, benchmarks."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import __version__
from .errors import TwinError
from .settings import BACKENDS, Settings


def backend_options(f: Any) -> Any:
    f = click.option("--backend", type=click.Choice(BACKENDS), default=None, help="Backend (default: settings / auto).")(f)
    f = click.option("--model", "-m", default=None, help="Model name, or GGUF path for the embedded backend.")(f)
    f = click.option("--host", default=None, help="Server address (Ollama or OpenAI-compatible base URL).")(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jupyter-twin")
def cli() -> None:
    """jupyter_twin: a local AI coding assistant for Jupyter notebooks."""


@cli.command()
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def doctor(backend: str | None, model: str | None, host: str | None, as_json: bool) -> None:
    """Which backend would be used, and why."""
    from .backends.select import choose, no_backend_message
    from .twin import Twin

    settings = Settings.from_env(backend=backend, model=model, host=host)
    choice = choose(settings)
    report: dict[str, Any] = {"settings": settings.public(), "findings": choice.reasons, "backend": choice.backend}
    if choice.backend is None:
        report["error"] = no_backend_message(choice)
    else:
        twin = Twin(settings=settings, model=model, host=host)
        report["status"] = twin.status()
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        click.echo(f"jupyter-twin {__version__}")
        for line in choice.reasons:
            click.echo(f"  - {line}")
        if choice.backend is None:
            click.echo(report["error"])
        else:
            st = report["status"]
            dot = "reachable" if st["reachable"] else f"NOT reachable: {st['error']}"
            click.echo(f"backend: {st['backend']}  model: {st['model']}  family: {st['family']}  {dot}")
    if choice.backend is None or not report.get("status", {}).get("reachable"):
        sys.exit(1)


def _register_optional() -> None:
    try:
        from .bench.cli import bench
    except ImportError:  # pragma: no cover - the bench extra is missing
        pass
    else:
        cli.add_command(bench)
    try:
        from .notebook_cli import register
    except ImportError:
        pass
    else:
        register(cli)


_register_optional()


def main() -> None:
    try:
        cli(standalone_mode=True)
    except TwinError as exc:
        click.echo(f"jupyter-twin: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
