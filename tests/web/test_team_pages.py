"""Finance's and Security's pages through the app (no browser): the sign-off rules (not before the cycle's
run finished, once per cycle, Finance and admin only), the CSV, the reserve review's mark, the access review
recorded, a credential's versions, and the incident timeline without what a role may not see."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from payoutwatch.metrics.credentials import versions
from payoutwatch.notify.silences import Matcher
from payoutwatch.reports.incident import incident
from payoutwatch.store.tables import alert_reviews, audit_log, reconciliation_signoffs
from payoutwatch.usecases.alert_actions import add_silence
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.helpers import credential, load, run, snapshot
from tests.store.test_reconciliation import CYCLE, NOW, seed

DAY = "2026-03-05"
CRED_ID = "cred-zq7-merchant"


@dataclass
class Site:
    engine: Engine
    clients: dict[Role, TestClient]

    def csrf(self, role: Role, path: str) -> str:
        page = self.clients[role].get(path).text
        return page.split('name="csrf" value="')[1].split('"')[0]

    def post(self, role: Role, path: str, form_page: str, **data: str) -> tuple[int, str]:
        response = self.clients[role].post(
            path, data={"csrf": self.csrf(role, form_page), **data}, follow_redirects=False
        )
        return response.status_code, response.text


@pytest.fixture
def site(sqlite_store: Engine) -> Iterator[Site]:
    settings = make_settings(web={"secure_cookies": False})
    seed(sqlite_store)
    load(sqlite_store, settings, "job_runs", [run("r1", utc(2026, 3, 5, 11, 1), scheduled_for=CYCLE)], NOW)
    load(
        sqlite_store,
        settings,
        "credentials",
        [
            credential(CRED_ID, utc(2025, 1, 1), name="ApplePayZQ7", owner="security", expires_at=utc(2026, 1, 1)),
            credential(CRED_ID, utc(2026, 1, 5), name="ApplePayZQ7", owner="security", expires_at=NOW + timedelta(5)),
        ],
        NOW,
    )
    load(sqlite_store, settings, "reserve_snapshots", [snapshot("studio-low", NOW - timedelta(hours=1), 1, 10)], NOW)
    evaluate(sqlite_store, settings, at=NOW, now=NOW)
    add_silence(sqlite_store, Matcher(key=f"credential_expiry:{CRED_ID}"), comment="rotating", author="t", now=NOW)
    app = create_app(settings, sqlite_store, now=lambda: NOW)
    clients = {}
    for role in (Role.VIEWER, Role.OPS, Role.FINANCE, Role.SECURITY, Role.ENGINEERING, Role.ADMIN):
        with sqlite_store.begin() as conn:
            token = create_token(conn, name=f"{role.value}-person", role=role, actor="t", now=NOW)[1]
        client = TestClient(app)
        assert client.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
        clients[role] = client
    yield Site(sqlite_store, clients)


def signoffs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reconciliation_signoffs)).scalar_one())


def test_sign_off_waits_for_the_run_then_happens_once(site: Site) -> None:
    page = f"/reconciliation/{DAY}"
    body = site.clients[Role.FINANCE].get(page).text
    assert "Sign-off opens once this cycle's payout run has finished." in body and "Sign off</button>" not in body
    early = site.post(Role.FINANCE, f"{page}/sign-off", page, comment="early")
    assert early[0] == 409 and "cannot be signed off yet" in early[1] and signoffs(site.engine) == 0
    load(site.engine, make_settings(), "job_runs", [run("r1", utc(2026, 3, 5, 11, 1), scheduled_for=CYCLE,
         finished_at=utc(2026, 3, 5, 11, 20), exit_code=0)], NOW)  # fmt: skip
    assert "Sign off</button>" in site.clients[Role.FINANCE].get(page).text
    assert "Sign off</button>" not in site.clients[Role.OPS].get(page).text  # ops reads it, Finance signs
    for role in (Role.OPS, Role.VIEWER, Role.SECURITY):
        assert site.post(role, f"{page}/sign-off", page)[0] == 403
    assert site.post(Role.FINANCE, f"{page}/sign-off", page, comment="p_missing chased")[0] == 303
    signed = site.clients[Role.FINANCE].get(page).text
    assert "Signed off by <strong>token:finance-person</strong>" in signed and "p_missing chased" in signed
    again = site.post(Role.ADMIN, f"{page}/sign-off", page)
    assert again[0] == 409 and "already signed off by token:finance-person" in again[1]
    assert signoffs(site.engine) == 1
    stale = site.clients[Role.FINANCE].post(f"{page}/sign-off", data={"csrf": "forged"}, follow_redirects=False)
    assert stale.status_code == 403


def test_reconciliation_lists_exceptions_first_and_downloads_as_csv(site: Site) -> None:
    client = site.clients[Role.VIEWER]
    latest = client.get("/reconciliation", follow_redirects=False)
    assert latest.status_code == 303 and latest.headers["location"] == "/reconciliation/2026-03-19"
    body = client.get(f"/reconciliation/{DAY}").text
    assert body.index('id="exceptions"') < body.index('id="totals"')
    assert "p_missing" in body and "Not paid by the ledger: <strong>1 failed</strong>" in body
    download = client.get(f"/reconciliation/{DAY}/csv")
    assert download.headers["content-type"].startswith("text/csv")
    assert 'filename="reconciliation-2026-03-05.csv"' in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert {"missing_transfer", "amount_mismatch", "reversed", "unpaid:held", "unpaid:failed"} <= {
        r["category"] for r in rows
    }
    assert client.get("/reconciliation/2026-03-06").status_code == 404  # no cycle that day
    assert client.get("/reconciliation/yesterday").status_code == 404


def test_reserve_review_marks_an_episode_for_those_who_handle_it(site: Site) -> None:
    key = "reserve_breach%3Astudio-low"
    assert "Mark reviewed</button>" not in site.clients[Role.VIEWER].get("/reserve-review").text
    assert site.post(Role.ENGINEERING, f"/reserve-review/{key}/reviewed", "/alerts")[0] == 403
    assert site.post(Role.FINANCE, "/reserve-review/fallback_volume/reviewed", "/reserve-review")[0] == 404
    done = site.post(Role.FINANCE, f"/reserve-review/{key}/reviewed", "/reserve-review", note="top-up wired")
    assert done[0] == 303
    page = site.clients[Role.OPS].get("/reserve-review").text
    assert "Reviewed by <strong>token:finance-person</strong>" in page and "top-up wired" in page
    assert "0 not reviewed" in page
    with site.engine.connect() as conn:
        assert conn.execute(select(alert_reviews.c.note)).scalar_one() == "top-up wired"


def test_access_review_is_securitys_and_is_recorded(site: Site) -> None:
    for role in (Role.VIEWER, Role.FINANCE, Role.OPS, Role.ENGINEERING):
        assert site.clients[role].get("/access-review").status_code == 403
        assert 'href="/access-review"' not in site.clients[role].get("/").text
    page = site.clients[Role.SECURITY].get("/access-review").text
    assert 'href="/access-review"' in page and "Never reviewed." in page
    assert "finance-person" in page and "ApplePayZQ7" in page
    assert site.post(Role.SECURITY, "/access-review/reviewed", "/access-review", note="two stale tokens")[0] == 303
    assert site.post(Role.FINANCE, "/access-review/reviewed", "/")[0] == 403
    page = site.clients[Role.SECURITY].get("/access-review").text
    assert "Last reviewed by <strong>token:security-person</strong>" in page and "two stale tokens" in page
    with site.engine.connect() as conn:
        details = conn.execute(select(audit_log.c.details).where(audit_log.c.action == "access_review")).scalar_one()
    assert details["active_tokens"] == 6 and details["note"] == "two stale tokens"


def test_a_credentials_versions_newest_first(site: Site) -> None:
    with site.engine.connect() as conn:
        found = versions(conn, CRED_ID, NOW, make_settings())
    assert [v["created_at"] for v in found] == ["2026-01-05T00:00:00Z", "2025-01-01T00:00:00Z"]
    assert found[0]["in_force"] and not found[1]["in_force"]
    assert found[1]["replaced_late"] and found[1]["in_force_days"] == 369  # renewed after it expired
    page = site.clients[Role.SECURITY].get(f"/credentials/{CRED_ID}/history")
    assert page.status_code == 200 and "after it fell due" in page.text
    assert site.clients[Role.FINANCE].get(f"/credentials/{CRED_ID}/history").status_code == 403
    assert site.clients[Role.SECURITY].get("/credentials/nope/history").status_code == 404


def test_the_timeline_leaves_out_what_a_role_may_not_see(site: Site) -> None:
    window = "/incident?from=2026-03-05T00:00:00&to=2026-03-20T00:00:00"
    ops = site.clients[Role.OPS].get(window).text
    assert "run r1" in ops and CRED_ID in ops and "silence 1" in ops
    assert "started for the 2026-03-05 06:00:00 EST cycle" in ops  # people read the display zone
    with site.engine.connect() as conn:  # JSON keeps ISO UTC
        texts = [e["text"] for e in incident(conn, utc(2026, 3, 5), utc(2026, 3, 20))["events"]]
    assert any("started for the 2026-03-05T11:00:00Z cycle" in t for t in texts)
    finance = site.clients[Role.FINANCE].get(window).text
    assert "run r1" in finance and CRED_ID not in finance and "ApplePayZQ7" not in finance
    assert "about credentials not shown" in finance
    assert site.clients[Role.OPS].get("/incident?from=2026-03-20T00:00:00&to=2026-03-05T00:00:00").status_code == 400
    assert site.clients[Role.OPS].get("/incident?from=soon").status_code == 400


def test_the_api_signs_off_under_the_same_rules(sqlite_store: Engine) -> None:
    """``POST /api/v1/reconciliation/{day}/sign-off``: finance and admin only (403), not before the cycle's
    run finished (409, nothing written), once (409 naming who signed); every viewing role reads the figures."""
    settings = make_settings()
    seed(sqlite_store)
    with sqlite_store.begin() as conn:
        tokens = {r: create_token(conn, name=r.value, role=r, actor="t", now=NOW)[1] for r in Role}
    client = TestClient(create_app(settings, sqlite_store, now=lambda: NOW))

    def call(method: str, path: str, role: Role, **body: str) -> tuple[int, dict[str, object]]:
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        response = client.request(method, f"/api/v1/reconciliation/{path}", headers=headers, json=body or None)
        return response.status_code, response.json()

    status, figures = call("GET", DAY, Role.VIEWER)
    assert status == 200 and figures["difference_cents"] == 8001 and figures["unpaid"]["failed"]["count"] == 1
    assert call("GET", DAY, Role.INGEST)[0] == 403
    assert call("GET", "2026-03-06", Role.VIEWER)[0] == 404 and call("GET", "9999-12-31", Role.VIEWER)[0] == 404
    for role in (Role.VIEWER, Role.OPS, Role.SECURITY, Role.ENGINEERING, Role.INGEST, Role.METRICS):
        assert call("POST", f"{DAY}/sign-off", role)[0] == 403, role
    early = call("POST", f"{DAY}/sign-off", Role.FINANCE)
    assert early[0] == 409 and "cannot be signed off yet" in str(early[1]["detail"]) and signoffs(sqlite_store) == 0
    finished = {"scheduled_for": CYCLE, "finished_at": utc(2026, 3, 5, 11, 20), "exit_code": 0}
    load(sqlite_store, settings, "job_runs", [run("r1", utc(2026, 3, 5, 11, 1), **finished)], NOW)
    signed = call("POST", f"{DAY}/sign-off", Role.FINANCE, comment="p_missing chased")
    assert signed == (201, {"cycle": "2026-03-05T11:00:00Z", "by": "token:finance", "difference_cents": 8001})
    again = call("POST", f"{DAY}/sign-off", Role.ADMIN)
    assert again[0] == 409 and "already signed off by token:finance" in str(again[1]["detail"])
    assert signoffs(sqlite_store) == 1
    assert call("GET", DAY, Role.VIEWER)[1]["signed_off"] == {
        "by": "token:finance",
        "at": "2026-03-20T00:00:00Z",
        "comment": "p_missing chased",
    }
