"""Charts as data for the vendored uPlot (``static/vendor/``), drawn in the browser by ``static/charts.js``.

A ``Chart`` is what the page hands to the script: the x values (instants as UNIX seconds, or categories),
its series (bars, lines, points, threshold lines) with ``None`` where there is no data or the period has
not happened yet (a gap, never a 0), the unit of each axis, and the display timezone (IANA) the script
formats dates in with ``Intl.DateTimeFormat``. ``figure`` places it as a ``<figure>`` holding the JSON in a
``<script type="application/json">`` data block: a block of that type is never executed, so the pages'
CSP (``script-src 'self'``) does not apply to it, and the JSON escapes ``<``, ``>`` and ``&`` so no text
from the data can end the block.

Example::

    Chart(title="Longest run per cycle", x=[1764583200.0], x_kind="time", x_label="cycle",
          y_label="minutes", unit="min", timezone="America/Toronto",
          series=[Series("longest run", [32.5]), threshold("limit 30 min", 30.0, 1)])
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from html import escape
from typing import Any, Literal

from markupsafe import Markup

SeriesKind = Literal["bars", "line", "points", "threshold", "trend"]
XKind = Literal["time", "category"]
Unit = Literal["CAD", "%", "min", "days", "payouts", "count"]

BAR = "#7b9cc0"
ACCENT = "#24527a"
LIMIT = "#b3261e"
WARN = "#b26a00"


@dataclass(frozen=True)
class Series:
    """One line of the legend: ``values`` are aligned with the chart's x (None: a gap)."""

    label: str
    values: list[float | None]
    kind: SeriesKind = "bars"
    colour: str = BAR


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``x`` with a short label (e.g. the next run)."""

    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    x: list[float]  # UNIX seconds (x_kind "time") or 0..n-1 (x_kind "category", named by x_labels)
    x_kind: XKind
    x_label: str
    y_label: str  # the axis title, with its unit: "CAD", "minutes", "% of studios"
    unit: Unit  # how a value is written on hover and on the y ticks
    timezone: str
    series: list[Series]
    x_labels: list[str] = field(default_factory=list)
    notes: list[str | None] = field(default_factory=list)  # per x: why it is a gap ("no run", "not yet")
    markers: list[Marker] = field(default_factory=list)
    height: int = 220
    y_range: tuple[float, float] | None = None  # fixed, where the data's extent would hide what matters

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def by_category(labels: list[str], zone: str, **chart: Any) -> Chart:
    """A chart over named categories (buckets, credentials, accounts): x is 0..n-1, named by ``labels``."""
    return Chart(x=[float(i) for i in range(len(labels))], x_kind="category", x_labels=labels, timezone=zone, **chart)


def threshold(label: str, value: float, count: int, colour: str = LIMIT) -> Series:
    """A threshold as a series: the same value at every x, drawn as a dashed line and named in the legend."""
    return Series(label, [value] * count, "threshold", colour)


def unix(instant: str | datetime) -> float:
    """An ISO 8601 instant (``…Z``) or an aware datetime as UNIX seconds."""
    when = datetime.fromisoformat(instant.replace("Z", "+00:00")) if isinstance(instant, str) else instant
    return when.timestamp()


def data_block(chart: Chart) -> str:
    """The chart's JSON, safe inside ``<script type="application/json">`` (``</script>`` cannot occur)."""
    text = json.dumps(chart.as_json(), separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def figure(chart: Chart) -> Markup:
    """The chart as the page places it; ``static/charts.js`` draws every ``figure.pw-chart``."""
    if not chart.x:
        return Markup('<p class="muted">No data.</p>')
    return Markup(
        f'<figure class="pw-chart" role="img" aria-label="{escape(chart.title)}">'
        f'<script type="application/json" class="pw-chart-data">{data_block(chart)}</script>'
        f'<noscript><p class="muted">{escape(chart.title)}: the chart needs JavaScript.</p></noscript></figure>'
    )
