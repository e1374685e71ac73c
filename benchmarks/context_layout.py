"""How long choosing and laying out the context takes per request, on big notebooks.

The engine builds the context at every keystroke, and looks at every cell above the
cursor to do so. This times `build_context` on the fim-dev notebooks joined into one
(2,323 cells, 500 kB with the first 12), at three cursor cells, with token counts
estimated (the model's tokenizer is the backend's and not what is measured here).

    python benchmarks/context_layout.py [--notebooks 12] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from jupyter_twin import context
from jupyter_twin.cells import to_cells

BENCH = Path(__file__).resolve().parents[1] / ".." / "shared" / "bench" / "notebooks"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--notebooks", type=int, default=12, help="how many fim-dev notebooks to join")
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()
    raw: list[dict] = []
    for path in sorted(BENCH.glob("*.ipynb"))[: args.notebooks]:
        raw += json.loads(path.read_text())["cells"]
    cells = to_cells(raw)
    print(f"{len(cells)} cells, {sum(len(c.source) for c in cells)} characters of source")
    opts = context.ContextOptions()
    for index in (50, 150, len(cells) - 1):
        cursor = len(cells[index].source)
        # the first call fills what is kept per source text; a keystroke's request finds it
        context.build_context(cells, index, cursor, options=opts)
        started = time.perf_counter()
        for _ in range(args.repeat):
            context.build_context(cells, index, cursor, options=opts)
        print(f"cursor in cell {index}: {(time.perf_counter() - started) / args.repeat * 1000:.2f} ms a request")


if __name__ == "__main__":
    main()
