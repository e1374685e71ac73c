"""Records real model outputs for the golden post-processing tests.

Run by hand when the model or the prompt changes:
    .venv/bin/python tests/engine/record_golden.py
It stores the RAW text the embedded demo model generated for each case; the expected
cleaned text in golden/completions.json is reviewed by a person, never generated.
"""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_twin import Twin

HERE = Path(__file__).parent / "golden"

CASES = [
    ("block-body", [{"cell_type": "code", "source": "def add(a, b):\n    "}], 0, None),
    ("line-rest-call", [{"cell_type": "code", "source": "import numpy as np\nxs = np.arange(10)\nprint(np.mean("}], 0, None),
    ("line-rest-overlap", [{"cell_type": "code", "source": "import numpy as np\nxs = np.arange(10)\nprint(np.mean()"}], 0, len("import numpy as np\nxs = np.arange(10)\nprint(np.mean(")),
    ("half-word", [{"cell_type": "code", "source": "total = sum([1, 2, 3])\nprint(tot"}], 0, None),
    ("line-after-colon-with-body", [{"cell_type": "code", "source": "for i in range(3):\n    \n    print(i)"}], 0, len("for i in range(3):\n    ")),
    ("uses-other-cell", [
        {"cell_type": "code", "source": "import pandas as pd\nhousing = pd.DataFrame({'rooms': [3, 4], 'price': [100, 200]})"},
        {"cell_type": "code", "source": "housing['price_per_room'] = housing['price'] / "},
    ], 1, None),
    ("empty-line-in-function", [{"cell_type": "code", "source": "def area(r):\n    import math\n    \n"}], 0, len("def area(r):\n    import math\n    ")),
    ("empty-line-between-lines", [
        {"cell_type": "code", "source": "import matplotlib.pyplot as plt\nx = [1, 2, 3]\ny = [2, 4, 6]"},
        {"cell_type": "code", "source": "plt.plot(x, y)\n\nplt.ylabel(\"y\")\nplt.show()"},
    ], 1, len("plt.plot(x, y)\n")),
    ("class-method-block", [{"cell_type": "code", "source": "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n        "}], 0, None),
]


def main() -> None:
    twin = Twin(backend="embedded")
    records = []
    for name, cells, index, cursor in CASES:
        stream = twin.stream_complete(cells, index, cursor)
        result = stream.result()
        source = cells[index]["source"]
        cur = len(source) if cursor is None else cursor
        records.append({
            "name": name, "cells": cells, "index": index, "cursor": cur,
            "raw": stream.text, "cleaned_when_recorded": result,
        })
        print(f"{name}: raw={stream.text!r} -> {result!r}")
    (HERE / "raw_outputs.json").write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
