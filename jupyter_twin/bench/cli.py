"""`jupyter-twin bench fim|typing|humaneval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import click

from ..settings import BACKENDS
from ..twin import Twin

DEFAULT_BENCH = Path("..") / "shared" / "bench"


def _progress(items: Iterable[Any], total: int, label: str) -> Iterable[Any]:
    try:
        from tqdm import tqdm
    except ImportError:  # plain counter without the bench extra
        return items
    return tqdm(items, total=total, desc=label, unit="task", dynamic_ncols=True, leave=False)


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


@bench.command("fim")
@click.option("--tasks", "tasks_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEFAULT_BENCH / "fim-dev.jsonl", show_default=True)
@click.option("--notebooks", type=click.Path(exists=True, file_okay=False, path_type=Path), default=DEFAULT_BENCH / "notebooks", show_default=True)
@click.option("--strategy", "strategies", multiple=True, type=click.Choice(["cell", "notebook", "bare"]), default=("cell", "notebook"), show_default=True)
@_common
def bench_fim(tasks_path: Path, notebooks: Path, strategies: tuple[str, ...], backend: str | None, model: str | None,
              host: str | None, limit: int | None, json_out: Path | None, plot_out: Path | None) -> None:
    """Notebook fill-in-the-middle tasks: exact match, edit similarity, latency."""
    from . import fim

    twin = _twin(backend, model, host)
    tasks = fim.load_tasks(tasks_path, limit)
    click.echo(f"{len(tasks)} tasks, strategies: {', '.join(strategies)}; failed requests count as empty", err=True)
    log = open(json_out.with_suffix(".partial.jsonl"), "w") if json_out else None
    try:
        results = fim.run(twin, tasks, fim.NotebookCache(notebooks), strategies, progress=_progress, log=log)
    finally:
        if log:
            log.close()
    rows = fim.summarise(results)
    click.echo(fim.format_table(rows))
    meta = {"backend": twin.backend.name, "model": twin.backend.model, "tasks": str(tasks_path), "n": len(tasks)}
    if json_out:
        json_out.write_text(fim.to_json(results, rows, meta))
    if plot_out:
        fim.plot(rows, plot_out, f"notebook FIM, {twin.backend.model}, {len(tasks)} tasks")


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
