"""`jupyter-twin bench switch`: a simulated user writing a notebook top-down.

For each code cell in order, the user runs the cell above (the notebook then holds it with
its saved outputs), moves to the new cell, pauses, and types the cell's first line one
character every 150 ms. Then they go back over the cells written, last first, and ask for a
completion at the end of each one's first line (a revisit: the cells below are there now). Every keystroke asks for a completion, the way the inline
completer does: a new request aborts the one before it. The front end warms the new
cell's context up the moment it becomes active (strategies with warm-up).

It goes through the same path as the front end: the engine (`Twin`) by default, or a
running Jupyter server with `--server` (then the server's warm-up endpoint, completion
cache and cancellation count too).

Per strategy it reports: the time from the first keystroke at a new cell to the first
request that ends there ("first", median, p95; its text may be empty), and to the first
ghost text shown there ("shown": the first non-empty cleaned text, streamed or final, of a
request not yet superseded: what the user sees first, since ghost text grows as the model
writes; "none" counts the cells where nothing was shown, which the medians count as
slower than every other cell), the latency of the requests that finished, the
prompt tokens evaluated per request (the embedded model's counters), cache hits, and the
generated tokens thrown away by cancelled requests.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from ..cells import to_cells
from .scoring import median, percentile


@dataclass(frozen=True)
class Strategy:
    name: str
    context: str  # "notebook" or "cell"
    warm: bool
    pause: float


STRATEGIES = {
    "notebook": Strategy("notebook", "notebook", warm=True, pause=1.0),
    "notebook-no-warm-up": Strategy("notebook-no-warm-up", "notebook", warm=False, pause=1.0),
    "notebook-no-pause": Strategy("notebook-no-pause", "notebook", warm=True, pause=0.0),
    "cell": Strategy("cell", "cell", warm=False, pause=1.0),
}


#: called with the cleaned text so far at each streamed update (what ghost text shows)
OnText = Callable[[str], None]


@dataclass
class Answer:
    text: str
    cached: bool
    deltas: int


class Client(Protocol):
    async def warm(self, cells: list[dict[str, Any]], index: int, cursor: int) -> None: ...

    async def complete(self, cells: list[dict[str, Any]], index: int, cursor: int, counter: list[int],
                       on_text: OnText | None = None) -> Answer: ...

    def counters(self) -> dict[str, int]: ...

    def close(self) -> None: ...


class EngineClient:
    """The engine, called as the server calls it (one Twin per strategy: its own cache)."""

    def __init__(self, make_twin: Any, strategy: Strategy) -> None:
        self.twin = make_twin()
        self.strategy = strategy

    async def warm(self, cells: list[dict[str, Any]], index: int, cursor: int) -> None:
        await asyncio.to_thread(self.twin.warm, cells, index, cursor, strategy=self.strategy.context)

    async def complete(self, cells: list[dict[str, Any]], index: int, cursor: int, counter: list[int],
                       on_text: OnText | None = None) -> Answer:
        stream = await asyncio.to_thread(self.twin.stream_complete, cells, index, cursor, strategy=self.strategy.context)
        # `async for` over a TaskStream cancels it, down to the model, when this task is
        # cancelled (the next keystroke): as the server does when the browser aborts
        async for _ in stream:
            counter[0] += 1
            if on_text is not None:
                on_text(stream.partial())
        if on_text is not None:
            on_text(stream.result())
        return Answer(stream.result(), bool(getattr(stream, "cached", False)), counter[0])

    def counters(self) -> dict[str, int]:
        out = dict(self.twin.backend_stats() or {})
        for k, v in self.twin.cache.stats().items():
            out["cache_" + k] = v
        return out

    def close(self) -> None:
        self.twin.close()


class ServerClient:
    """A running Jupyter server with jupyter_twin, over HTTP like the front end."""

    def __init__(self, url: str, token: str | None, strategy: Strategy) -> None:
        import httpx

        self.base = url.rstrip("/") + "/jupyter-twin"
        headers = {"Authorization": f"token {token}"} if token else {}
        self.http = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(120.0, connect=5.0))
        self.strategy = strategy
        self.editor = f"bench-switch-{strategy.name}-{time.monotonic_ns()}"
        self._last_status: dict[str, Any] = {}

    def _body(self, cells: list[dict[str, Any]], index: int, cursor: int) -> dict[str, Any]:
        return {"cells": cells, "index": index, "cursor": cursor, "editor_id": self.editor}

    async def warm(self, cells: list[dict[str, Any]], index: int, cursor: int) -> None:
        await self.http.post(self.base + "/warm", json=self._body(cells, index, cursor))

    async def complete(self, cells: list[dict[str, Any]], index: int, cursor: int, counter: list[int],
                       on_text: OnText | None = None) -> Answer:
        if self.strategy.context == "cell":
            cells = [cells[index]]
            index = 0
        text = ""
        async with self.http.stream("POST", self.base + "/complete", json=self._body(cells, index, cursor)) as r:
            async for line in r.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if "delta" in event:
                    counter[0] += 1
                if event.get("done"):
                    text = event.get("text") or ""
                if on_text is not None and isinstance(event.get("text"), str):
                    on_text(event["text"])  # the cleaned text so far, or the final one
                if event.get("error"):
                    raise RuntimeError(event["error"])
        return Answer(text, False, counter[0])

    async def fetch_counters(self) -> None:
        r = await self.http.get(self.base + "/status")
        self._last_status = r.json()

    def counters(self) -> dict[str, int]:
        status = self._last_status
        out = dict(((status.get("server") or {}).get("backend_stats")) or {})
        for k, v in (status.get("completion_cache") or {}).items():
            out["cache_" + k] = v
        return out

    def close(self) -> None:
        pass


@dataclass
class CellRun:
    notebook: str
    cell: int
    first_suggestion: float | None
    #: seconds from the first keystroke to the first non-empty ghost text shown
    first_shown: float | None = None
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    cancelled: int = 0
    deltas: int = 0
    deltas_thrown: int = 0
    cached: int = 0


def first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip() and not line.lstrip().startswith(("%", "!", "#")):
            return line
    return ""


def cells_to_write(nb_cells: list[dict[str, Any]], start: int, count: int) -> list[int]:
    """The code cells (from `start`) whose first line is worth typing."""
    out = []
    for j, cell in enumerate(nb_cells):
        if j < start or cell.get("cell_type") != "code":
            continue
        src = cell.get("source")
        src = "".join(src) if isinstance(src, list) else str(src or "")
        if len(first_line(src).strip()) >= 4:
            out.append(j)
        if len(out) >= count:
            break
    return out


async def write_cell(client: Client, name: str, nb_cells: list[dict[str, Any]], j: int, strategy: Strategy,
                     interval: float) -> CellRun:
    """The user arrives at cell j (everything above has run), pauses, types its first line."""
    above = [dict(c) for c in nb_cells[:j]]
    src = nb_cells[j].get("source")
    line = first_line("".join(src) if isinstance(src, list) else str(src or ""))
    indent = len(line) - len(line.lstrip())
    line = line.strip()
    run = CellRun(name, j, None)

    def notebook(typed: str) -> list[dict[str, Any]]:
        return above + [{"cell_type": "code", "source": typed}]

    if strategy.warm:
        await client.warm(notebook(""), j, 0)
    await asyncio.sleep(strategy.pause)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    pending: asyncio.Task[Answer] | None = None
    counter = [0]
    started_at = t0

    def settle(task: asyncio.Task[Answer], at: float, count: list[int]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        answer = task.result()
        run.latencies.append(at - started_at)
        run.cached += answer.cached
        if run.first_suggestion is None:
            run.first_suggestion = at - t0

    def shown(text: str) -> None:
        if run.first_shown is None and text.strip():
            run.first_shown = loop.time() - t0

    for i in range(len(line)):
        typed = line[: i + 1]
        if pending is not None and not pending.done():
            pending.cancel()
            try:
                await pending
            except (asyncio.CancelledError, Exception):
                pass
            run.cancelled += 1
            run.deltas_thrown += counter[0]
        counter = [0]
        run.requests += 1
        started_at = loop.time()
        pending = asyncio.create_task(client.complete(notebook(" " * indent + typed), j, indent + len(typed), counter,
                                                      shown))
        next_at = t0 + (i + 1) * interval
        done, _ = await asyncio.wait({pending}, timeout=max(0.0, next_at - loop.time()))
        if done:
            settle(pending, loop.time(), counter)
            run.deltas += counter[0]
            pending = None
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    if pending is not None:
        # the user stops typing at the end of the line: this request runs to the end
        try:
            await pending
        except Exception:
            pass
        settle(pending, loop.time(), counter)
        run.deltas += counter[0]
    run.deltas += run.deltas_thrown
    return run


def load_notebooks(paths: Iterable[Path]) -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    for path in paths:
        files = sorted(path.rglob("*.ipynb")) if path.is_dir() else [path]
        for f in files:
            if ".ipynb_checkpoints" in f.parts:
                continue
            try:
                nb = json.loads(f.read_text(encoding="utf-8"))
                to_cells(nb.get("cells", []))  # malformed notebooks are left out, not fatal
            except (OSError, ValueError, Exception):
                continue
            cells = []
            for c in nb.get("cells", []):
                src = c.get("source")
                cells.append({"cell_type": c.get("cell_type", "code"),
                              "source": "".join(src) if isinstance(src, list) else str(src or ""),
                              "outputs": c.get("outputs") or [], "execution_count": c.get("execution_count")})
            out.append((f.name, cells))
    return out


async def run_strategy(client: Client, notebooks: list[tuple[str, list[dict[str, Any]]]], strategy: Strategy,
                       start: int, count: int, interval: float, progress: Any = None,
                       revisits: list[float] | None = None) -> tuple[list[CellRun], dict[str, int]]:
    revisits = [] if revisits is None else revisits
    if isinstance(client, ServerClient):
        await client.fetch_counters()
    before = client.counters()
    runs: list[CellRun] = []
    plan = [(name, cells, j) for name, cells in notebooks for j in cells_to_write(cells, start, count)]
    for name, cells, j in (progress(plan, len(plan), strategy.name) if progress else plan):
        runs.append(await write_cell(client, name, cells, j, strategy, interval))
    # then the user goes back over the cells written, last first, and asks at the end of
    # each one's first line (the cells below it are there now)
    for name, cells in notebooks:
        written = cells_to_write(cells, start, count)
        if not written:
            continue
        notebook = [dict(c) for c in cells[: written[-1] + 1]]
        for j in reversed(written):
            line = first_line(notebook[j]["source"])
            cursor = notebook[j]["source"].index(line) + len(line)
            if strategy.warm:
                await client.warm(notebook, j, cursor)
            await asyncio.sleep(strategy.pause)
            started = time.monotonic()
            try:
                await client.complete(notebook, j, cursor, [0])
                revisits.append(time.monotonic() - started)
            except Exception:
                pass
    if isinstance(client, ServerClient):
        await client.fetch_counters()
    after = client.counters()
    return runs, {k: after.get(k, 0) - before.get(k, 0) for k in after if isinstance(after.get(k), int)}


def _finite(value: float) -> float | None:
    """None for no cells, or a statistic that falls on a cell that got nothing."""
    return value if math.isfinite(value) else None


def summarise(strategy: str, runs: list[CellRun], counters: dict[str, int],
              revisits: list[float] | None = None) -> dict[str, Any]:
    # a cell where nothing came counts as slower than every other (not left out): the
    # median is over all cells, and it is None only when half of them got nothing
    firsts = [math.inf if r.first_suggestion is None else r.first_suggestion for r in runs]
    shown = [math.inf if r.first_shown is None else r.first_shown for r in runs]
    latencies = [v for r in runs for v in r.latencies]
    requests = sum(r.requests for r in runs)
    deltas = sum(r.deltas for r in runs)
    thrown = sum(r.deltas_thrown for r in runs)
    generations = counters.get("started") or 0
    prompt = counters.get("prompt_tokens", 0) - counters.get("reused_tokens", 0)
    return {
        "strategy": strategy,
        "cells": len(runs),
        "first_median": _finite(median(firsts)),
        "first_p95": _finite(percentile(firsts, 0.95)),
        "no_suggestion": sum(r.first_suggestion is None for r in runs),
        "shown_median": _finite(median(shown)),
        "shown_p95": _finite(percentile(shown, 0.95)),
        "nothing_shown": sum(r.first_shown is None for r in runs),
        "keystroke_median": median(latencies) if latencies else None,
        "keystroke_p95": percentile(latencies, 0.95) if latencies else None,
        "requests": requests,
        "cancelled": sum(r.cancelled for r in runs),
        "cache_hits": counters.get("cache_hits", sum(r.cached for r in runs)),
        "prefetched": counters.get("cache_prefetched", 0),
        "generations": generations,
        "prompt_tokens_per_generation": round(prompt / generations, 1) if generations else None,
        "warm_tokens": counters.get("warm_tokens"),
        "tokens_thrown_away": thrown,
        "tokens_thrown_share": round(thrown / deltas, 3) if deltas else 0.0,
        "revisit_median": median(revisits) if revisits else None,
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    def f(v: Any, fmt: str = "{:.3f}") -> str:
        return "-" if v is None else fmt.format(v)

    head = (f"{'strategy':<22}{'cells':>6}{'first med':>10}{'first p95':>10}{'shown med':>10}{'shown p95':>10}{'none':>5}"
            f"{'key med':>9}{'key p95':>9}"
            f"{'req':>6}{'hits':>6}{'gens':>6}{'prompt/gen':>11}{'thrown':>8}{'revisit':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['strategy']:<22}{r['cells']:>6}{f(r['first_median']):>10}{f(r['first_p95']):>10}"
            f"{f(r.get('shown_median')):>10}{f(r.get('shown_p95')):>10}{r.get('nothing_shown', 0):>5}"
            f"{f(r['keystroke_median']):>9}{f(r['keystroke_p95']):>9}{r['requests']:>6}{r['cache_hits']:>6}"
            f"{r['generations']:>6}{f(r['prompt_tokens_per_generation'], '{:.0f}'):>11}{f(r['tokens_thrown_share'], '{:.1%}'):>8}"
            f"{f(r.get('revisit_median')):>9}"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], runs: dict[str, list[CellRun]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    names = list(runs)
    for ax, attr, title in ((axes[0], "first_shown", "First ghost text shown at a new cell"),
                            (axes[1], "first_suggestion", "First request ended (its text may be empty)")):
        data = [[getattr(r, attr) for r in runs[n] if getattr(r, attr) is not None] or [0.0] for n in names]
        ax.boxplot(data, showfliers=True)
        ax.set_xticks(range(1, len(names) + 1), names)  # `labels=` is gone from boxplot in matplotlib 3.9
        ax.set_title(title, fontsize=10)
        plt.setp(ax.get_xticklabels(), rotation=15)
    axes[0].set_ylabel("seconds from the first keystroke at the cell")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def command() -> Any:
    """The click command (registered on the `bench` group in bench/cli.py)."""
    import click

    @click.command("switch")
    @click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
    @click.option("--strategy", "strategies", multiple=True, type=click.Choice(list(STRATEGIES)),
                  help="Strategies to compare (default: all four), in one run.")
    @click.option("--start", type=int, default=20, show_default=True, help="The first cell index written.")
    @click.option("--cells", "count", type=int, default=6, show_default=True, help="Code cells written per notebook.")
    @click.option("--notebooks", "max_notebooks", type=int, default=2, show_default=True,
                  help="At most this many notebooks (the shared ones by default).")
    @click.option("--interval", type=float, default=0.15, show_default=True, help="Seconds between keystrokes.")
    @click.option("--server", default=None,
                  help="A running Jupyter server's URL: go through it like the front end (one --strategy a server).")
    @click.option("--token", default=None, envvar="JUPYTER_TOKEN", help="The server's token (or JUPYTER_TOKEN).")
    @click.option("--backend", default=None)
    @click.option("--model", "-m", default=None)
    @click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
    @click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
    def switch(paths: tuple[Path, ...], strategies: tuple[str, ...], start: int, count: int, max_notebooks: int,
               interval: float, server: str | None, token: str | None, backend: str | None, model: str | None,
               json_out: Path | None, plot_out: Path | None) -> None:
        """A user writing notebooks top-down: time to the first suggestion at each new cell."""
        from ..twin import Twin
        from .cli import _progress, _shared

        if not paths:
            shared = _shared("notebooks")
            if shared is None:
                raise click.UsageError("name notebooks or folders (the shared benchmark data is not here)")
            paths = (shared,)
        notebooks = load_notebooks(paths)[:max_notebooks]
        if not notebooks:
            raise click.UsageError("no readable notebooks in " + ", ".join(map(str, paths)))
        chosen = [STRATEGIES[s] for s in (strategies or STRATEGIES)]
        if server and len(chosen) > 1:
            # the server's completion cache outlives a strategy: the second would be
            # answered with the first one's suggestions for the same text
            raise click.UsageError("with --server, one --strategy per run, each on a freshly started server")
        rows, all_runs = [], {}
        for strategy in chosen:
            client: Any
            if server:
                client = ServerClient(server, token, strategy)
            else:
                client = EngineClient(lambda: Twin(backend=backend, model=model), strategy)
            revisits: list[float] = []
            try:
                runs, counters = asyncio.run(run_strategy(client, notebooks, strategy, start, count, interval, _progress,
                                                          revisits))
            finally:
                client.close()
            all_runs[strategy.name] = runs
            rows.append(summarise(strategy.name, runs, counters, revisits))
        click.echo(format_table(rows))
        by = {r["strategy"]: r for r in rows}

        def ratio(key: str) -> str:
            # "-" when the notebook's median is a cell that got nothing (see summarise)
            a, b = by["notebook"].get(key), by["cell"].get(key)
            return "-" if a is None or not b else f"{a / b:.2f}"

        if "notebook" in by and "cell" in by:
            click.echo(f"first suggestion at a new cell, notebook / cell (medians): {ratio('first_median')}")
            click.echo(f"first ghost text shown at a new cell, notebook / cell (medians): {ratio('shown_median')}"
                       f" (cells with none: {by['notebook']['nothing_shown']} / {by['cell']['nothing_shown']})")
        if json_out:
            json_out.write_text(json.dumps({"rows": rows, "runs": {k: [r.__dict__ for r in v] for k, v in all_runs.items()}},
                                           indent=1))
        if plot_out and not plot(rows, all_runs, plot_out):
            click.echo("matplotlib is not installed: no plot (pip install matplotlib)", err=True)

    return switch
