"""Progress for long work (a bench run, the first join of a pinned model, the first start
of the model process): a widget bar in a notebook where ipywidgets render, text elsewhere.

tqdm.auto's choice, made here so that a kernel without ipywidgets stays as it was (no
bar, and not tqdm's "IProgress not found" warning in the cell's stderr), and so that a
process with no one watching (the Jupyter server's log) gets no bar at all. On a terminal
without tqdm: one line of text.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator


def _kernel_shell() -> Any | None:
    """The IPython shell of a kernel with comms (where a widget can render), else None."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
    except Exception:
        return None
    kernel = getattr(shell, "kernel", None)
    return shell if getattr(kernel, "comm_manager", None) is not None else None


def _widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except Exception:
        return False
    return True


class _Line:
    """Without tqdm: one line when the work starts (in a kernel or on a terminal)."""

    def __init__(self, desc: str, shown: bool) -> None:
        self.n = 0.0
        if shown:
            print(f"jupyter_twin: {desc} …", file=sys.stderr, flush=True)

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def bar(total: float | None, desc: str, *, unit: str = "it", unit_scale: bool = False,
        bar_format: str | None = None) -> Any:
    """A progress bar with ``update(n)``, ``set_postfix_str(text)`` and ``close()``."""
    in_kernel = _kernel_shell() is not None
    if in_kernel and not _widgets_available():
        return _Line(desc, shown=False)
    try:
        import tqdm.std
    except ImportError:
        return _Line(desc, shown=not in_kernel and sys.stderr.isatty())
    kw = dict(total=total, desc=desc, unit=unit, unit_scale=unit_scale, leave=False, bar_format=bar_format)
    if in_kernel:
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm(**kw)
    return tqdm.std.tqdm(file=sys.stderr, disable=None, dynamic_ncols=True, **kw)  # a terminal only


def iterate(items: Iterable[Any], total: int, desc: str, unit: str = "task") -> Iterator[Any]:
    """``items`` with a bar that advances by one per item."""
    progress = bar(total, desc, unit=unit)
    try:
        for item in items:
            yield item
            progress.update(1)
    finally:
        progress.close()


#: seconds a wait lasts before its bar appears (tests set 0: a start's length varies)
SHOW_AFTER_S = 1.0


class Waiting:
    """A bar with no total for a wait of unknown length, counting seconds; it appears only
    once the wait has lasted ``after`` seconds (a quick start shows nothing)."""

    def __init__(self, desc: str, after: float | None = None) -> None:
        self.desc = desc
        self.after = SHOW_AFTER_S if after is None else after
        self._bar: Any = None
        self._started = time.monotonic()
        self._shown = 0

    def tick(self) -> None:
        seconds = time.monotonic() - self._started
        if seconds < self.after:
            return
        if self._bar is None:
            self._bar = bar(None, self.desc, unit="s", bar_format="{desc}: {n} s")
        whole = int(seconds)
        if whole > self._shown:
            self._bar.update(whole - self._shown)
            self._shown = whole

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
