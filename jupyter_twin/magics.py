"""IPython magics: ``%%refactor``, ``%%explain``, ``%%complete`` and ``%twin ...``.

Load with ``%load_ext jupyter_twin`` (or ``c.InteractiveShellApp.extensions =
["jupyter_twin"]``). Defaults are traitlets on ``TwinMagics`` (``%config TwinMagics.model =
"..."``). Works in any front end: the answer streams into the output area; code results go
in below with ``set_next_input`` at execution time; where the JupyterLab extension is
present (it pushes the live notebook on comm target ``jupyter_twin.notebook``) results go
through the ``jupyter_twin`` comm by cell id and refactors show a diff with buttons.
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import Any, Callable

from IPython.core.magic import Magics, cell_magic, magics_class
from traitlets import Bool, Float, Int, Unicode

from .kernel import frontend, review, sources, widgets
from .cells import find_fill_point, join_completion, strip_magic_line
from .tasks import ALIASES, task_by_name
from .traits import settings_traits
from .kernel.facts import collect_facts, render_facts

USAGE = """\
jupyter_twin magics
  %%refactor [options] [instruction]   refactor the cell body; result as a new cell below
  %%explain [options]                  explain the cell body as markdown
  %%complete [options]                 fill in at a '# ...' line, or continue at the end
  %twin fix [options]                  explain and fix the last error (with its traceback)
  %twin doc | %%twin doc               document the cell above | the cell body
  %twin test | %%twin test             write tests for the cell above | the cell body
  %twin ask QUESTION                   ask about the notebook; answer as markdown
  %twin context [TASK] | %%twin context [TASK]
                                       show exactly what would be sent, and where the cells came from
  %twin status                         backend, model, reachable or not, last latency
  %twin model NAME                     use another model
  %twin backend NAME [--host URL]      use another backend (ollama | openai | embedded | auto)
  %twin tab on|off                     model completions in the kernel's Tab completion
  %twin                                a control panel (backend, models, latency, Tab), or this text
  %twin chat                           a chat panel about this notebook (ipywidgets)
options: -m/--model NAME  -b/--backend NAME  --host URL  --no-insert  --no-facts
         --source live|saved|history   (where the neighbouring cells come from)
defaults: %config TwinMagics  (backend, model, host, insert, kernel_facts, tab_completion, ...)
"""

_VALUE_OPTIONS = {"-m": "model", "--model": "model", "-b": "backend", "--backend": "backend",
                  "--host": "host", "--source": "source", "-c": "cell", "--cell": "cell"}
_FLAG_OPTIONS = {"--no-insert": ("insert", False), "--insert": ("insert", True),
                 "--no-facts": ("facts", False), "--facts": ("facts", True)}


class OptionError(ValueError):
    pass


def split_options(line: str) -> tuple[dict[str, Any], str]:
    """Leading ``-x VALUE`` / ``--flag`` options, then the rest of the line verbatim
    (so an instruction like ``don't use loops`` needs no quoting)."""
    opts: dict[str, Any] = {}
    rest = line.strip()
    while rest.startswith("-"):
        token, _, after = rest.partition(" ")
        if "=" in token and token.split("=", 1)[0] in _VALUE_OPTIONS:
            token, value = token.split("=", 1)
            opts[_VALUE_OPTIONS[token]] = value
            rest = after.strip()
        elif token in _VALUE_OPTIONS:
            after = after.strip()
            if not after:
                raise OptionError(f"option {token} needs a value")
            if after[0] in "\"'":
                close = after.find(after[0], 1)
                if close < 0:
                    raise OptionError(f"unclosed quote after {token}")
                value, rest = after[1:close], after[close + 1:].strip()
            else:
                value, _, rest = after.partition(" ")
                rest = rest.strip()
            opts[_VALUE_OPTIONS[token]] = value
        elif token in _FLAG_OPTIONS:
            key, value = _FLAG_OPTIONS[token]
            opts[key] = value
            rest = after.strip()
        elif token == "--":
            rest = after.strip()
            break
        else:
            raise OptionError(f"unknown option {token}")
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "\"'":
        rest = rest[1:-1]
    return opts, rest


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def format_error(exc: BaseException) -> str:
    """A traceback of the user's code only (IPython's own frames dropped)."""
    frames = traceback.extract_tb(exc.__traceback__)
    keep = [f for f in frames if "/IPython/" not in f.filename.replace("\\", "/")]
    lines = ["Traceback (most recent call last):\n"] if keep else []
    lines += traceback.format_list(keep)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


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
class TwinMagics(Magics):
    """jupyter_twin magics and their defaults."""

    # backend, model, completion_model, chat_model, completion_backend, chat_backend, host:
    # the engine's settings (jupyter_twin/settings.py declares them once), None = settings
    locals().update(settings_traits("magics"))
    insert = Bool(True, help="Insert code results as a new cell below (set_next_input or the comm).").tag(config=True)
    kernel_facts = Bool(True, help="Send facts about the live variables the cell uses.").tag(config=True)
    stream = Bool(True, help="Show the answer while it is generated.").tag(config=True)
    context_source = Unicode("auto", help="Where the neighbouring cells come from: auto | live | saved | history.").tag(config=True)
    tab_completion = Bool(False, help="Add a model completion to the kernel's Tab completion.").tag(config=True)
    tab_timeout = Float(1.5, help="Seconds Tab waits for the model at most.").tag(config=True)
    history_cells = Int(40, help="Earlier inputs used as context when no notebook is known.").tag(config=True)
    panels = Bool(True, help="ipywidgets panels (review, control, chat) where the JupyterLab extension is absent.").tag(config=True)
    review_timeout = Float(600.0, help="Seconds a review panel keeps its cell waiting for a click.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self.live = sources.LiveNotebook()
        self._twins: dict[tuple, Any] = {}
        self.last_error: dict[str, Any] | None = None
        self.last_context: sources.NotebookContext | None = None
        self.last_facts: list[dict] = []
        self.last_sent: list[dict] = []  # comm messages sent by the last command (for tests)
        self.matcher = None
        self.install_hint = widgets.HintOnce()
        self.last_panel: Any = None  # the last review panel (tests click its buttons)
        self.last_control: Any = None  # the last control panel (%twin alone)
        self.last_chat: Any = None  # the last chat panel (%twin chat)
        self.chats: dict[str, list] = {}  # this kernel's chat turns, per notebook path
        self.observe(self._tab_changed, names=["tab_completion"])

    # --- engine ---------------------------------------------------------
    def twin(self, opts: dict[str, Any] | None = None, purpose: str = "chat") -> Any:
        """The engine for ``purpose`` ("chat" or "complete"), one per backend, model and host."""
        from . import Twin

        opts = opts or {}
        chosen = self.completion_model if purpose == "complete" else self.chat_model
        role_backend = self.completion_backend if purpose == "complete" else self.chat_backend
        key = (opts.get("backend") or role_backend or self.backend, opts.get("model") or chosen or self.model,
               opts.get("host") or self.host)
        twin = self._twins.get(key)
        if twin is None:
            backend, model, host = key
            twin = Twin(backend=backend or None, model=model or None, host=host or None)
            self._twins[key] = twin
        return twin

    def current_model(self, purpose: str) -> str | None:
        """The model ``purpose`` uses now: the one chosen, else the one the backend resolved."""
        chosen = (self.completion_model if purpose == "complete" else self.chat_model) or self.model
        if chosen:
            return chosen
        try:
            return self.twin(purpose=purpose).backend.model or None
        except Exception:
            return None

    def set_model(self, purpose: str, name: str) -> None:
        """Use ``name`` for ``purpose`` in this kernel's magics from the next request on."""
        if purpose == "complete":
            self.completion_model = name
        else:
            self.chat_model = name
        self._drop_twins()

    def _drop_twins(self) -> None:
        for twin in self._twins.values():
            try:
                twin.close()
            except Exception:
                pass
        self._twins.clear()

    # --- context --------------------------------------------------------
    def context_for(self, raw_cell: str, body: str, opts: dict[str, Any]) -> sources.NotebookContext:
        prefer = opts.get("source") or (None if self.context_source == "auto" else self.context_source)
        if prefer not in (None, "live", "saved", "history"):
            raise OptionError("--source is one of live, saved, history")
        ctx = sources.resolve(self.shell, self.live, raw_cell, body, prefer=prefer)
        if ctx.source == "history" and self.history_cells != 40:
            ctx = sources.from_history(self.shell, ctx.cell_id, body, self.history_cells)
        self.last_context = ctx
        return ctx

    def facts_for(self, ctx: sources.NotebookContext, index: int, opts: dict[str, Any]) -> list[dict] | None:
        if not opts.get("facts", self.kernel_facts):
            self.last_facts = []
            return None
        code = sources.source_text(ctx.cells[index].get("source"))
        facts = collect_facts(code, self.shell.user_ns)
        self.last_facts = facts
        return facts or None

    # --- running a task -------------------------------------------------
    def _report(self, message: str) -> None:
        print(f"jupyter_twin: {message}", file=sys.stderr)

    def _generate(self, make_stream: Callable[[], Any], kind: str, view: Any = None) -> tuple[str | None, Any]:
        """Stream an answer into the output (or into ``view``, a review panel); the cleaned
        result, or None after an interrupt or an error (each reported in one line)."""
        from .errors import TwinError

        if view is None:
            view = _View(self.shell, kind, enabled=self.stream)
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
            self._report("interrupted; the model was stopped.")
            if stopped:
                stopped("Interrupted; the model was stopped. Nothing changed.")
            return None, view
        except TwinError as exc:
            if stream is not None:
                stream.cancel()
            self._report(_one_line(exc))
            if stopped:
                stopped("No result (the error is above). Nothing changed.")
            return None, view
        except OptionError as exc:
            self._report(str(exc))
            if stopped:
                stopped("No result. Nothing changed.")
            return None, view
        finally:
            if stream is not None:
                stream.cancel()  # idempotent; makes sure the backend stops

    def _review_panel(self, task: str, replace_label: str = "Replace original") -> Any:
        """A review panel for a code task where the extension is absent and ipywidgets is
        here; None otherwise (the text view, as before)."""
        if not (self.panels and widgets.use_panels(self.shell, self.live.present)):
            return None
        panel = review.ReviewPanel(self.shell, task, enabled=self.stream, timeout=self.review_timeout)
        panel.replace_label = replace_label
        self.last_panel = panel
        return panel

    def _place_code(self, ctx: sources.NotebookContext, view: _View, code: str, opts: dict[str, Any], *,
                    task: str, original: str | None, target_id: str | None) -> None:
        """Put a code result where the user can take it, never replacing anything."""
        insert = opts.get("insert", self.insert)
        if not code.strip():
            view.finish(code, "The model returned no code.")
            return
        self.last_sent = []
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
                    self.last_sent.append(msg)
                    view.finish(code, "Inserted below as a new cell.")
                    return
        if insert:
            self.shell.set_next_input(code, replace=False)
            view.finish(code, "Inserted below as a new cell." if view.rich else "The code is in the next input.")
        else:
            view.finish(code)
        self.install_hint.maybe(self.shell, self.live.present)

    def _place_markdown(self, ctx: sources.NotebookContext, view: _View, text: str, opts: dict[str, Any], *,
                        task: str, as_cell: bool) -> None:
        view.finish(text)
        self.last_sent = []
        if as_cell and ctx.source == "live" and opts.get("insert", self.insert) and text.strip():
            msg = {"action": "insert", "cell_id": ctx.cell_id, "cell_type": "markdown", "source": text, "task": task}
            if frontend.send_action(msg):
                self.last_sent = [msg]

    def _parse(self, line: str) -> dict[str, Any] | None:
        try:
            return split_options(line)
        except OptionError as exc:
            self._report(f"{exc}\n{USAGE}")
            return None

    # --- cell magics ----------------------------------------------------
    @staticmethod
    def _body(cell: str | None) -> str | None:
        """The cell body as the front end has it: IPython adds a newline at its end."""
        if cell is not None and cell.endswith("\n"):
            return cell[:-1]
        return cell

    def _raw_cell(self, line: str, cell: str, magic: str) -> str:
        return f"%%{magic} {line}".rstrip() + "\n" + cell

    @cell_magic
    def refactor(self, line: str, cell: str) -> None:
        """%%refactor [-m MODEL] [--no-insert] [instruction]: refactor the cell body."""
        cell = self._body(cell)
        parsed = self._parse(line)
        if parsed is None:
            return
        opts, instruction = parsed
        self._code_task("refactor", self._raw_cell(line, cell, "refactor"), cell, opts,
                        instruction=instruction or None, diff=True)

    @cell_magic
    def explain(self, line: str, cell: str) -> None:
        """%%explain [-m MODEL]: explain the cell body as markdown (a new markdown cell with the extension)."""
        cell = self._body(cell)
        parsed = self._parse(line)
        if parsed is None:
            return
        opts, _ = parsed
        try:
            ctx = self.context_for(self._raw_cell(line, cell, "explain"), cell, opts)
            twin = self.twin(opts)
            facts = self.facts_for(ctx, ctx.index, opts)
        except Exception as exc:  # TwinError, OptionError
            self._report(_one_line(exc))
            return
        text, view = self._generate(lambda: twin.stream("explain", ctx.cells, ctx.index, kernel_facts=facts), "markdown")
        if text is not None:
            self._place_markdown(ctx, view, text, opts, task="explain", as_cell=True)

    @cell_magic
    def complete(self, line: str, cell: str) -> None:
        """%%complete [-m MODEL] [--no-insert]: fill in at a '# ...' line or continue at the end."""
        cell = self._body(cell)
        parsed = self._parse(line)
        if parsed is None:
            return
        opts, _ = parsed
        code, cursor = find_fill_point(cell)
        try:
            ctx = self.context_for(self._raw_cell(line, cell, "complete"), code, opts)
            twin = self.twin(opts, purpose="complete")
            facts = self.facts_for(ctx, ctx.index, opts)
        except Exception as exc:
            self._report(_one_line(exc))
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

    def _code_task(self, task: str, raw_cell: str, body: str, opts: dict[str, Any], *, diff: bool,
                   target: tuple[int, str | None] | None = None, ctx: Any = None, **kw: Any) -> None:
        try:
            if ctx is None:
                ctx = self.context_for(raw_cell, body, opts)
            index = ctx.index
            if target is not None:
                index = target[0] if target[0] is not None else ctx.index
            twin = self.twin(opts)
            facts = self.facts_for(ctx, index, opts)
        except Exception as exc:
            self._report(_one_line(exc))
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

    # --- %twin ----------------------------------------------------------
    def twin_magic(self, line: str, cell: str | None = None) -> Any:
        return self._twin(line, cell)

    def _twin(self, line: str, cell: str | None) -> Any:
        cell = self._body(cell)
        command, _, rest = line.strip().partition(" ")
        command = command.lower()
        handler = {
            "fix": self._cmd_fix, "doc": self._cmd_doc, "document": self._cmd_doc, "test": self._cmd_test,
            "ask": self._cmd_ask, "status": self._cmd_status, "model": self._cmd_model,
            "backend": self._cmd_backend, "context": self._cmd_context, "tab": self._cmd_tab,
            "models": self._cmd_models, "chat": self._cmd_chat,
        }.get(command)
        if handler is None and not command:
            return self._cmd_panel()
        if handler is None:
            print(USAGE)
            return None
        raw = (f"%%twin {line}".rstrip() + "\n" + cell) if cell is not None else f"%twin {line}".rstrip()
        return handler(rest, cell, raw)

    def _above(self, ctx: sources.NotebookContext) -> int | None:
        for i in range(ctx.index - 1, -1, -1):
            cell = ctx.cells[i]
            if cell.get("cell_type") == "code" and sources.source_text(cell.get("source")).strip() \
                    and not sources.is_twin_command(sources.source_text(cell.get("source"))):
                return i
        return None

    def _target_task(self, task: str, rest: str, cell: str | None, raw: str, *, diff: bool) -> None:
        parsed = self._parse(rest)
        if parsed is None:
            return
        opts, _ = parsed
        if cell is not None:  # %%twin doc: the body is the target
            self._code_task(task, raw, cell, opts, diff=diff)
            return
        try:
            ctx = self.context_for(raw, "", opts)
        except Exception as exc:
            self._report(_one_line(exc))
            return
        above = self._above(ctx)
        if above is None:
            self._report(f"no code cell above to {task}.")
            return
        self._code_task(task, raw, "", opts, diff=diff, target=(above, None), ctx=ctx)

    def _cmd_doc(self, rest: str, cell: str | None, raw: str) -> None:
        self._target_task("doc", rest, cell, raw, diff=True)

    def _cmd_test(self, rest: str, cell: str | None, raw: str) -> None:
        self._target_task("test", rest, cell, raw, diff=False)

    def _cmd_fix(self, rest: str, cell: str | None, raw: str) -> None:
        parsed = self._parse(rest)
        if parsed is None:
            return
        opts, _ = parsed
        err = self.last_error
        if cell is not None and cell.strip():
            source, error, err_id = cell, (err or {}).get("error"), None
        elif err is None:
            self._report("no error to fix: run the failing cell first.")
            return
        else:
            source, error, err_id = err["source"], err["error"], err.get("cell_id")
        try:
            ctx = self.context_for(raw, "", opts)
            twin = self.twin(opts)
        except Exception as exc:
            self._report(_one_line(exc))
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
        facts = self.facts_for(ctx, index, opts)
        if error:
            print(f"Fixing {'In [%s]' % err['execution_count'] if err and err.get('execution_count') else 'the cell'}: "
                  f"{error.strip().splitlines()[-1]}")
        panel = self._review_panel("fix", "Replace original" if cell is not None and cell.strip() else "Replace this cell")
        code, view = self._generate(lambda: twin.stream("fix", ctx.cells, index, kernel_facts=facts, error=error),
                                    "code", panel)
        if code is None:
            return
        self._place_code(ctx, view, code, opts, task="fix", original=source,
                         target_id=ctx.cells[index].get("id") or err_id)

    def _cmd_ask(self, rest: str, cell: str | None, raw: str) -> None:
        parsed = self._parse(rest)
        if parsed is None:
            return
        opts, question = parsed
        if cell is not None and cell.strip():
            question = (question + "\n" + cell).strip()
        if not question.strip():
            self._report('ask needs a question: %twin ask "..."')
            return
        try:
            ctx = self.context_for(raw, "", opts)
            twin = self.twin(opts)
            facts = self.facts_for(ctx, ctx.index, opts)
        except Exception as exc:
            self._report(_one_line(exc))
            return
        text, view = self._generate(
            lambda: twin.stream("ask", ctx.cells, ctx.index, kernel_facts=facts, question=question), "markdown")
        if text is not None:
            view.finish(text)

    def _cmd_status(self, rest: str, cell: str | None, raw: str) -> dict:
        try:
            status = self.twin().status()
        except Exception as exc:
            status = {"reachable": False, "error": _one_line(exc)}
        reach = "reachable" if status.get("reachable") else f"NOT reachable: {status.get('error')}"
        lat = status.get("last_latency") or {}
        lat_text = ", ".join(f"{k} {v:.2f} s" for k, v in lat.items()) or "none yet"
        print(f"backend: {status.get('backend')}  model: {status.get('model')}  host: {status.get('host') or '-'}")
        print(f"{reach}; last latency: {lat_text}")
        try:  # the completion model may be another one (completion_model, %twin model --completion)
            complete = self.twin(purpose="complete")
            kind, model = complete.backend.name, complete.backend.model
        except Exception as exc:
            kind, model = "-", f"not available: {_one_line(exc)}"
        print(f"completion: {kind} {model}; chat: {status.get('backend')} {status.get('model')}")
        proc = status.get("model_process")
        if proc:  # the embedded model's own process (docs/model-process.md)
            state = f"running, pid {proc['pid']}" if proc.get("running") else "not running (starts on the next request)"
            print(f"model process: {state}; llama.cpp build: {proc.get('llama_build') or '-'}"
                  + (f"; last failure: {proc['last_failure']}" if proc.get("last_failure") else ""))
        print(f"front end extension: {'yes' if self.live.present else 'not seen'}; "
              f"kernel facts: {'on' if self.kernel_facts else 'off'}; tab completion: {'on' if self.tab_completion else 'off'}")
        return None  # printed; nothing to echo

    def _cmd_panel(self) -> None:
        """``%twin`` alone: the control panel where widgets render, else the same as text."""
        from .kernel import control_panel

        facts = control_panel.gather(self)
        if self.panels and widgets.use_panels(self.shell, self.live.present):
            self.last_control = control_panel.ControlPanel(self, facts)
            return None
        print(control_panel.as_text(facts))
        print()
        print(USAGE)
        self.install_hint.maybe(self.shell, self.live.present)
        return None

    def _cmd_chat(self, rest: str, cell: str | None, raw: str) -> None:
        """``%twin chat``: a chat panel in the output area (kernel/chat_panel.py)."""
        from .kernel import chat_panel

        if not (self.panels and widgets.use_panels(self.shell, self.live.present)):
            if self.live.present:
                print("jupyter_twin: the chat is in the sidebar (the jupyter_twin icon on the right).")
            else:
                print('jupyter_twin: %twin chat is a widget panel: `pip install ipywidgets` '
                      '(%twin ask "..." works without it).')
            return
        parsed = self._parse(rest)
        if parsed is None:
            return
        opts, _ = parsed
        try:
            ctx = self.context_for(raw, "", opts)
            facts = self.facts_for(ctx, ctx.index, opts)
        except Exception as exc:
            self._report(_one_line(exc))
            return
        turns = self.chats.setdefault(sources.session_path(self.shell) or "", [])
        self.last_chat = chat_panel.ChatPanel(self, ctx, facts, turns, opts)

    def _cmd_model(self, rest: str, cell: str | None, raw: str) -> None:
        """`%twin model NAME` (both), `--completion NAME`, `--chat NAME`; alone: both shown."""
        words = rest.split()
        role = None
        if words and words[0] in ("--completion", "--chat"):
            role = "complete" if words[0] == "--completion" else "chat"
            words = words[1:]
        name = " ".join(words).strip()
        if not name:
            print(f"completion model: {self.current_model('complete') or '(settings default)'}")
            print(f"chat model: {self.current_model('chat') or '(settings default)'}")
            return
        if role is None:
            self.model = name
            self._drop_twins()
            print(f"jupyter_twin: model set to {name} (completion and chat)")
            return
        self.set_model(role, name)
        print(f"jupyter_twin: {'completion' if role == 'complete' else 'chat'} model set to {name}")

    def _cmd_backend(self, rest: str, cell: str | None, raw: str) -> None:
        words = rest.split()
        name = None
        host = None
        i = 0
        while i < len(words):
            if words[i] == "--host" and i + 1 < len(words):
                host = words[i + 1]
                i += 2
                continue
            if words[i].startswith("--host="):
                host = words[i].split("=", 1)[1]
            elif name is None:
                name = words[i]
            i += 1
        if name is None:
            print(f"backend: {self.backend or '(settings default)'}")
            return
        if name not in ("ollama", "openai", "embedded", "auto"):
            self._report("backend is one of ollama, openai, embedded, auto")
            return
        self.backend = name
        if host is not None:
            self.host = host
        self._drop_twins()
        print(f"jupyter_twin: backend set to {name}" + (f" at {host}" if host else ""))

    def _cmd_models(self, rest: str, cell: str | None, raw: str) -> None:
        try:
            for name in self.twin().models():
                print(name)
        except Exception as exc:
            self._report(_one_line(exc))

    def _cmd_context(self, rest: str, cell: str | None, raw: str) -> None:
        parsed = self._parse(rest)
        if parsed is None:
            return
        opts, task = parsed
        task = (task.strip() or "refactor").lower()
        task = ALIASES.get(task, task)  # "complete" is no chat task: it keeps its name
        try:
            if cell is not None:
                body = cell
                cursor = None
                if task == "complete":
                    body, cursor = find_fill_point(cell)
                ctx = self.context_for(raw, body, opts)
                index = ctx.index
            else:
                ctx = self.context_for(raw, "", opts)
                index = self._above(ctx)
                cursor = None
                if index is None:
                    self._report("no code cell above; use %%twin context TASK with a cell body.")
                    return
                if task == "complete":
                    body, cursor = find_fill_point(sources.source_text(ctx.cells[index].get("source")))
                    ctx.cells[index] = dict(ctx.cells[index], source=body)
            facts = self.facts_for(ctx, index, opts)
            print(f"Neighbouring cells from: {ctx.describe()}")
            for note in ctx.notes:
                print(f"  (not used: {note})")
            print(f"Active cell: {index} of {len(ctx.cells)}")
            if facts:
                print("Kernel facts:")
                for row in render_facts(facts).splitlines():
                    print(f"  {row}")
            else:
                print("Kernel facts: none" + (" (off)" if not opts.get("facts", self.kernel_facts) else ""))
            twin = self.twin(opts)
            kw: dict[str, Any] = {}
            if task == "complete":
                kw["cursor"] = cursor
            elif task == "ask":
                kw["question"] = "(your question)"
            preview = twin.preview(task, ctx.cells, index, kernel_facts=facts, **kw)
            print("-" * 60)
            print(preview.describe())
        except Exception as exc:
            self._report(_one_line(exc))

    def _cmd_tab(self, rest: str, cell: str | None, raw: str) -> None:
        word = rest.strip().lower()
        if word in ("on", "off"):
            self.tab_completion = word == "on"
        print(f"jupyter_twin: tab completion {'on' if self.tab_completion else 'off'}"
              f" (at most {self.tab_timeout:g} s per Tab)")

    def _tab_changed(self, change: dict) -> None:
        from .kernel import matcher

        if change["new"]:
            matcher.install(self)
        else:
            matcher.uninstall(self)

    def add_review_wait(self, lines: list[str]) -> list[str]:
        """input_transformers_post (see kernel/review.py); off with ``panels`` off."""
        if not self.panels or self.live.present:
            return lines
        return review.add_wait(self.shell, lines)

    # --- error tracking for %twin fix ------------------------------------
    def post_run_cell(self, result: Any) -> None:
        exc = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        if exc is None:
            return
        info = getattr(result, "info", None)
        raw = getattr(info, "raw_cell", None) or ""
        if sources.is_twin_command(raw):
            return
        self.last_error = {
            "source": raw,
            "error": format_error(exc),
            "cell_id": getattr(info, "cell_id", None) or sources.current_cell_id(self.shell),
            "execution_count": getattr(result, "execution_count", None),
        }


def _register_magic_names(shell: Any, magics: TwinMagics) -> None:
    shell.register_magics(magics)
    # `%twin` / `%%twin` (the method is named twin_magic to keep `twin()` for the engine)
    shell.magics_manager.register_function(magics.twin_magic, magic_kind="line_cell", magic_name="twin")


_loaded: dict[int, TwinMagics] = {}


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext jupyter_twin``."""
    if id(ip) in _loaded:
        return
    magics = TwinMagics(ip, parent=ip)
    _loaded[id(ip)] = magics
    _register_magic_names(ip, magics)
    if magics not in ip.configurables:
        ip.configurables.append(magics)
    ip.events.register("post_run_cell", magics.post_run_cell)
    # a cell that is one of our magics may wait for a review panel's click (kernel/review.py)
    ip.events.register("pre_run_cell", review.reset)
    ip.input_transformers_post.append(magics.add_review_wait)
    try:
        import comm as comm_pkg

        comm_pkg.get_comm_manager().register_target(sources.NOTEBOOK_TARGET, magics.live.on_comm_open)
    except Exception:  # no kernel comm support (terminal IPython): the other sources still work
        pass
    if magics.tab_completion:
        from .kernel import matcher

        matcher.install(magics)


def unload_ipython_extension(ip: Any) -> None:
    magics = _loaded.pop(id(ip), None)
    if magics is None:
        return
    try:
        ip.events.unregister("post_run_cell", magics.post_run_cell)
        ip.events.unregister("pre_run_cell", review.reset)
    except ValueError:
        pass
    if magics.add_review_wait in ip.input_transformers_post:
        ip.input_transformers_post.remove(magics.add_review_wait)
    from .kernel import matcher

    matcher.uninstall(magics)
    try:
        import comm as comm_pkg

        comm_pkg.get_comm_manager().unregister_target(sources.NOTEBOOK_TARGET, magics.live.on_comm_open)
    except Exception:
        pass
    mm = ip.magics_manager
    for kind, names in (("cell", ("refactor", "explain", "complete", "twin")), ("line", ("twin",))):
        for name in names:
            mm.magics[kind].pop(name, None)
    if magics in ip.configurables:
        ip.configurables.remove(magics)
    magics._drop_twins()


def get_magics(ip: Any) -> TwinMagics | None:
    """The loaded magics of a shell (tests, and the matcher)."""
    return _loaded.get(id(ip))
