"""Heavy dashboards are cached per (store, name, instant, records version, settings), and a write of
records (by this process or another one on the same store) is seen by the next request."""

from __future__ import annotations

from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.metrics import compute
from payoutwatch.metrics.cache import CACHE
from payoutwatch.store.engine import open_store
from tests.conftest import utc
from tests.helpers import load, payout, snapshot

AT = utc(2026, 3, 20)
NOW = utc(2026, 4, 1)


def reserves(engine: Engine, settings: Settings) -> dict[str, object]:
    with engine.connect() as conn:
        return compute("reserves", conn, AT, settings)


def test_a_cached_figure_is_never_served_after_a_write(store: Engine, settings: Settings) -> None:
    CACHE.clear()
    load(store, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 1), 1000, 900)], NOW)
    first = reserves(store, settings)
    hits = CACHE.hits
    assert reserves(store, settings) == first and CACHE.hits == hits + 1  # the second request reads the cache
    first["aggregate_balance_cents"] = -1  # what a caller does to its copy stays with it
    assert reserves(store, settings)["aggregate_balance_cents"] == 1000

    other = open_store(store.url.render_as_string(hide_password=False))  # another process on the same store
    try:
        load(other, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 10), 500, 900)], NOW)
        assert reserves(store, settings)["aggregate_balance_cents"] == 500
        load(
            other,
            settings,
            "scheduled_payouts",
            [payout("p1", "a", utc(2026, 3, 5, 11), 7, "held", hold_reason="reserve_cap")],
            NOW,
        )
        assert reserves(store, settings)["held_payouts"] == {"count": 1, "amount_cents": 7}
    finally:
        other.dispose()
    assert reserves(store, settings.model_copy(deep=True)) == reserves(
        store, settings
    )  # other settings: computed afresh
