"""The 10 MB body cap holds while a body is read: a chunked body (no Content-Length) is refused with 413
as soon as it passes the cap, nothing of it is stored, and the server never holds it in memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml
from sqlalchemy import func, select
from starlette.testclient import TestClient

from payoutwatch.store.engine import open_store
from payoutwatch.store.tables import job_runs
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from payoutwatch.web.middleware import MAX_BODY_BYTES
from tests.conftest import make_settings, utc
from tests.web.test_serve import serve_process

NOW = utc(2026, 3, 5, 12)
CHUNK_LINES = 500


def job_run_lines(total_bytes: int) -> Iterator[bytes]:
    """Valid ``job_runs`` JSON lines, ~64 KB a chunk, until ``total_bytes`` have been produced."""
    sent, n = 0, 0
    while sent < total_bytes:
        chunk = "".join(
            json.dumps({"run_id": f"r{n + i:09d}", "started_at": "2026-03-05T11:00:00Z", "exit_code": 0}) + "\n"
            for i in range(CHUNK_LINES)
        ).encode()
        n += CHUNK_LINES
        sent += len(chunk)
        yield chunk


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set size (``VmHWM``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def test_a_chunked_body_over_the_cap_gets_413_nothing_stored_and_memory_stays_bounded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pw.db'}"
    engine = open_store(url)
    with engine.begin() as conn:
        token = create_token(conn, name="pipe", role=Role.INGEST, actor="t", now=NOW)[1]
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"store": {"url": url}, "service": {"tick_seconds": 5}}))
    auth = {"Authorization": f"Bearer {token}"}
    with serve_process(config) as (base, process):
        with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
            small = client.post("/api/v1/ingest/job_runs", content=job_run_lines(200_000))  # chunked, under the cap
            assert small.status_code == 200, small.text
            assert "content-length" not in small.request.headers
            stored_before = small.json()["stored"]
            before = peak_rss_kib(process.pid)
            big = client.post("/api/v1/ingest/job_runs", content=job_run_lines(5 * MAX_BODY_BYTES))
            after = peak_rss_kib(process.pid)
        assert "content-length" not in big.request.headers
        assert big.status_code == 413, big.text
        assert big.headers["x-content-type-options"] == "nosniff"
        # 50 MB sent; the server read at most the 10 MB cap of it before refusing
        assert (after - before) * 1024 < 2 * MAX_BODY_BYTES, (before, after)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(job_runs)).scalar() == stored_before
    engine.dispose()


def test_a_declared_length_over_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'pw.db'}")
    with engine.begin() as conn:
        token = create_token(conn, name="pipe", role=Role.INGEST, actor="t", now=NOW)[1]
    client = TestClient(create_app(make_settings(), engine, now=lambda: NOW))
    auth = {"Authorization": f"Bearer {token}"}
    declared = client.post(
        "/api/v1/ingest/job_runs", content=b"{}", headers={**auth, "Content-Length": str(MAX_BODY_BYTES + 1)}
    )
    assert declared.status_code == 413
    over = client.post("/webhooks/stripe", content=b"x" * (MAX_BODY_BYTES + 1))
    assert over.status_code == 413 and "too large" in over.json()["detail"]
    engine.dispose()
