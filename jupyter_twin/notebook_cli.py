"""``jupyter-twin explain|refactor|complete|fix|doc|test NOTEBOOK --cell N``.

Each command runs one engine task on cell N of a notebook file and inserts the result as a
new cell right after it (markdown for ``explain``, code otherwise). The file is never
re-serialised: the new cell's JSON is spliced into the original text, laid out with the
indentation and key order the file already uses, so every other byte of the file (cells,
outputs, metadata, trailing newline) stays as it was. The write is atomic (a temporary file
in the same folder, fsync, then ``os.replace``) and refused if the file changed on disk
while the model was running. ``--dry-run`` prints the result and writes nothing.

``register(cli_group)`` adds the commands to the ``jupyter-twin`` group (cli.py); the group
``notebook_group`` holds them on its own as well.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import click

from .cli_options import backend_options
from .tasks import TASKS as ENGINE_TASKS, task_by_name
from .cells import error_text, find_fill_point, join_completion, source_text, split_lines

#: the notebook commands: the chat tasks by their command names (tasks.py), and complete
COMMAND_TASKS = {t.command: t for t in ENGINE_TASKS.values() if t.name != "ask"}
TASKS = ("explain", "refactor", "complete", *[c for c in COMMAND_TASKS if c not in ("explain", "refactor")])
MARKDOWN_TASKS = {c for c, t in COMMAND_TASKS.items() if t.kind == "markdown"}


class NotebookFileError(click.ClickException):
    """A one-line, user-facing problem with the notebook file (exit code 2)."""

    exit_code = 2


# --------------------------------------------------------------------------------------
# The file layer
# --------------------------------------------------------------------------------------


def _skip_ws(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in " \t\r\n":
        pos += 1
    return pos


@dataclass
class _Layout:
    """How the file lays out the ``cells`` array."""

    spans: list[tuple[int, int]]  # [start, end) of each cell's JSON text
    array_start: int  # index of "[" of the cells array
    indent: int | None  # indent unit of the file (None: compact)
    item_indent: str  # whitespace before each cell on its line
    separator: str  # text between two cells, e.g. ",\n  "
    ensure_ascii: bool


def _scan_layout(text: str) -> _Layout:
    """Find the exact text spans of the top-level ``cells`` array's elements."""
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if pos >= len(text) or text[pos] != "{":
        raise ValueError("the top level is not a JSON object")
    pos = _skip_ws(text, pos + 1)
    spans: list[tuple[int, int]] | None = None
    array_start = -1
    while pos < len(text) and text[pos] != "}":
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if text[pos] != ":":
            raise ValueError("malformed object")
        pos = _skip_ws(text, pos + 1)
        if key == "cells" and text[pos] == "[":
            array_start = pos
            spans = []
            pos = _skip_ws(text, pos + 1)
            while text[pos] != "]":
                start = pos
                _, pos = decoder.raw_decode(text, pos)
                spans.append((start, pos))
                pos = _skip_ws(text, pos)
                if text[pos] == ",":
                    pos = _skip_ws(text, pos + 1)
            pos += 1
        else:
            _, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    if spans is None:
        raise ValueError('no "cells" list')

    # indentation: the whitespace in front of the first cell on its line
    indent: int | None = None
    item_indent = ""
    separator = ", "
    if spans:
        first = spans[0][0]
        line_start = text.rfind("\n", 0, first) + 1
        before = text[line_start:first]
        if line_start > array_start and before.strip() == "":
            item_indent = before
            # the cell is two levels deep: top object -> "cells" -> cell
            indent = max(1, len(before) // 2) if before else 0
        if len(spans) > 1:
            separator = text[spans[0][1]:spans[1][0]]
        elif indent is not None:
            separator = ",\n" + item_indent
    ensure_ascii = text.isascii() and "\\u" in text
    return _Layout(spans, array_start, indent, item_indent, separator, ensure_ascii)


class NotebookFile:
    """A notebook file read for one insertion, with its exact original text."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        p = self.path
        if not p.exists():
            raise NotebookFileError(f"{p}: no such file")
        if p.is_dir():
            raise NotebookFileError(f"{p}: is a folder, not a notebook file")
        try:
            self.raw = p.read_bytes()
        except PermissionError:
            raise NotebookFileError(f"{p}: cannot be read (permission denied)") from None
        except OSError as exc:
            raise NotebookFileError(f"{p}: cannot be read ({exc.strerror or exc})") from None
        self._stat = p.stat()
        self.bom = self.raw.startswith(b"\xef\xbb\xbf")
        try:
            self.text = self.raw[3 if self.bom else 0:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotebookFileError(
                f"{p}: not a notebook (not UTF-8 text at byte {exc.start})"
            ) from None
        try:
            self.data = json.loads(self.text)
        except json.JSONDecodeError as exc:
            raise NotebookFileError(
                f"{p}: not a notebook (invalid JSON at line {exc.lineno}, column {exc.colno}: "
                f"{exc.msg})"
            ) from None
        if not isinstance(self.data, dict) or not isinstance(self.data.get("cells"), list):
            raise NotebookFileError(f'{p}: not a notebook (no "cells" list)')
        if not all(isinstance(c, dict) for c in self.data["cells"]):
            raise NotebookFileError(f"{p}: not a notebook (a cell is not a JSON object)")
        for i, c in enumerate(self.data["cells"]):
            outputs = c.get("outputs", [])
            if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
                raise NotebookFileError(
                    f"{p}: not a valid notebook (cell {i} has an output that is not a JSON object)"
                )
        self.layout = _scan_layout(self.text)
        assert len(self.layout.spans) == len(self.data["cells"])

    # -- reading -------------------------------------------------------------------
    @property
    def cells(self) -> list[dict]:
        return self.data["cells"]

    @property
    def nbformat_minor(self) -> int:
        try:
            return int(self.data.get("nbformat_minor", 0))
        except (TypeError, ValueError):
            return 0

    def resolve_index(self, cell: int) -> int:
        """Cell numbers are 0-based positions in the notebook's cells; -1 is the last."""
        n = len(self.cells)
        index = cell + n if cell < 0 else cell
        if not 0 <= index < n:
            if n == 0:
                raise NotebookFileError(f"{self.path}: cell {cell} is out of range (the notebook has no cells)")
            raise NotebookFileError(
                f"{self.path}: cell {cell} is out of range (the notebook has {n} cells: 0 to {n - 1})"
            )
        return index

    def check_writable(self) -> None:
        """Refuse read-only files (also for root, who could write them anyway)."""
        p = self.path
        mode = self._stat.st_mode
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(p, os.W_OK):
            raise NotebookFileError(f"{p}: is read-only; nothing was written (use --dry-run to print the result)")
        folder = p.resolve().parent
        if not os.access(folder, os.W_OK | os.X_OK):
            raise NotebookFileError(
                f"{p}: its folder {folder} is not writable, so the file cannot be replaced safely"
            )

    # -- the new cell ----------------------------------------------------------------
    def new_cell(self, cell_type: str, text: str, like: dict | None = None) -> dict:
        like = like or {}
        source: Any = split_lines(text)
        if isinstance(like.get("source"), str):
            source = text
        cell: dict[str, Any] = {"cell_type": cell_type, "metadata": {}, "source": source}
        if cell_type == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        if self.nbformat_minor >= 5 or any("id" in c for c in self.cells):
            taken = {c.get("id") for c in self.cells}
            new_id = uuid.uuid4().hex[:8]
            while new_id in taken:
                new_id = uuid.uuid4().hex[:8]
            cell["id"] = new_id
        return cell

    def _cell_json(self, cell: dict) -> str:
        lay = self.layout
        if lay.indent is None:
            compact = ":" in self.text and '": ' not in self.text
            seps = (",", ":") if compact else (", ", ": ")
            return json.dumps(cell, sort_keys=True, ensure_ascii=lay.ensure_ascii, separators=seps)
        body = json.dumps(cell, sort_keys=True, ensure_ascii=lay.ensure_ascii, indent=lay.indent)
        return body.replace("\n", "\n" + lay.item_indent)

    def with_cell_after(self, index: int, cell: dict) -> str:
        """The file's text with ``cell`` spliced in after cell ``index``; nothing else changes."""
        lay = self.layout
        if lay.spans:
            end = lay.spans[index][1]
            new_text = self.text[:end] + lay.separator + self._cell_json(cell) + self.text[end:]
        else:  # an empty notebook: index was refused already
            raise NotebookFileError(f"{self.path}: the notebook has no cells")
        # belt and braces: the result parses and differs only by the new cell
        parsed = json.loads(new_text)
        expected = self.cells[: index + 1] + [cell] + self.cells[index + 1:]
        if parsed.get("cells") != expected or {k: v for k, v in parsed.items() if k != "cells"} != {
            k: v for k, v in self.data.items() if k != "cells"
        }:
            raise NotebookFileError(f"{self.path}: internal error while inserting the cell; nothing was written")
        return new_text

    def _check_unchanged(self) -> os.stat_result:
        """The file's stat now, or NotebookFileError if it is not what was read."""
        p = self.path
        try:
            now = p.stat()
            same = (now.st_mtime_ns, now.st_size) == (self._stat.st_mtime_ns, self._stat.st_size) and (
                p.read_bytes() == self.raw
            )
        except FileNotFoundError:
            raise NotebookFileError(f"{p}: was removed while the model was running; nothing was written") from None
        if not same:
            raise NotebookFileError(
                f"{p}: changed on disk while the model was running; nothing was written"
            )
        return now

    def _before_replace(self, tmp: str) -> None:
        """Called once the temporary file is written and fsynced, right before the last
        check; a hook for tests (a save that lands in this window)."""

    def write_atomic(self, text: str) -> None:
        """Replace the file with ``text`` atomically, unless it changed since it was read.

        The check runs twice: before spending time on the temporary file, and again right
        before ``os.replace``, after the temporary file is written and fsynced, so that a
        save made meanwhile (JupyterLab's autosave) is not overwritten."""
        p = self.path
        now = self._check_unchanged()
        data = (b"\xef\xbb\xbf" if self.bom else b"") + text.encode("utf-8")
        target = p.resolve()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".twin-tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, stat.S_IMODE(now.st_mode))
            try:
                # keep the owner and group (root editing a user's notebook, a shared group
                # folder); a process that may not chown keeps its own, as any editor does
                os.chown(tmp, now.st_uid, now.st_gid)
            except (OSError, AttributeError):
                pass
            self._before_replace(tmp)
            self._check_unchanged()
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        try:  # make the rename durable
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:
            pass


# --------------------------------------------------------------------------------------
# Running a task
# --------------------------------------------------------------------------------------


def _engine_cells(nb: NotebookFile) -> list[dict]:
    return [dict(c) for c in nb.cells]


def run_task(
    twin: Any,
    task: str,
    cells: list[dict],
    index: int,
    instruction: str | None = None,
    on_delta: Callable[[str], None] | None = None,
) -> tuple[str, str]:
    """Run ``task`` on ``cells[index]``; returns ``(cell_type, text of the new cell)``."""
    if task not in TASKS:
        raise click.UsageError(f"unknown task {task!r}")
    if task == "complete":
        code, cursor = find_fill_point(source_text(cells[index].get("source")))
        cells = list(cells)
        cells[index] = dict(cells[index], source=code)
        if on_delta is not None:
            stream = twin.stream_complete(cells, index, cursor)
            with stream:
                for delta in stream:
                    on_delta(delta)
                completion = stream.result()
        else:
            completion = twin.complete(cells, index, cursor)
        return "code", join_completion(code, cursor, completion)
    kwargs: dict[str, Any] = {}
    if instruction:
        kwargs["instruction"] = instruction
    engine_task = task_by_name(task).name
    if on_delta is not None:
        stream = twin.stream(engine_task, cells, index, **kwargs)
        with stream:
            for delta in stream:
                on_delta(delta)
            text = stream.result()
    else:
        method = getattr(twin, engine_task)
        text = method(cells, index, **kwargs)
    return ("markdown" if task in MARKDOWN_TASKS else "code"), text


def _make_twin(options: dict[str, Any]) -> Any:
    from . import Twin  # the engine; imported late so --help works without it

    return Twin(**{k: v for k, v in options.items() if v})


def _run_command(task: str, notebook: str, cell: int, instruction: str | None, dry_run: bool,
                 options: dict[str, Any], stream: bool) -> None:
    from .errors import TwinError

    if instruction and task not in ("refactor",):
        raise click.UsageError("--instruction applies to refactor only")
    nb = NotebookFile(notebook)
    index = nb.resolve_index(cell)
    if not dry_run:
        nb.check_writable()  # before spending time on the model
    cells = _engine_cells(nb)
    if task not in MARKDOWN_TASKS and nb.cells[index].get("cell_type") != "code":
        raise NotebookFileError(
            f"{nb.path}: cell {cell} is a {nb.cells[index].get('cell_type')} cell; {task} works on code cells")
    if task == "fix" and error_text(nb.cells[index]) is None:
        raise NotebookFileError(f"{nb.path}: cell {cell} has no error output to fix (run it and save first)")
    twin = _make_twin(options)
    on_delta = None
    if stream:
        def on_delta(delta: str) -> None:
            click.echo(delta, nl=False, err=True)
    try:
        cell_type, text = run_task(twin, task, cells, index, instruction, on_delta)
    except TwinError as exc:
        raise click.ClickException(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    except KeyboardInterrupt:
        raise click.ClickException("interrupted; nothing was written") from None
    finally:
        close = getattr(twin, "close", None)
        if close is not None:
            close()
    if stream:
        click.echo("", err=True)
    if not text.strip():
        raise click.ClickException("the model returned nothing; nothing was written")
    if dry_run:
        click.echo(text)
        return
    new_cell = nb.new_cell(cell_type, text, like=nb.cells[index])
    new_text = nb.with_cell_after(index, new_cell)
    nb.write_atomic(new_text)
    click.echo(
        f"Inserted a new {cell_type} cell after cell {index} (it is now cell {index + 1}) in {nb.path}",
        err=True,
    )


def _make_command(task: str) -> click.Command:
    helps = {c: t.help for c, t in COMMAND_TASKS.items()}
    helps["complete"] = "Complete cell N at its '# ...' marker line (or at its end); the completed cell goes in after it."

    @click.command(name=task, help=helps[task] + " The notebook is written atomically and every other cell stays byte-identical.")
    @click.argument("notebook", type=click.Path(dir_okay=True, path_type=str))
    @click.option("--cell", "-c", "cell", type=int, required=True,
                  help="0-based position of the cell in the notebook (negative counts from the end).")
    @click.option("--instruction", "-i", default=None, help="What to change (refactor).")
    @click.option("--dry-run", is_flag=True, help="Print the result instead of writing the notebook.")
    @backend_options
    @click.option("--stream/--no-stream", default=False, help="Show the raw answer on stderr as it is generated.")
    def command(notebook, cell, instruction, dry_run, stream, **options):
        _run_command(task, notebook, cell, instruction, dry_run, options, stream)

    return command


COMMANDS = {task: _make_command(task) for task in TASKS}


def register(cli_group: click.Group) -> None:
    """Add the six notebook commands to the main ``jupyter-twin`` group."""
    for command in COMMANDS.values():
        cli_group.add_command(command)


@click.group(name="jupyter-twin-notebook")
def notebook_group() -> None:
    """Run jupyter_twin tasks on notebook files."""


register(notebook_group)


if __name__ == "__main__":  # pragma: no cover
    notebook_group(sys.argv[1:])
