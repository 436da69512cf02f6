"""A real Prometheus (Debian's) scrapes /metrics and answers a query with the right value;
promtool accepts the exported alerting rules; the Grafana export only uses metrics we expose."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.usecases.exports import grafana_dashboard, prometheus_rules
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.helpers import credential, load, manual

NOW = utc(2026, 3, 10)


def need(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is required in CI (.ci/run installs Debian's prometheus)")
        pytest.skip(f"{binary} is not installed")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(settings: Settings, store: Engine) -> Iterator[str]:
    """The app on a real uvicorn on a free loopback port; yields host:port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, store, now=lambda: NOW), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def served(sqlite_store: Engine) -> Iterator[str]:
    settings = make_settings()
    load(
        sqlite_store,
        settings,
        "manual_payouts",
        [manual("m1", utc(2026, 3, 6)), manual("m2", utc(2026, 3, 7)), manual("m3", utc(2026, 3, 8))],
        NOW,
    )
    with serving(settings, sqlite_store) as address:
        yield address


@contextmanager
def running_prometheus(tmp_path: Path, job: dict[str, Any], scrape_interval: str = "1s") -> Iterator[str]:
    """Debian's Prometheus with one scrape ``job`` on a free loopback port; yields its base URL."""
    binary = need("prometheus")
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": scrape_interval, "evaluation_interval": "1s"},
                "scrape_configs": [{"job_name": "payoutwatch", **job}],
            }
        )
    )
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def instant_value(base_url: str, query: str) -> str | None:
    """The first series' value of an instant query; None while Prometheus is starting or has none."""
    try:
        answer = httpx.get(f"{base_url}/api/v1/query", params={"query": query}, timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None
    results = answer.get("data", {}).get("result", [])
    return str(results[0]["value"][1]) if results else None


def prometheus_answer(tmp_path: Path, job: dict[str, Any], query: str) -> str | None:
    """Run Debian's Prometheus with one scrape ``job`` until ``query`` has a value (or a minute passes)."""
    with running_prometheus(tmp_path, job) as base_url:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            value = instant_value(base_url, query)
            if value is not None:
                return value
            time.sleep(0.5)
        return None


def test_prometheus_scrapes_and_answers_with_the_right_value(served: str, tmp_path: Path) -> None:
    job = {"static_configs": [{"targets": [served]}]}
    assert prometheus_answer(tmp_path, job, "payoutwatch_manual_payouts_window") == "3"


def test_with_metrics_auth_prometheus_scrapes_with_a_metrics_token(sqlite_store: Engine, tmp_path: Path) -> None:
    # the set-up docs/security.md describes: a metrics token in a file Prometheus reads; the credential
    # series come with it
    settings = make_settings(web={"metrics_auth": True})
    load(
        sqlite_store, settings, "credentials", [credential("cert-1", utc(2025, 1, 1), expires_at=utc(2026, 3, 20))], NOW
    )
    with sqlite_store.begin() as conn:
        _, token = create_token(conn, name="prometheus", role=Role.METRICS, actor="test", now=NOW)
    (tmp_path / "token").write_text(token)
    with serving(settings, sqlite_store) as address:
        assert httpx.get(f"http://{address}/metrics").status_code == 401
        job = {
            "static_configs": [{"targets": [address]}],
            "authorization": {"type": "Bearer", "credentials_file": str(tmp_path / "token")},
        }
        assert prometheus_answer(tmp_path, job, 'payoutwatch_credential_days_left{credential_id="cert-1"}') == "10"


def test_promtool_accepts_the_exported_rules(tmp_path: Path) -> None:
    promtool = need("promtool")
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(prometheus_rules(make_settings())))
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 5 rules found" in check.stdout


def test_grafana_panels_only_query_metrics_that_exist(served: str, sqlite_store: Engine) -> None:
    with sqlite_store.begin() as conn:  # the credential panels need a scraper that may see credentials
        _, token = create_token(conn, name="prometheus", role=Role.METRICS, actor="test", now=NOW)
    scraped = httpx.get(f"http://{served}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    exposed = set(re.findall(r"^# TYPE (\w+) ", scraped, re.M))
    dashboard = grafana_dashboard(make_settings())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"payoutwatch_\w+", target["expr"])
    }
    assert queried and queried <= exposed
    assert json.loads(json.dumps(dashboard))["uid"] == "payoutwatch"
