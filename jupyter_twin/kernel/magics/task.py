"""Task magics: ``%%refactor``, ``%%explain``, ``%%complete`` and ``%twin fix|doc|test|ask``.

The answer streams into the output area. Code goes in below with ``set_next_input`` at
execution time; where the JupyterLab extension is present (it pushes the live notebook on
comm target ``jupyter_twin.notebook``) through the ``jupyter_twin`` comm by cell id, and a
refactor shows a diff with buttons; with ipywidgets and no extension, a review panel.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, Callable

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ...cells import find_fill_point, join_completion
from ...tasks import TASKS, task_by_name
from .. import frontend, review, sources, widgets
from . import options
from .options import UNSET, OptionError, one_line

if TYPE_CHECKING:
    from .base import TwinMagics

#: what a ``%twin`` word is called with: the rest of the line, the cell body or None, the raw cell
Command = Callable[[str, "str | None", str], Any]


class _View:
    """Shows a streamed answer: a display that updates in Jupyter, plain text in a terminal."""

    def __init__(self, shell: Any, kind: str, enabled: bool = True) -> None:
        self.kind = kind
        self.text = ""
        self.enabled = enabled
        self.rich = hasattr(shell, "kernel")
        self.handle = None
        self._last = 0.0
        self._interval = 0.15

    def _bundle(self, text: str, note: str = "") -> dict[str, Any]:
        # model text is never published as raw text/markdown: outputs of a cell the user
        # ran are trusted, and JupyterLab runs the HTML in trusted markdown
        return frontend.text_bundle(text, self.kind, note)

    def add(self, delta: str) -> None:
        self.text += delta
        if not self.enabled:
            return
        if self.rich:
            from IPython.display import display

            now = time.monotonic()
            if self.handle is None:
                self.handle = display(self._bundle(self.text), raw=True, display_id=True)
                self._last = now
            elif now - self._last >= self._interval:
                self.handle.update(self._bundle(self.text), raw=True)
                self._last = now
        else:
            sys.stdout.write(delta)
            sys.stdout.flush()

    def show(self, bundle: dict[str, Any]) -> None:
        """Replace the streamed text with ``bundle`` (or show it)."""
        if self.rich:
            from IPython.display import display

            if self.handle is None:
                self.handle = display(bundle, raw=True, display_id=True)
            else:
                self.handle.update(bundle, raw=True)
        else:
            if self.enabled and self.text:
                sys.stdout.write("\n")
            print(bundle.get("text/plain", ""))

    def finish(self, text: str, note: str = "") -> None:
        if self.rich:
            self.show(self._bundle(text, note))
        else:
            if self.enabled and self.text:
                sys.stdout.write("\n")
                if note:
                    print(note)
            else:
                print(text)
                if note:
                    print(note)


@magics_class
class TaskMagics(Magics):
    """The magics that ask the model for something about a cell."""

    def __init__(self, shell: Any, state: TwinMagics) -> None:
        super().__init__(shell)
        self.state = state

    def commands(self) -> dict[str, Command]:
        """The ``%twin`` words of the tasks without a cell magic of their own: each task's
        name and short name, as tasks.py has them ("doc" -> "document")."""
        handlers: dict[str, Command] = {"fix": self.twin_fix, "document": self.twin_doc, "test": self.twin_test,
                                        "ask": self.twin_ask}
        return {word: handlers[t.name] for t in TASKS.values() if t.name in handlers for word in {t.name, t.command}}

    # --- running a task ---------------------------------------------------
    def _generate(self, make_stream: Callable[[], Any], kind: str, view: Any = None) -> tuple[str | None, Any]:
        """Stream an answer into the output (or into ``view``, a review panel); the cleaned
        result, or None after an interrupt or an error (each reported in one line)."""
        from ...errors import TwinError

        if view is None:
            view = _View(self.shell, kind, enabled=self.state.stream)
        stopped = getattr(view, "stopped", None)
        stream = None
        try:
            with review.keyboard_interrupts():
                stream = make_stream()
                for delta in stream:
                    view.add(delta)
                return stream.result(), view
        except KeyboardInterrupt:
            if stream is not None:
                stream.cancel()
            self.state.report("interrupted; the model was stopped.")
            if stopped:
                stopped("Interrupted; the model was stopped. Nothing changed.")
            return None, view
        except TwinError as exc:
            if stream is not None:
                stream.cancel()
            self.state.report(one_line(exc))
            if stopped:
                stopped("No result (the error is above). Nothing changed.")
            return None, view
        except OptionError as exc:
            self.state.report(str(exc))
            if stopped:
                stopped("No result. Nothing changed.")
            return None, view
        finally:
            if stream is not None:
                stream.cancel()  # idempotent; makes sure the backend stops

    def _review_panel(self, task: str, replace_label: str = "Replace original") -> Any:
        """A review panel for a code task where the extension is absent and ipywidgets is
        here; None otherwise (the text view, as before)."""
        state = self.state
        if not (state.panels and widgets.use_panels(self.shell, state.live.present)):
            return None
        panel = review.ReviewPanel(self.shell, task, enabled=state.stream, timeout=state.review_timeout)
        panel.replace_label = replace_label
        state.last_panel = panel
        return panel

    def _place_code(self, ctx: sources.NotebookContext, view: _View, code: str, opts: dict[str, Any], *,
                    task: str, original: str | None, target_id: str | None) -> None:
        """Put a code result where the user can take it, never replacing anything."""
        state = self.state
        insert = opts.get("insert", state.insert)
        if not code.strip():
            view.finish(code, "The model returned no code.")
            return
        state.last_sent = []
        if isinstance(view, review.ReviewPanel):  # no extension, ipywidgets: the user decides
            if view.propose(code, original, insert=insert, replace_label=view.replace_label,
                            can_wait=review.expecting()) or not insert:
                return
            self.shell.set_next_input(code, replace=False)  # as before: nothing can act on a click
            return
        if ctx.source == "live":  # the JupyterLab extension pushed this cell's notebook
            if original is not None:
                view.show(frontend.diff_bundle(target_id, original, code, task=task))
                return
            if insert:
                msg = {"action": "insert", "cell_id": ctx.cell_id, "cell_type": "code", "source": code, "task": task}
                if frontend.send_action(msg):
                    state.last_sent.append(msg)
                    view.finish(code, "Inserted below as a new cell.")
                    return
        if insert:
            self.shell.set_next_input(code, replace=False)
            view.finish(code, "Inserted below as a new cell." if view.rich else "The code is in the next input.")
        else:
            view.finish(code)
        state.install_hint.maybe(self.shell, state.live.present)

    def _place_markdown(self, ctx: sources.NotebookContext, view: _View, text: str, opts: dict[str, Any], *,
                        task: str, as_cell: bool) -> None:
        view.finish(text)
        self.state.last_sent = []
        if as_cell and ctx.source == "live" and opts.get("insert", self.state.insert) and text.strip():
            msg = {"action": "insert", "cell_id": ctx.cell_id, "cell_type": "markdown", "source": text, "task": task}
            if frontend.send_action(msg):
                self.state.last_sent = [msg]

    def _code_task(self, task: str, raw_cell: str, body: str, opts: dict[str, Any], *, diff: bool,
                   target: int | None = None, ctx: Any = None, **kw: Any) -> None:
        """Run a chat task whose answer is code, on the cell body or on cell ``target``."""
        state = self.state
        try:
            if ctx is None:
                ctx = state.context_for(raw_cell, body, opts)
            index = ctx.index if target is None else target
            twin = state.twin(opts)
            facts = state.facts_for(ctx, index, opts)
        except Exception as exc:
            state.report(one_line(exc))
            return
        engine_task = task_by_name(task).name
        # a line magic acting on the cell above can only replace its own cell (set_next_input)
        panel = self._review_panel(task, "Replace this cell" if target is not None else "Replace original")
        code, view = self._generate(lambda: twin.stream(engine_task, ctx.cells, index, kernel_facts=facts, **kw),
                                    "code", panel)
        if code is None:
            return
        # the diff's "Replace original" acts on the target cell (this one, or the cell above)
        original = sources.source_text(ctx.cells[index].get("source")) if diff else None
        target_id = ctx.cells[index].get("id") if target is not None else ctx.cell_id
        self._place_code(ctx, view, code, opts, task=task, original=original, target_id=target_id)

    # --- cell magics ------------------------------------------------------
    @cell_magic
    @options.parsed()
    @magic_arguments("%refactor")
    @argument("instruction", nargs="*", default=UNSET,
              help="what to change: the rest of the line, as it is (no quotes needed)")
    @options.task_options
    def refactor(self, opts: dict[str, Any], instruction: str, cell: str, raw: str) -> None:
        """Refactor the cell body; the result goes in as a new cell below (a diff where the
        JupyterLab extension is)."""
        self._code_task("refactor", raw, cell, opts,
                        instruction=instruction or None, diff=True)

    @cell_magic
    @options.parsed()
    @magic_arguments("%explain")
    @options.task_options
    def explain(self, opts: dict[str, Any], _text: str, cell: str, raw: str) -> None:
        """Explain the cell body as markdown (a new markdown cell where the JupyterLab
        extension is)."""
        state = self.state
        try:
            ctx = state.context_for(raw, cell, opts)
            twin = state.twin(opts)
            facts = state.facts_for(ctx, ctx.index, opts)
        except Exception as exc:  # TwinError, OptionError
            state.report(one_line(exc))
            return
        text, view = self._generate(lambda: twin.stream("explain", ctx.cells, ctx.index, kernel_facts=facts), "markdown")
        if text is not None:
            self._place_markdown(ctx, view, text, opts, task="explain", as_cell=True)

    @cell_magic
    @options.parsed()
    @magic_arguments("%complete")
    @options.task_options
    def complete(self, opts: dict[str, Any], _text: str, cell: str, raw: str) -> None:
        """Fill in at a '# ...' line of the cell body, or continue at its end; the completed
        cell goes in below."""
        state = self.state
        code, cursor = find_fill_point(cell)
        try:
            ctx = state.context_for(raw, code, opts)
            twin = state.twin(opts)
            facts = state.facts_for(ctx, ctx.index, opts)
        except Exception as exc:
            state.report(one_line(exc))
            return
        completion, view = self._generate(
            lambda: twin.stream_complete(ctx.cells, ctx.index, cursor, kernel_facts=facts), "code")
        if completion is None:
            return
        if not completion.strip():
            view.finish("", "The model proposed nothing here.")
            return
        self._place_code(ctx, view, join_completion(code, cursor, completion), opts, task="complete",
                         original=None, target_id=ctx.cell_id)

    # --- %twin fix | doc | test | ask -------------------------------------
    def _target_task(self, task: str, opts: dict[str, Any], cell: str | None, raw: str, *, diff: bool) -> None:
        """A code task on the cell body (``%%twin doc``) or on the code cell above (``%twin doc``)."""
        if cell is not None:
            self._code_task(task, raw, cell, opts, diff=diff)
            return
        try:
            ctx = self.state.context_for(raw, "", opts)
        except Exception as exc:
            self.state.report(one_line(exc))
            return
        above = self.state.code_cell_above(ctx)
        if above is None:
            self.state.report(f"no code cell above to {task}.")
            return
        self._code_task(task, raw, "", opts, diff=diff, target=above, ctx=ctx)

    @options.parsed()
    @magic_arguments("twin doc")
    @options.task_options
    def twin_doc(self, opts: dict[str, Any], _text: str, cell: str | None, raw: str) -> None:
        """Add docstrings and comments to the code cell above (``%%twin doc``: to the cell
        body); the result goes in as a new cell below."""
        self._target_task(TASKS["document"].command, opts, cell, raw, diff=True)

    @options.parsed()
    @magic_arguments("twin test")
    @options.task_options
    def twin_test(self, opts: dict[str, Any], _text: str, cell: str | None, raw: str) -> None:
        """Write tests for the code cell above (``%%twin test``: for the cell body); they go
        in as a new cell below."""
        self._target_task(TASKS["test"].command, opts, cell, raw, diff=False)

    @options.parsed()
    @magic_arguments("twin fix")
    @options.task_options
    def twin_fix(self, opts: dict[str, Any], _text: str, cell: str | None, raw: str) -> None:
        """Explain and fix the last error, with its traceback (``%%twin fix``: the cell body
        is the failing code)."""
        state = self.state
        err = state.last_error
        if cell is not None and cell.strip():
            source, error, err_id = cell, (err or {}).get("error"), None
        elif err is None:
            state.report("no error to fix: run the failing cell first.")
            return
        else:
            source, error, err_id = err["source"], err["error"], err.get("cell_id")
        try:
            ctx = state.context_for(raw, "", opts)
            twin = state.twin(opts)
        except Exception as exc:
            state.report(one_line(exc))
            return
        # the failing cell: found in the context by id or text, else put in place of this one
        index, _ = sources.locate(ctx.cells[: ctx.index] + ctx.cells[ctx.index + 1:], err_id, source)
        if index is not None and index >= ctx.index:
            index += 1
        if index is None:
            ctx.cells[ctx.index] = {"cell_type": "code", "source": source}
            index = ctx.index
        else:
            ctx.cells[index] = dict(ctx.cells[index], source=source)
        facts = state.facts_for(ctx, index, opts)
        if error:
            print(f"Fixing {'In [%s]' % err['execution_count'] if err and err.get('execution_count') else 'the cell'}: "
                  f"{error.strip().splitlines()[-1]}")
        task = TASKS["fix"].command
        panel = self._review_panel(task, "Replace original" if cell is not None and cell.strip() else "Replace this cell")
        code, view = self._generate(lambda: twin.stream("fix", ctx.cells, index, kernel_facts=facts, error=error),
                                    "code", panel)
        if code is None:
            return
        self._place_code(ctx, view, code, opts, task=task, original=source,
                         target_id=ctx.cells[index].get("id") or err_id)

    @options.parsed()
    @magic_arguments("twin ask")
    @argument("question", nargs="*", default=UNSET,
              help="the question: the rest of the line, as it is (``%%twin ask``: and the cell body)")
    @options.task_options
    def twin_ask(self, opts: dict[str, Any], question: str, cell: str | None, raw: str) -> None:
        """Ask about the notebook; the answer is markdown."""
        if cell is not None and cell.strip():
            question = (question + "\n" + cell).strip()
        if not question.strip():
            self.state.report('ask needs a question: %twin ask "..."')
            return
        state = self.state
        try:
            ctx = state.context_for(raw, "", opts)
            twin = state.twin(opts)
            facts = state.facts_for(ctx, ctx.index, opts)
        except Exception as exc:
            state.report(one_line(exc))
            return
        text, view = self._generate(
            lambda: twin.stream("ask", ctx.cells, ctx.index, kernel_facts=facts, question=question), "markdown")
        if text is not None:
            view.finish(text)


def split_options(line: str) -> tuple[dict[str, Any], str]:
    """A task line's options (those every task magic takes) and its free text."""
    return options.split(TaskMagics.refactor, line)
