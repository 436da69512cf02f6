from datetime import timedelta

from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.metrics import compute
from payoutwatch.metrics.payout_health import CYCLES_SHOWN
from tests.conftest import utc
from tests.helpers import load, payout, run

NOW = utc(2026, 6, 1)
C1, C2, C3 = utc(2026, 3, 5, 11), utc(2026, 3, 19, 10), utc(2026, 4, 2, 10)


def health(store: Engine, settings: Settings, at: object) -> dict:  # type: ignore[type-arg]
    with store.connect() as conn:
        return compute("payout_health", conn, at, settings)  # type: ignore[arg-type]


def test_a_run_finished_after_at_is_still_running_then(store: Engine, settings: Settings) -> None:
    load(
        store,
        settings,
        "job_runs",
        [
            run(
                "r1",
                utc(2026, 3, 5, 11, 2),
                scheduled_for=C1,
                finished_at=utc(2026, 3, 5, 11, 40),
                exit_code=1,
                studios_scheduled=10,
                studios_processed=4,
                cad_processed_cents=500,
            )
        ],
        NOW,
    )
    during = health(store, settings, utc(2026, 3, 5, 11, 20))
    assert during["last_run"]["status"] == "running"
    assert during["last_run"]["duration_s"] == 1080
    assert during["last_run"]["finished_at"] is None and during["last_run"]["exit_code"] is None
    assert during["last_run"]["studios_processed"] == 4  # counts as last reported
    after = health(store, settings, utc(2026, 3, 5, 11, 40))
    assert after["last_run"]["status"] == "failed" and after["last_run"]["duration_s"] == 2280
    assert after["last_run"]["processed_ratio"] == 0.4
    before = health(store, settings, utc(2026, 3, 5, 11, 1))
    assert before["last_run"] is None and before["current_cycle_cad_cents"] is None
    assert before["next_run_at"] == "2026-03-19T10:00:00Z"
    assert health(store, settings, utc(2026, 3, 5, 10, 59))["next_run_at"] == "2026-03-05T11:00:00Z"


def test_reruns_add_up_per_cycle_and_compare_with_the_cycle_before(store: Engine, settings: Settings) -> None:
    load(
        store,
        settings,
        "job_runs",
        [
            run(
                "a",
                utc(2026, 3, 5, 11, 1),
                scheduled_for=C1,
                finished_at=utc(2026, 3, 5, 11, 9),
                exit_code=0,
                cad_processed_cents=1000,
                retry_count=1,
                error_count=0,
            ),
            run(
                "b",
                utc(2026, 3, 19, 10, 1),
                scheduled_for=C2,
                finished_at=utc(2026, 3, 19, 10, 9),
                exit_code=1,
                cad_processed_cents=300,
                retry_count=2,
                error_count=5,
            ),
            run(
                "c",
                utc(2026, 3, 19, 12),
                scheduled_for=C2,
                finished_at=utc(2026, 3, 19, 12, 9),
                exit_code=0,
                cad_processed_cents=900,
                retry_count=0,
                error_count=0,
            ),
        ],
        NOW,
    )
    fig = health(store, settings, utc(2026, 3, 20))
    assert fig["last_run"]["run_id"] == "c"
    assert fig["cycles"][0] == {
        "scheduled_for": "2026-03-19T10:00:00Z",
        "cad_processed_cents": 1200,
        "runs": 2,
        "retry_count": 2,
        "error_count": 5,
        "success_count": None,
        "longest_run_s": 540,
        "processed_ratio": None,  # the latest run ("c") reported no studio counts
    }
    assert (fig["current_cycle_cad_cents"], fig["prior_cycle_cad_cents"], fig["cycle_change_pct"]) == (1200, 1000, 20.0)
    first_only = health(store, settings, utc(2026, 3, 6))
    assert first_only["prior_cycle_cad_cents"] is None and first_only["cycle_change_pct"] is None


def test_a_cycle_without_a_run_counts_as_zero_before_the_current_one(store: Engine, settings: Settings) -> None:
    load(
        store,
        settings,
        "job_runs",
        [
            run("a", utc(2026, 3, 5, 11, 1), scheduled_for=C1, cad_processed_cents=1000),
            run("c", utc(2026, 4, 2, 10, 1), scheduled_for=C3, cad_processed_cents=800),
        ],
        NOW,
    )
    fig = health(store, settings, utc(2026, 4, 3))
    assert (fig["current_cycle_cad_cents"], fig["prior_cycle_cad_cents"], fig["cycle_change_pct"]) == (800, 0, None)


def test_missing_counts_are_derived_from_the_ledger_as_of_at(store: Engine, settings: Settings) -> None:
    load(
        store,
        settings,
        "scheduled_payouts",
        [
            payout("p1", "s1", C1, 100, paid_at=utc(2026, 3, 5, 11, 5), run_id="r1"),
            payout("p2", "s2", C1, 200, paid_at=utc(2026, 3, 5, 11, 25), run_id="r1"),
            payout("p3", "s3", C1, 400, status="failed", run_id="r1"),
            payout("p4", "s4", C1, 800, status="held", hold_reason="reserve_cap"),
            payout("p5", "s5", C1, 1600, status="cancelled"),
            payout("p6", "s6", C1, 3200, paid_at=utc(2026, 3, 5, 11, 6)),  # no run id: the cycle's latest run
        ],
        NOW,
    )
    load(store, settings, "job_runs", [run("r1", utc(2026, 3, 5, 11), scheduled_for=C1)], NOW)
    early = health(store, settings, utc(2026, 3, 5, 11, 10))["last_run"]
    assert (early["studios_scheduled"], early["studios_processed"], early["cad_processed_cents"]) == (4, 2, 3300)
    late = health(store, settings, utc(2026, 3, 5, 12))["last_run"]
    assert (late["studios_processed"], late["cad_processed_cents"], late["processed_ratio"]) == (3, 3500, 0.75)


def test_next_run_is_strictly_after_at(store: Engine, settings: Settings) -> None:
    assert health(store, settings, C1)["next_run_at"] == "2026-03-19T10:00:00Z"


def test_the_prior_cycle_is_found_behind_many_cycles_off_the_schedule(store: Engine, settings: Settings) -> None:
    """The cycle before the newest is read with the shown ones unless more than a page of cycles that
    are not on the schedule lie between them; then its runs are read on their own."""
    off_schedule = [
        run(f"off{k}", C1 + timedelta(hours=2 + k), scheduled_for=C1 + timedelta(hours=1 + k), cad_processed_cents=1)
        for k in range(CYCLES_SHOWN)
    ]
    on_schedule = [
        run("a", utc(2026, 3, 5, 11, 1), scheduled_for=C1, cad_processed_cents=1000),
        run("b", utc(2026, 3, 19, 10, 1), scheduled_for=C2, cad_processed_cents=1200),
    ]
    load(store, settings, "job_runs", on_schedule + off_schedule, NOW)
    fig = health(store, settings, utc(2026, 3, 20))
    assert len(fig["cycles"]) == CYCLES_SHOWN and fig["cycles"][0]["scheduled_for"] == "2026-03-19T10:00:00Z"
    assert all(row["cad_processed_cents"] == 1 for row in fig["cycles"][1:])
    assert fig["prior_cycle_scheduled_for"] == "2026-03-05T11:00:00Z"
    assert (fig["current_cycle_cad_cents"], fig["prior_cycle_cad_cents"], fig["cycle_change_pct"]) == (1200, 1000, 20.0)
