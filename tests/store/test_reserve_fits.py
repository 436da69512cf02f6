"""The projection's sums kept at ingest (``reserve_fits``) give exactly the full regression.

Random histories arrive in several batches: in order, out of order, snapshots replaced with new
balances, windows sliding past old snapshots, microseconds that a float would round. After every
batch, at instants just after each account's latest snapshot (where the kept sums must answer) and
at random instants (past ones fall back to the full computation), the projection of every account
read from ``reserve_fits`` equals the one summed from the snapshots, and both equal a model computed
here with fractions from what was ingested.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.metrics import reserves
from payoutwatch.metrics.reserves import Projection, accounts_at, project, projected_breaches
from payoutwatch.schedule import schedule_of
from payoutwatch.store.tables import metadata, reserve_fits
from tests.conftest import make_settings, utc
from tests.helpers import load, snapshot

BASE = utc(2026, 3, 1)
NOW = utc(2026, 6, 1)
MICRO = timedelta(microseconds=1)

instants = st.builds(
    lambda hours, micros: BASE + timedelta(hours=hours, microseconds=micros),
    st.integers(0, 24 * 20),
    st.sampled_from([0, 1, 499_999, 999_999]),
)
snapshots = st.builds(
    snapshot,
    st.sampled_from(["a", "b", "c"]),
    instants,
    st.one_of(st.integers(-(10**6), 10**7), st.sampled_from([10**15, -(10**15), 0])),
    st.integers(0, 10**6),
)
HISTORY = st.lists(st.lists(snapshots, min_size=1, max_size=12), min_size=1, max_size=4)
LOOKBACKS = st.sampled_from([0.5, 2, 7.25, 28])


def reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def model_projections(
    known: dict[tuple[str, datetime], tuple[int, int]], at: datetime, settings: Settings
) -> list[Projection]:
    """The regression of DESIGN §5.4 from the ingested snapshots, in exact fractions (x in seconds)."""
    lookback = settings.rules.reserve_breach.lookback()
    horizon = schedule_of(settings).next_after(at)
    out = []
    for account in sorted({a for a, _ in known}):
        history = sorted((as_of, v) for (a, as_of), v in known.items() if a == account and as_of <= at)
        if not history:
            continue
        as_of, (balance, threshold) = history[-1]
        points = [(Fraction((t - BASE) // MICRO, 10**6), v[0]) for t, v in history if t >= at - lookback]
        slope = Fraction(0)
        if len(points) >= 2:
            mean_x = sum(x for x, _ in points) / len(points)
            mean_y = Fraction(sum(y for _, y in points), len(points))
            slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
        ahead = Fraction((horizon - as_of) // MICRO, 10**6) if horizon is not None else Fraction(0)
        out.append(
            Projection(
                account_id=account,
                as_of=as_of,
                balance_cents=balance,
                threshold_cents=threshold,
                slope_cents_per_day=float(slope * 86400),
                projected_balance_cents=round(balance + slope * ahead),
                projected_at=horizon,
            )
        )
    return out


def projections(engine: Engine, at: datetime, settings: Settings, *, kept: bool) -> tuple[list[Projection], set[str]]:
    with engine.connect() as conn:
        accounts = accounts_at(conn, at, settings.rules.reserve_breach.lookback(), kept=kept)
    horizon = schedule_of(settings).next_after(at)
    projected = sorted((project(a, horizon) for a in accounts), key=lambda p: p.account_id)
    return projected, {a.account_id for a in accounts if a.kept}


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=HISTORY, lookback_days=LOOKBACKS, asked=st.lists(instants, max_size=3))
def test_kept_sums_give_the_full_regression(
    store: Engine, history: list[list[dict[str, Any]]], lookback_days: float, asked: list[datetime]
) -> None:
    reset(store)
    settings = make_settings(rules={"reserve_breach": {"lookback_days": lookback_days}})
    known: dict[tuple[str, datetime], tuple[int, int]] = {}
    for batch in history:
        load(store, settings, "reserve_snapshots", batch, NOW)
        for row in batch:  # within a batch the last record for a key wins, like a later batch
            known[(row["account_id"], row["as_of"])] = (row["balance_cents"], row["threshold_cents"])
        latest = {account: max(t for a, t in known if a == account) for account, _ in known}
        just_after = {account: last + MICRO for account, last in latest.items()}
        for at in [*just_after.values(), *asked]:
            expected = model_projections(known, at, settings)
            kept, answered = projections(store, at, settings, kept=True)
            full, _ = projections(store, at, settings, kept=False)
            assert kept == full == expected, at
            breaching = sorted(
                (p for p in expected if p.breached),
                key=lambda p: (p.projected_balance_cents - p.threshold_cents, p.account_id),
            )
            with store.connect() as conn:  # the kept path filters in SQL first: it must not lose one
                assert (
                    projected_breaches(conn, at, settings)
                    == breaching
                    == projected_breaches(conn, at, settings, kept=False)
                )
            # just after an account's latest snapshot, its kept row answers (one row, no snapshots read)
            assert {a for a, t in just_after.items() if t == at} <= answered, at


def test_a_late_snapshot_corrects_the_kept_window(store: Engine, settings: Settings) -> None:
    days = [utc(2026, 3, d) for d in range(1, 11)]
    load(
        store, settings, "reserve_snapshots", [snapshot("a", d, 1000 * i, 0) for i, d in enumerate(days) if i != 4], NOW
    )
    load(store, settings, "reserve_snapshots", [snapshot("a", days[4], -50_000, 0)], NOW)  # arrives late
    load(store, settings, "reserve_snapshots", [snapshot("a", days[2], 7, 0)], NOW)  # replaces one
    with store.connect() as conn:
        fit = conn.execute(select(reserve_fits)).one()
    assert (fit.n, fit.first_as_of, fit.last_as_of, fit.excluded_as_of) == (10, days[0], days[-1], None)
    at = days[-1] + timedelta(hours=1)
    assert projections(store, at, settings, kept=True) == (projections(store, at, settings, kept=False)[0], {"a"})


def kept_and_one_pass_dashboards(
    store: Engine, at: datetime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dashboard from the kept sums (and the totals' own SQL), then as at a past instant (one pass)."""
    with store.connect() as conn:
        monkeypatch.setattr(reserves, "FEW_UNKEPT", 10**6)
        from_kept = reserves.dashboard(conn, at, settings)
        monkeypatch.setattr(reserves, "FEW_UNKEPT", -1)
        one_pass = reserves.dashboard(conn, at, settings)
    return from_kept, one_pass


def test_the_dashboard_totals_read_once_at_a_past_instant_equal_the_sql_totals(
    store: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a past instant (many accounts newer than it) the projection reads every account's latest snapshot
    once, and the dashboard's totals come from the same statement: the same figures as its SQL over each
    latest one."""
    days = [utc(2026, 3, d, 6) for d in range(1, 21)]
    rows = [
        snapshot(account, day, balance + step * i, threshold)
        for account, balance, step, threshold in [
            ("platform", 5_000_000, -1_000, 4_000_000),
            ("near", 1_100, -10, 1_000),
            ("falling", 10**15, -(10**13), 9 * 10**14),
            ("negative", -500, 0, 0),
            ("tie_b", 1_150, 0, 1_000),
            ("tie_a", 1_150, 0, 1_000),
            ("steady", 90_000, 100, 10_000),
        ]
        for i, day in enumerate(days)
    ]
    load(store, settings, "reserve_snapshots", rows, NOW)
    for at in (days[3] + timedelta(hours=1), days[12], days[-1] + timedelta(days=1)):
        in_sql, read_once = kept_and_one_pass_dashboards(store, at, settings, monkeypatch)
        assert read_once == in_sql, at
        assert in_sql["near_threshold"] and in_sql["platform"] is not None


DASHBOARD_SNAPSHOTS = st.builds(
    snapshot,
    st.sampled_from(["a", "b", "platform"]),
    instants,
    st.one_of(st.integers(-(10**6), 10**7), st.sampled_from([10**15, -(10**15), 0])),
    st.one_of(st.integers(0, 10**6), st.sampled_from([0, 10**15])),
)


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=st.lists(DASHBOARD_SNAPSHOTS, min_size=1, max_size=30),
    lookback_days=LOOKBACKS,
    asked=st.lists(instants, min_size=1, max_size=3),
)
def test_the_dashboard_read_in_one_pass_at_a_past_instant_equals_every_other_path(
    store: Engine,
    history: list[dict[str, Any]],
    lookback_days: float,
    asked: list[datetime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At any instant, past ones included, the dashboard read in one pass (latest snapshots, float filter,
    exact sums of the accounts that may breach, totals and accounts near their threshold in one statement)
    equals the dashboard read from the kept sums and SQL totals, and its projected breaches are the model's."""
    reset(store)
    settings = make_settings(rules={"reserve_breach": {"lookback_days": lookback_days}})
    load(store, settings, "reserve_snapshots", history, NOW)
    known = {(row["account_id"], row["as_of"]): (row["balance_cents"], row["threshold_cents"]) for row in history}
    for at in asked:
        from_kept, one_pass = kept_and_one_pass_dashboards(store, at, settings, monkeypatch)
        assert one_pass == from_kept, at
        expected = sorted(
            (p for p in model_projections(known, at, settings) if p.breached),
            key=lambda p: (p.projected_balance_cents - p.threshold_cents, p.account_id),
        )
        shown = [{k: v for k, v in p.items() if k != "history"} for p in one_pass["projected_breaches"]]
        assert shown == [p.as_json() for p in expected], at
        since = at - timedelta(days=lookback_days)
        for breach in one_pass["projected_breaches"][: reserves.HISTORY_SHOWN]:
            assert breach["history"] == [
                {"as_of": iso(t), "balance_cents": known[(account, t)][0]}
                for account, t in sorted(known)
                if account == breach["account_id"] and since <= t <= at
            ], at
