#!/usr/bin/env bash
# Sets up on a fresh machine and starts JupyterLab with the jupyter_twin extension and the
# embedded demo model (no server needed) on the example notebook.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export JUPYTER_TWIN_BACKEND=${JUPYTER_TWIN_BACKEND:-embedded}
exec .venv/bin/jupyter lab --ip=127.0.0.1 --no-browser $( [ "$(id -u)" = 0 ] && echo --allow-root ) examples/magics.ipynb "$@"
