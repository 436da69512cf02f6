"""``airflow`` against a real Apache Airflow 2.10.5 (``/api/v1``) and 3.3.2 (``/api/v2``) on SQLite, one after
the other (tests/integration/realairflow.py starts them; .ci/airflow.sh installs them). Every scenario's runs
are triggered as soon as Airflow is up, so they run while the tests before them check theirs. Each test syncs
one DAG (tests/integration/airflow_dags/) and compares every stored record with what Airflow's own REST API
says about that DAG's runs, task instances and XCom entries.

Without the virtual environments the tests are skipped (with the command that builds them); under CI they fail.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from payoutwatch.config import Settings
from payoutwatch.schedule import schedule_of
from payoutwatch.store.tables import job_runs, source_state
from payoutwatch.usecases.syncing import sync_source
from tests.conftest import IN_CI, make_settings
from tests.integration.realairflow import (
    CACHE,
    PASSWORD,
    USER,
    VERSIONS,
    RealAirflow,
    finished,
    running_airflow,
    venv_of,
)

pytestmark = pytest.mark.integration

FIGURES = {"studios_scheduled": 120, "studios_processed": 118, "cad_processed_cents": 9_876_543}  # the DAG's
AS_JSON = {"studios_processed": 119, "cad_processed_cents": 1_234_500}
STUDIOS, RETRIED = 104, 4  # > 100 task instances: beyond one page of Airflow's largest page (and of 2's default)
MANY = 105
DAGS = ["pw_scheduled", "pw_figures", "pw_failure", "pw_running", "pw_rerun", "pw_mapped", "pw_many"]
REPORTING = {"pw_scheduled", "pw_figures", "pw_failure", "pw_running", "pw_rerun"}  # DAGs with a report task
CYCLE_FIELD = {"v1": "data_interval_end", "v2": "run_after"}  # what the connector reads by default


@pytest.fixture(scope="module", params=["v1", "v2"], ids=[f"airflow-{v}" for v in VERSIONS.values()])
def airflow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealAirflow]:
    version = VERSIONS[request.param]
    if venv_of(version) is None:
        reason = f"Apache Airflow {version} is not installed in {CACHE / version} (build it: make airflow)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    began = time.monotonic()
    with running_airflow(request.param, tmp_path_factory.mktemp(f"airflow-{version}")) as airflow:
        if reporter is not None:  # CI's log says how long each Airflow took (the suite asserts no time)
            reporter.write_line(f"\nAirflow {version}: API answering {airflow.timings['start']:.0f} s after start")
        airflow.wait_parsed(DAGS)
        for index in range(MANY):  # first: these runs run no task, so they are done before the others start
            airflow.trigger("pw_many", f"run-{index:03d}")
        airflow.trigger("pw_figures", "as-dict")
        airflow.trigger("pw_figures", "as-json", {"figures_as": "json", "figures": AS_JSON})
        airflow.trigger("pw_failure", "fails-after-a-retry", {"fail_until_try": 99})
        airflow.trigger("pw_failure", "succeeds-on-its-retry", {"fail_until_try": 1})
        airflow.trigger("pw_running", "held", {"hold": True})
        airflow.trigger("pw_rerun", "fails-then-cleared", {"fail_until_try": 2})
        airflow.trigger("pw_mapped", "studios", {"studios": STUDIOS, "retried": RETRIED})
        yield airflow
    if reporter is not None:
        reporter.write_line(f"\nAirflow {version}: {time.monotonic() - began:.0f} s from start to stopped")


def settings_for(airflow: RealAirflow, dag_id: str) -> Settings:
    start = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    source = {
        "type": "airflow",
        "base_url": airflow.url,
        "dag_id": dag_id,
        "api_version": airflow.api_version,
        "username": USER,
        "password": PASSWORD,
        "xcom_task_id": "report" if dag_id in REPORTING else None,
        "lookback_days": 7,
    }
    return make_settings(
        timezone="UTC",
        schedule={"rrule": "FREQ=DAILY;BYHOUR=0;BYMINUTE=0", "start": start},
        sources={"airflow": source},
    )


def sync(store: Engine, settings: Settings) -> list[str]:
    result = sync_source(store, settings, "airflow", now=lambda: datetime.now(UTC))
    assert result.ok, result.error
    return result.warnings


def stored(store: Engine) -> dict[str, dict[str, Any]]:
    with store.connect() as conn:
        return {r.run_id: dict(r._mapping) for r in conn.execute(select(job_runs))}


def instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def retries(task_instances: list[dict[str, Any]], before: dict[str, int] | None = None) -> int:
    """Σ (highest try number − 1) per task instance, counted from the try numbers ``before`` a clear."""
    highest: dict[str, int] = {}
    for ti in task_instances:
        key = f"{ti['task_id']}[{ti['map_index']}]"
        highest[key] = max(highest.get(key, 0), int(ti["try_number"] or 0))
    return sum(max(n - (before or {}).get(key, 0) - 1, 0) for key, n in highest.items() if n > 0)


def try_numbers(task_instances: list[dict[str, Any]]) -> dict[str, int]:
    return {f"{ti['task_id']}[{ti['map_index']}]": int(ti["try_number"] or 0) for ti in task_instances}


def pushed_figures(airflow: RealAirflow, dag_id: str, run_id: str) -> dict[str, Any]:
    """The figures the run's ``report`` task pushed, as Airflow's XCom endpoint gives them (empty: none)."""
    if dag_id not in REPORTING:
        return {}
    value = airflow.xcom(dag_id, run_id, "report", "payoutwatch")
    figures = json.loads(value) if isinstance(value, str) else value or {}
    assert isinstance(figures, dict), value
    return figures


def expected_record(
    airflow: RealAirflow,
    dag_id: str,
    run: dict[str, Any],
    settings: Settings,
    task_instances: list[dict[str, Any]],
    before: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The record payoutwatch should hold for a DAG run, from Airflow's API alone."""
    started = instant(run["start_date"])
    assert started is not None
    done = run["state"] in ("success", "failed")
    scheduled_for = instant(run[CYCLE_FIELD[airflow.api_version]]) if run["run_type"] == "scheduled" else None
    figures = pushed_figures(airflow, dag_id, run["dag_run_id"])
    return {
        "run_id": f"airflow:{dag_id}:{run['dag_run_id']}",
        "job": settings.schedule.job,
        "source": "airflow",
        "started_at": started,
        "finished_at": instant(run["end_date"]) if done else None,
        "exit_code": {"success": 0, "failed": 1}[run["state"]] if done else None,
        "retry_count": retries(task_instances, before),
        "scheduled_for": scheduled_for,
        "cycle_at": scheduled_for or schedule_of(settings).nearest(started),
        "studios_scheduled": figures.get("studios_scheduled"),
        "studios_processed": figures.get("studios_processed"),
        "cad_processed_cents": figures.get("cad_processed_cents"),
    }


def task_instances_by_run(airflow: RealAirflow, dag_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every task instance of the DAG (all runs at once: ``~``), by run id."""
    by_run: dict[str, list[dict[str, Any]]] = {}
    for ti in airflow.all(f"/dags/{dag_id}/dagRuns/~/taskInstances", "task_instances"):
        by_run.setdefault(ti["dag_run_id"], []).append(ti)
    return by_run


def assert_matches_airflow(
    store: Engine, airflow: RealAirflow, dag_id: str, settings: Settings, runs: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Every stored record is the one Airflow's API describes; returns them by Airflow run id."""
    records = stored(store)
    tis = task_instances_by_run(airflow, dag_id)
    expected = {
        f"airflow:{dag_id}:{run['dag_run_id']}": expected_record(
            airflow, dag_id, run, settings, tis.get(run["dag_run_id"], [])
        )
        for run in runs
        if run["start_date"] and run["state"] != "queued"
    }
    assert set(records) == set(expected)
    for run_id, want in expected.items():
        have = {field: records[run_id][field] for field in want}
        assert have == want, run_id
    return {run_id.split(":", 2)[2]: record for run_id, record in records.items()}


def test_figures_pushed_as_a_dict_and_as_a_json_string(sqlite_store: Engine, airflow: RealAirflow) -> None:
    runs = airflow.wait_runs("pw_figures", lambda runs: finished(runs, 2))
    settings = settings_for(airflow, "pw_figures")
    assert sync(sqlite_store, settings) == []
    records = assert_matches_airflow(sqlite_store, airflow, "pw_figures", settings, runs)
    assert isinstance(airflow.xcom("pw_figures", "as-json", "report", "payoutwatch"), str)
    assert {k: records["as-dict"][k] for k in FIGURES} == FIGURES
    assert {k: records["as-json"][k] for k in FIGURES} == {**FIGURES, **AS_JSON}
    assert records["as-dict"]["exit_code"] == records["as-json"]["exit_code"] == 0


def test_a_failure_after_a_retry_and_a_success_on_the_retry(sqlite_store: Engine, airflow: RealAirflow) -> None:
    runs = airflow.wait_runs("pw_failure", lambda runs: finished(runs, 2))
    settings = settings_for(airflow, "pw_failure")
    sync(sqlite_store, settings)
    records = assert_matches_airflow(sqlite_store, airflow, "pw_failure", settings, runs)
    failed, retried = records["fails-after-a-retry"], records["succeeds-on-its-retry"]
    assert (failed["exit_code"], failed["retry_count"], failed["studios_processed"]) == (1, 1, None)
    assert (retried["exit_code"], retried["retry_count"], retried["studios_processed"]) == (0, 1, 118)


def test_a_run_still_running_at_sync_is_read_again_until_it_ends(sqlite_store: Engine, airflow: RealAirflow) -> None:
    def pay_running() -> bool:
        tis = airflow.task_instances("pw_running", "held")
        return any(ti["task_id"] == "pay" and ti["state"] == "running" for ti in tis)

    airflow.wait(pay_running, 420, "the held run's pay task to run")
    settings = settings_for(airflow, "pw_running")
    sync(sqlite_store, settings)
    runs = airflow.dag_runs("pw_running")
    [held] = assert_matches_airflow(sqlite_store, airflow, "pw_running", settings, runs).values()
    assert (held["finished_at"], held["exit_code"], held["studios_processed"]) == (None, None, None)
    with sqlite_store.connect() as conn:
        cursor = conn.execute(select(source_state.c.cursor)).scalar_one()
    assert instant(cursor["start_date_gte"]) == instant(runs[0]["start_date"])  # read again next time
    airflow.release("held")
    runs = airflow.wait_runs("pw_running", finished)
    sync(sqlite_store, settings)
    [ended] = assert_matches_airflow(sqlite_store, airflow, "pw_running", settings, runs).values()
    assert (ended["exit_code"], ended["started_at"], ended["studios_processed"]) == (0, held["started_at"], 118)


def test_late_timetable_runs_serve_the_cycle_airflow_names(sqlite_store: Engine, airflow: RealAirflow) -> None:
    field = CYCLE_FIELD[airflow.api_version]
    today = airflow.dag_start + timedelta(days=2)

    def caught_up(runs: list[dict[str, Any]]) -> bool:
        return finished(runs, 2) and any(instant(r[field]) == today for r in runs)

    runs = airflow.wait_runs("pw_scheduled", caught_up)
    settings = settings_for(airflow, "pw_scheduled")
    sync(sqlite_store, settings)
    records = assert_matches_airflow(sqlite_store, airflow, "pw_scheduled", settings, runs)
    cycles = sorted(r["cycle_at"] for r in records.values())
    assert len(set(cycles)) == len(runs) >= 2  # one cycle each, not all the cycle nearest their (late) start
    assert cycles[0] <= today - timedelta(days=1)
    succeeded = [r for r in records.values() if r["exit_code"] == 0]
    assert succeeded and all(r["studios_processed"] == 118 for r in succeeded)  # their report pushed a dict


def test_a_cleared_and_rerun_run_keeps_its_failed_attempt(sqlite_store: Engine, airflow: RealAirflow) -> None:
    [first] = airflow.wait_runs("pw_rerun", finished)
    assert first["state"] == "failed"
    settings = settings_for(airflow, "pw_rerun")
    sync(sqlite_store, settings)
    [failed] = assert_matches_airflow(sqlite_store, airflow, "pw_rerun", settings, [first]).values()
    before = try_numbers(airflow.task_instances("pw_rerun", first["dag_run_id"]))
    airflow.clear("pw_rerun", first["dag_run_id"])
    [rerun] = airflow.wait_runs(
        "pw_rerun", lambda runs: finished(runs) and runs[0]["start_date"] != first["start_date"]
    )
    assert rerun["state"] == "success" and rerun["dag_run_id"] == first["dag_run_id"]
    sync(sqlite_store, settings)
    records = stored(sqlite_store)
    run_id = f"airflow:pw_rerun:{first['dag_run_id']}"
    assert set(records) == {run_id, f"{run_id}#try1"}
    earlier = records[f"{run_id}#try1"]
    assert {k: earlier[k] for k in failed if k not in ("run_id", "ingested_at")} == {
        k: failed[k] for k in failed if k not in ("run_id", "ingested_at")
    }
    tis = airflow.task_instances("pw_rerun", rerun["dag_run_id"])
    want = expected_record(airflow, "pw_rerun", rerun, settings, tis, before)
    assert {k: records[run_id][k] for k in want} == want
    assert (earlier["exit_code"], earlier["retry_count"], want["exit_code"], want["retry_count"]) == (1, 1, 0, 0)


def test_mapped_task_instances_beyond_one_page_with_retries(sqlite_store: Engine, airflow: RealAirflow) -> None:
    runs = airflow.wait_runs("pw_mapped", finished, timeout=900)
    first_page = airflow.get("/dags/pw_mapped/dagRuns/studios/taskInstances")  # Airflow's default page
    tis = airflow.task_instances("pw_mapped", "studios")
    assert first_page["total_entries"] == len(tis) == STUDIOS + 1 > len(first_page["task_instances"])
    assert not any(ti["try_number"] > 1 for ti in first_page["task_instances"])  # all retries are further on
    settings = settings_for(airflow, "pw_mapped")
    sync(sqlite_store, settings)
    [record] = assert_matches_airflow(sqlite_store, airflow, "pw_mapped", settings, runs).values()
    assert (record["exit_code"], record["retry_count"]) == (0, RETRIED + 1)


def test_more_than_a_hundred_runs_are_all_read(sqlite_store: Engine, airflow: RealAirflow) -> None:
    runs = airflow.wait_runs("pw_many", lambda runs: finished(runs, MANY))
    settings = settings_for(airflow, "pw_many")
    sync(sqlite_store, settings)
    records = assert_matches_airflow(sqlite_store, airflow, "pw_many", settings, runs)
    assert len(records) == MANY and {r["exit_code"] for r in records.values()} == {0}
