"""Render a report's figures with Jinja2 (Markdown, HTML) or as JSON; one set of filters for both."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from payoutwatch.clock import format_duration
from payoutwatch.money import format_cents
from payoutwatch.timefmt import local, wall_clock, zone_name
from payoutwatch.vocabulary import DASHBOARDS

FORMATS = ("md", "html", "json")


# How figures read in every template, reports and pages alike
FIGURE_FILTERS: dict[str, Callable[[Any], Any]] = {
    "cad": format_cents,
    "duration": format_duration,
    "pct": lambda ratio: "n/a" if ratio is None else f"{ratio:.2%}",
    "or_na": lambda value: "n/a" if value is None else value,
}


def time_filters(zone: tzinfo) -> dict[str, Callable[[Any], str]]:
    """How instants read in every template: ``when`` to the second, ``when_min`` to the minute (both in the
    display zone with its abbreviation), ``wall_clock`` as a ``datetime-local`` input's value in that zone."""
    return {
        "when": lambda instant: local(instant, zone),
        "when_min": lambda instant: local(instant, zone, minutes=True),
        "wall_clock": lambda instant: wall_clock(instant, zone),
    }


def _environment(zone: tzinfo) -> Environment:
    env = Environment(
        loader=PackageLoader("payoutwatch.reports", "templates"),
        # every HTML template is escaped (templates are named NAME.html.j2); Markdown is not HTML
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FIGURE_FILTERS)
    env.filters.update(time_filters(zone))
    env.globals["zone"] = zone_name(zone)
    env.globals["titles"] = {dashboard.name: dashboard.title for dashboard in DASHBOARDS}
    return env


def render(
    name: str,
    figures: dict[str, Any],
    fmt: str,
    charts: dict[str, str] | None = None,
    *,
    zone: tzinfo,
    nonce: str | None = None,
    back: str | None = None,
) -> str:
    """``charts`` maps a chart's name to where it is (a file name, or a data: URI to embed); ``zone`` is the
    one instants are shown in (``Settings.display_tz``); ``nonce`` is the CSP nonce of the response an HTML
    report is served in (its ``<style>`` carries it); ``back`` is the web app's page an HTML report served by
    it links back to (None for a report written to a file). JSON keeps ISO 8601 UTC."""
    if fmt == "json":
        return json.dumps(figures, indent=2) + "\n"
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    template = _environment(zone).get_template(f"{name}.{fmt}.j2")
    return template.render(r=figures, charts=charts or {}, nonce=nonce, back=back)
