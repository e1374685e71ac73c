"""The embedded backend's default thread count: one per physical core."""

from jupyter_twin.backends.embedded import default_threads, physical_cores


def _cpuinfo(rows: list[tuple[int, int, int]]) -> str:
    return "\n\n".join(
        f"processor\t: {p}\nvendor_id\t: AuthenticAMD\nphysical id\t: {pkg}\ncore id\t\t: {core}\nflags\t\t: avx2"
        for p, pkg, core in rows
    ) + "\n"


def test_hyperthreads_count_once():
    # 2 cores with 2 hyper-threads each: processors 0/2 and 1/3 share a core
    info = _cpuinfo([(0, 0, 0), (1, 0, 1), (2, 0, 0), (3, 0, 1)])
    assert physical_cores(info, {0, 1, 2, 3}) == 2


def test_cores_without_smt_and_the_affinity_mask():
    info = _cpuinfo([(0, 0, 0), (1, 0, 1), (2, 1, 0), (3, 1, 1)])
    assert physical_cores(info, {0, 1, 2, 3}) == 4  # two packages, same core ids
    assert physical_cores(info, {2}) == 1  # a process pinned to one CPU


def test_no_core_ids_means_unknown():
    assert physical_cores("processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\n", {0, 1}) == 0
    assert default_threads() >= 1
