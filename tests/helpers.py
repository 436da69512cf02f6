"""Builders for records in tests: short to write, explicit about what matters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.usecases.ingestion import ingest_text


def jsonl(rows: list[dict[str, Any]]) -> str:
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return iso(value)
        raise TypeError(value)

    return "".join(json.dumps(r, default=default) + "\n" for r in rows)


def load(engine: Engine, settings: Settings, kind: str, rows: list[dict[str, Any]], now: datetime) -> None:
    ingest_text(engine, kind, jsonl(rows), settings, now=now)


def run(run_id: str, started: datetime, **fields: Any) -> dict[str, Any]:
    return {"run_id": run_id, "started_at": started, **fields}


def payout(
    payout_id: str, studio: str, cycle: datetime, cents: int, status: str = "paid", **fields: Any
) -> dict[str, Any]:
    return {
        "payout_id": payout_id,
        "studio_id": studio,
        "scheduled_for": cycle,
        "amount_cents": cents,
        "currency": "CAD",
        "status": status,
        **fields,
    }


def snapshot(account: str, as_of: datetime, balance: int, threshold: int) -> dict[str, Any]:
    return {"account_id": account, "as_of": as_of, "balance_cents": balance, "threshold_cents": threshold}


def manual(mid: str, detected: datetime, cents: int = 10_000, **fields: Any) -> dict[str, Any]:
    return {"id": mid, "studio_id": "st_1", "amount_cents": cents, "currency": "CAD", "detected_at": detected, **fields}


def credential(cid: str, created: datetime, kind: str = "other", **fields: Any) -> dict[str, Any]:
    return {"credential_id": cid, "created_at": created, "kind": kind, "name": cid, **fields}


def failed_run(engine: Engine, settings: Settings, now: datetime, *, finished_minute: int = 5) -> None:
    """Run r1 of the 2026-03-05 11:00Z cycle, started on time, exited 1."""
    cycle = datetime(2026, 3, 5, 11, tzinfo=UTC)
    load(
        engine,
        settings,
        "job_runs",
        [run("r1", cycle, scheduled_for=cycle, finished_at=cycle.replace(minute=finished_minute), exit_code=1)],
        now,
    )


def healthy_rerun(engine: Engine, settings: Settings, now: datetime, *, finished_minute: int = 5) -> None:
    """Run r2 of the same cycle an hour later, finished healthy."""
    cycle = datetime(2026, 3, 5, 11, tzinfo=UTC)
    load(
        engine,
        settings,
        "job_runs",
        [
            run(
                "r2",
                cycle.replace(hour=12),
                scheduled_for=cycle,
                finished_at=cycle.replace(hour=12, minute=finished_minute),
                exit_code=0,
            )
        ],
        now,
    )


def signed_in_client(store: Engine, settings: Settings, now: datetime, role: str = "viewer") -> Any:
    """A TestClient of the web app over ``store`` at ``now``, logged in with a new token of ``role``."""
    from starlette.testclient import TestClient

    from payoutwatch.usecases.tokens import create_token
    from payoutwatch.vocabulary import Role
    from payoutwatch.web.app import create_app

    with store.begin() as conn:
        token = create_token(conn, name=f"{role}-person", role=Role(role), actor="t", now=now)[1]
    client = TestClient(create_app(settings, store, now=lambda: now))
    assert client.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
    return client
