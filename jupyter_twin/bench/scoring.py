"""Scores exactly as ../shared/bench/README.md defines them."""

from __future__ import annotations

import difflib
import statistics
from typing import Iterable, Sequence


def normalise(text: str) -> str:
    # leading and trailing whitespace stripped, and trailing whitespace on each line
    return "\n".join(line.rstrip() for line in text.strip().splitlines()).strip()


def exact_match(completion: str, target: str) -> bool:
    return normalise(completion) == normalise(target)


def edit_similarity(completion: str, target: str) -> float:
    return difflib.SequenceMatcher(None, normalise(completion), normalise(target)).ratio()


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")
