"""``airflow`` against a local server implementing Airflow 2's /api/v1 (basic auth) and Airflow 3's
/api/v2 (JWT from POST /auth/token): DAG runs, task instances, XCom entries, offset pagination."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import Engine

from payoutwatch.metrics import compute
from payoutwatch.usecases.syncing import source_states, sync_source
from tests.conftest import make_settings, utc
from tests.integration.jsonserver import JsonServer

pytestmark = pytest.mark.integration
RUNS = [
    {
        "dag_run_id": "scheduled__2026-03-05T11:00:00+00:00",
        "state": "success",
        "start_date": "2026-03-05T11:00:40+00:00",
        "end_date": "2026-03-05T11:19:00+00:00",
    },
    {
        "dag_run_id": "scheduled__2026-03-19T10:00:00+00:00",
        "state": "failed",
        "start_date": "2026-03-19T10:00:30+00:00",
        "end_date": "2026-03-19T10:07:00+00:00",
    },
    {
        "dag_run_id": "manual__2026-03-19T12:00:00+00:00",
        "state": "running",
        "start_date": "2026-03-19T12:00:05+00:00",
        "end_date": None,
    },
    {"dag_run_id": "manual__2026-03-19T13:00:00+00:00", "state": "queued", "start_date": None, "end_date": None},
]
TASKS = {
    "scheduled__2026-03-05T11:00:00+00:00": [
        {"task_id": "pay", "try_number": 1},
        {"task_id": "report", "try_number": 1},
    ],
    "scheduled__2026-03-19T10:00:00+00:00": [{"task_id": "pay", "try_number": 3}],
    "manual__2026-03-19T12:00:00+00:00": [{"task_id": "pay", "try_number": 2}],
}
FIGURES = {
    "scheduled__2026-03-05T11:00:00+00:00": {
        "studios_scheduled": 120,
        "studios_processed": 120,
        "cad_processed_cents": 98_765_43,
    }
}


def airflow(version: str) -> Any:
    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        url = urlparse(path)
        if version == "v2" and method == "POST" and url.path == "/auth/token":
            creds = json.loads(body)
            ok = creds == {"username": "svc", "password": "af-pass-123"}
            return (201, {"access_token": "jwt.token.value"}, {}) if ok else (401, {"detail": "bad"}, {})
        auth = headers.get("Authorization", "")
        expected = (
            "Bearer jwt.token.value" if version == "v2" else "Basic " + base64.b64encode(b"svc:af-pass-123").decode()
        )
        if auth != expected:
            return 401, {"title": "Unauthorized"}, {}
        prefix = f"/api/{version}/dags/payouts_dag/dagRuns"
        if url.path == prefix:
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            rows = [r for r in RUNS if not r["start_date"] or r["start_date"] >= q["start_date_gte"]]
            offset = int(q.get("offset", 0))
            return 200, {"dag_runs": rows[offset : offset + 2], "total_entries": len(rows)}, {}
        rest = url.path[len(prefix) + 1 :] if url.path.startswith(prefix + "/") else ""
        run_id = rest.split("/")[0].replace("%3A", ":").replace("%2B", "+")
        if rest.endswith("/taskInstances"):
            return 200, {"task_instances": TASKS.get(run_id, []), "total_entries": 1}, {}
        if rest.endswith("/taskInstances/report/xcomEntries/payoutwatch"):
            figures = FIGURES.get(run_id)
            return (200, {"key": "payoutwatch", "value": json.dumps(figures)}, {}) if figures else (404, {}, {})
        return 404, {"detail": f"no route {url.path}"}, {}

    return route


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_dag_runs_become_runs_with_retries_and_figures(store: Engine, version: str) -> None:
    server = JsonServer(airflow(version))
    try:
        settings = make_settings(
            sources={
                "airflow": {
                    "type": "airflow",
                    "base_url": server.url,
                    "dag_id": "payouts_dag",
                    "api_version": version,
                    "username": "svc",
                    "password": "af-pass-123",
                    "xcom_task_id": "report",
                    "lookback_days": 10_000,  # the first sync reaches back to March
                }
            }
        )
        result = sync_source(store, settings, "airflow", now=lambda: utc(2026, 3, 19, 12, 10))
        assert result.ok and result.counts == {"job_runs": 3}, result.error
        with store.connect() as conn:
            health = compute("payout_health", conn, utc(2026, 3, 19, 12, 10), settings)
            [state] = source_states(conn)
        assert health["last_run"]["status"] == "running" and health["last_run"]["retry_count"] == 1
        first = next(c for c in health["cycles"] if c["scheduled_for"] == "2026-03-05T11:00:00Z")
        assert first["cad_processed_cents"] == 98_765_43 and first["retry_count"] == 0
        failed = next(c for c in health["cycles"] if c["scheduled_for"] == "2026-03-19T10:00:00Z")
        assert failed["retry_count"] == 3  # 2 from the failed run's retries + 1 from the running rerun
        assert state.cursor == {"start_date_gte": "2026-03-19T12:00:05+00:00"}  # the running run is re-read
    finally:
        server.close()


def test_wrong_credentials_fail_at_once_without_the_password(store: Engine) -> None:
    server = JsonServer(airflow("v2"))
    try:
        settings = make_settings(
            sources={
                "airflow": {
                    "type": "airflow",
                    "base_url": server.url,
                    "dag_id": "payouts_dag",
                    "api_version": "v2",
                    "username": "svc",
                    "password": "not-the-password",
                }
            }
        )
        waits: list[float] = []
        result = sync_source(store, settings, "airflow", now=lambda: utc(2026, 3, 20), sleep=waits.append)
        assert "refused the username or password" in str(result.error) and waits == []
        assert "not-the-password" not in str(result.error)
    finally:
        server.close()
