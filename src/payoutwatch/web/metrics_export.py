"""``/metrics``: the dashboards' figures as Prometheus gauges, computed at scrape time (no global registry).

The figures are as of the scrape's instant rounded down to ``web.metrics_freshness_seconds`` (default 15 s):
scrapes within one step ask the figure cache for the same key (every dashboard, not only the heavy ones), so
concurrent scrapes share one computation (``metrics/cache.py``), and the key holds the records' version, so no
scrape is served figures from before a write of records; when a step begins, the previous step's figures (same
version) are served while the new ones are computed in the background. The alerts, the outbox and the sources are read
afresh by every scrape. ``engine`` should only read (``WebState.reads``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from payoutwatch.config import Settings
from payoutwatch.loop_errors import LOOP_ERRORS
from payoutwatch.metrics import dashboards
from payoutwatch.metrics.cache import CACHE
from payoutwatch.store.tables import notifications, source_state
from payoutwatch.usecases.alert_queries import firing_by_rule
from payoutwatch.vocabulary import NotificationState, RuleId
from payoutwatch.web.store_busy import STORE_BUSY

STALE_STEPS = 4


def scrape_instant(now: datetime, step_seconds: int) -> datetime:
    """``now`` rounded down to a whole multiple of ``step_seconds`` since the epoch."""
    seconds = int(now.timestamp()) // step_seconds * step_seconds
    return datetime.fromtimestamp(seconds, UTC).astimezone(now.tzinfo)


class FiguresCollector(Collector):
    def __init__(
        self, engine: Engine, settings: Settings, now: Callable[[], datetime], *, with_credentials: bool
    ) -> None:
        self.engine, self.settings, self.now = engine, settings, now
        self.with_credentials = with_credentials  # the payoutwatch_credential_* series name credentials

    def figures(self, name: str, at: datetime) -> dict[str, Any]:
        """The dashboard's figures as kept by the figure cache (read only). When a new step begins, the
        figures of an earlier step (the same records version, at most ``STALE_STEPS`` steps before) are
        served while this step's are computed in the background: scrapes never queue behind it."""
        within = timedelta(seconds=STALE_STEPS * self.settings.web.metrics_freshness_seconds)
        return CACHE.recent(name, self.engine, at, self.settings, dashboards()[name], within=within)

    def collect(self) -> Iterator[Metric]:
        at = scrape_instant(self.now(), self.settings.web.metrics_freshness_seconds)
        health = self.figures("payout_health", at)
        fallback = self.figures("fallback_activity", at)
        reserves = self.figures("reserves", at)
        credentials = self.figures("credentials", at) if self.with_credentials else None
        with self.engine.connect() as conn:
            firing = firing_by_rule(conn)
            pending = conn.execute(
                select(func.count()).where(notifications.c.state == NotificationState.PENDING.value)
            ).scalar_one()
            sources = conn.execute(select(source_state.c.source, source_state.c.last_success_at)).all()

        def gauge(name: str, doc: str, value: float | int | None, labels: dict[str, str] | None = None) -> Metric:
            family = GaugeMetricFamily(name, doc, labels=list(labels or {}))
            if value is not None:
                family.add_metric(list((labels or {}).values()), float(value))
            return family

        next_run = health["next_run_at"]
        yield gauge(
            "payoutwatch_next_run_timestamp_seconds",
            "Next scheduled payout run (Unix time).",
            datetime.fromisoformat(next_run.replace("Z", "+00:00")).timestamp() if next_run else None,
        )
        last = health["last_run"] or {}
        yield gauge(
            "payoutwatch_last_run_duration_seconds",
            "Duration of the last run (to now while running).",
            last.get("duration_s"),
        )
        yield gauge(
            "payoutwatch_last_run_processed_ratio",
            "Studios processed / scheduled by the last run.",
            last.get("processed_ratio"),
        )
        cycle = GaugeMetricFamily(
            "payoutwatch_cycle_processed_cents", "CAD processed per cycle (cents).", labels=["cycle"]
        )
        for label, key in (("current", "current_cycle_cad_cents"), ("prior", "prior_cycle_cad_cents")):
            if health[key] is not None:
                cycle.add_metric([label], float(health[key]))
        yield cycle
        yield gauge(
            "payoutwatch_manual_payouts_window",
            "Manual payouts detected in the rolling window.",
            fallback["manual_payout_count"],
        )
        yield gauge(
            "payoutwatch_fallback_ratio", "Fallback CAD / automated CAD in the window.", fallback["fallback_ratio"]
        )
        yield gauge(
            "payoutwatch_reserve_aggregate_balance_cents",
            "Sum of studio reserve balances (cents).",
            reserves["aggregate_balance_cents"],
        )
        yield gauge(
            "payoutwatch_reserve_accounts_near_threshold",
            "Studios inside their reserve buffer.",
            len(reserves["near_threshold"]),
        )
        yield gauge(
            "payoutwatch_held_payouts_cents",
            "Payouts held by reserve caps (cents).",
            reserves["held_payouts"]["amount_cents"],
        )
        yield gauge(
            "payoutwatch_reserve_projected_breaches",
            "Accounts below, or projected below, their threshold at the next run.",
            len(reserves["projected_breaches"]),
        )
        if credentials is not None:
            days = GaugeMetricFamily(
                "payoutwatch_credential_days_left",
                "Whole days until a credential is due.",
                labels=["credential_id", "kind"],
            )
            for c in credentials["credentials"]:
                if c["days_left"] is not None:
                    days.add_metric([c["credential_id"], c["kind"]], float(c["days_left"]))
            yield days
        rules = GaugeMetricFamily("payoutwatch_alerts_firing", "Firing alerts per rule.", labels=["rule"])
        for rule in RuleId:
            rules.add_metric([rule.value], float(firing.get(rule.value, 0)))
        yield rules
        yield gauge("payoutwatch_notifications_pending", "Outbox rows waiting to be delivered.", pending)
        success = GaugeMetricFamily(
            "payoutwatch_source_last_success_timestamp_seconds",
            "Last successful sync of each source (Unix time).",
            labels=["source"],
        )
        for name, at_success in sources:
            if at_success is not None:
                success.add_metric([name], at_success.timestamp())
        yield success
        errors = CounterMetricFamily(
            "payoutwatch_loop_errors", "Errors contained by the background loop, per part.", labels=["part"]
        )
        for part, count in LOOP_ERRORS.snapshot().items():
            errors.add_metric([part.value], float(count))
        yield errors
        yield CounterMetricFamily(
            "payoutwatch_store_busy_refusals",
            "Requests answered 503 because the store had no connection free in time.",
            value=float(STORE_BUSY.total),
        )


def render_metrics(engine: Engine, settings: Settings, now: Callable[[], datetime], *, with_credentials: bool) -> bytes:
    """The scrape; ``with_credentials`` only for a reader who may see credentials (docs/security.md)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FiguresCollector(engine, settings, now, with_credentials=with_credentials))
    return generate_latest(registry)
