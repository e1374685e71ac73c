"""`jupyter-twin bench switch` through a real Jupyter server, as the front end goes.

One freshly started server (benchmarks/_jupyter_server.py: 127.0.0.1, a random port and
token, the embedded demo model) per strategy: a server's completion cache outlives a
strategy, so a second strategy on the same server would be answered with the first one's
suggestions (the bench refuses several strategies with --server for that reason).

    .venv/bin/python benchmarks/switch_server.py                      # notebook, then cell
    .venv/bin/python benchmarks/switch_server.py notebook-no-pause --out-dir bench-results

Each strategy prints its table and writes OUT_DIR/switch-server-STRATEGY.json. Run it on
a quiet machine (load below 1): the numbers are latencies.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _jupyter_server import JupyterServer  # noqa: E402

from jupyter_twin.bench.switch import STRATEGIES  # noqa: E402
from jupyter_twin.modelfiles import demo_model_path  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # no `choices=` with nargs="*": argparse would check the default list as one value
    parser.add_argument("strategies", nargs="*", help=f"of {', '.join(STRATEGIES)} (default: notebook cell)")
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    args = parser.parse_args()
    args.strategies = args.strategies or ["notebook", "cell"]
    unknown = [s for s in args.strategies if s not in STRATEGIES]
    if unknown:
        parser.error(f"unknown strategy: {', '.join(unknown)}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    settings = {"backend": "embedded", "model_path": str(demo_model_path())}
    failed = 0
    for strategy in args.strategies:
        with JupyterServer(settings) as server:
            out = args.out_dir / f"switch-server-{strategy}.json"
            run = subprocess.run([sys.executable, "-m", "jupyter_twin.cli", "bench", "switch", "--server", server.url,
                                  "--token", server.token, "--strategy", strategy, "--json", str(out)])
            failed += run.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
