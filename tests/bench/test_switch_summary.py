"""The numbers `bench switch` prints: a cell where nothing came is counted, not left out."""

from __future__ import annotations

from jupyter_twin.bench.switch import CellRun, summarise


def _run(first: float | None, shown: float | None) -> CellRun:
    return CellRun("nb", 0, first, first_shown=shown, latencies=[0.1])


def test_a_cell_that_showed_nothing_counts_as_the_slowest() -> None:
    row = summarise("notebook", [_run(0.2, 0.2), _run(0.3, 0.4), _run(0.5, None)], {})
    # left out, the median would be 0.3 of the two cells that showed something
    assert row["shown_median"] == 0.4 and row["nothing_shown"] == 1
    assert row["shown_p95"] is None  # the 95th percentile falls on the cell with nothing
    assert row["first_median"] == 0.3 and row["first_p95"] is not None


def test_the_median_is_none_when_half_the_cells_got_nothing() -> None:
    row = summarise("notebook", [_run(None, None), _run(0.3, 0.3)], {})
    assert row["shown_median"] is None and row["first_median"] is None
    assert summarise("cell", [], {})["shown_median"] is None
