"""``sidekiq`` against a real Redis: entries written by a real Sidekiq (Debian's ruby-sidekiq, 6.x)
running a payout job that fails, plus hand-built entries in the Sidekiq 7 and 8 formats."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from payoutwatch.store.tables import job_runs
from payoutwatch.usecases.syncing import source_states, sync_source
from tests.conftest import make_settings

pytestmark = pytest.mark.integration
JOB = """
require "sidekiq"
class PayoutJob
  include Sidekiq::Worker
  sidekiq_options retry: 3
  def perform(cycle) = raise("bank API answered 503 for cycle #{cycle}")
end
class HopelessPayoutJob
  include Sidekiq::Worker
  sidekiq_options retry: 0
  def perform(cycle) = raise(ArgumentError, "studio account closed")
end
"""


def need(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is required in CI (.ci/run installs redis-server and ruby-sidekiq)")
        pytest.skip(f"{binary} is not installed")
    return found


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = need("redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


def run_real_sidekiq(redis_url: str, tmp_path: Path) -> None:
    sidekiq = need("sidekiq")
    (tmp_path / "job.rb").write_text(JOB)
    env = {**os.environ, "REDIS_URL": redis_url}
    subprocess.run(
        [
            "ruby",
            "-r",
            str(tmp_path / "job.rb"),
            "-e",
            'PayoutJob.perform_async("2026-03-05"); HopelessPayoutJob.perform_async("2026-03-19")',
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    worker = subprocess.Popen(
        [sidekiq, "-r", str(tmp_path / "job.rb"), "-c", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and (client.zcard("retry") < 1 or client.zcard("dead") < 1):
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(30)
    assert client.zcard("retry") == 1 and client.zcard("dead") == 1, "Sidekiq did not fail the jobs in time"


def test_real_sidekiq_failures_become_failed_runs(store: Engine, redis_url: str, tmp_path: Path) -> None:
    run_real_sidekiq(redis_url, tmp_path)
    for job_class, expected in (("PayoutJob", 0), ("HopelessPayoutJob", 0)):
        settings = make_settings(
            sources={job_class: {"type": "sidekiq", "redis_url": redis_url, "job_class": job_class}}
        )
        result = sync_source(store, settings, job_class, now=lambda: datetime.now(UTC))
        assert result.ok and result.counts == {"job_runs": 1}, result.error
        assert result.facts["sidekiq_failed"] >= 2 and result.facts["sidekiq_processes_alive"] == 0
        with store.connect() as conn:
            run = conn.execute(select(job_runs).where(job_runs.c.source == job_class)).first()
        assert run is not None and run.exit_code == 1 and run.retry_count == expected
        assert abs((run.started_at - datetime.now(UTC)).total_seconds()) < 120


def put(client: Any, key: str, job: dict[str, Any], score: float) -> None:
    client.zadd(key, {json.dumps(job): score})


def test_sidekiq_8_milliseconds_namespaces_activejob_and_a_successful_retry(store: Engine, redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    now = datetime.now(UTC)
    ms = int((now - timedelta(minutes=30)).timestamp() * 1000)
    job = {
        "class": "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
        "wrapped": "PayoutJob",
        "jid": "a" * 24,
        "queue": "payouts",
        "args": [],
        "created_at": ms,
        "enqueued_at": ms,
        "failed_at": ms + 60_000,
        "retried_at": ms + 600_000,
        "retry_count": 2,
        "error_message": "timeout",
        "error_class": "Net::ReadTimeout",
    }
    put(client, "pay:retry", job, ms / 1000 + 900)
    put(client, "pay:retry", {**job, "wrapped": "OtherJob", "jid": "b" * 24}, ms / 1000)
    client.sadd("pay:processes", "host:1:abc")
    client.hset("pay:host:1:abc", mapping={"beat": str(now.timestamp()), "busy": "0"})
    client.set("pay:stat:processed", 120)
    settings = make_settings(
        sources={"sk": {"type": "sidekiq", "redis_url": redis_url, "job_class": "PayoutJob", "namespace": "pay"}}
    )
    first = sync_source(store, settings, "sk", now=lambda: now)
    assert first.ok and first.counts == {"job_runs": 1}, first.error
    assert first.facts == {"sidekiq_processes_alive": 1, "sidekiq_processed": 120, "sidekiq_failed": 0}
    with store.connect() as conn:
        run = conn.execute(select(job_runs)).one()
        [state] = source_states(conn)
    assert run.started_at == datetime.fromtimestamp(ms / 1000, UTC)
    assert (run.exit_code, run.retry_count, run.finished_at) == (1, 2, datetime.fromtimestamp(ms / 1000 + 600, UTC))
    assert state.last_counts["facts"]["sidekiq_processes_alive"] == 1
    client.delete("pay:retry")  # the next retry succeeded: Sidekiq removed the job
    assert sync_source(store, settings, "sk", now=lambda: now).ok
    with store.connect() as conn:
        run = conn.execute(select(job_runs)).one()
    assert (run.exit_code, run.retry_count) == (0, 3)


def test_an_unreachable_redis_is_transient_and_its_password_is_scrubbed(store: Engine) -> None:
    settings = make_settings(
        sources={
            "sk": {
                "type": "sidekiq",
                "redis_url": "redis://:s3cret-redis@127.0.0.1:1/0",
                "job_class": "PayoutJob",
                "retries": 1,
                "timeout_seconds": 1,
            }
        }
    )
    waits: list[float] = []
    result = sync_source(store, settings, "sk", now=lambda: datetime.now(UTC), sleep=waits.append)
    assert "Redis unreachable" in str(result.error) and waits == [1.0] and "s3cret" not in str(result.error)
