"""How the CLI prints: lines, errors, JSON, and readable rich tables of dashboards and listings.

Presentation only: every figure comes from ``metrics`` or a use case, formatted by its suffix
(``_cents`` as money, ``_s`` as a duration, ``_ratio`` as a percentage).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from payoutwatch.clock import format_duration
from payoutwatch.money import format_cents
from payoutwatch.vocabulary import dashboard_named


def show_value(name: str, value: Any, currency: str = "CAD") -> str:
    if value is None:
        return "n/a"
    if name.endswith("_cents") and isinstance(value, int):
        return format_cents(value, currency)
    if name.endswith("_s") and isinstance(value, int | float):
        return format_duration(value)
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


class Terminal:
    """One invocation's output: standard output for results, standard error for problems."""

    def __init__(self) -> None:
        self.out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
        self.err = Console(stderr=True, soft_wrap=True)

    def say(self, text: str) -> None:
        """A result line, printed as given (no markup, no highlighting)."""
        self.out.print(text, highlight=False, markup=False)

    def warn(self, text: str) -> None:
        """A problem line on standard error, printed as given."""
        self.err.print(text, highlight=False, markup=False)

    def fail(self, message: str, code: int = 1) -> NoReturn:
        """``error: MESSAGE`` on standard error, then exit with ``code`` (2 for bad input or config)."""
        self.err.print(f"[red]error:[/red] {escape(message)}", highlight=False, markup=True)
        raise typer.Exit(code)

    def write(self, text: str) -> None:
        """Text exactly as given on standard output (reports, YAML, a token)."""
        sys.stdout.write(text)

    def json(self, data: Any) -> None:
        self.write(json.dumps(data, indent=2, sort_keys=False) + "\n")

    def rows(self, title: str, rows: list[dict[str, Any]]) -> None:
        render_rows(title, rows, self.out)

    def listing(self, title: str, rows: list[dict[str, Any]], json_output: bool, *, empty: str) -> None:
        """A listing as ``{title: rows}`` JSON, or a table, or a line saying there is nothing."""
        if json_output:
            self.json({title: rows})
        elif rows:
            self.rows(title, rows)
        else:
            self.say(empty)
