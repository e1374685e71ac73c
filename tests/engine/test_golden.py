"""Golden tests: real raw outputs of the demo model (recorded by record_golden.py) and the
text a person checked that the inline completer must insert for each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_twin.postprocess import clean_completion, partial_word, unheal

RECORDS = {r["name"]: r for r in json.loads((Path(__file__).parent / "golden" / "raw_outputs.json").read_text())}

EXPECTED = {
    "block-body": "return a + b",
    "line-rest-call": "xs))",
    "line-rest-overlap": "xs)",  # the ")" after the cursor closes print(
    "half-word": "al)  # Output: 6",  # healed: the model wrote "total", "tot" was typed
    "line-after-colon-with-body": "",  # the model wrote "print(i)", the line right below
    "uses-other-cell": "housing['rooms']",
    "empty-line-in-function": "return math.pi * r ** 2",
    "empty-line-between-lines": "",  # the model began a new cell: nothing to suggest
    "class-method-block": "self.items.append(item)",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden(name):
    r = RECORDS[name]
    source = r["cells"][r["index"]]["source"]
    prefix, suffix = source[: r["cursor"]], source[r["cursor"]:]
    heal = partial_word(prefix, suffix)
    assert clean_completion(unheal(r["raw"], heal), prefix, suffix) == EXPECTED[name]


def test_golden_covers_every_recording():
    assert set(RECORDS) == set(EXPECTED)
