"""Readable terminal views of dashboards, alerts and notifications (rich tables).

Presentation only: every figure comes from ``metrics`` or the store, formatted by its suffix
(``_cents`` as money, ``_s`` as a duration, ``_ratio`` as a percentage).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

from payoutwatch.money import format_cents
from payoutwatch.vocabulary import dashboard_named


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    total = int(round(seconds))
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h {minutes}m"
    if hours:
        return f"{sign}{hours}h {minutes}m"
    return f"{sign}{minutes}m {secs}s"


def show_value(name: str, value: Any, currency: str = "CAD") -> str:
    if value is None:
        return "n/a"
    if name.endswith("_cents") and isinstance(value, int):
        return format_cents(value, currency)
    if name.endswith("_s") and isinstance(value, int | float):
        return duration(value)
    if name.endswith("_ratio") and isinstance(value, int | float):
        return f"{value:.2%}"
    if name.endswith("_pct") and isinstance(value, int | float):
        return f"{value:.2f}%"
    return str(value)


def _flatten(prefix: str, value: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            yield from _flatten(name + ".", item)
        elif not isinstance(item, list):
            yield name, item


def render_dashboard(name: str, figures: dict[str, Any], console: Console, currency: str = "CAD") -> None:
    summary = Table(title=f"{dashboard_named(name).title} — as of {figures.get('at')}", show_header=False)
    summary.add_column("figure", style="bold")
    summary.add_column("value")
    for key, value in _flatten("", figures):
        if key != "at":
            summary.add_row(key, show_value(key.rsplit(".", 1)[-1], value, currency))
    console.print(summary)
    for key, value in figures.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            render_rows(key, value[:15], console, currency, total=len(value))


def render_rows(
    title: str, rows: list[dict[str, Any]], console: Console, currency: str = "CAD", total: int | None = None
) -> None:
    shown = f" (first {len(rows)} of {total})" if total and total > len(rows) else ""
    table = Table(title=title + shown)
    columns = [c for c in rows[0] if not isinstance(rows[0][c], dict | list)]
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(show_value(c, row.get(c), currency) for c in columns))
    console.print(table)
