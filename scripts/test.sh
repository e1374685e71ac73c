#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine and runs every test level:
# Python (unit, golden, integration with the real embedded model, Ollama API test server,
# the real llama.cpp server, kernels, CLI, server extension) then the front end (Jest,
# Galata in Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  (apt-get update -q && apt-get install -y -q chromium) >/dev/null
fi
bash scripts/setup.sh

status=0
.venv/bin/python -m pytest -p no:cacheprovider -ra "$@" || status=$?
if [ -f .ci/lab-tests.sh ]; then
  bash .ci/lab-tests.sh || status=$?
fi
exit $status
