"""Token healing with the real model: a completion asked at a half-typed word starts with
the typed part, because the model process holds its first tokens to it (healing.py). The
demo model left free wrote `#` after `i` at the start of a new notebook cell: an empty
suggestion (docs/benchmarks.md, issue 10)."""

from __future__ import annotations

import pytest

from jupyter_twin import Twin
from jupyter_twin.backends import FimRequest

pytestmark = pytest.mark.model

CELLS = [
    {"cell_type": "markdown", "source": "# Sales by region"},
    {"cell_type": "code", "source": "import pandas as pd\nsales = pd.read_csv('sales.csv')"},
]


def test_the_first_tokens_write_an_unlikely_word(model_path: str) -> None:
    """No model would write `zebra_q` here unasked: the constraint makes it."""
    twin = Twin(backend="embedded", model=model_path)
    try:
        for heal in ("zebra_q", "qx"):
            request = FimRequest(stable="", prefix="x = 1\ny = ", suffix="", family=twin.family, max_tokens=8,
                                 stop=["\n"], temperature=0.0, heal=heal)
            raw = "".join(twin.backend.fim(request))
            assert raw.startswith(heal), (heal, raw)
    finally:
        twin.close()


@pytest.mark.parametrize("typed", ["i", "sa", "sales.gro", "pd.re"])
def test_a_completion_at_a_half_word_continues_it(model_path: str, typed: str) -> None:
    twin = Twin(backend="embedded", model=model_path)
    try:
        cells = CELLS + [{"cell_type": "code", "source": typed}]
        stream = twin.stream_complete(cells, 2, len(typed))
        text = stream.result()
        word = typed.split(".")[-1]
        assert stream.text.startswith(word), stream.text  # the raw stream writes the typed part first
        # and the suggestion is the rest of it, not empty
        assert text.strip() and stream.text[len(word):].startswith(text.rstrip()), (stream.text, text)
    finally:
        twin.close()
