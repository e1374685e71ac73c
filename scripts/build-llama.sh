#!/usr/bin/env bash
# Builds and installs llama-cpp-python so that it runs on every x86-64 CPU CI or a user may
# meet, not only on the one that built it.
#
# Why, and the flags themselves: jupyter_twin/modelproc/build.py (one place for both, read by
# `jupyter-twin doctor` too). The wheel is kept in a cache of our own keyed by version,
# architecture and flags, never pip's, which keys by sdist and so hands a wheel built on one
# CPU to the next machine.
#
# Usage: scripts/build-llama.sh PYTHON   (PYTHON: the interpreter of the target venv)
# Env:   LLAMA_CPP_VERSION (default below), JUPYTER_TWIN_WHEELS (cache folder),
#        LLAMA_CMAKE_ARGS (override the flags; the cache key follows them).
set -euo pipefail
PY=${1:?usage: build-llama.sh PYTHON}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BUILD_PY="$HERE/jupyter_twin/modelproc/build.py"
VERSION=${LLAMA_CPP_VERSION:-$("$PY" "$BUILD_PY" version)}
ARCH=$(uname -m)
ARGS=${LLAMA_CMAKE_ARGS:-$("$PY" "$BUILD_PY" cmake-args)}
KEY=$(printf '%s %s %s' "$VERSION" "$ARCH" "$ARGS" | sha256sum | cut -c1-12)
CACHE=${JUPYTER_TWIN_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/jupyter_twin/wheels}/$KEY
mkdir -p "$CACHE"

installed=$("$PY" -c "import importlib.metadata as m; print(m.version('llama_cpp_python'))" 2>/dev/null || true)
stamp="$("$PY" -c 'import sys; print(sys.prefix)')/.llama-build-key"
if [ "$installed" = "$VERSION" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$KEY" ]; then
  echo "llama-cpp-python $VERSION already built portably ($KEY)"
  exit 0
fi
wheel=$(ls "$CACHE"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  echo "building llama-cpp-python $VERSION for any $ARCH CPU (${ARGS}); 5-15 minutes on 2 cores"
  export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
  # --no-cache-dir: never take a wheel that pip built on another machine with other flags
  CMAKE_ARGS="$ARGS" FORCE_CMAKE=1 "$PY" -m pip wheel -q --no-cache-dir --no-deps \
    --no-binary llama-cpp-python -w "$CACHE" "llama-cpp-python==$VERSION"
  wheel=$(ls "$CACHE"/llama_cpp_python-"$VERSION"-*.whl | head -1)
fi
"$PY" -m pip install -q --no-cache-dir --force-reinstall --no-deps "$wheel"
"$PY" -m pip install -q "llama-cpp-python[server]==$VERSION" >/dev/null
echo "$KEY" > "$stamp"
"$PY" -c "import llama_cpp; print('llama.cpp:', llama_cpp.llama_print_system_info().decode().strip())"
