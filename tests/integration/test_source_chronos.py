"""``chronos`` against a local server shaped like Chronos' scheduler API (redirecting to its leader)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from payoutwatch.metrics import compute
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.syncing import sync_source
from tests.conftest import make_settings, utc
from tests.integration.jsonserver import JsonServer

pytestmark = pytest.mark.integration
JOBS: list[dict[str, Any]] = [
    {"name": "other-job", "lastSuccess": "", "lastError": ""},
    {
        "name": "studio-payouts",
        "command": "bin/payouts",
        "schedule": "R/2026-03-05T11:00:00.000Z/P14D",
        "successCount": 41,
        "errorCount": 2,
        "errorsSinceLastSuccess": 1,
        "lastSuccess": "2026-03-05T11:14:00.000Z",
        "lastError": "2026-03-19T10:09:00.000Z",
    },
]


def chronos(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
    if path == "/v1/scheduler/jobs" and headers.get("Host", "").startswith("127.0.0.1"):
        return 307, None, {"Location": "/leader/v1/scheduler/jobs"}
    if path == "/leader/v1/scheduler/jobs":
        return 200, JOBS, {}
    return 404, {"error": "not found"}, {}


def test_last_success_and_last_error_become_runs(store: Engine) -> None:
    server = JsonServer(chronos)
    try:
        settings = make_settings(
            sources={"chronos": {"type": "chronos", "base_url": server.url, "job": "studio-payouts"}}
        )
        result = sync_source(store, settings, "chronos", now=lambda: utc(2026, 3, 20))
        assert result.ok and result.counts == {"job_runs": 2}, result.error
        with store.connect() as conn:
            last = compute("payout_health", conn, utc(2026, 3, 20), settings)["last_run"]
        assert (last["run_id"], last["status"], last["scheduled_for"]) == (
            "chronos:studio-payouts:2026-03-19T10:09:00+00:00",
            "failed",
            "2026-03-19T10:00:00Z",
        )
        [fired] = evaluate(store, settings, at=utc(2026, 3, 20), now=utc(2026, 3, 20))
        assert fired.key == "automation_failure:payouts:2026-03-19"
        missing = make_settings(sources={"chronos": {"type": "chronos", "base_url": server.url, "job": "nope"}})
        assert "no job named 'nope'" in str(sync_source(store, missing, "chronos", now=lambda: utc(2026, 3, 20)).error)
    finally:
        server.close()
