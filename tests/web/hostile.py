"""Hostile text planted in every record text field a page or an HTML report shows.

Each planted value is a payload followed by a tag naming the field (``<script>…</script>cred-name``), so a
test can tell that the value was shown (as text) and where.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import Engine, insert, select

from payoutwatch.config import Settings
from payoutwatch.schedule import schedule_of
from payoutwatch.store.tables import alerts, notifications, source_state
from payoutwatch.usecases.evaluation import evaluate
from tests.helpers import credential, load, manual, payout, run, snapshot

SCRIPT = "<script>window.__pwned=1</script>"
ATTRIBUTE = '"><img src=x onerror=window.__pwned=1>'
PAYLOADS = (SCRIPT, ATTRIBUTE)
# sources whose remote errors plant_everywhere makes hostile: pass as make_settings(sources=SOURCES)
SOURCES = {
    name: {"type": "certificates", "interval_minutes": 15, "paths": [f"/nonexistent/{name}/*.pem"]}
    for name in ("certs", "more-certs")
}


def hostile(tag: str, payload: str = SCRIPT) -> str:
    return f"{payload}{tag}"


def plant_everywhere(engine: Engine, settings: Settings, now: datetime) -> list[str]:
    """Hostile records around the latest payout cycle, the alerts they raise (evaluated at ``now``) and a
    failed notification on each; returns the tags planted."""
    (cycle,) = schedule_of(settings).latest_at_or_before(now)
    tags = plant(engine, settings, now, cycle) + plant_source_errors(engine, settings, now)
    evaluate(engine, settings, at=now, now=now)
    return tags + plant_notifications(engine, now)


def plant(engine: Engine, settings: Settings, now: datetime, cycle: datetime) -> list[str]:
    """Records whose every text field is hostile, around ``cycle`` (the latest payout cycle before ``now``);
    returns the tags planted. Evaluate afterwards so alerts carry them too, then ``plant_notifications``."""
    tags: list[str] = []

    def h(tag: str, payload: str) -> str:
        tags.append(tag)
        return hostile(tag, payload)

    for n, p in enumerate(PAYLOADS):
        load(
            engine,
            settings,
            "job_runs",
            [
                run(
                    h(f"run-id-{n}", p),
                    cycle + timedelta(minutes=30 + n),
                    scheduled_for=cycle,
                    finished_at=cycle + timedelta(minutes=40 + n),
                    exit_code=1,
                    source=h(f"run-source-{n}", p),
                )
            ],
            now,
        )
        load(
            engine,
            settings,
            "scheduled_payouts",
            [
                payout(
                    h(f"payout-id-{n}", p),
                    h(f"payout-studio-{n}", p),
                    cycle,
                    12_345,
                    status="held",
                    hold_reason=h(f"hold-reason-{n}", p),
                    run_id=h(f"payout-run-{n}", p),
                )
            ],
            now,
        )
        account = h(f"account-id-{n}", p)
        load(
            engine,
            settings,
            "reserve_snapshots",
            [snapshot(account, now - timedelta(days=d), 500_000 - 40_000 * (5 - d), 450_000) for d in range(5)],
            now,
        )
        load(
            engine,
            settings,
            "manual_payouts",
            [
                manual(
                    h(f"manual-id-{n}", p),
                    now - timedelta(hours=3),
                    studio_id=h(f"manual-studio-{n}", p),
                    reason=h(f"manual-reason-{n}", p),
                    run_id=h(f"manual-run-{n}", p),
                )
            ],
            now,
        )
        load(
            engine,
            settings,
            "credentials",
            [
                credential(
                    h(f"cred-id-{n}", p),
                    now - timedelta(days=300),
                    name=h(f"cred-name-{n}", p),
                    owner=h(f"cred-owner-{n}", p),
                    expires_at=now + timedelta(days=2 + n),
                    source=h(f"cred-source-{n}", p),
                )
            ],
            now,
        )
    return tags


def plant_source_errors(engine: Engine, settings: Settings, now: datetime) -> list[str]:
    """Every configured source failing for a day with a hostile remote error (``source_stale`` fires)."""
    tags = []
    with engine.begin() as conn:
        for n, name in enumerate(settings.sources):
            tags.append(f"source-error-{n}")
            conn.execute(
                insert(source_state).values(
                    source=name,
                    state="failing",
                    first_attempt_at=now - timedelta(days=1),
                    last_attempt_at=now - timedelta(minutes=5),
                    last_error=hostile(f"source-error-{n}", PAYLOADS[n % 2]),
                    consecutive_failures=9,
                )
            )
    return tags


def plant_notifications(engine: Engine, now: datetime) -> list[str]:
    """A failed notification with a hostile remote error (and channel name) on every alert."""
    tags: list[str] = []
    with engine.begin() as conn:
        for n, alert in enumerate(conn.execute(select(alerts.c.id, alerts.c.rule, alerts.c.key)).all()):
            p = PAYLOADS[n % 2]
            tags += [f"remote-error-{n}", f"channel-{n}"]
            conn.execute(
                insert(notifications).values(
                    alert_id=alert.id,
                    history_id=0,
                    channel=hostile(f"channel-{n}", p)[:100],
                    event="firing",
                    rule=alert.rule,
                    alert_key=alert.key,
                    state="failed",
                    attempts=3,
                    next_attempt_at=now,
                    last_error=hostile(f"remote-error-{n}", p),
                    message={},
                    created_at=now,
                )
            )
    return tags


def pages(engine: Engine, quarter: str) -> list[str]:
    """Every page and HTML report that shows records, each alert's page, and error pages that echo input."""
    with engine.connect() as conn:
        keys = [k for (k,) in conn.execute(select(alerts.c.key))]
    script, attribute = (quote(p, safe="") for p in PAYLOADS)
    return [
        "/",
        "/dashboards/payout_health",
        "/dashboards/fallback_activity",
        "/dashboards/reserves",
        "/dashboards/credentials",
        "/alerts?state=all",
        *[f"/alerts/{quote(k, safe='')}" for k in keys],
        "/reports",
        "/reports/weekly",
        f"/reports/quarterly?quarter={quarter}",
        f"/reports/backtest?from=2026-11-25T00:00&to=2026-11-26T14:00&step=6h&set=rules.a{script}%3D1",
        f"/reports/quarterly?quarter={script}",
        f"/reports/quarterly?quarter={attribute}",
        f"/reports/backtest?from={script}&to={attribute}",
        f"/alerts?state=all&rule={attribute}&owner={script}",
        f"/alerts/{script}",
        f"/dashboards/{attribute}",
        f"/?at={script}",
        f"/login?next={attribute}&error={script}",
    ]
