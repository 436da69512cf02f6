"""Render a report's figures with Jinja2 (Markdown, HTML) or as JSON; one set of filters for both."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from payoutwatch.clock import format_duration
from payoutwatch.money import format_cents
from payoutwatch.vocabulary import DASHBOARDS

FORMATS = ("md", "html", "json")


# How figures read in every template, reports and pages alike
FIGURE_FILTERS: dict[str, Callable[[Any], Any]] = {
    "cad": format_cents,
    "duration": format_duration,
    "pct": lambda ratio: "n/a" if ratio is None else f"{ratio:.2%}",
    "or_na": lambda value: "n/a" if value is None else value,
}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("payoutwatch.reports", "templates"),
        # every HTML template is escaped (templates are named NAME.html.j2); Markdown is not HTML
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FIGURE_FILTERS)
    env.globals["titles"] = {dashboard.name: dashboard.title for dashboard in DASHBOARDS}
    return env


def render(
    name: str, figures: dict[str, Any], fmt: str, charts: dict[str, str] | None = None, *, nonce: str | None = None
) -> str:
    """``charts`` maps a chart's name to where it is (a file name, or a data: URI to embed); ``nonce`` is
    the CSP nonce of the response an HTML report is served in (its ``<style>`` carries it)."""
    if fmt == "json":
        return json.dumps(figures, indent=2) + "\n"
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return _environment().get_template(f"{name}.{fmt}.j2").render(r=figures, charts=charts or {}, nonce=nonce)
