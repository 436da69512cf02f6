"""Two ``serve`` replicas on one PostgreSQL: one leads the loop, each page arrives once, and a killed
leader hands the loop to the other within a minute."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import fresh_postgres_database
from tests.integration.servers import ChannelServer
from tests.web.test_serve import free_port

pytestmark = pytest.mark.postgres
CLI = str(Path(sys.executable).with_name("payoutwatch"))


def start(config: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CLI, "--config", str(config), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def ready(port: int) -> dict[str, Any] | None:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
        return answer.json() if answer.status_code == 200 else None  # type: ignore[no-any-return]
    except httpx.HTTPError:
        return None


def wait_for(predicate: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def test_each_page_once_and_the_loop_survives_its_leader(postgres_server: str, tmp_path: Path) -> None:
    url = fresh_postgres_database(postgres_server)
    now = datetime.now(UTC)
    with ChannelServer() as pd:
        config = tmp_path / "c.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "store": {"url": url},
                    "schedule": {"start": (now - timedelta(days=20)).strftime("%Y-%m-%d")},  # cycles already missed
                    "channels": {
                        "pagerduty": {
                            "type": "pagerduty",
                            "routing_key": "R" * 32,
                            "events_url": f"{pd.url}/pagerduty/enqueue",
                        }
                    },
                    "routes": [
                        {"rule": "automation_failure", "channels": ["pagerduty"]},
                        {"rule": "fallback_volume", "channels": ["pagerduty"]},
                    ],
                    "service": {"tick_seconds": 0.3, "evaluate_interval_seconds": 0.5},
                }
            )
        )
        ports = [free_port(), free_port()]
        replicas = [start(config, p) for p in ports]
        try:
            states = wait_for(lambda: all(ready(p) for p in ports) and [ready(p) for p in ports], 60)
            assert sorted(s["leader"] for s in states) == [False, True]
            pages = wait_for(lambda: len(pd.pd.requests) >= 1 and pd.pd.requests, 30)
            time.sleep(3)  # several ticks of both replicas
            keys = [r["body"]["dedup_key"] for r in pd.pd.requests]
            assert pages and len(keys) == len(set(keys)), keys  # each alert paged once
            leader = next(i for i, p in enumerate(ports) if (ready(p) or {}).get("leader"))
            replicas[leader].send_signal(signal.SIGKILL)
            replicas[leader].wait(30)
            follower = 1 - leader
            took_over = time.monotonic()
            wait_for(lambda: (ready(ports[follower]) or {}).get("leader"), 60)
            manual = [
                {
                    "id": f"m{i}",
                    "studio_id": "s",
                    "amount_cents": 100,
                    "currency": "CAD",
                    "detected_at": (now - timedelta(hours=i + 1)).isoformat(),
                }
                for i in range(2)
            ]
            subprocess.run(
                [CLI, "--config", str(config), "ingest", "manual_payouts", "-"],
                input=json.dumps(manual),
                text=True,
                check=True,
                capture_output=True,
                timeout=60,
            )
            wait_for(lambda: any(r["body"]["dedup_key"] == "fallback_volume" for r in pd.pd.requests), 30)
            assert time.monotonic() - took_over < 60
            time.sleep(2)
            keys = [r["body"]["dedup_key"] for r in pd.pd.requests]
            assert keys.count("fallback_volume") == 1 and len(keys) == len(set(keys)), keys
        finally:
            for process in replicas:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(60)
