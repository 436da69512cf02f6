"""Token use cases: created once and shown once, revoked at once, both audited; the listing never shows a token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, select

from payoutwatch.store.tables import api_tokens, audit_log
from payoutwatch.usecases import tokens
from payoutwatch.vocabulary import Role
from tests.conftest import utc

NOW = utc(2026, 3, 10, 12)


def test_create_list_and_revoke_are_audited_and_never_list_the_token(sqlite_store: Engine) -> None:
    created = tokens.create(sqlite_store, name="airflow", role=Role.INGEST, actor="ana", now=NOW)
    assert created.token.startswith(tokens.PREFIX)
    [row] = tokens.listing(sqlite_store, now=NOW + timedelta(days=3))
    assert (row["id"], row["name"], row["role"], row["age_days"], row["revoked_at"]) == (
        created.id,
        "airflow",
        "ingest",
        3,
        None,
    )
    assert created.token not in str(row)
    tokens.revoke(sqlite_store, created.id, actor="bo", now=NOW + timedelta(days=4))
    with pytest.raises(tokens.TokenNotFound, match=f"no active token {created.id}"):
        tokens.revoke(sqlite_store, created.id, actor="bo", now=NOW + timedelta(days=5))
    with sqlite_store.connect() as conn:
        audited = [(r.actor, r.action, r.target, r.details) for r in conn.execute(select(audit_log))]
    assert audited == [
        ("ana", "token_create", str(created.id), {"name": "airflow", "role": "ingest"}),
        ("bo", "token_revoke", str(created.id), None),
    ]


def test_a_tokens_last_use_is_recorded_to_the_minute_without_a_write_per_request(sqlite_store: Engine) -> None:
    created = tokens.create(sqlite_store, name="grafana", role=Role.VIEWER, actor="ana", now=NOW)
    writes: list[str] = []
    event.listen(
        sqlite_store, "before_cursor_execute", lambda *args: writes.append(args[2]) if "UPDATE" in args[2] else None
    )
    uses = [NOW, NOW + timedelta(seconds=30), NOW + timedelta(seconds=59), NOW + timedelta(seconds=61)]
    recorded = []
    for at in uses:
        with sqlite_store.begin() as conn:
            assert tokens.authenticate(conn, created.token, now=at) is not None
            recorded.append(conn.execute(select(api_tokens.c.last_used_at)).scalar_one())
    assert recorded == [NOW, NOW, NOW, NOW + timedelta(seconds=61)]
    assert len(writes) == 2
    with sqlite_store.begin() as conn:  # a clock set back: the earlier use is recorded again
        tokens.authenticate(conn, created.token, now=NOW)
        assert conn.execute(select(api_tokens.c.last_used_at)).scalar_one() == NOW
