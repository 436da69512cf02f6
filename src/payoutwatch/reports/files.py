"""Reports as files: where a rendered report (and the quarterly report's charts) is written."""

from __future__ import annotations

import base64
from datetime import tzinfo
from pathlib import Path
from typing import Any

from payoutwatch.reports.charts import quarterly_charts
from payoutwatch.reports.render import render


def write_report(text: str, path: str | Path) -> Path:
    """Write a rendered report to ``path`` (replacing it) and return where it went."""
    target = Path(path)
    target.write_text(text)
    return target


def write_quarterly(figures: dict[str, Any], fmt: str, folder: str | Path, *, zone: tzinfo) -> Path:
    """The quarterly report in ``folder`` as ``quarterly-<quarter>.<fmt>``, its charts as PNG files beside it
    (linked by name; none for json). Returns the report's path."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    charts = quarterly_charts(figures) if fmt != "json" else {}
    for name, png in charts.items():
        (target / name).write_bytes(png)
    text = render("quarterly", figures, fmt, {name: name for name in charts}, zone=zone)
    return write_report(text, target / f"quarterly-{figures['quarter']}.{fmt}")


def quarterly_document(figures: dict[str, Any], fmt: str, *, zone: tzinfo) -> str:
    """The quarterly report as one document: HTML embeds its charts as data URLs; md and json have none."""
    charts = quarterly_charts(figures) if fmt == "html" else {}
    embedded = {name: "data:image/png;base64," + base64.b64encode(png).decode() for name, png in charts.items()}
    return render("quarterly", figures, fmt, embedded, zone=zone)
