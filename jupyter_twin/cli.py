"""The `jupyter-twin` command line: doctor, notebook commands, benchmarks."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import __version__
from .errors import TwinError
from .cli_options import backend_options, settings_overrides
from .settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jupyter-twin")
def cli() -> None:
    """jupyter_twin: a local AI coding assistant for Jupyter notebooks."""


@cli.command()
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def doctor(as_json: bool, **options: Any) -> None:
    """Which backend would be used, and why."""
    from .backends.select import choose, no_backend_message
    from .twin import Twin, status_base

    model, host = options.get("model"), options.get("host")
    settings = Settings.from_env(**settings_overrides(options))
    choice = choose(settings)
    report: dict[str, Any] = {"settings": settings.public(), "findings": choice.reasons, "backend": choice.backend}
    if choice.backend is None:
        report["error"] = no_backend_message(choice)
    else:
        twin = Twin(settings=settings, model=model, host=host)
        if choice.backend == "embedded":
            report["smoke_test"] = _smoke(settings, model)
        if report.get("smoke_test", {}).get("ok", True):
            report["status"] = twin.status()
        else:
            report["status"] = {**status_base(settings, report["smoke_test"]["message"]),
                                "backend": "embedded", "model": report["smoke_test"].get("model")}
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        click.echo(f"jupyter-twin {__version__}")
        for line in choice.reasons:
            click.echo(f"  - {line}")
        if choice.backend is None:
            click.echo(report["error"])
        else:
            smoke = report.get("smoke_test")
            if smoke:
                click.echo(f"  - llama.cpp smoke test: {'ok, ' if smoke['ok'] else 'FAILED: '}{smoke['message']}")
                if smoke["system_info"]:
                    click.echo(f"  - llama.cpp: {smoke['system_info']}")
                if smoke["fix"]:
                    click.echo("rebuild llama-cpp-python for any CPU with:")
                    click.echo(f"  {smoke['fix']}")
            st = report["status"]
            dot = "reachable" if st["reachable"] else f"NOT reachable: {st['error']}"
            click.echo(f"backend: {st['backend']}  model: {st['model']}  family: {st['family']}  {dot}")
    if choice.backend is None or not report.get("status", {}).get("reachable"):
        sys.exit(1)


def _smoke(settings: Settings, model: str | None) -> dict[str, Any]:
    """One token from the embedded model in a child process: a crash there is reported
    with its signal and the rebuild command, and never reaches this process."""
    import dataclasses

    from .backends.embedded import default_threads
    from .modelfiles import find_local_model
    from .modelproc.smoke import smoke_test

    looks_like_file = bool(model) and str(model).endswith(".gguf")
    path, origin = find_local_model(model if looks_like_file else settings.model_path)
    if path is None:
        return {"ok": False, "message": origin, "system_info": "", "fix": None}
    return {"model": path.name, **dataclasses.asdict(smoke_test(path, settings.threads or default_threads()))}


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
