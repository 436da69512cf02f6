"""The quarterly deep dive: months add up to the quarter, reasons and failures are counted, charts exist."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine
from typer.testing import CliRunner

from payoutwatch.cli import app
from payoutwatch.demo import build_platform, load
from payoutwatch.reports.quarterly import QuarterNotStarted, quarter_bounds, quarterly
from payoutwatch.store.engine import open_store
from payoutwatch.usecases.evaluation import evaluate
from tests.conftest import make_settings, utc

NOW = utc(2026, 11, 26, 14)
SETTINGS = make_settings(
    schedule={"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2025-01-02"}
)


def test_quarter_bounds_are_local_calendar_quarters() -> None:
    start, end, months = quarter_bounds("2026q4", SETTINGS)
    assert (start, end) == (utc(2026, 10, 1, 4), utc(2027, 1, 1, 5))  # EDT then EST
    assert [m[0] for m in months] == ["2026-10", "2026-11", "2026-12"]
    with pytest.raises(ValueError, match="2026Q1"):
        quarter_bounds("2026-Q5", SETTINGS)


def test_months_add_up_and_failures_are_classified(store: Engine) -> None:
    load(store, build_platform(SETTINGS, NOW, studios=60), SETTINGS, NOW)
    evaluate(store, SETTINGS, at=NOW, now=NOW)
    with store.connect() as conn:
        r = quarterly(conn, "2026Q4", SETTINGS)
    assert sum(m["manual_payouts"] for m in r["months"]) == r["totals"]["manual_payouts"] >= 5
    assert sum(m["fallback_cents"] for m in r["months"]) == r["totals"]["fallback_cents"]
    assert sum(x["manual_payouts"] for x in r["by_reason"]) == r["totals"]["manual_payouts"]
    assert r["automation_failures"]["alerts"] == 2
    assert r["automation_failures"]["by_reason"] == {"failed (exit code)": 1, "too few studios": 1, "too slow": 1}
    d = r["detection_to_completion"]
    assert d["count"] >= 4 and d["median_s"] <= d["p90_s"] <= d["max_s"]
    assert r["previous_quarter"]["quarter"] == "2026Q3"
    assert r["max_fallback_ratio"] == SETTINGS.rules.fallback_volume.max_fallback_ratio  # the charts' limit line


def test_cli_writes_html_with_charts_and_markdown_beside_them(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'pw.db'}")
    load(engine, build_platform(SETTINGS, NOW, studios=30), SETTINGS, NOW)
    engine.dispose()
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}, "schedule": {"start": "2025-01-02"}})
    )
    runner = CliRunner()
    html = runner.invoke(app, ["--config", str(config), "report", "quarterly", "--quarter", "2026Q4"])
    assert html.exit_code == 0, html.output
    assert html.output.count('src="data:image/png;base64,') == 3
    out = tmp_path / "q"
    md = runner.invoke(
        app,
        ["--config", str(config), "report", "quarterly", "--quarter", "2026Q4", "--format", "md", "--out", str(out)],
    )
    assert md.exit_code == 0, md.output
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == [
        "detection-to-completion.png",
        "fallback-cad-and-ratio.png",
        "manual-payouts-per-month.png",
    ]
    assert all(p.read_bytes().startswith(b"\x89PNG") and p.stat().st_size > 5000 for p in pngs)
    text = (out / "quarterly-2026Q4.md").read_text()
    assert "![manual-payouts-per-month.png](manual-payouts-per-month.png)" in text and "| 2026-10 |" in text


def test_a_quarter_that_has_not_started_is_refused_not_a_fall_to_nothing(store: Engine) -> None:
    with store.connect() as conn:
        with pytest.raises(QuarterNotStarted, match="2027Q1 has not started yet"):
            quarterly(conn, "2027Q1", SETTINGS, now=NOW)
        assert quarterly(conn, "2026q4", SETTINGS, now=NOW)["quarter"] == "2026Q4"  # the current one is reported
