"""How the CLI prints: lines, errors, JSON, and readable rich tables of dashboards and listings.

Presentation only: every figure comes from ``metrics`` or a use case, formatted by its suffix
(``_cents`` as money, ``_s`` as a duration, ``_ratio`` as a percentage, ``_at`` as an instant in the display
zone). Tables never cut a cell: a long id, key or date folds onto more lines (or ``--wide`` lets the
table be as wide as its content).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from payoutwatch.clock import format_duration
from payoutwatch.money import format_cents
from payoutwatch.timefmt import local
from payoutwatch.vocabulary import dashboard_named

WIDE = 100_000  # --wide: a table as wide as its content (the terminal wraps the lines)
Wide = Annotated[
    bool, typer.Option("--wide", help="Tables as wide as their content: one line per row, nothing folded.")
]


UNBROKEN = WIDE  # an id or a key: never folded inside a table (a row becomes a block first)
PROSE_MIN = 10  # the narrowest a prose column (a name, a summary, an error) folds to
INSTANT_MIN = len("07:50:53 EDT")  # an instant folds between its date and its time
IDENTIFIER_NAMES = ("id", "key", "kind", "rule", "channel", "source", "stage", "state", "event", "severity", "owner")


def is_instant(name: str) -> bool:
    return name == "at" or name.endswith(("_at", "scheduled_for"))


def is_identifier(name: str) -> bool:
    """A column read as one token (an id, a key): kept on one line while the table fits."""
    return name.endswith(("_id", "_key")) or name in IDENTIFIER_NAMES


def show_value(name: str, value: Any, currency: str = "CAD", zone: tzinfo = UTC) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, datetime) or (is_instant(name) and isinstance(value, str)):
        return local(value, zone)
    if name.endswith("_cents") and isinstance(value, int):
        return format_cents(value, currency)
    if (name.endswith("_s") or name.startswith("seconds_")) and isinstance(value, int | float):
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


def render_dashboard(
    name: str, figures: dict[str, Any], console: Console, currency: str = "CAD", zone: tzinfo = UTC
) -> None:
    as_of = local(figures.get("at"), zone)
    summary = Table(title=f"{dashboard_named(name).title} — as of {as_of}", show_header=False)
    summary.add_column("figure", style="bold", overflow="fold")
    summary.add_column("value", overflow="fold")
    for key, value in _flatten("", figures):
        if key != "at":
            summary.add_row(key, show_value(key.rsplit(".", 1)[-1], value, currency, zone))
    console.print(summary)
    for key, value in figures.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            render_rows(key, value[:15], console, currency, total=len(value), zone=zone)


def render_rows(
    title: str,
    rows: list[dict[str, Any]],
    console: Console,
    currency: str = "CAD",
    total: int | None = None,
    zone: tzinfo = UTC,
) -> None:
    """A table that never cuts a cell. When it is too wide for the terminal, ids, keys and instants keep
    their width and prose folds onto more lines; when even that does not fit, each row is printed as its
    own block of ``field  value`` lines."""
    shown = f" (first {len(rows)} of {total})" if total and total > len(rows) else ""
    columns = [c for c in rows[0] if not isinstance(rows[0][c], dict | list)]
    cells = [[show_value(c, row.get(c), currency, zone) for c in columns] for row in rows]
    widths = [max(cell_len(column), *(cell_len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    room = console.width - (3 * len(columns) + 1)  # a table's borders and padding
    kept = [min(w, _narrowest(c)) for c, w in zip(columns, widths, strict=True)]
    if sum(widths) > room and sum(kept) > room:
        _render_blocks(title + shown, columns, cells, console)
        return
    table = Table(title=title + shown)
    for column, width in zip(columns, kept, strict=True):
        table.add_column(column, overflow="fold", min_width=width)
    for line in cells:
        table.add_row(*(escape(cell) for cell in line))
    console.print(table)


def _narrowest(column: str) -> int:
    """How narrow a column may fold: an instant to its date over its time (``2026-11-25`` / ``07:50:53 EST``),
    an id or key not at all, prose to its header or ``PROSE_MIN``."""
    if is_instant(column):
        return max(cell_len(column), INSTANT_MIN)
    return UNBROKEN if is_identifier(column) else max(cell_len(column), PROSE_MIN)


def _render_blocks(title: str, columns: list[str], cells: list[list[str]], console: Console) -> None:
    """Each row as a two-column block (a narrow terminal): every value whole, folded if it must be."""
    console.print(title, style="italic", highlight=False, markup=False)
    for line in cells:
        block = Table(show_header=False, box=box.SIMPLE_HEAD, padding=(0, 1))
        block.add_column("field", style="bold", no_wrap=True)
        block.add_column("value", overflow="fold")
        for column, cell in zip(columns, line, strict=True):
            block.add_row(escape(column), escape(cell))
        console.print(block)


class Terminal:
    """One invocation's output: standard output for results, standard error for problems."""

    def __init__(self) -> None:
        # piped: one line per table row, as wide as its content (for grep and cut); a terminal: its width
        self.out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else WIDE)
        self.err = Console(stderr=True, soft_wrap=True)
        self.zone: tzinfo = UTC  # the display zone; the invocation sets it once the settings are read

    def widen(self) -> None:
        """``--wide``: tables as wide as their content, each cell on one line."""
        self.out.width = WIDE

    def when(self, instant: datetime | str | None, *, minutes: bool = False) -> str:
        """An instant as a person reads it here: in the display zone, with its abbreviation."""
        return local(instant, self.zone, minutes=minutes)

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
        render_rows(title, rows, self.out, zone=self.zone)

    def listing(self, title: str, rows: list[dict[str, Any]], json_output: bool, *, empty: str) -> None:
        """A listing as ``{title: rows}`` JSON, or a table, or a line saying there is nothing."""
        if json_output:
            self.json({title: rows})
        elif rows:
            self.rows(title, rows)
        else:
            self.say(empty)
