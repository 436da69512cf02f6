"""``airflow`` against a local stand-in for Airflow 2's /api/v1 (basic auth) and Airflow 3's /api/v2 (JWT
from POST /auth/token), shaped after Airflow's documented responses:

- DAG runs carry ``run_type``, ``logical_date``, ``data_interval_start/end`` (and ``run_after`` on v2); lists
  page with ``limit``/``offset`` (default limit 100 on v1, 50 on v2, at most 100) and ``total_entries``;
  ``start_date_gte`` excludes runs not started (SQL ``>=`` on NULL).
- Task instances page the same way; a mapped task has one instance per ``map_index``.
- XCom entries: Airflow 2 answers ``str(value)`` (Python's repr of a dict) unless ``stringify=false``;
  Airflow 3 answers the native value.
- An Airflow 3 has no /api/v1 (404) and answers /api/v2/version; an Airflow 2 has no /api/v2.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from sqlalchemy import Engine, select

from payoutwatch.config import Settings
from payoutwatch.metrics import compute
from payoutwatch.store.tables import job_runs, source_state
from payoutwatch.usecases.syncing import SyncResult, source_listing, source_states, sync_source
from tests.conftest import make_settings, utc
from tests.integration.jsonserver import JsonServer

pytestmark = pytest.mark.integration
TOKEN = "jwt.token.value"


@dataclass
class FakeAirflow:
    """One DAG ``payouts_dag`` on Airflow 2 (``v1``) or 3 (``v2``); tests change its state between syncs."""

    version: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    xcoms: dict[str, Any] = field(default_factory=dict)  # run id -> the value the `report` task pushed

    def run(
        self,
        run_id: str,
        state: str,
        start: str | None,
        end: str | None = None,
        *,
        run_type: str = "scheduled",
        interval_end: str | None = None,
        tries: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Add a run; for a timetable run the cycle instant is ``interval_end`` (default: its start)."""
        due = interval_end or start
        row: dict[str, Any] = {
            "dag_run_id": run_id,
            "dag_id": "payouts_dag",
            "state": state,
            "start_date": start,
            "end_date": end,
            "run_type": run_type,
            "logical_date": due,
            "data_interval_start": due,
            "data_interval_end": due,
        }
        if self.version == "v1":
            row.update(execution_date=due, external_trigger=run_type == "manual")
        else:
            row.update(run_after=due, triggered_by="timetable" if run_type == "scheduled" else "rest_api")
        self.runs.append(row)
        self.tasks[run_id] = [
            {"task_id": task, "map_index": -1, "try_number": n, "state": "success"} for task, n in (tries or {}).items()
        ]
        return row

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        url = urlparse(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self.version == "v2" and method == "POST" and url.path == "/auth/token":
            ok = json.loads(body) == {"username": "svc", "password": "af-pass-123"}
            return (201, {"access_token": TOKEN}, {}) if ok else (401, {"detail": "Invalid credentials"}, {})
        if not url.path.startswith(f"/api/{self.version}/"):
            return 404, {"detail": "Not Found"}, {}
        basic = "Basic " + base64.b64encode(b"svc:af-pass-123").decode()
        if headers.get("Authorization") != (f"Bearer {TOKEN}" if self.version == "v2" else basic):
            return 401, {"title": "Unauthorized", "status": 401}, {}
        parts = [unquote(p) for p in url.path.split("/")[3:]]
        if parts == ["version"]:
            return 200, {"version": "3.1.0" if self.version == "v2" else "2.10.5", "git_version": None}, {}
        if parts[:3] != ["dags", "payouts_dag", "dagRuns"]:
            return 404, {"title": "DAG not found", "status": 404}, {}
        if len(parts) == 3:
            started = [r for r in self.runs if r["start_date"] and r["start_date"] >= query["start_date_gte"]]
            return 200, self._page("dag_runs", sorted(started, key=lambda r: r["start_date"]), query), {}
        run_id = parts[3]
        if parts[4:] == ["taskInstances"]:
            return 200, self._page("task_instances", self.tasks.get(run_id, []), query), {}
        if parts[4:] == ["taskInstances", "report", "xcomEntries", "payoutwatch"]:
            if run_id not in self.xcoms:
                return 404, {"title": "XCom entry not found", "status": 404}, {}
            value = self.xcoms[run_id]
            if self.version == "v1" and query.get("stringify", "true") != "false":
                value = str(value)  # Airflow 2's default: the value's Python str()
            return 200, {"key": "payoutwatch", "task_id": "report", "map_index": -1, "value": value}, {}
        return 404, {"title": "Not found", "status": 404}, {}

    def _page(self, field_name: str, rows: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        limit = min(int(query.get("limit", 100 if self.version == "v1" else 50)), 100)
        offset = int(query.get("offset", 0))
        return {field_name: rows[offset : offset + limit], "total_entries": len(rows)}


@pytest.fixture(params=["v1", "v2"])
def airflow(request: pytest.FixtureRequest) -> Any:
    fake = FakeAirflow(request.param)
    server = JsonServer(fake.route)
    fake.url = server.url  # type: ignore[attr-defined]
    yield fake
    server.close()


def settings_for(fake: FakeAirflow, **extra: Any) -> Settings:
    source = {
        "type": "airflow",
        "base_url": fake.url,  # type: ignore[attr-defined]
        "dag_id": "payouts_dag",
        "api_version": fake.version,
        "username": "svc",
        "password": "af-pass-123",
        "xcom_task_id": "report",
        "lookback_days": 10_000,  # the first sync reaches back to March
        **extra,
    }
    return make_settings(sources={"airflow": source})


def stored(store: Engine) -> dict[str, Any]:
    with store.connect() as conn:
        return {r.run_id.split(":", 2)[2]: r for r in conn.execute(select(job_runs))}


def sync(store: Engine, settings: Settings, at: datetime) -> SyncResult:
    result = sync_source(store, settings, "airflow", now=lambda: at)
    assert result.ok, result.error
    return result


FIGURES = {"studios_scheduled": 120, "studios_processed": 120, "cad_processed_cents": 98_765_43}


def test_dag_runs_become_runs_with_retries_figures_and_cycles(store: Engine, airflow: FakeAirflow) -> None:
    airflow.run(
        "scheduled__2026-03-05T11:00:00+00:00",
        "success",
        "2026-03-05T11:00:40+00:00",
        "2026-03-05T11:19:00+00:00",
        tries={"pay": 1, "report": 1},
    )
    airflow.xcoms["scheduled__2026-03-05T11:00:00+00:00"] = dict(FIGURES)  # pushed as a dict
    airflow.run(
        "scheduled__2026-03-19T10:00:00+00:00",
        "failed",
        "2026-03-19T10:00:30+00:00",
        "2026-03-19T10:07:00+00:00",
        tries={"pay": 3, "report": 0},
    )
    airflow.xcoms["scheduled__2026-03-19T10:00:00+00:00"] = json.dumps({"studios_processed": 40})  # a JSON string
    airflow.run(
        "manual__2026-03-19T12:00:00+00:00", "running", "2026-03-19T12:00:05+00:00", run_type="manual", tries={"pay": 2}
    )
    airflow.run("manual__2026-03-19T13:00:00+00:00", "queued", None, run_type="manual")
    settings = settings_for(airflow)
    result = sync(store, settings, utc(2026, 3, 19, 12, 10))
    assert result.counts == {"job_runs": 3} and result.warnings == []
    runs = stored(store)
    first, failed = runs["scheduled__2026-03-05T11:00:00+00:00"], runs["scheduled__2026-03-19T10:00:00+00:00"]
    assert (first.exit_code, first.retry_count, first.cad_processed_cents, first.studios_scheduled) == (
        0,
        0,
        98_765_43,
        120,
    )
    assert (failed.exit_code, failed.retry_count, failed.studios_processed) == (1, 2, 40)
    with store.connect() as conn:
        health = compute("payout_health", conn, utc(2026, 3, 19, 12, 10), settings)
        [state] = source_states(conn)
    assert health["last_run"]["status"] == "running" and health["last_run"]["retry_count"] == 1
    cycle = next(c for c in health["cycles"] if c["scheduled_for"] == "2026-03-19T10:00:00Z")
    assert cycle["retry_count"] == 3  # 2 from the failed run's retries + 1 from the running manual rerun
    assert state.cursor["start_date_gte"] == "2026-03-19T12:00:05+00:00"  # the running run is re-read


def test_a_late_run_serves_the_cycle_airflow_says_and_a_manual_one_the_nearest(
    store: Engine, airflow: FakeAirflow
) -> None:
    # the 2026-03-05 cycle's run started two weeks late (a paused DAG caught up), a manual run on 2026-03-18
    airflow.run(
        "scheduled__2026-03-05T11:00:00+00:00",
        "success",
        "2026-03-18T09:00:00+00:00",
        "2026-03-18T09:30:00+00:00",
        interval_end="2026-03-05T11:00:00+00:00",
    )
    airflow.run(
        "manual__2026-03-18T15:00:00+00:00",
        "success",
        "2026-03-18T15:00:00+00:00",
        "2026-03-18T15:10:00+00:00",
        run_type="manual",
        interval_end="2026-03-05T11:00:00+00:00",  # what Airflow infers for a manual run: not used
    )
    sync(store, settings_for(airflow), utc(2026, 3, 19, 12))
    runs = stored(store)
    assert runs["scheduled__2026-03-05T11:00:00+00:00"].cycle_at == utc(2026, 3, 5, 11)
    assert runs["manual__2026-03-18T15:00:00+00:00"].cycle_at == utc(2026, 3, 19, 10)  # the nearest cycle
    with store.begin() as conn:
        conn.execute(job_runs.delete())
        conn.execute(source_state.delete())
    sync(store, settings_for(airflow, scheduled_for_from="nearest"), utc(2026, 3, 19, 12))
    assert stored(store)["scheduled__2026-03-05T11:00:00+00:00"].cycle_at == utc(2026, 3, 19, 10)


def test_bad_figures_are_a_problem_of_that_run_only(store: Engine, airflow: FakeAirflow) -> None:
    airflow.run("scheduled__a", "success", "2026-03-05T11:00:40+00:00", "2026-03-05T11:19:00+00:00")
    airflow.xcoms["scheduled__a"] = "done, 120 studios"  # not JSON, not a Python literal
    airflow.run("scheduled__b", "success", "2026-03-05T12:00:00+00:00", "2026-03-05T12:09:00+00:00")
    airflow.xcoms["scheduled__b"] = {"studios_processed": -3}  # out of bounds
    airflow.run("scheduled__c", "success", "2026-03-05T13:00:00+00:00", "2026-03-05T13:09:00+00:00")
    airflow.xcoms["scheduled__c"] = {"studios_processed": 7}
    settings = settings_for(airflow)
    result = sync(store, settings, utc(2026, 3, 6))
    assert result.counts == {"job_runs": 3}
    assert [w.split(":")[0] for w in result.warnings] == ["run scheduled__a", "run scheduled__b"]
    assert "not a JSON object or a dict" in result.warnings[0] and "studios_processed" in result.warnings[1]
    runs = stored(store)
    assert (runs["scheduled__a"].studios_processed, runs["scheduled__a"].exit_code) == (None, 0)
    assert runs["scheduled__b"].studios_processed is None and runs["scheduled__c"].studios_processed == 7
    [listed] = source_listing(store, settings)
    assert listed["state"] == "ok" and listed["warnings"] == result.warnings


def test_a_python_repr_is_read_as_a_last_resort() -> None:
    from payoutwatch.sources.airflow import native

    assert native({"a": 1}) == {"a": 1}
    assert native('{"a": 1}') == {"a": 1}
    assert native("{'studios_processed': 100, 'cad_processed_cents': 5}") == {
        "studios_processed": 100,
        "cad_processed_cents": 5,
    }
    assert native("__import__('os').system('true')") == "__import__('os').system('true')"  # never evaluated


def test_retries_on_later_pages_of_mapped_task_instances_count(store: Engine, airflow: FakeAirflow) -> None:
    airflow.run("scheduled__m", "success", "2026-03-05T11:00:40+00:00", "2026-03-05T11:40:00+00:00")
    others = [{"task_id": f"step_{i}", "map_index": -1, "try_number": 1, "state": "success"} for i in range(50)]
    mapped = [{"task_id": "pay_studio", "map_index": i, "try_number": 1, "state": "success"} for i in range(61)]
    for ti in mapped[-5:]:
        ti["try_number"] = 2  # five retried instances, all beyond the first page (of 50 or 100)
    mapped[-1]["try_number"] = 3
    airflow.tasks["scheduled__m"] = others + mapped  # 111 instances
    sync(store, settings_for(airflow), utc(2026, 3, 6))
    assert stored(store)["scheduled__m"].retry_count == 6  # four retried once, one twice


def test_a_cleared_and_rerun_run_keeps_its_failed_attempt(store: Engine, airflow: FakeAirflow) -> None:
    run_id = "scheduled__2026-03-05T11:00:00+00:00"
    row = airflow.run(
        run_id, "failed", "2026-03-05T11:00:40+00:00", "2026-03-05T11:07:00+00:00", tries={"pay": 2, "report": 0}
    )
    settings = settings_for(airflow)
    sync(store, settings, utc(2026, 3, 5, 11, 10))
    # cleared at 11:30: Airflow keeps the run id, resets its start, and every task's try number goes on
    row.update(state="success", start_date="2026-03-05T11:31:00+00:00", end_date="2026-03-05T11:45:00+00:00")
    airflow.tasks[run_id] = [
        {"task_id": "pay", "map_index": -1, "try_number": 3, "state": "success"},
        {"task_id": "report", "map_index": -1, "try_number": 1, "state": "success"},
    ]
    airflow.xcoms[run_id] = dict(FIGURES)
    result = sync(store, settings, utc(2026, 3, 5, 11, 50))
    assert result.counts == {"job_runs": 2}
    runs = stored(store)
    earlier, rerun = runs[f"{run_id}#try1"], runs[run_id]
    assert (earlier.exit_code, earlier.retry_count, earlier.finished_at) == (1, 1, utc(2026, 3, 5, 11, 7))
    assert (rerun.exit_code, rerun.retry_count, rerun.studios_processed) == (0, 0, 120)  # the re-run retried nothing
    assert earlier.cycle_at == rerun.cycle_at == utc(2026, 3, 5, 11)
    with store.connect() as conn:
        before = compute("payout_health", conn, utc(2026, 3, 5, 11, 20), settings)["last_run"]
        after = compute("payout_health", conn, utc(2026, 3, 5, 11, 50), settings)["last_run"]
    assert (before["status"], after["status"]) == ("failed", "succeeded")
    # a later sync reads the re-run again without inventing another attempt
    assert sync(store, settings, utc(2026, 3, 5, 12)).counts == {"job_runs": 1}
    assert set(stored(store)) == {run_id, f"{run_id}#try1"}


def test_more_than_a_hundred_runs_are_all_read(store: Engine, airflow: FakeAirflow) -> None:
    for i in range(130):
        start = f"2026-03-{1 + i // 24:02d}T{i % 24:02d}:00:00+00:00"
        airflow.run(f"manual__{i:03d}", "success", start, start.replace(":00:00+", ":05:00+"), run_type="manual")
    result = sync(store, settings_for(airflow), utc(2026, 3, 10))
    assert result.counts == {"job_runs": 130} and len(stored(store)) == 130


def test_airflow_3_configured_as_v1_is_named(store: Engine) -> None:
    fake = FakeAirflow("v2")
    server = JsonServer(fake.route)
    try:
        fake.url = server.url  # type: ignore[attr-defined]
        waits: list[float] = []
        result = sync_source(
            store, settings_for(fake, api_version="v1"), "airflow", now=lambda: utc(2026, 3, 20), sleep=waits.append
        )
        assert "this Airflow speaks /api/v2" in str(result.error) and waits == []
    finally:
        server.close()


def test_wrong_credentials_fail_at_once_without_the_password(store: Engine) -> None:
    fake = FakeAirflow("v2")
    server = JsonServer(fake.route)
    try:
        fake.url = server.url  # type: ignore[attr-defined]
        settings = settings_for(fake, password="not-the-password")
        waits: list[float] = []
        result = sync_source(store, settings, "airflow", now=lambda: utc(2026, 3, 20), sleep=waits.append)
        assert "refused the username or password" in str(result.error) and waits == []
        assert "not-the-password" not in str(result.error)
    finally:
        server.close()
