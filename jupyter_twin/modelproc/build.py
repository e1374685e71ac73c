"""How llama-cpp-python must be built to run on any CPU it may meet (one place for the flags).

pip's default source build uses GGML_NATIVE=ON (-march=native). On Intel Xeons with AMX
that build takes llama.cpp's AMX path and dies with signal 11 at the first decode; a
native AVX-512 build dies with an illegal instruction on AMD or older Intel CPUs; and pip
caches the built wheel by sdist, not by CPU, so the next machine gets it too.
llama-cpp-python 0.3.x never calls ggml_backend_load_all(), so llama.cpp's runtime CPU
dispatch (GGML_BACKEND_DL with GGML_CPU_ALL_VARIANTS) is not usable through it. We build
one explicit x86-64-v3 baseline (AVX2, FMA, F16C, BMI2: every x86 server CPU since 2015),
installed as the package, and beside it, on x86-64, an AVX-512 variant of the same
version's libraries (no AMX), which the model process loads through llama-cpp-python's
LLAMA_CPP_LIB_PATH only on a CPU whose /proc/cpuinfo lists every instruction set it was
built for: our own runtime CPU dispatch (docs/benchmarks.md: about 1.4 to 1.8 times the
baseline's prompt evaluation where AVX-512 is there).

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


_X86_AVX512 = [
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON", "-DGGML_BMI2=ON",
    "-DGGML_AVX512=ON", "-DGGML_AVX512_VNNI=ON", "-DGGML_AVX512_VBMI=ON", "-DGGML_AVX512_BF16=ON",
    # AVX-VNNI is absent on AMD Zen 4, which has the rest; AMX is the path that segfaulted
    "-DGGML_AVX_VNNI=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF",
]

# extra variants, best first: name -> (CMake flags, /proc/cpuinfo flags it needs)
VARIANTS: dict[str, tuple[list[str], frozenset[str]]] = {
    "avx512": (_X86_AVX512, frozenset({
        "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw",
        "avx512_vnni", "avx512vbmi", "avx512_bf16",
    })),
}


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def variant_dir(name: str, prefix: str | None = None) -> str:
    import os

    return os.path.join(prefix or sys.prefix, "share", "jupyter_twin", "llama", name)


def best_variant(flags: frozenset[str] | None = None, prefix: str | None = None) -> tuple[str, str | None]:
    """(name, library folder) of the fastest installed build this CPU can run; the folder
    is None for the package's own (baseline) build."""
    import os

    flags = cpu_flags() if flags is None else flags
    # JUPYTER_TWIN_LLAMA_BUILD=baseline: what a CPU without AVX-512 (an AMD Zen 3, say) loads
    forced = os.environ.get("JUPYTER_TWIN_LLAMA_BUILD", "")
    for name, (_, needs) in VARIANTS.items():
        if forced and forced != name:
            continue
        folder = variant_dir(name, prefix)
        if needs <= flags and os.path.exists(os.path.join(folder, "libllama.so")):
            return name, folder
    return "x86-64-v3" if platform.machine().lower() in ("x86_64", "amd64") else "generic", None


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
    elif what == "variants":  # extra variants to build on this architecture
        if platform.machine().lower() in ("x86_64", "amd64"):
            print("\n".join(VARIANTS))
    elif what == "variant-args":
        print(" ".join(VARIANTS[sys.argv[2]][0]))
    elif what == "variant-dir":
        print(variant_dir(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
    elif what == "version":
        print(LLAMA_CPP_VERSION)
    elif what == "rebuild-command":
        print(rebuild_command(sys.argv[2] if len(sys.argv) > 2 else None))
    else:
        sys.exit(f"unknown: {what}")
