"""Kernel-side parts of jupyter_twin: kernel facts, notebook context sources, the comm to the
front end and the Tab matcher. Used by ``jupyter_twin.magics``."""
