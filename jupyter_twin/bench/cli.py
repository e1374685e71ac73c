"""`jupyter-twin bench fim|typing|humaneval`."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Iterable

import click

from ..errors import TwinError
from ..settings import BACKENDS
from ..twin import Twin

DEFAULT_BENCH = Path("..") / "shared" / "bench"


def _progress(items: Iterable[Any], total: int, label: str) -> Iterable[Any]:
    # a widget bar when run in a notebook's kernel, text on a terminal (jupyter_twin/progress.py)
    from ..progress import iterate

    return iterate(items, total, label, unit="task")


def _twin(backend: str | None, model: str | None, host: str | None) -> Twin:
    twin = Twin(backend=backend, model=model, host=host)
    click.echo(f"backend {twin.backend.name}, model {twin.backend.model}, family {twin.family.name}", err=True)
    return twin


def _common(f: Any) -> Any:
    f = click.option("--backend", type=click.Choice(BACKENDS), default=None)(f)
    f = click.option("--model", "-m", default=None, help="Model name, or GGUF path (embedded).")(f)
    f = click.option("--host", default=None)(f)
    f = click.option("--limit", type=int, default=None, help="Only the first N tasks.")(f)
    f = click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write all results as JSON.")(f)
    f = click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write a PNG plot.")(f)
    return f


@click.group()
def bench() -> None:
    """Benchmarks that print numbers (speed and quality targets are checked here)."""


def _shared(name: str) -> Path | None:
    """The shared benchmark data beside this repository, only where it exists."""
    path = DEFAULT_BENCH / name
    return path if path.exists() else None


def _embedded_model(model: str | None) -> str | None:
    """A pinned model's name becomes its file; anything else must be a GGUF file (the
    embedded backend would otherwise fall back to the demo model without a word)."""
    from ..errors import BackendUnavailable
    from ..modelfiles import resolve_model_name

    if model is None:
        return None
    try:
        path = resolve_model_name(model)
    except BackendUnavailable as exc:
        raise click.UsageError(str(exc)) from exc
    if path is not None:
        return str(path)
    if not Path(model).expanduser().is_file():
        from ..modelfiles import PINNED_MODELS

        raise click.UsageError(f"--model {model}: no such GGUF file, and not one of {', '.join(PINNED_MODELS)}")
    return model


def _resolve(choice: Any) -> tuple[str | None, str | None]:
    """The backend and model argument for one --model value; a wrong name stops here,
    before any model has run."""
    from ..modelfiles import PINNED_MODELS
    from ..settings import Settings

    backend = choice.backend or Settings.from_env().backend
    if backend == "auto" and choice.model and choice.model.strip().lower() in PINNED_MODELS:
        backend = "embedded"  # a pinned model's name means its file, whoever else answers
    model = _embedded_model(choice.model) if backend == "embedded" else choice.model
    return (backend if backend != "auto" else choice.backend), model


def _plot_note(plot_out: Path | None) -> str | None:
    """None when the PNG can be written, else the one line that says why not."""
    if plot_out is None:
        return None
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        return "no PNG: matplotlib is not installed (pip install 'jupyter_twin[bench]'); the numbers are above"
    return None


@bench.command("fim")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--tasks", "tasks_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A prepared task file (JSON lines). Default without PATHs: ../shared/bench/fim-dev.jsonl, where it exists.")
@click.option("--notebooks", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="The notebooks of --tasks (default: notebooks/ beside the task file).")
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="How many tasks to sample from PATHs (default 40), or the first N of --tasks.")
@click.option("--seed", type=int, default=None, help="Sampling seed (fixed by default: a rerun gives the same tasks).")
@click.option("--strategy", "strategies", multiple=True, type=click.Choice(["cell", "notebook", "bare"]), default=("notebook",), show_default=True)
@click.option("--backend", type=click.Choice(BACKENDS), default=None)
@click.option("--model", "-m", "models", multiple=True,
              help="Repeatable. [BACKEND:]NAME: an Ollama or OpenAI-compatible model name, or for the embedded backend a GGUF path or "
                   "a pinned model (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b).")
@click.option("--host", default=None)
@click.option("--limit", type=int, default=None, help="Only the first N tasks.")
@click.option("--typing-tasks", type=click.IntRange(min=0), default=3, show_default=True,
              help="Tasks typed one character per request for the warm latency (0: none).")
@click.option("--keys", type=click.IntRange(min=2), default=10, show_default=True, help="Characters typed per typing task.")
@click.option("--budget", type=float, default=None, help="Latency budget per keystroke for the recommendation, s (default 1.0).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write all results as JSON.")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), default=Path("bench-fim.png"), show_default=True,
              help="The PNG comparing the models.")
@click.option("--no-plot", is_flag=True, help="Write no PNG.")
def bench_fim(paths: tuple[Path, ...], tasks_path: Path | None, notebooks: Path | None, samples: int | None, seed: int | None,
              strategies: tuple[str, ...], backend: str | None, models: tuple[str, ...], host: str | None, limit: int | None,
              typing_tasks: int, keys: int, budget: float | None, json_out: Path | None, plot_out: Path | None,
              no_plot: bool) -> None:
    """Fill-in-the-middle on notebooks: exact match, edit similarity, latency cold and while
    typing, per model, and which model to use on this machine.

    PATHs are notebooks or folders of notebooks to sample tasks from (the same tasks on
    every run); without them, a prepared --tasks file, or the shared data where it exists.
    """
    from . import compare, fim

    if paths and tasks_path:
        raise click.UsageError("give notebooks (PATH...) or --tasks FILE, not both")
    if paths:
        from . import sampling

        tasks = sampling.sample_tasks(list(paths), samples or 40, sampling.SEED if seed is None else seed)
        if not tasks:
            raise click.UsageError(f"no code to sample from in {', '.join(map(str, paths))} (Python notebooks, .ipynb)")
        cache = fim.NotebookCache(Path("/"))  # sampled tasks name their notebooks by absolute path
        source = ", ".join(map(str, paths))
    else:
        tasks_path = tasks_path or _shared("fim-dev.jsonl")
        if tasks_path is None:
            raise click.UsageError("give notebooks or folders to sample from: jupyter-twin bench fim PATH... "
                                   "(or a prepared --tasks FILE)")
        notebooks = notebooks or (tasks_path.parent / "notebooks")
        tasks = fim.load_tasks(tasks_path, limit or samples)
        cache = fim.NotebookCache(notebooks)
        source = str(tasks_path)
    if limit and paths:
        tasks = tasks[:limit]
    kinds = {k: sum(t["kind"] == k for t in tasks) for k in ("line-rest", "line", "block")}
    click.echo(f"{len(tasks)} tasks from {source} ({', '.join(f'{v} {k}' for k, v in kinds.items())}, "
               f"{sum(bool(t['needs_context']) for t in tasks)} need context); strategies: {', '.join(strategies)}; "
               "failed requests count as empty", err=True)
    plot_out = None if no_plot else plot_out
    note = _plot_note(plot_out)
    load_start = os.getloadavg()[0]
    choices = [compare.parse_model(m, backend) for m in models] or [compare.parse_model(None, backend)]
    resolved = [_resolve(choice) for choice in choices]
    runs = []
    log = open(json_out.with_suffix(".partial.jsonl"), "w") if json_out else None
    try:
        for choice, (model_backend, model_arg) in zip(choices, resolved):
            try:
                twin = _twin(model_backend, model_arg, host)
                try:
                    run = compare.run_model(twin, choice, tasks, cache, strategies, typing_tasks, keys, progress=_progress,
                                            log=log)
                finally:
                    twin.close()
            except TwinError as exc:
                # one model that cannot load (not pulled, server down) must not lose the others' numbers
                click.echo(f"model {choice.label}: not measured: {exc}", err=True)
                continue
            runs.append(run)
            told = compare.failures(run)
            if told:
                click.echo(told, err=True)
            if len(choices) > 1:
                click.echo(f"model {choice.label}")
            click.echo(fim.format_table(fim.summarise(run.results)))
    finally:
        if log:
            log.close()
    if not runs:
        raise click.ClickException("no model could be measured")
    rows = [compare.summary(run) for run in runs]
    click.echo("")
    click.echo(compare.format_table(rows))
    # latencies mean little without the load they were measured under
    click.echo(f"load average (1 min): {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end, "
               f"{os.cpu_count()} CPUs", err=True)
    line = compare.recommend(runs, budget if budget is not None else compare.DEFAULT_BUDGET_S)
    if json_out:
        json_out.write_text(json.dumps({
            "meta": {"tasks": source, "n": len(tasks), "strategies": list(strategies), "typing_tasks": typing_tasks,
                     "keys": keys, "load_start": load_start, "load_end": os.getloadavg()[0], "cpus": os.cpu_count()},
            "models": rows,
            "summary": [{**row, "model": run.label} for run in runs for row in fim.summarise(run.results)],
            "results": [{**dataclasses.asdict(r), "model": run.label} for run in runs for r in run.results],
            "typing": {run.label: run.typing for run in runs},
            "recommendation": line,
        }, indent=1))
    if plot_out is not None:
        if note:
            click.echo(note)
        else:
            title = f"notebook FIM, {len(tasks)} tasks from {source}"
            compare.plot(rows, plot_out, budget if budget is not None else compare.DEFAULT_BUDGET_S, title[:110])
            click.echo(f"PNG: {plot_out}")
    click.echo(line)


@bench.command("typing")
@click.option("--tasks", "tasks_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEFAULT_BENCH / "fim-dev.jsonl", show_default=True)
@click.option("--notebooks", type=click.Path(exists=True, file_okay=False, path_type=Path), default=DEFAULT_BENCH / "notebooks", show_default=True)
@click.option("--strategy", "strategies", multiple=True, type=click.Choice(["cell", "notebook"]), default=("cell", "notebook"), show_default=True)
@click.option("--requests", "requests_per_task", type=int, default=20, show_default=True)
@_common
def bench_typing(tasks_path: Path, notebooks: Path, strategies: tuple[str, ...], requests_per_task: int, backend: str | None,
                 model: str | None, host: str | None, limit: int | None, json_out: Path | None, plot_out: Path | None) -> None:
    """Simulated typing: one character per request; per-request latency per strategy."""
    from . import fim, typing_sim

    twin = _twin(backend, model, host)
    tasks = fim.load_tasks(tasks_path, limit or 10)
    latencies = typing_sim.run(twin, tasks, fim.NotebookCache(notebooks), strategies, requests_per_task, progress=_progress)
    rows = typing_sim.summary(latencies, requests_per_task)
    click.echo(typing_sim.format_table(rows))
    if json_out:
        json_out.write_text(json.dumps({"summary": rows, "latencies": latencies}, indent=1))
    if plot_out:
        _plot_latencies(latencies, plot_out)


def _plot_latencies(latencies: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for strategy, values in latencies.items():
        ax.plot(range(len(values)), values, label=strategy, linewidth=1)
    ax.set_xlabel("request (one character typed)")
    ax.set_ylabel("latency, s")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@bench.command("humaneval")
@click.option("--tasks", "tasks_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEFAULT_BENCH / "humaneval-single-line.jsonl.gz", show_default=True)
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Every K-th task: a sample spread over all 164 problems.")
@_common
def bench_humaneval(tasks_path: Path, every: int, backend: str | None, model: str | None, host: str | None, limit: int | None,
                    json_out: Path | None, plot_out: Path | None) -> None:
    """HumanEval single-line infilling: first-line exact match and pass@1, bare model vs ours."""
    from . import humaneval

    twin = _twin(backend, model, host)
    tasks = humaneval.load(tasks_path, limit, every)
    results = humaneval.run(twin, tasks, progress=_progress)
    rows = humaneval.summary(results)
    click.echo(humaneval.format_table(rows))
    if json_out:
        json_out.write_text(json.dumps({"summary": rows, "results": results}, indent=1))
    if plot_out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        labels = [r["pipeline"] for r in rows]
        ax.bar([0, 1], [r["first_line_exact"] for r in rows], 0.35, label="first-line exact")
        ax.bar([0.35, 1.35], [r["pass_at_1"] for r in rows], 0.35, label="pass@1")
        ax.set_xticks([0.17, 1.17], labels)
        ax.legend()
        fig.tight_layout()
        fig.savefig(plot_out, dpi=120)
        plt.close(fig)


@bench.command("prefill")
@click.option("--size", "sizes", multiple=True, type=int, default=(500, 1000), show_default=True,
              help="Approximate prompt size in tokens (repeatable).")
@click.option("--repeats", type=int, default=3, show_default=True)
@click.option("--model", "-m", default=None, help="GGUF path (default: the demo model).")
def bench_prefill(sizes: tuple[int, ...], repeats: int, model: str | None) -> None:
    """Prompt evaluation through Twin.complete against bare Llama.eval (embedded backend)."""
    from . import prefill

    twin = Twin(backend="embedded", model=model, context_tokens=4 * max(sizes), num_ctx=max(4096, 3 * max(sizes)))
    result = prefill.run(twin, list(sizes), repeats)
    click.echo(prefill.table(result))


def _register_switch() -> None:
    from .switch import command

    bench.add_command(command())


_register_switch()
