"""schemathesis against /openapi.json: no generated request, with or without a token, gets a 5xx."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from payoutwatch.store.engine import open_store
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.helpers import failed_run

NOW = utc(2026, 3, 5, 11, 30)
_folder = Path(tempfile.mkdtemp(prefix="pw-schemathesis-"))
_engine = open_store(f"sqlite:///{_folder / 'pw.db'}")
_settings = make_settings(sources={"stripe": {"type": "stripe", "api_key": "rk_x", "webhook_secrets": ["whsec_x"]}})
failed_run(_engine, _settings, NOW)
evaluate(_engine, _settings, at=NOW, now=NOW)
with _engine.begin() as _conn:
    ADMIN = create_token(_conn, name="fuzzer", role=Role.ADMIN, actor="test", now=NOW)[1]
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_settings, _engine, now=lambda: NOW))


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_error_for_any_request(case: schemathesis.Case) -> None:
    for headers in ({"Authorization": f"Bearer {ADMIN}"}, {}):
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text)
