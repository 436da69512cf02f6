"""Fuzzing ingest (HTTP API and CLI) for every record kind with valid and hostile values (DESIGN §3 Bounds).

Whatever arrives: no response ≥ 500 and no traceback; a refused batch (422 / exit 1) writes nothing;
an accepted one can then be evaluated, shown on every dashboard and reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from payoutwatch.cli import app as cli_app
from payoutwatch.config import Settings
from payoutwatch.metrics import DASHBOARD_NAMES
from payoutwatch.records import RECORD_TYPES
from payoutwatch.reports.render import render
from payoutwatch.reports.weekly import weekly
from payoutwatch.store.tables import RECORD_TABLES, reserve_accounts
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc

NOW = utc(2026, 3, 20, 12)
FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

OFFSETS = [UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-14)), timezone(timedelta(hours=14))]
instants = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2199, 12, 30), timezones=st.sampled_from(OFFSETS)
)
valid_instant = instants.map(lambda d: d.isoformat())
hostile_instant = st.sampled_from(
    [
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "2026-03-05T11:00:00",
        "2026-02-30T00:00:00Z",
        "1772708400",
        5,
        1.5e9,
    ]
)
hostile_int = st.sampled_from([2**63, -(2**63) - 1, 2**31, 2**70, 10**30, 10**15 + 1, -1, 1.5, True, "12", 1e400])
hostile_text = st.sampled_from(["", "a\x00b", "x" * 201, "y" * 1001, "tab\tand\nnewline", "\x1b[31m", "\ud800"])
hostile_any = st.one_of(
    hostile_int,
    hostile_text,
    hostile_instant,
    st.none(),
    st.just({"nested": {"deeper": [1, 2]}}),
    st.just([1, "two"]),
)
ids = st.sampled_from(["a", "b", "st_1", "platform", "é" * 200])
text_value = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=40)

FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "job_runs": {
        "run_id": ids,
        "job": st.sampled_from(["payouts", "other"]),
        "scheduled_for": valid_instant,
        "started_at": valid_instant,
        "finished_at": valid_instant,
        "exit_code": st.integers(-(2**31), 2**31 - 1),
        "studios_scheduled": st.integers(0, 10**9),
        "studios_processed": st.integers(0, 10**9),
        "success_count": st.integers(0, 10**9),
        "error_count": st.integers(0, 10**9),
        "retry_count": st.integers(0, 10**9),
        "cad_processed_cents": st.integers(-(10**15), 10**15),
        "source": text_value,
    },
    "scheduled_payouts": {
        "payout_id": ids,
        "studio_id": ids,
        "scheduled_for": valid_instant,
        "amount_cents": st.integers(0, 10**15),
        "currency": st.sampled_from(["CAD", "cad"]),
        "status": st.sampled_from(["scheduled", "paid", "failed", "held", "cancelled"]),
        "hold_reason": st.sampled_from(["reserve_cap", "x" * 200]),
        "paid_at": valid_instant,
        "run_id": ids,
        "transfer_id": ids,
    },
    "reserve_snapshots": {
        "account_id": ids,
        "as_of": valid_instant,
        "balance_cents": st.integers(-(10**15), 10**15),
        "threshold_cents": st.integers(0, 10**15),
    },
    "manual_payouts": {
        "id": ids,
        "studio_id": ids,
        "amount_cents": st.integers(0, 10**15),
        "currency": st.just("CAD"),
        "detected_at": valid_instant,
        "completed_at": valid_instant,
        "reason": st.sampled_from(["r" * 1000, "fallback"]),
        "run_id": ids,
        "scheduled_for": valid_instant,
    },
    "transfers": {
        "transfer_id": ids,
        "amount_cents": st.integers(0, 10**15),
        "currency": st.just("CAD"),
        "created_at": valid_instant,
        "destination": ids,
        "payout_id": ids,
        "reversed": st.booleans(),
    },
    "credentials": {
        "credential_id": ids,
        "created_at": valid_instant,
        "kind": st.sampled_from(["apple_pay_certificate", "stripe_restricted_key", "webhook_signing_secret", "other"]),
        "name": st.sampled_from(["n" * 1000, "key"]),
        "owner": st.sampled_from(["o" * 200, "payments"]),
        "expires_at": valid_instant,
        "rotate_by": valid_instant,
        "source": text_value,
    },
}
REQUIRED = {
    name: [f for f, info in model.model_fields.items() if info.is_required()] for name, model in RECORD_TYPES.items()
}


@st.composite
def record_line(draw: st.DrawFn, kind: str) -> bytes:
    """One line: a record mixing valid and hostile values, or a line hostile as a whole."""
    whole = draw(st.integers(0, 19))  # hypothesis favours 0 and the ends: the rare cases sit in between
    if whole == 13:
        return draw(
            st.sampled_from(
                [
                    b"\xff\xfe not utf-8",
                    b"[" * 50_000 + b"]" * 50_000,
                    b'{"a": ' * 3000 + b"1" + b"}" * 3000,
                    b"9" * 5000,
                    b"[1, 2]",
                    b'"just a string"',
                    b"{not json",
                ]
            )
        )
    fields = FIELDS[kind]
    chosen = set(REQUIRED[kind]) | set(draw(st.lists(st.sampled_from(sorted(fields)), max_size=len(fields))))
    record = {name: draw(fields[name]) for name in sorted(chosen)}
    for start, end in (("started_at", "finished_at"), ("detected_at", "completed_at")):
        if start in record and end in record:  # mostly in order, so that many batches are accepted
            record[start], record[end] = sorted((record[start], record[end]), key=datetime.fromisoformat)
    if draw(st.booleans()):
        for name in draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=2)):
            record[name] = draw(hostile_any)
    if draw(st.integers(0, 19)) == 13:
        record["unexpected"] = 1
    line = json.dumps(record)
    if whole == 14:  # the first field given a second time
        first = next(iter(record))
        line = line[:-1] + f', "{first}": {json.dumps(record[first])}}}'
    return line.encode()


@st.composite
def batch(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(FIELDS)))
    lines = draw(st.lists(record_line(kind), min_size=1, max_size=3))
    if draw(st.booleans()):
        return kind, b"\n".join(lines) + b"\n"
    return kind, b"[" + b",\n".join(lines) + b"]"


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        tables = [*RECORD_TABLES.values(), reserve_accounts]
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in tables}


def shown_and_reported(engine: Engine, settings: Settings, client: TestClient, token: str) -> None:
    evaluate(engine, settings, at=NOW, now=NOW)
    for name in DASHBOARD_NAMES:
        response = client.get(f"/api/v1/dashboards/{name}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
    with engine.connect() as conn:
        render("weekly", weekly(conn, NOW, settings), "md", zone=settings.display_tz)


@pytest.fixture
def api(store: Engine) -> Iterator[tuple[TestClient, str, Settings]]:
    settings = make_settings()
    with store.begin() as conn:
        _, token = create_token(conn, name="fuzz", role=Role.ADMIN, actor="test", now=NOW)
    yield TestClient(create_app(settings, store, now=lambda: NOW)), token, settings


@FUZZ
@given(sent=batch())
def test_fuzzed_api_batches_never_fail_the_server_nor_half_write(
    store: Engine, api: tuple[TestClient, str, Settings], sent: tuple[str, bytes]
) -> None:
    client, token, settings = api
    kind, body = sent
    before = row_counts(store)
    response = client.post(f"/api/v1/ingest/{kind}", content=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 422), response.text
    event(f"{kind}: {response.status_code}")
    if response.status_code == 422:
        assert row_counts(store) == before
        assert all(e.startswith(("line ", "record ")) for e in response.json()["errors"])
    else:
        shown_and_reported(store, settings, client, token)


runner = CliRunner()


@FUZZ
@given(sent=batch())
def test_fuzzed_cli_batches_exit_0_or_1_without_traceback_nor_half_write(
    store: Engine, api: tuple[TestClient, str, Settings], tmp_path: Path, sent: tuple[str, bytes]
) -> None:
    client, token, settings = api
    config = tmp_path / "payoutwatch.yaml"
    if not config.exists():
        url = store.url.render_as_string(hide_password=False)
        config.write_text(yaml.safe_dump({"store": {"url": url}, "schedule": {"start": "2026-03-05"}}))
    kind, body = sent
    batch_file = tmp_path / "batch.jsonl"
    batch_file.write_bytes(body)
    before = row_counts(store)
    result = runner.invoke(cli_app, ["--config", str(config), "ingest", kind, str(batch_file)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1) and "Traceback" not in result.output, result.output
    event(f"{kind}: exit {result.exit_code}")
    if result.exit_code == 1:
        assert row_counts(store) == before
        assert "nothing was written" in result.output
    else:
        shown_and_reported(store, settings, client, token)
