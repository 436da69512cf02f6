"""``payoutwatch export lookml``: the export parses with ``lkml``, and every measure's SQL, taken from the
parsed export, runs on both stores and returns the dashboards' figures for the demo data.

Looker would run the SQL on PostgreSQL at ``CURRENT_TIMESTAMP``; here the same SQL is run at fixed
instants: on PostgreSQL ``CURRENT_TIMESTAMP`` becomes that instant, on SQLite (which stores instants as
microseconds since the epoch) the instant's microseconds and ``INTERVAL 'N seconds'`` N million. A
measure's filters become ``CASE WHEN`` conditions, as Looker writes them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import lkml
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from payoutwatch.cli import app
from payoutwatch.demo import build_platform, load
from payoutwatch.metrics import compute
from payoutwatch.store.engine import open_store
from payoutwatch.store.types import from_micros, to_micros
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.lookml import lookml
from tests.conftest import fresh_postgres_database, make_settings, utc

NOW = utc(2026, 4, 2, 10, 30)  # half an hour into a cycle: the demo's run of it is still going
INSTANTS = [NOW, NOW - timedelta(days=9, hours=5)]


@pytest.fixture(scope="module")
def views() -> dict[str, dict[str, Any]]:
    parsed = lkml.load(lookml(make_settings()))
    assert [e["name"] for e in parsed["explores"]] == [
        "job_runs",
        "scheduled_payouts",
        "manual_payouts",
        "reserve_snapshots",
        "credentials",
        "alerts",
    ]
    return {view["name"]: view for view in parsed["views"]}


def _fields(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for kind in ("dimensions", "dimension_groups", "measures") for f in view.get(kind, [])}


def _resolve(sql: str, view: dict[str, Any]) -> str:
    fields = _fields(view)

    def field_sql(match: re.Match[str]) -> str:
        name = match.group(1)
        return view["sql_table_name"] if name == "TABLE" else f"({_resolve(fields[name]['sql'], view)})"

    return re.sub(r"\$\{(\w+)\}", field_sql, sql)


def measure_sql(view: dict[str, Any], name: str) -> str:
    measure = _fields(view)[name]
    conditions = []
    for group in measure.get("filters__all", []):
        for condition in group:
            for dimension, wanted in condition.items():
                flag = f"CASE WHEN {_resolve(_fields(view)[dimension]['sql'], view)} THEN 1 ELSE 0 END"
                conditions.append(f"{flag} = {1 if wanted == 'yes' else 0}")
    where = " AND ".join(conditions) or "1 = 1"
    if measure["type"] == "count":
        return f"COUNT(CASE WHEN {where} THEN 1 END)"
    assert measure["type"] == "sum", measure
    return f"COALESCE(SUM(CASE WHEN {where} THEN {_resolve(measure['sql'], view)} END), 0)"


def at_instant(sql: str, store: Engine, at: datetime) -> str:
    if store.dialect.name == "sqlite":
        sql = re.sub(r"INTERVAL '(\d+) seconds'", r"(\1 * 1000000)", sql)
        return sql.replace("CURRENT_TIMESTAMP", str(to_micros(at)))
    return sql.replace("CURRENT_TIMESTAMP", f"TIMESTAMPTZ '{at.isoformat()}'")


def run(store: Engine, view: dict[str, Any], measures: list[str], at: datetime, group_by: str | None = None) -> Any:
    columns = ", ".join(measure_sql(view, m) for m in measures)
    key = f"{_resolve(group_by, view)}, " if group_by else ""
    sql = f"SELECT {key}{columns} FROM {view['sql_table_name']}" + (" GROUP BY 1" if group_by else "")
    with store.connect() as conn:
        return conn.execute(text(at_instant(sql, store, at))).all()


@pytest.fixture
def demo(store: Engine) -> Engine:
    settings = make_settings()
    load(store, build_platform(settings, NOW, studios=30), settings, NOW)
    evaluate(store, settings, at=NOW, now=NOW)
    return store


@pytest.mark.parametrize("at", INSTANTS)
def test_every_measure_returns_the_dashboards_figures(demo: Engine, views: dict[str, Any], at: datetime) -> None:
    settings = make_settings()
    with demo.connect() as conn:
        health, fallback, reserves, credentials = (
            compute(name, conn, at, settings)
            for name in ("payout_health", "fallback_activity", "reserves", "credentials")
        )
    checked: set[tuple[str, str]] = set()

    def figures(view: str, *measures: str) -> tuple[Any, ...]:
        checked.update((view, m) for m in measures)
        [row] = run(demo, views[view], list(measures), at)
        return tuple(int(v) for v in row)

    assert figures("manual_payouts", "manual_payout_count", "fallback_cents", "open_count") == (
        fallback["manual_payout_count"],
        fallback["fallback_cents"],
        fallback["detection_to_completion"]["open_count"],
    )
    assert fallback["manual_payout_count"] > 0
    assert figures("job_runs", "automated_cents", "current_cycle_cad_cents") == (
        fallback["automated_cents"],
        health["current_cycle_cad_cents"],
    )
    last = health["last_run"]
    assert figures("job_runs", "last_run_studios_processed", "last_run_studios_scheduled") == (
        last["studios_processed"],
        last["studios_scheduled"],
    )
    by_cycle = {
        (from_micros(c) if isinstance(c, int) else c).isoformat().replace("+00:00", "Z"): tuple(int(v) for v in rest)
        for c, *rest in run(demo, views["job_runs"], ["runs", "cad_processed", "retries", "errors"], at, "${cycle}")
        if c is not None
    }
    checked.update(("job_runs", m) for m in ("runs", "cad_processed", "retries", "errors"))
    assert health["cycles"] and [by_cycle[c["scheduled_for"]] for c in health["cycles"]] == [
        (c["runs"], c["cad_processed_cents"], c["retry_count"] or 0, c["error_count"] or 0) for c in health["cycles"]
    ]
    assert figures(
        "reserve_snapshots", "reserve_balance", "reserve_threshold", "studio_accounts", "near_threshold_count"
    ) == (
        reserves["aggregate_balance_cents"],
        reserves["aggregate_threshold_cents"],
        reserves["accounts"],
        len(reserves["near_threshold"]),
    )
    assert figures("scheduled_payouts", "held_count", "held_amount_cents") == (
        reserves["held_payouts"]["count"],
        reserves["held_payouts"]["amount_cents"],
    )
    stages = [c["stage"] for c in credentials["credentials"]]
    assert figures("credentials", "credential_count", "expired_count", "due_soon_count") == (
        len(stages),
        stages.count("expired"),
        len([s for s in stages if s != "ok"]),
    )
    with demo.connect() as conn:
        firing = conn.execute(text("SELECT COUNT(*) FROM alerts WHERE state = 'firing'")).scalar_one()
        history = conn.execute(text("SELECT COUNT(*) FROM alert_history")).scalar_one()
    assert figures("alerts", "firing_count") == (firing,) and firing > 0
    assert figures("alert_history", "transition_count") == (history,)
    # every other measure at least runs on this store
    for name, view in views.items():
        for measure in view.get("measures", []):
            if (name, measure["name"]) not in checked:
                run(demo, view, [measure["name"]], at)


def test_the_cli_prints_the_export(tmp_path: Any) -> None:
    config = tmp_path / "payoutwatch.yaml"
    config.write_text(
        f'store: {{url: "sqlite:///{tmp_path / "pw.db"}"}}\n'
        'schedule: {rrule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", start: "2026-03-05"}\n'
        "rules: {fallback_volume: {window_days: 14}}\n"
    )
    result = CliRunner().invoke(app, ["--config", str(config), "export", "lookml"])
    assert result.exit_code == 0, result.output
    parsed = lkml.load(result.output)
    manual = next(v for v in parsed["views"] if v["name"] == "manual_payouts")
    window = next(d for d in manual["dimensions"] if d["name"] == "in_window")
    assert "INTERVAL '1209600 seconds'" in window["sql"]  # the configured 14 days


def test_the_read_only_role_of_docs_looker_reads_the_model_and_nothing_else(postgres_server: str) -> None:
    url = fresh_postgres_database(postgres_server)
    store = open_store(url)
    database = url.rsplit("/", 1)[1]
    role = f"looker_reader_{database}"
    block = re.search(r"```sql\n(.*?)```", (Path(__file__).parents[2] / "docs" / "looker.md").read_text(), re.S)
    assert block is not None
    script = block.group(1).replace("looker_reader", role).replace("DATABASE payoutwatch", f'DATABASE "{database}"')
    with store.begin() as conn:
        for statement in filter(str.strip, script.split(";")):
            conn.execute(text(statement))
    store.dispose()
    reader = create_engine(url.replace("postgres@", f"{role}:change-me@", 1))
    parsed = lkml.load(lookml(make_settings()))
    try:
        with reader.connect() as conn:
            for view in parsed["views"]:  # every measure of the model runs as the role
                for measure in view.get("measures", []):
                    sql = f"SELECT {measure_sql(view, measure['name'])} FROM {view['sql_table_name']}"
                    conn.execute(text(sql)).one()
        for forbidden in ("SELECT * FROM api_tokens", "INSERT INTO alert_history (alert_id) VALUES (1)"):
            with reader.connect() as conn, pytest.raises(DBAPIError):
                conn.execute(text(forbidden))
    finally:
        reader.dispose()
        admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()
