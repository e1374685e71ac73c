"""Control magics: ``%twin`` and its words that look at or change the set-up: ``status``,
``model``, ``backend``, ``models``, ``context``, ``tab``, ``chat``, and ``%twin`` alone (a
control panel). The task words (``fix``, ``doc``, ``test``, ``ask``) are TaskMagics'."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ...cells import find_fill_point
from ...settings import BACKENDS
from ...tasks import ALIASES
from ...twin import status_base
from .. import sources, widgets
from ..facts import render_facts
from . import options
from .options import BACKEND_NAMES, UNSET, one_line
from .task import Command, TaskMagics

if TYPE_CHECKING:
    from .base import TwinMagics

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
  %twin model NAME                     use another model (--completion NAME, --chat NAME: one role)
  %twin backend NAME [--host URL]      use another backend (ollama | openai | embedded | auto)
  %twin tab on|off                     model completions in the kernel's Tab completion
  %twin                                a control panel (backend, models, latency, Tab), or this text
  %twin chat                           a chat panel about this notebook (ipywidgets)
options: -m/--model NAME  -b/--backend NAME  --host URL  --no-insert  --no-facts
         --source live|saved|history   (where the neighbouring cells come from)
each command's own: --help (%%refactor --help, %twin model --help)
defaults: %config TwinMagics  (backend, model, host, insert, kernel_facts, tab_completion, ...)
"""


@magics_class
class ControlMagics(Magics):
    """``%twin``: the words that look at or change the set-up, and the dispatch of all words."""

    def __init__(self, shell: Any, state: TwinMagics, tasks: TaskMagics) -> None:
        super().__init__(shell)
        self.state = state
        self.words: dict[str, Command] = {**tasks.commands(), **self.commands()}

    def commands(self) -> dict[str, Command]:
        return {"status": self.twin_status, "model": self.twin_model, "backend": self.twin_backend,
                "models": self.twin_models, "context": self.twin_context, "tab": self.twin_tab,
                "chat": self.twin_chat}

    @line_cell_magic("twin")
    def twin_magic(self, line: str, cell: str | None = None) -> Any:
        cell = options.cell_body(cell)
        word, _, rest = line.strip().partition(" ")
        word = word.lower()
        if not word:
            return self.panel()
        command = self.words.get(word)
        if command is None:
            print(USAGE)
            return None
        raw = (f"%%twin {line}".rstrip() + "\n" + cell) if cell is not None else f"%twin {line}".rstrip()
        return command(rest, cell, raw)

    twin_magic.__doc__ = USAGE

    # --- what the set-up is -----------------------------------------------
    @options.parsed(words=True)
    @magic_arguments("twin status")
    @options.help_option
    def twin_status(self, _opts: dict[str, Any], _text: str, cell: str | None, raw: str) -> None:
        """The backend and model of each role, whether the backend answers, the last latency."""
        state = self.state
        try:
            status = state.twin().status()
        except Exception as exc:  # settings the engine refuses: shown, never raised
            status = status_base(None, one_line(exc))
        reach = "reachable" if status.get("reachable") else f"NOT reachable: {status.get('error')}"
        lat = status.get("last_latency") or {}
        lat_text = ", ".join(f"{k} {v:.2f} s" for k, v in lat.items()) or "none yet"
        print(f"backend: {status.get('backend')}  model: {status.get('model')}  host: {status.get('host') or '-'}")
        print(f"{reach}; last latency: {lat_text}")
        roles = status.get("roles")
        if roles:  # the engine's own answer for each role (completion_model, %twin model --completion)
            done, chat = roles["complete"], roles["chat"]
            print(f"completion: {done['backend']} {done['model']}; chat: {chat['backend']} {chat['model']}")
        else:
            print(f"completion: - not available: {status.get('error')}; "
                  f"chat: {status.get('backend')} {status.get('model')}")
        proc = status.get("model_process")
        if proc:  # the embedded model's own process (docs/model-process.md)
            state_text = f"running, pid {proc['pid']}" if proc.get("running") else "not running (starts on the next request)"
            print(f"model process: {state_text}; llama.cpp build: {proc.get('llama_build') or '-'}"
                  + (f"; last failure: {proc['last_failure']}" if proc.get("last_failure") else ""))
        print(f"front end extension: {'yes' if state.live.present else 'not seen'}; "
              f"kernel facts: {'on' if state.kernel_facts else 'off'}; "
              f"tab completion: {'on' if state.tab_completion else 'off'}")

    @options.parsed(words=True)
    @magic_arguments("twin models")
    @options.help_option
    def twin_models(self, _opts: dict[str, Any], _text: str, cell: str | None, raw: str) -> None:
        """The models the chat backend lists."""
        try:
            for name in self.state.twin().models("chat"):
                print(name)
        except Exception as exc:
            self.state.report(one_line(exc))

    @options.parsed()
    @magic_arguments("twin context")
    @argument("task", nargs="*", default=UNSET,
              help="the task whose request is shown (default refactor; complete: the completion's)")
    @options.task_options
    def twin_context(self, opts: dict[str, Any], task: str, cell: str | None, raw: str) -> None:
        """Show exactly what would be sent for the code cell above (``%%twin context``: for
        the cell body), and where the neighbouring cells came from."""
        state = self.state
        task = (task.strip() or "refactor").lower()
        task = ALIASES.get(task, task)  # "complete" is no chat task: it keeps its name
        try:
            if cell is not None:
                body = cell
                cursor = None
                if task == "complete":
                    body, cursor = find_fill_point(cell)
                ctx = state.context_for(raw, body, opts)
                index = ctx.index
            else:
                ctx = state.context_for(raw, "", opts)
                index = state.code_cell_above(ctx)
                cursor = None
                if index is None:
                    state.report("no code cell above; use %%twin context TASK with a cell body.")
                    return
                if task == "complete":
                    body, cursor = find_fill_point(sources.source_text(ctx.cells[index].get("source")))
                    ctx.cells[index] = dict(ctx.cells[index], source=body)
            facts = state.facts_for(ctx, index, opts)
            print(f"Neighbouring cells from: {ctx.describe()}")
            for note in ctx.notes:
                print(f"  (not used: {note})")
            print(f"Active cell: {index} of {len(ctx.cells)}")
            if facts:
                print("Kernel facts:")
                for row in render_facts(facts).splitlines():
                    print(f"  {row}")
            else:
                print("Kernel facts: none" + (" (off)" if not opts.get("facts", state.kernel_facts) else ""))
            twin = state.twin(opts)
            kw: dict[str, Any] = {}
            if task == "complete":
                kw["cursor"] = cursor
            elif task == "ask":
                kw["question"] = "(your question)"
            preview = twin.preview(task, ctx.cells, index, kernel_facts=facts, **kw)
            print("-" * 60)
            print(preview.describe())
        except Exception as exc:
            state.report(one_line(exc))

    # --- changing it ------------------------------------------------------
    @options.parsed(words=True)
    @magic_arguments("twin model")
    @argument("name", nargs="*", default=UNSET, help="the model for completion and chat")
    @argument("--completion", metavar="NAME", default=UNSET, help="the model for completion only (%%%%complete, Tab)")
    @argument("--chat", metavar="NAME", default=UNSET, help="the model for chat and the tasks only")
    @options.help_option
    def twin_model(self, args: dict[str, Any], _text: str, cell: str | None, raw: str) -> None:
        """Use another model from the next request on; alone, show the model of each role."""
        state = self.state
        name = " ".join(args.get("name", [])).strip()
        chosen = {role: args[key] for role, key in (("complete", "completion"), ("chat", "chat")) if args.get(key)}
        if not name and not chosen:
            print(f"completion model: {state.current_model('complete') or '(settings default)'}")
            print(f"chat model: {state.current_model('chat') or '(settings default)'}")
            return
        if name:
            for role in ("complete", "chat"):
                state.set_model(role, name)
            print(f"jupyter_twin: model set to {name} (completion and chat)")
        for role, model in chosen.items():
            state.set_model(role, model)
            print(f"jupyter_twin: {'completion' if role == 'complete' else 'chat'} model set to {model}")

    @options.parsed(words=True)
    @magic_arguments("twin backend")
    @argument("name", nargs="?", default=UNSET, help=f"one of {BACKEND_NAMES}")
    @argument("--host", metavar="URL", default=UNSET, help="the backend's server address")
    @options.help_option
    def twin_backend(self, args: dict[str, Any], _text: str, cell: str | None, raw: str) -> None:
        """Use another backend from the next request on; alone, show the one set."""
        state = self.state
        name, host = args.get("name"), args.get("host")
        if name is None:
            print(f"backend: {state.backend or '(settings default)'}")
            return
        if name not in BACKENDS:
            state.report(f"backend is one of {BACKEND_NAMES}")
            return
        state.backend = name
        if host is not None:
            state.host = host
        state._drop_twins()  # also when nothing changed: `auto` looks again
        print(f"jupyter_twin: backend set to {name}" + (f" at {host}" if host else ""))

    @options.parsed(words=True)
    @magic_arguments("twin tab")
    @argument("switch", nargs="?", default=UNSET, metavar="on|off", help="turn it on or off; alone, show it")
    @options.help_option
    def twin_tab(self, args: dict[str, Any], _text: str, cell: str | None, raw: str) -> None:
        """Model completions in the kernel's Tab completion."""
        state = self.state
        word = str(args.get("switch", "")).lower()
        if word in ("on", "off"):
            state.tab_completion = word == "on"
        print(f"jupyter_twin: tab completion {'on' if state.tab_completion else 'off'}"
              f" (at most {state.tab_timeout:g} s per Tab)")

    # --- panels -------------------------------------------------------------
    def panel(self) -> None:
        """``%twin`` alone: the control panel where widgets render, else the same as text."""
        from .. import control_panel

        state = self.state
        facts = control_panel.gather(state)
        if state.panels and widgets.use_panels(self.shell, state.live.present):
            state.last_control = control_panel.ControlPanel(state, facts)
            return None
        print(control_panel.as_text(facts))
        print()
        print(USAGE)
        state.install_hint.maybe(self.shell, state.live.present)
        return None

    @options.parsed()
    @magic_arguments("twin chat")
    @options.task_options
    def twin_chat(self, opts: dict[str, Any], _text: str, cell: str | None, raw: str) -> None:
        """A chat panel about this notebook in the output area (ipywidgets)."""
        from .. import chat_panel

        state = self.state
        if not (state.panels and widgets.use_panels(self.shell, state.live.present)):
            if state.live.present:
                print("jupyter_twin: the chat is in the sidebar (the jupyter_twin icon on the right).")
            else:
                print('jupyter_twin: %twin chat is a widget panel: `pip install ipywidgets` '
                      '(%twin ask "..." works without it).')
            return
        try:
            ctx = state.context_for(raw, "", opts)
            facts = state.facts_for(ctx, ctx.index, opts)
        except Exception as exc:
            state.report(one_line(exc))
            return
        turns = state.chats.setdefault(sources.session_path(self.shell) or "", [])
        state.last_chat = chat_panel.ChatPanel(state, ctx, facts, turns, opts)
