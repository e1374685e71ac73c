"""Kernel-side parts of jupyter_twin: kernel facts, notebook context sources, the comm to the
front end, the Tab matcher, the panels, and the magics themselves (``magics/``)."""
