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

PREFIX=$("$PY" -c 'import sys; print(sys.prefix)')
VARIANTS=$("$PY" "$BUILD_PY" variants)
ALLKEY=$KEY
for v in $VARIANTS; do
  ALLKEY="$ALLKEY $(printf '%s %s %s' "$VERSION" "$ARCH" "$("$PY" "$BUILD_PY" variant-args "$v")" | sha256sum | cut -c1-12)"
done
installed=$("$PY" -c "import importlib.metadata as m; print(m.version('llama_cpp_python'))" 2>/dev/null || true)
stamp="$PREFIX/.llama-build-key"
if [ "$installed" = "$VERSION" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$ALLKEY" ]; then
  echo "llama-cpp-python $VERSION already built portably ($ALLKEY)"
  exit 0
fi

# build_wheel ARGS DIR: the wheel of this version built with ARGS, cached in DIR
build_wheel() {
  local args=$1 dir=$2 wheel
  mkdir -p "$dir"
  wheel=$(ls "$dir"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ]; then
    echo "building llama-cpp-python $VERSION (${args}); 5-15 minutes on 2 cores" >&2
    export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
    # --no-cache-dir: never take a wheel that pip built on another machine with other flags
    CMAKE_ARGS="$args" FORCE_CMAKE=1 "$PY" -m pip wheel -q --no-cache-dir --no-deps \
      --no-binary llama-cpp-python -w "$dir" "llama-cpp-python==$VERSION" >&2
    wheel=$(ls "$dir"/llama_cpp_python-"$VERSION"-*.whl | head -1)
  fi
  echo "$wheel"
}

wheel=$(build_wheel "$ARGS" "$CACHE")
"$PY" -m pip install -q --no-cache-dir --force-reinstall --no-deps "$wheel"
"$PY" -m pip install -q "llama-cpp-python[server]==$VERSION" >/dev/null

# the faster variants: only their shared libraries, beside the package; the model process
# picks one through LLAMA_CPP_LIB_PATH when /proc/cpuinfo has all it needs
for v in $VARIANTS; do
  vargs=$("$PY" "$BUILD_PY" variant-args "$v")
  vkey=$(printf '%s %s %s' "$VERSION" "$ARCH" "$vargs" | sha256sum | cut -c1-12)
  vroot=${JUPYTER_TWIN_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/jupyter_twin/wheels}/$vkey
  vwheel=$(build_wheel "$vargs" "$vroot")
  vdir=$("$PY" "$BUILD_PY" variant-dir "$v" "$PREFIX")
  rm -rf "$vdir" && mkdir -p "$vdir"
  "$PY" - "$vwheel" "$vdir" <<'PYEOF'
import sys, zipfile, os
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("llama_cpp/lib/") and not name.endswith("/"):
            path = os.path.join(target, os.path.basename(name))
            with z.open(name) as src, open(path, "wb") as dst:
                dst.write(src.read())
PYEOF
  echo "llama.cpp variant $v: $vdir"
done
echo "$ALLKEY" > "$stamp"
"$PY" -c "import llama_cpp; print('llama.cpp (package):', llama_cpp.llama_print_system_info().decode().strip())"
for v in $VARIANTS; do
  LLAMA_CPP_LIB_PATH=$("$PY" "$BUILD_PY" variant-dir "$v" "$PREFIX") "$PY" -c "import llama_cpp; print('llama.cpp ($v):', llama_cpp.llama_print_system_info().decode().strip())"
done
