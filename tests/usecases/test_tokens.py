"""Token use cases: created once and shown once, revoked at once, both audited; the listing never shows a token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from payoutwatch.store.tables import audit_log
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
