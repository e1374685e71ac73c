"""How llama-cpp-python must be built to run on any CPU it may meet (one place for the flags).

pip's default source build uses GGML_NATIVE=ON (-march=native). On Intel Xeons with AMX
that build takes llama.cpp's AMX path and dies with signal 11 at the first decode; a
native AVX-512 build dies with an illegal instruction on AMD or older Intel CPUs; and pip
caches the built wheel by sdist, not by CPU, so the next machine gets it too.
llama-cpp-python 0.3.x never calls ggml_backend_load_all(), so llama.cpp's runtime CPU
dispatch (GGML_BACKEND_DL with GGML_CPU_ALL_VARIANTS) is not usable through it. We build
one explicit x86-64-v3 baseline (AVX2, FMA, F16C, BMI2: every x86 server CPU since 2015).

This file imports nothing from the package: scripts/build-llama.sh runs it before the
package is installed (`python jupyter_twin/modelproc/build.py cmake-args`).
"""

from __future__ import annotations

import platform
import shlex
import sys

LLAMA_CPP_VERSION = "0.3.36"

_X86_PORTABLE = [
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON", "-DGGML_BMI2=ON",
    "-DGGML_AVX512=OFF", "-DGGML_AVX512_VNNI=OFF", "-DGGML_AVX512_VBMI=OFF", "-DGGML_AVX512_BF16=OFF",
    "-DGGML_AVX_VNNI=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF",
]


def portable_cmake_args(machine: str | None = None) -> list[str]:
    machine = (machine or platform.machine()).lower()
    if machine in ("x86_64", "amd64"):
        return list(_X86_PORTABLE)
    return ["-DGGML_NATIVE=OFF"]  # other architectures: llama.cpp's generic baseline


def rebuild_command(python: str | None = None) -> str:
    """The exact command that replaces llama-cpp-python with a portable build."""
    python = python or sys.executable
    args = " ".join(portable_cmake_args())
    return (f'CMAKE_ARGS="{args}" {shlex.quote(python)} -m pip install --no-cache-dir --force-reinstall '
            f"--no-deps --no-binary llama-cpp-python llama-cpp-python=={LLAMA_CPP_VERSION}")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "cmake-args"
    if what == "cmake-args":
        print(" ".join(portable_cmake_args()))
    elif what == "version":
        print(LLAMA_CPP_VERSION)
    elif what == "rebuild-command":
        print(rebuild_command(sys.argv[2] if len(sys.argv) > 2 else None))
    else:
        sys.exit(f"unknown: {what}")
