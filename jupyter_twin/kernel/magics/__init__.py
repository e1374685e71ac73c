"""IPython magics, split by topic as IPython splits its own: task magics (``%%refactor``,
``%%explain``, ``%%complete``, ``%twin fix|doc|test|ask``: task.py) and control magics
(``%twin status|model|backend|context|tab|chat``: control.py), sharing ``TwinMagics``
(base.py): the defaults, ``%config TwinMagics.<name>``, and one engine.

Load with ``%load_ext jupyter_twin`` (or ``c.InteractiveShellApp.extensions =
["jupyter_twin"]``). Each magic's options: ``%%refactor --help``, ``%twin model --help``.
"""

from __future__ import annotations

from typing import Any

from .. import review, sources
from .base import TwinMagics, format_error
from .control import USAGE, ControlMagics
from .options import OptionError
from .task import TaskMagics, _View, split_options

__all__ = ["TwinMagics", "TaskMagics", "ControlMagics", "USAGE", "OptionError", "split_options", "format_error",
           "load_ipython_extension", "unload_ipython_extension", "get_magics", "_View"]

_loaded: dict[int, TwinMagics] = {}
#: the magics classes of each loaded shell (what unload takes out again)
_registered: dict[int, tuple[TaskMagics, ControlMagics]] = {}


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext jupyter_twin``."""
    if id(ip) in _loaded:
        return
    state = TwinMagics(ip)
    tasks = TaskMagics(ip, state)
    control = ControlMagics(ip, state, tasks)
    _loaded[id(ip)] = state
    _registered[id(ip)] = (tasks, control)
    ip.register_magics(tasks)
    ip.register_magics(control)
    if state not in ip.configurables:
        ip.configurables.append(state)
    ip.events.register("post_run_cell", state.post_run_cell)
    # a cell that is one of our magics may wait for a review panel's click (kernel/review.py)
    ip.events.register("pre_run_cell", review.reset)
    ip.input_transformers_post.append(state.add_review_wait)
    try:
        import comm as comm_pkg

        comm_pkg.get_comm_manager().register_target(sources.NOTEBOOK_TARGET, state.live.on_comm_open)
    except Exception:  # no kernel comm support (terminal IPython): the other sources still work
        pass
    if state.tab_completion:
        from .. import matcher

        matcher.install(state)


def unload_ipython_extension(ip: Any) -> None:
    state = _loaded.pop(id(ip), None)
    if state is None:
        return
    try:
        ip.events.unregister("post_run_cell", state.post_run_cell)
        ip.events.unregister("pre_run_cell", review.reset)
    except ValueError:
        pass
    if state.add_review_wait in ip.input_transformers_post:
        ip.input_transformers_post.remove(state.add_review_wait)
    from .. import matcher

    matcher.uninstall(state)
    try:
        import comm as comm_pkg

        comm_pkg.get_comm_manager().unregister_target(sources.NOTEBOOK_TARGET, state.live.on_comm_open)
    except Exception:
        pass
    mm = ip.magics_manager
    for magics in _registered.pop(id(ip), ()):
        for kind, names in magics.magics.items():
            for name in names:
                mm.magics[kind].pop(name, None)
        if mm.registry.get(type(magics).__name__) is magics:
            del mm.registry[type(magics).__name__]
    if state in ip.configurables:
        ip.configurables.remove(state)
    state._drop_twins()


def get_magics(ip: Any) -> TwinMagics | None:
    """The loaded magics' shared state of a shell (tests, and the matcher)."""
    return _loaded.get(id(ip))
