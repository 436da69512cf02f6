"""``prometheus`` against Debian's real Prometheus scraping a local exporter (prometheus_client in a thread)
that publishes the payout job's gauges for simulated runs (success; failure then a healthy re-run; slow),
and reserve balances. ``payoutwatch sync`` (twice: once mid-run) turns them into runs that fire and
resolve ``automation_failure`` exactly as the same runs ingested directly do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from payoutwatch.cli import app
from payoutwatch.metrics import compute
from payoutwatch.store.engine import open_store
from payoutwatch.store.tables import job_runs, reserve_snapshots
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.syncing import sync_source
from tests.conftest import make_settings, utc
from tests.helpers import load
from tests.integration.jsonserver import JsonServer
from tests.web.test_prometheus import free_port, instant_value, running_prometheus

pytestmark = pytest.mark.integration
runner = CliRunner()
STEP_SECONDS = 0.5
C1, C2, C3 = utc(2026, 3, 5, 11), utc(2026, 3, 19, 10), utc(2026, 4, 2, 10)  # cycles of make_settings' schedule
STARTED = "payout_job_last_start_timestamp_seconds"
SUCCEEDED = "payout_job_last_success_timestamp_seconds"
FAILED = "payout_job_last_failure_timestamp_seconds"


def minutes(cycle: datetime, n: int) -> datetime:
    return cycle + timedelta(minutes=n)


# What the job's exporter publishes, step by step: (gauge, instant, studios processed of 3)
TIMELINE: list[tuple[str, datetime, int | None]] = [
    (STARTED, minutes(C1, 1), None),
    (SUCCEEDED, minutes(C1, 12), 3),
    (STARTED, minutes(C2, 1), None),
    (FAILED, minutes(C2, 5), 1),  # the first sync happens here
    (STARTED, minutes(C2, 20), None),
    (SUCCEEDED, minutes(C2, 30), 3),
    (STARTED, minutes(C3, 1), None),
    (SUCCEEDED, minutes(C3, 50), 3),  # slow: 49 minutes
]
FIRST_SYNC_AFTER = 4

# The same runs, as they would be ingested directly
DIRECT: list[dict[str, Any]] = [
    {"run_id": "r1", "started_at": minutes(C1, 1), "finished_at": minutes(C1, 12), "exit_code": 0},
    {"run_id": "r2", "started_at": minutes(C2, 1), "finished_at": minutes(C2, 5), "exit_code": 1},
    {"run_id": "r3", "started_at": minutes(C2, 20), "finished_at": minutes(C2, 30), "exit_code": 0},
    {"run_id": "r4", "started_at": minutes(C3, 1), "finished_at": minutes(C3, 50), "exit_code": 0},
]
for _run, _processed in zip(DIRECT, (3, 1, 3, 3), strict=True):
    _run.update(studios_scheduled=3, studios_processed=_processed)

EVALUATED_AT = [
    minutes(C1, 20),
    minutes(C2, 10),  # the failed run: fires
    minutes(C2, 40),  # the healthy re-run: resolves
    minutes(C3, 20),  # running, not yet too long
    minutes(C3, 40),  # running too long: fires
    minutes(C3, 70),  # finished slow: stays firing
]


@contextmanager
def exporter() -> Iterator[tuple[str, dict[str, Gauge]]]:
    registry = CollectorRegistry()
    gauges = {
        name: Gauge(name, name, ["dag"], registry=registry)
        for name in (STARTED, SUCCEEDED, FAILED, "payout_job_studios_processed", "payout_job_studios_scheduled")
    }
    gauges["balance"] = Gauge("studio_reserve_balance_dollars", "balance", ["studio"], registry=registry)
    gauges["threshold"] = Gauge("studio_reserve_threshold_dollars", "threshold", ["studio"], registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{port}", gauges
    finally:
        server.shutdown()
        thread.join(10)


def publish(base_url: str, gauges: dict[str, Gauge], gauge: str, instant: datetime, processed: int | None) -> None:
    """Set one gauge and wait until Prometheus has scraped it, then one range step more."""
    if processed is not None:
        gauges["payout_job_studios_processed"].labels("payouts").set(processed)
        gauges["payout_job_studios_scheduled"].labels("payouts").set(3)
    gauges[gauge].labels("payouts").set(instant.timestamp())
    deadline = time.monotonic() + 30
    while instant_value(base_url, f'{gauge}{{dag="payouts"}} == {instant.timestamp()}') is None:
        assert time.monotonic() < deadline, f"Prometheus never scraped {gauge}"
        time.sleep(0.1)
    time.sleep(2 * STEP_SECONDS)


def source_config(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "prometheus",
        "base_url": base_url,
        "step_seconds": STEP_SECONDS,
        "lookback_days": 0.01,
        "runs": [
            {
                "started": f'{STARTED}{{dag="payouts"}}',
                "succeeded": f'{SUCCEEDED}{{dag="payouts"}}',
                "failed": f'{FAILED}{{dag="payouts"}}',
                "figures": {
                    "studios_processed": 'payout_job_studios_processed{dag="payouts"}',
                    "studios_scheduled": 'payout_job_studios_scheduled{dag="payouts"}',
                },
            }
        ],
        "reserves": {
            "balance": "studio_reserve_balance_dollars",
            "threshold": "studio_reserve_threshold_dollars",
            "account_label": "studio",
            "scale": 100,
            "step_minutes": 0.05,
        },
        **extra,
    }


def transitions(store: Engine) -> list[tuple[str, str, str | None]]:
    settings = make_settings()
    seen = []
    for at in EVALUATED_AT:
        for t in evaluate(store, settings, at=at, now=at):
            if t.rule == "automation_failure":
                seen.append((t.key, str(t.action), str(t.event) if t.event else None))
    return seen


def test_prometheus_runs_fire_and_resolve_like_the_same_runs_ingested(tmp_path: Path) -> None:
    config_path = tmp_path / "payoutwatch.yaml"
    with (
        exporter() as (target, gauges),
        running_prometheus(tmp_path, {"static_configs": [{"targets": [target]}]}, "250ms") as base_url,
    ):
        gauges["balance"].labels("s1").set(1234.56)
        gauges["threshold"].labels("s1").set(1000)
        config = {
            "store": {"url": f"sqlite:///{tmp_path / 'synced.db'}"},
            "timezone": "America/Toronto",
            "schedule": {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2026-03-05"},
            "sources": {"prom": source_config(base_url)},
        }
        config_path.write_text(yaml.safe_dump(config))
        for index, (gauge, instant, processed) in enumerate(TIMELINE, start=1):
            publish(base_url, gauges, gauge, instant, processed)
            if index == FIRST_SYNC_AFTER:
                first = runner.invoke(app, ["--config", str(config_path), "sync", "prom"])
                assert first.exit_code == 0, first.output
        second = runner.invoke(app, ["--config", str(config_path), "sync", "prom"])
        assert second.exit_code == 0, second.output

    synced = open_store(config["store"]["url"])
    with synced.connect() as conn:
        runs = conn.execute(select(job_runs).order_by(job_runs.c.started_at)).all()
        snapshots = conn.execute(select(reserve_snapshots)).all()
    assert [(r.exit_code, r.studios_processed, r.studios_scheduled, r.source) for r in runs] == [
        (0, 3, 3, "prom"),
        (1, 1, 3, "prom"),
        (0, 3, 3, "prom"),
        (0, 3, 3, "prom"),
    ]
    assert [r.finished_at.replace(tzinfo=UTC) for r in runs] == [d["finished_at"] for d in DIRECT]
    assert snapshots and {(s.account_id, s.balance_cents, s.threshold_cents) for s in snapshots} == {
        ("s1", 123456, 100000)
    }

    with synced.connect() as conn:  # Payout Health end to end
        health = compute("payout_health", conn, minutes(C3, 70), make_settings())
    assert (health["last_run"]["status"], health["last_run"]["duration_s"], health["last_run"]["processed_ratio"]) == (
        "succeeded",
        49 * 60,
        1.0,
    )
    assert [(c["scheduled_for"], c["runs"]) for c in health["cycles"]][:2] == [
        ("2026-04-02T10:00:00Z", 1),
        ("2026-03-19T10:00:00Z", 2),
    ]

    direct = open_store(f"sqlite:///{tmp_path / 'direct.db'}")
    load(direct, make_settings(), "job_runs", DIRECT, datetime.now(UTC))
    expected = transitions(direct)
    assert [(key, event) for key, _, event in expected] == [
        ("automation_failure:payouts:2026-03-19", "firing"),
        ("automation_failure:payouts:2026-03-19", "resolved"),
        ("automation_failure:payouts:2026-04-02", "firing"),
    ]
    assert transitions(synced) == expected


def test_queries_are_sent_with_bearer_auth_and_a_refused_query_fails_the_sync(store: Engine) -> None:
    seen: list[dict[str, str]] = []

    def prometheus(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        seen.append(headers)
        if headers.get("Authorization") != "Bearer s3cret-token":
            return 401, {"status": "error", "error": "unauthorized"}, {}
        return 400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}, {}

    server = JsonServer(prometheus)
    try:
        good = make_settings(sources={"prom": source_config(server.url, bearer_token="s3cret-token")})
        result = sync_source(store, good, "prom", now=lambda: utc(2026, 3, 20))
        assert result.error is not None and "HTTP 400" in result.error, result.error
        basic = make_settings(sources={"prom": source_config(server.url, username="pw", password="pass-word")})
        assert "refused the credentials" in str(sync_source(store, basic, "prom", now=lambda: utc(2026, 3, 20)).error)
        wrong = make_settings(sources={"prom": source_config(server.url, bearer_token="wrong-token")})
        result = sync_source(store, wrong, "prom", now=lambda: utc(2026, 3, 20))
        assert result.error is not None and "refused the credentials" in result.error
        assert "wrong-token" not in result.error
    finally:
        server.close()
    assert seen[0]["Authorization"] == "Bearer s3cret-token"
    assert "Basic cHc6cGFzcy13b3Jk" in [h.get("Authorization") for h in seen]  # pw:pass-word


def test_a_first_sync_reads_its_lookback_page_by_page_and_resumes_from_the_cursor(store: Engine) -> None:
    windows: list[tuple[float, float]] = []

    def prometheus(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        windows.append((float(form["start"]), float(form["end"])))
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": []}}, {}

    server = JsonServer(prometheus)
    try:
        config = source_config(server.url, step_seconds=60, lookback_days=14)
        del config["reserves"]
        settings = make_settings(sources={"prom": config})
        now = utc(2026, 3, 20)
        assert sync_source(store, settings, "prom", now=lambda: now).ok
        ends = sorted({end for _, end in windows})
        assert len(ends) == 3 and ends[-1] == now.timestamp()  # 14 days in pages of 10,000 minutes
        windows.clear()
        later = now + timedelta(hours=1)
        assert sync_source(store, settings, "prom", now=lambda: later).ok
        assert {start for start, _ in windows} == {now.timestamp()}
    finally:
        server.close()
