from datetime import timedelta

from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.metrics import compute
from tests.conftest import make_settings, utc
from tests.helpers import credential, load, manual, payout, run, snapshot

NOW = utc(2026, 6, 1)


def figures(store: Engine, name: str, settings: Settings, at: object) -> dict:  # type: ignore[type-arg]
    with store.connect() as conn:
        return compute(name, conn, at, settings)  # type: ignore[arg-type]


def test_fallback_window_excludes_its_start_and_includes_at(store: Engine, settings: Settings) -> None:
    at = utc(2026, 4, 6)
    load(
        store,
        settings,
        "manual_payouts",
        [
            manual("edge", at - timedelta(days=30), 1),  # exactly at the window start: out
            manual("in", at - timedelta(days=30) + timedelta(seconds=1), 10, completed_at=at),
            manual("now", at, 100),
            manual("later", at + timedelta(seconds=1), 1000),
        ],
        NOW,
    )
    load(
        store,
        settings,
        "job_runs",
        [run("r", utc(2026, 3, 19, 10), scheduled_for=utc(2026, 3, 19, 10), cad_processed_cents=11000)],
        NOW,
    )
    fig = figures(store, "fallback_activity", settings, at)
    assert (fig["manual_payout_count"], fig["fallback_cents"], fig["automated_cents"]) == (2, 110, 11000)
    assert fig["fallback_ratio"] == 0.01
    d = fig["detection_to_completion"]
    assert (d["count"], d["median_s"], d["max_s"], d["open_count"], d["oldest_open_s"]) == (1, 2591999, 2591999, 1, 0)


def test_percentiles_interpolate_linearly(store: Engine, settings: Settings) -> None:
    at = utc(2026, 4, 6)
    rows = [manual(f"m{h}", utc(2026, 4, 1), completed_at=utc(2026, 4, 1) + timedelta(hours=h)) for h in (1, 2, 3, 4)]
    load(store, settings, "manual_payouts", rows, NOW)
    d = figures(store, "fallback_activity", settings, at)["detection_to_completion"]
    assert (d["median_s"], d["p90_s"], d["max_s"]) == (9000, 13320, 14400)
    assert figures(store, "fallback_activity", settings, at)["fallback_ratio"] is None  # nothing automated


def test_reserves_take_each_accounts_latest_snapshot_at_or_before_at(store: Engine, settings: Settings) -> None:
    load(
        store,
        settings,
        "reserve_snapshots",
        [
            snapshot("a", utc(2026, 3, 1), 1000, 900),
            snapshot("a", utc(2026, 3, 10), 100, 900),
            snapshot("b", utc(2026, 3, 1), 2000, 1000),
            snapshot("platform", utc(2026, 3, 1), 50_000, 10_000),
            snapshot("c", utc(2026, 3, 20), 5, 0),
        ],
        NOW,
    )
    fig = figures(store, "reserves", settings, utc(2026, 3, 5))
    assert (fig["aggregate_balance_cents"], fig["aggregate_threshold_cents"]) == (3000, 1900)
    assert fig["platform"] == {"balance_cents": 50_000, "threshold_cents": 10_000, "as_of": "2026-03-01T00:00:00Z"}
    assert [n["account_id"] for n in fig["near_threshold"]] == ["a"]
    assert fig["near_threshold"][0]["buffer_pct"] == 11.11
    later = figures(store, "reserves", settings, utc(2026, 3, 25))
    assert later["aggregate_balance_cents"] == 2105
    assert [n["account_id"] for n in later["near_threshold"]] == ["a"]  # threshold 0 is never "near"
    assert figures(store, "reserves", settings, utc(2026, 2, 1))["aggregate_balance_cents"] is None


def test_buffer_exactly_at_the_warning_is_not_near(store: Engine, settings: Settings) -> None:
    load(store, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 1), 1200, 1000)], NOW)
    assert figures(store, "reserves", settings, utc(2026, 3, 2))["near_threshold"] == []


def test_held_payouts_count_only_reserve_caps(store: Engine, settings: Settings) -> None:
    c = utc(2026, 3, 5, 11)
    load(
        store,
        settings,
        "scheduled_payouts",
        [
            payout("p1", "s1", c, 100, status="held", hold_reason="reserve_cap"),
            payout("p2", "s2", utc(2026, 3, 19, 10), 200, status="held", hold_reason="reserve_cap"),
            payout("p3", "s3", c, 400, status="held", hold_reason="kyc_review"),
            payout("p4", "s4", c, 800, status="scheduled"),
        ],
        NOW,
    )
    assert figures(store, "reserves", settings, utc(2026, 3, 6))["held_payouts"] == {"count": 2, "amount_cents": 300}


def test_projection_with_one_snapshot_has_zero_slope(store: Engine, settings: Settings) -> None:
    load(store, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 10), 690, 700)], NOW)
    [p] = figures(store, "reserves", settings, utc(2026, 3, 10, 12))["projected_breaches"]
    assert (p["projected_balance_cents"], p["slope_cents_per_day"], p["projected_at"]) == (
        690,
        0.0,
        "2026-03-19T10:00:00Z",
    )


def test_projection_is_the_least_squares_line_to_the_next_run(store: Engine, settings: Settings) -> None:
    days = [utc(2026, 3, d) for d in range(1, 11)]
    load(
        store,
        settings,
        "reserve_snapshots",
        [snapshot("a", d, 100_000 - 2000 * i, 70_000) for i, d in enumerate(days)]
        + [snapshot("a", utc(2026, 1, 1), 1, 70_000)],  # outside the 28-day lookback: ignored
        NOW,
    )
    [p] = figures(store, "reserves", settings, utc(2026, 3, 10, 12))["projected_breaches"]
    assert p["slope_cents_per_day"] == -2000.0
    assert p["projected_balance_cents"] == 63167  # 82,000 − 2,000 × 9.4167 days, rounded to the cent


def test_credential_due_dates_stages_and_versions(store: Engine) -> None:
    settings = make_settings(credentials={"max_age_days": {"stripe_restricted_key": 90}})
    load(
        store,
        settings,
        "credentials",
        [
            credential("cert", utc(2024, 4, 1), "apple_pay_certificate", expires_at=utc(2026, 5, 1), owner="security"),
            credential("rk", utc(2026, 1, 1), "stripe_restricted_key"),
            credential("rk", utc(2026, 3, 28), "stripe_restricted_key"),  # rotated
            credential("hook", utc(2026, 1, 1), "webhook_signing_secret", rotate_by=utc(2026, 4, 3)),
            credential("nodue", utc(2026, 1, 1), "other"),
        ],
        NOW,
    )
    fig = figures(store, "credentials", settings, utc(2026, 3, 30))
    rows = {c["credential_id"]: c for c in fig["credentials"]}
    assert [c["credential_id"] for c in fig["credentials"]] == ["hook", "cert", "rk", "nodue"]
    assert (rows["hook"]["days_left"], rows["hook"]["stage"]) == (4, "7d")
    assert (rows["cert"]["days_left"], rows["cert"]["stage"], rows["cert"]["age_days"]) == (32, "ok", 728)
    assert (rows["rk"]["due_at"], rows["rk"]["days_left"]) == ("2026-06-26T00:00:00Z", 88)
    assert (rows["nodue"]["due_at"], rows["nodue"]["days_left"], rows["nodue"]["stage"]) == (None, None, "ok")
    before_rotation = {
        c["credential_id"]: c for c in figures(store, "credentials", settings, utc(2026, 3, 27))["credentials"]
    }
    assert before_rotation["rk"]["due_at"] == "2026-04-01T00:00:00Z"
    assert before_rotation["rk"]["stage"] == "7d"


def test_stage_boundaries(store: Engine, settings: Settings) -> None:
    due = utc(2026, 5, 1)
    load(store, settings, "credentials", [credential("c", utc(2026, 1, 1), expires_at=due)], NOW)
    expected = {30: "30d", 31: "ok", 14: "14d", 15: "30d", 7: "7d", 8: "14d", 3: "3d", 4: "7d", 0: "3d"}
    for days, stage in expected.items():
        [c] = figures(store, "credentials", settings, due - timedelta(days=days))["credentials"]
        assert (c["days_left"], c["stage"]) == (days, stage)
    [c] = figures(store, "credentials", settings, due + timedelta(seconds=1))["credentials"]
    assert (c["days_left"], c["stage"]) == (-1, "expired")
