"""``serve``: the API and the loop in one process, ready once the loop beats, stopped cleanly;
on PostgreSQL exactly one process leads the loop, and a leader that goes away hands it over."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import Engine

from payoutwatch.service import Leadership


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_process(config: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``payoutwatch --config CONFIG serve`` on a free loopback port, once ``/healthz`` answers; yields
    (base URL, the process), and stops it with SIGTERM."""
    port = free_port()
    cli = str(Path(sys.executable).with_name("payoutwatch"))
    process = subprocess.Popen(
        [cli, "--config", str(config), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)


def test_serve_answers_gets_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}, "service": {"tick_seconds": 0.2}})
    )
    port = free_port()
    cli = str(Path(sys.executable).with_name("payoutwatch"))
    process = subprocess.Popen(
        [cli, "--config", str(config), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.status_code == 200
        answer = ready.json()
        assert (answer["status"], answer["leader"]) == ("ready", True)  # SQLite: the only process
        assert answer["last_evaluation"] is not None  # the loop's evaluation, recorded in the store
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/alerts").status_code == 401
        assert "payoutwatch_alerts_firing" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    # uvicorn shuts down gracefully, then re-raises SIGTERM; the loop was stopped before that
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output and "background loop stopped" in output


@pytest.mark.postgres
def test_one_leader_at_a_time_on_postgresql(postgres_template: str) -> None:
    from payoutwatch.store.engine import open_store

    first_engine: Engine = open_store(postgres_template)
    second_engine: Engine = open_store(postgres_template)
    first, second = Leadership(first_engine), Leadership(second_engine)
    try:
        assert first.acquire() and first.acquire()  # holding it stays true
        assert not second.acquire()
        first.release()  # the leader goes away (a killed process closes its connection the same way)
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()
        first_engine.dispose()
        second_engine.dispose()
