"""Small helpers shared by the dashboards: rounding, percentiles, windows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

DAY = 86400.0


def seconds(delta: timedelta) -> float:
    """A duration in seconds: whole seconds as an int-valued float stay exact."""
    return delta.total_seconds()


def as_number(value: float) -> float | int:
    """JSON-friendly: 1080.0 -> 1080 so figures read as people expect."""
    return int(value) if float(value).is_integer() else value


def ratio(numerator: int | None, denominator: int | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks, as numpy's default.

    >>> percentile([1, 2, 3, 4], 0.9)
    3.7
    """
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * p
    lo, hi = math.floor(pos), math.ceil(pos)
    low, high = sorted_values[lo], sorted_values[hi]
    return round(low + (high - low) * (pos - lo), 6)


ONE_DAY = timedelta(days=1)


def days_floor(delta: timedelta) -> int:
    """Whole days in ``delta``, rounded down (exact: timedelta floor division, no float)."""
    return delta // ONE_DAY


def window_start(at: datetime, days: float) -> datetime:
    return at - timedelta(days=days)
