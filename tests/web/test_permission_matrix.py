"""The permission matrix (DESIGN §10, pinned; README's table; docs/security.md): every role against the API,
the pages, the reports and ``/metrics`` — what each may SEE (no credential name or id reaches viewer or
finance anywhere) and what each may DO (ops and admin handle any alert, a team role its team's)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from payoutwatch.notify.silences import Matcher
from payoutwatch.usecases.alert_actions import add_silence
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.helpers import credential, failed_run, load, manual, snapshot

NOW = utc(2026, 3, 5, 11, 30)
CRED_ID = "cred-zq7-merchant"
CRED_NAME = "ApplePayMerchantZQ7"
CRED_OWNER = "security"
CRED_KEY = f"credential_expiry:{CRED_ID}"
ALERTS = {  # key -> owner
    "automation_failure:payouts:2026-03-05": "payments-ops",
    "fallback_volume": "payments-engineering",
    CRED_KEY: "security",
    "reserve_breach:studio-low": "finance",
}
SEES_CREDENTIALS = {Role.OPS, Role.ENGINEERING, Role.SECURITY, Role.ADMIN}
PEOPLE = [Role.VIEWER, Role.OPS, Role.FINANCE, Role.ENGINEERING, Role.SECURITY, Role.ADMIN]
HANDLES = {  # role -> the alert owners it may act on
    Role.VIEWER: set(),
    Role.OPS: set(ALERTS.values()),
    Role.ADMIN: set(ALERTS.values()),
    Role.FINANCE: {"finance"},
    Role.SECURITY: {"security"},
    Role.ENGINEERING: {"payments-engineering"},
}


@dataclass
class Platform:
    client: TestClient
    tokens: dict[Role, str]

    def get(self, path: str, role: Role | None) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        response = self.client.get(path, headers=headers, follow_redirects=False)
        return response.status_code, response.text


@pytest.fixture
def platform(sqlite_store: Engine) -> Iterator[Platform]:
    settings = make_settings(
        rules={"fallback_volume": {"owner": "payments-engineering"}}, web={"secure_cookies": False}
    )
    store = sqlite_store
    failed_run(store, settings, NOW)
    load(
        store,
        settings,
        "credentials",
        [credential(CRED_ID, utc(2025, 1, 1), name=CRED_NAME, owner=CRED_OWNER, expires_at=NOW + timedelta(days=5))],
        NOW,
    )
    load(store, settings, "reserve_snapshots", [snapshot("studio-low", NOW - timedelta(hours=1), 100, 10_000)], NOW)
    load(
        store,
        settings,
        "manual_payouts",
        [manual("m1", NOW - timedelta(days=3)), manual("m2", NOW - timedelta(days=2))],
        NOW,
    )
    evaluate(store, settings, at=NOW, now=NOW)
    add_silence(store, Matcher(key=CRED_KEY), comment="rotating", author="test", now=NOW)
    tokens = {}
    with store.begin() as conn:
        for role in Role:
            tokens[role] = create_token(conn, name=f"{role.value}-bot", role=role, actor="test", now=NOW)[1]
    yield Platform(TestClient(create_app(settings, store, now=lambda: NOW)), tokens)


SEEN = [  # what a person reads: API listings, pages, reports
    "/api/v1/alerts?all=true",
    "/api/v1/notifications",
    "/api/v1/silences?all=true",
    "/api/v1/dashboards/credentials",
    "/",
    "/alerts?state=all",
    f"/alerts/{quote(CRED_KEY, safe='')}",
    "/dashboards/credentials",
    "/reports/weekly",
    "/reports/quarterly?quarter=2026Q1",
    "/reports/backtest?from=2026-03-05T11:00:00Z&to=2026-03-05T11:30:00Z&step=15m",
    "/metrics",
    "/reconciliation/2026-03-05",
    "/reserve-review",
    "/access-review",
    f"/credentials/{CRED_ID}/history",
    "/incident?from=2026-03-05T00:00:00Z&to=2026-03-05T12:00:00Z",
]
TEAM_PAGES = {  # path -> the roles that may open it (the others get 403 and no link)
    "/reconciliation/2026-03-05": set(PEOPLE),
    "/reserve-review": set(PEOPLE),
    "/incident": set(PEOPLE),
    "/silences": set(PEOPLE),
    "/access-review": {Role.SECURITY, Role.ADMIN},
    f"/credentials/{CRED_ID}/history": SEES_CREDENTIALS,
}


def test_the_fixture_has_one_firing_alert_per_owner(platform: Platform) -> None:
    _, body = platform.get("/api/v1/alerts", Role.ADMIN)
    for key in ALERTS:
        assert key in body


@pytest.mark.parametrize("role", PEOPLE, ids=[r.value for r in PEOPLE])
def test_credentials_are_seen_only_by_roles_allowed_to_see_them(platform: Platform, role: Role) -> None:
    for path in SEEN:
        status, body = platform.get(path, role)
        assert status in (200, 403), (path, status)
        if role in SEES_CREDENTIALS:
            continue
        assert CRED_NAME not in body and CRED_ID not in body, path
    if role in SEES_CREDENTIALS:
        assert CRED_NAME in platform.get("/reports/weekly", role)[1]
        for listing in ("/api/v1/alerts", "/api/v1/notifications", "/api/v1/silences"):  # the check above bites
            assert CRED_ID in platform.get(listing, role)[1], listing
        assert CRED_ID in platform.get("/metrics", role)[1]
    else:
        assert platform.get("/api/v1/dashboards/credentials", role)[0] == 403
        assert platform.get(f"/alerts/{quote(CRED_KEY, safe='')}", role)[0] == 403
        weekly = platform.get("/reports/weekly", role)[1]
        assert "Not shown: your role may not see credentials." in weekly  # the report says what it left out
        assert platform.get("/api/v1/alerts", role)[1].endswith('"withheld":1}')


@pytest.mark.parametrize("role", PEOPLE, ids=[r.value for r in PEOPLE])
def test_the_teams_pages_open_for_the_roles_allowed(platform: Platform, role: Role) -> None:
    for path, roles in TEAM_PAGES.items():
        assert platform.get(path, role)[0] == (200 if role in roles else 403), path
    navigation = platform.get("/", role)[1].split("</header>")[0]
    assert ('href="/access-review"' in navigation) == (role in TEAM_PAGES["/access-review"])
    assert all(f'href="{path}"' in navigation for path in ("/reconciliation", "/incident", "/silences"))
    signing = platform.get("/reconciliation/2026-03-05", role)[1]  # the fixture's cycle has a finished run
    assert ("Sign off</button>" in signing) == (role in (Role.FINANCE, Role.ADMIN))
    review = platform.get("/reserve-review", role)[1]
    assert ("Mark reviewed</button>" in review) == ("finance" in HANDLES[role])


def test_unauthenticated_metrics_name_no_credential(platform: Platform) -> None:
    status, body = platform.get("/metrics", None)
    assert status == 200 and "payoutwatch_alerts_firing" in body
    assert CRED_ID not in body and "payoutwatch_credential" not in body


@pytest.mark.parametrize("role", PEOPLE, ids=[r.value for r in PEOPLE])
def test_each_role_handles_exactly_the_alerts_its_team_owns(platform: Platform, role: Role) -> None:
    auth = {"Authorization": f"Bearer {platform.tokens[role]}"}
    page = platform.get("/alerts", role)[1]
    for key, owner in ALERTS.items():
        allowed = owner in HANDLES[role] and (key != CRED_KEY or role in SEES_CREDENTIALS)
        form = f'action="/alerts/{quote(key, safe="")}/ack"'
        assert (form in page) == allowed, (key, "form shown" if form in page else "form missing")
        acked = platform.client.post(f"/api/v1/alerts/{quote(key, safe='')}/ack", json={}, headers=auth)
        assert acked.status_code == (200 if allowed else 403), (key, acked.text)
    for owner in set(ALERTS.values()):
        silence = {"comment": "maintenance", "owner": owner, "hours": 1}
        created = platform.client.post("/api/v1/silences", json=silence, headers=auth)
        assert created.status_code == (201 if owner in HANDLES[role] else 403), (owner, created.text)
    unlimited = platform.client.post("/api/v1/silences", json={"comment": "all", "rule": "*"}, headers=auth)
    assert unlimited.status_code == (201 if role in (Role.OPS, Role.ADMIN) else 403)


def test_a_team_role_expires_only_its_teams_silences(platform: Platform) -> None:
    def as_role(role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {platform.tokens[role]}"}

    theirs = platform.client.post(
        "/api/v1/silences", json={"comment": "x", "owner": "finance"}, headers=as_role(Role.OPS)
    ).json()["id"]
    other = platform.client.post(
        "/api/v1/silences", json={"comment": "x", "owner": "security"}, headers=as_role(Role.OPS)
    ).json()["id"]
    assert platform.client.delete(f"/api/v1/silences/{other}", headers=as_role(Role.FINANCE)).status_code == 403
    assert platform.client.delete(f"/api/v1/silences/{theirs}", headers=as_role(Role.FINANCE)).status_code == 200


def test_machine_roles_see_no_page_and_metrics_auth_wants_a_metrics_token(sqlite_store: Engine) -> None:
    settings = make_settings(web={"metrics_auth": True})
    with sqlite_store.begin() as conn:
        tokens = {r: create_token(conn, name=r.value, role=r, actor="t", now=NOW)[1] for r in Role}
    platform = Platform(TestClient(create_app(settings, sqlite_store, now=lambda: NOW)), tokens)
    assert platform.get("/metrics", None)[0] == 401
    for role in Role:
        expected = 200 if role in (Role.METRICS, Role.ADMIN) else 403
        assert platform.get("/metrics", role)[0] == expected, role
    for role in (Role.METRICS, Role.INGEST):
        assert platform.get("/api/v1/alerts", role)[0] == 403
        assert platform.get("/reports/weekly", role)[0] == 403


def test_the_pages_let_finance_act_on_its_alerts_only(platform: Platform) -> None:
    browser = platform.client
    assert (
        browser.post("/login", data={"token": platform.tokens[Role.FINANCE]}, follow_redirects=False).status_code == 303
    )
    page = browser.get("/alerts").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    silences = browser.get("/silences").text
    assert '<select name="owner"><option>finance</option></select>' in silences  # a silence can only name finance
    ours = browser.post("/alerts/reserve_breach%3Astudio-low/ack", data={"csrf": csrf}, follow_redirects=False)
    theirs = browser.post(
        "/alerts/automation_failure%3Apayouts%3A2026-03-05/ack", data={"csrf": csrf}, follow_redirects=False
    )
    assert ours.status_code == 303 and theirs.status_code == 403
    wide = browser.post("/silences", data={"csrf": csrf, "comment": "x", "rule": "*"}, follow_redirects=False)
    own = browser.post("/silences", data={"csrf": csrf, "comment": "x", "owner": "finance"}, follow_redirects=False)
    assert wide.status_code == 403 and own.status_code == 303
