"""``TwinMagics``: the magics' defaults (``%config TwinMagics.<name>``) and what the task and
control magics share: one engine, the live notebook the front end pushes, the last error,
and the context and facts of the last command."""

from __future__ import annotations

import sys
import traceback
from typing import Any, Mapping

from traitlets import Bool, Float, Int, Unicode
from traitlets.config import Configurable

from ...traits import settings_overrides, settings_traits
from ...twin import Twin
from .. import review, sources, widgets
from ..facts import collect_facts
from .options import OptionError

_SETTINGS = settings_traits("magics")


def format_error(exc: BaseException) -> str:
    """A traceback of the user's code only (IPython's own frames dropped)."""
    frames = traceback.extract_tb(exc.__traceback__)
    keep = [f for f in frames if "/IPython/" not in f.filename.replace("\\", "/")]
    lines = ["Traceback (most recent call last):\n"] if keep else []
    lines += traceback.format_list(keep)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


class TwinMagics(Configurable):
    """jupyter_twin magics' defaults and shared state."""

    # backend, model, completion_model, chat_model, completion_backend, chat_backend, host:
    # the engine's settings (jupyter_twin/settings.py declares them once), None = settings
    locals().update(_SETTINGS)
    insert = Bool(True, help="Insert code results as a new cell below (set_next_input or the comm).").tag(config=True)
    kernel_facts = Bool(True, help="Send facts about the live variables the cell uses.").tag(config=True)
    stream = Bool(True, help="Show the answer while it is generated.").tag(config=True)
    context_source = Unicode("auto", help="Where the neighbouring cells come from: auto | live | saved | history.").tag(config=True)
    tab_completion = Bool(False, help="Add a model completion to the kernel's Tab completion.").tag(config=True)
    tab_timeout = Float(1.5, help="Seconds Tab waits for the model at most.").tag(config=True)
    history_cells = Int(40, help="Earlier inputs used as context when no notebook is known.").tag(config=True)
    panels = Bool(True, help="ipywidgets panels (review, control, chat) where the JupyterLab extension is absent.").tag(config=True)
    review_timeout = Float(600.0, help="Seconds a review panel keeps its cell waiting for a click.").tag(config=True)

    def __init__(self, shell: Any, **kwargs: Any) -> None:
        super().__init__(parent=shell, **kwargs)
        self.shell = shell
        self.live = sources.LiveNotebook()
        self._engine: Twin | None = None
        # a command's -m/-b/--host: the last such engine is kept, so repeating it reuses the model
        self._one_off: tuple[tuple, Twin] | None = None
        self._keep_engine = False
        self.last_error: dict[str, Any] | None = None
        self.last_context: sources.NotebookContext | None = None
        self.last_facts: list[dict] = []
        self.last_sent: list[dict] = []  # comm messages sent by the last command (for tests)
        self.matcher: Any = None
        self.install_hint = widgets.HintOnce()
        self.last_panel: Any = None  # the last review panel (tests click its buttons)
        self.last_control: Any = None  # the last control panel (%twin alone)
        self.last_chat: Any = None  # the last chat panel (%twin chat)
        self.chats: dict[str, list] = {}  # this kernel's chat turns, per notebook path
        self.observe(self._settings_changed, names=list(_SETTINGS))
        self.observe(self._tab_changed, names=["tab_completion"])

    # --- the engine -------------------------------------------------------
    def twin(self, opts: Mapping[str, Any] | None = None) -> Twin:
        """The engine: this kernel's one Twin; for a command given -m, -b or --host, one
        made with those. Which backend and model serve a role is the engine's rule."""
        settings = settings_overrides(self, "magics")
        given = {name: opts[name] for name in ("backend", "model", "host") if opts and opts.get(name)}
        if not given:
            if self._engine is None:
                self._engine = Twin(**settings)
            return self._engine
        # -m and -b name the model and backend of this command, whichever role it uses
        if "model" in given:
            settings.update(model=given["model"], completion_model=given["model"], chat_model=given["model"])
        if "backend" in given:
            settings.update(backend=given["backend"], completion_backend=given["backend"], chat_backend=given["backend"])
        if "host" in given:
            settings["host"] = given["host"]
        key = tuple(sorted(settings.items()))
        if self._one_off is None or self._one_off[0] != key:
            self._close(self._one_off[1] if self._one_off else None)
            self._one_off = (key, Twin(**settings))
        return self._one_off[1]

    def current_model(self, role: str) -> str | None:
        """The model ``role`` ("complete" or "chat") uses: the one configured, else the one
        its backend resolved."""
        try:
            engine = self.twin()
            return engine.choice(role)[1] or engine.backend_for(role).model or None
        except Exception:
            return None

    def set_model(self, role: str, name: str) -> None:
        """Serve ``role`` with ``name`` from the next request on. The engine swaps that
        role's backend only: the other role keeps its loaded model."""
        self._keep_engine = True
        try:
            setattr(self, "completion_model" if role == "complete" else "chat_model", name)
        finally:
            self._keep_engine = False
        if self._engine is not None:
            self._engine.use_model(role, name, listed_only=False)

    @staticmethod
    def _close(engine: Twin | None) -> None:
        if engine is not None:
            try:
                engine.close()
            except Exception:
                pass

    def _drop_twins(self) -> None:
        """Close the engines: the next command makes one from the settings as they are."""
        self._close(self._engine)
        self._close(self._one_off[1] if self._one_off else None)
        self._engine = self._one_off = None

    def _settings_changed(self, change: dict) -> None:
        if not self._keep_engine:  # %config TwinMagics.model = ..., %twin backend
            self._drop_twins()

    # --- context ----------------------------------------------------------
    def context_for(self, raw_cell: str, body: str, opts: Mapping[str, Any]) -> sources.NotebookContext:
        prefer = opts.get("source") or (None if self.context_source == "auto" else self.context_source)
        if prefer not in (None, "live", "saved", "history"):
            raise OptionError("--source is one of live, saved, history")
        ctx = sources.resolve(self.shell, self.live, raw_cell, body, prefer=prefer)
        if ctx.source == "history" and self.history_cells != 40:
            ctx = sources.from_history(self.shell, ctx.cell_id, body, self.history_cells)
        self.last_context = ctx
        return ctx

    def facts_for(self, ctx: sources.NotebookContext, index: int, opts: Mapping[str, Any]) -> list[dict] | None:
        if not opts.get("facts", self.kernel_facts):
            self.last_facts = []
            return None
        code = sources.source_text(ctx.cells[index].get("source"))
        facts = collect_facts(code, self.shell.user_ns)
        self.last_facts = facts
        return facts or None

    @staticmethod
    def code_cell_above(ctx: sources.NotebookContext) -> int | None:
        """The index of the nearest code cell above the active one that is not ours."""
        for i in range(ctx.index - 1, -1, -1):
            cell = ctx.cells[i]
            text = sources.source_text(cell.get("source"))
            if cell.get("cell_type") == "code" and text.strip() and not sources.is_twin_command(text):
                return i
        return None

    def report(self, message: str) -> None:
        print(f"jupyter_twin: {message}", file=sys.stderr)

    # --- kernel hooks -----------------------------------------------------
    def _tab_changed(self, change: dict) -> None:
        from .. import matcher

        if change["new"]:
            matcher.install(self)
        else:
            matcher.uninstall(self)

    def add_review_wait(self, lines: list[str]) -> list[str]:
        """input_transformers_post (see kernel/review.py); off with ``panels`` off."""
        if not self.panels or self.live.present:
            return lines
        return review.add_wait(self.shell, lines)

    def post_run_cell(self, result: Any) -> None:
        """Keeps the last error for ``%twin fix``."""
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
