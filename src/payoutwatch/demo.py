"""``payoutwatch demo``: a realistic sample platform, evaluated and shown in the terminal.

Three hundred studios, a year of biweekly cycles with plausible CAD amounts, daily reserve
snapshots, and planted incidents: a failed run on the previous cycle (and the manual payouts
that covered it), a slow run on the latest cycle whose reconciliation has three exceptions (a
missing transfer, an amount mismatch, a reversal), reserves trending toward their thresholds
with payouts held by reserve caps, an Apple Pay certificate due in about 12 days and an overdue
Stripe restricted key; two credentials have an earlier version (a renewal, a rotation). The data is
generated from a fixed seed relative to ``now``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, exists, select

from payoutwatch.config import Settings
from payoutwatch.records import (
    Credential,
    JobRun,
    ManualPayout,
    Record,
    ReserveSnapshot,
    ScheduledPayout,
    Transfer,
)
from payoutwatch.schedule import schedule_of
from payoutwatch.store import data_version
from payoutwatch.store.audit import audit
from payoutwatch.store.ingest import ingest_records
from payoutwatch.store.tables import RECORD_TABLES, audit_log, metadata
from payoutwatch.usecases.runbooks import sample_runbook_names
from payoutwatch.vocabulary import PayoutStatus, RuleId, Transition

DEMO_MARK = "demo_build"
SILENCED_BY_TEAM = "finance"  # the team whose reserve alert the demo shows silenced
SEED = 2026
DAY = timedelta(days=1)


class NotADemoStore(RuntimeError):
    pass


@dataclass
class Platform:
    """The generated records, by kind."""

    records: dict[str, list[Record]] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        self.records.setdefault(record.record_kind, []).append(record)

    def count(self, kind: str) -> int:
        return len(self.records.get(kind, []))


@dataclass(frozen=True)
class Studio:
    studio_id: str
    typical_cents: int
    reserve_cents: int
    threshold_cents: int
    trend_per_day: float


def _studios(rng: random.Random, n: int) -> list[Studio]:
    out = []
    for i in range(1, n + 1):
        typical = int(rng.lognormvariate(math.log(400_000), 0.6))  # ~4,000 CAD per cycle
        threshold = max(100_000, typical // 1000 * 1000)  # policy: hold about one cycle's payouts
        out.append(Studio(f"st_{i:04d}", typical, threshold * rng.choice([2, 2, 3, 4]), threshold, 0.0))
    # planted: two studios losing reserve fast over the last 60 days (projected below threshold) ...
    for idx, end in ((0, 0.97), (1, 1.04)):
        s = out[idx]
        start = s.threshold_cents * 1.6
        out[idx] = Studio(
            s.studio_id, s.typical_cents, int(start), s.threshold_cents, -(start - s.threshold_cents * end) / 60
        )
    # ... and a dozen sitting steadily inside the 20% warning buffer
    for idx in range(2, 14):
        s = out[idx]
        out[idx] = Studio(
            s.studio_id, s.typical_cents, int(s.threshold_cents * (1.04 + 0.013 * idx)), s.threshold_cents, 0.0
        )
    return out


def build_platform(settings: Settings, now: datetime, *, studios: int = 300) -> Platform:
    rng = random.Random(SEED)
    schedule = schedule_of(settings)
    cycles = [c for c in schedule.between(now - 365 * DAY, now - timedelta(hours=1))]
    people = _studios(rng, studios)
    platform = Platform()
    failed_cycle = cycles[-2] if len(cycles) >= 2 else None
    slow_cycle = cycles[-1] if cycles else None
    held = {s.studio_id for s in people[:2]}
    for cycle in cycles:
        _cycle(
            platform,
            rng,
            cycle,
            people,
            failed=cycle == failed_cycle,
            slow=cycle == slow_cycle,
            held=held if cycle == slow_cycle else set(),
            job=settings.schedule.job,
        )
    for cycle in schedule.between(now - timedelta(hours=1), now):
        if cycle > (cycles[-1] if cycles else now - 365 * DAY):
            _in_progress(platform, cycle, people, now, job=settings.schedule.job)
    if slow_cycle is not None:
        _reconciliation_exceptions(platform, slow_cycle)
    _historic_fallbacks(platform, rng, cycles[:-2], people)
    _reserves(platform, rng, people, now)
    _credentials(platform, now)
    return platform


def _cycle(
    platform: Platform,
    rng: random.Random,
    cycle: datetime,
    studios: list[Studio],
    *,
    failed: bool,
    slow: bool,
    held: set[str],
    job: str,
) -> None:
    run_id = f"run_{cycle:%Y%m%d}"
    started = cycle + timedelta(seconds=rng.randint(20, 180))
    unpaid: list[tuple[Studio, int]] = []
    paid_cents = paid_studios = errors = 0
    for s in studios:
        amount = max(1_000, int(rng.gauss(s.typical_cents, s.typical_cents * 0.15)))
        payout_id = f"po_{s.studio_id}_{cycle:%Y%m%d}"
        if s.studio_id in held:
            platform.add(
                ScheduledPayout(
                    payout_id=payout_id,
                    studio_id=s.studio_id,
                    scheduled_for=cycle,
                    amount_cents=amount,
                    currency="CAD",
                    status=PayoutStatus.HELD,
                    hold_reason="reserve_cap",
                )
            )
            continue
        fails = (failed and rng.random() < 0.38) or rng.random() < 0.002
        if fails:
            errors += 1
            unpaid.append((s, amount))
            platform.add(
                ScheduledPayout(
                    payout_id=payout_id,
                    studio_id=s.studio_id,
                    scheduled_for=cycle,
                    amount_cents=amount,
                    currency="CAD",
                    status=PayoutStatus.FAILED,
                    run_id=run_id,
                )
            )
            continue
        paid_at = started + timedelta(seconds=rng.randint(60, 900 if not slow else 2200))
        transfer_id = f"tr_{s.studio_id}_{cycle:%Y%m%d}"
        platform.add(
            ScheduledPayout(
                payout_id=payout_id,
                studio_id=s.studio_id,
                scheduled_for=cycle,
                amount_cents=amount,
                currency="CAD",
                status=PayoutStatus.PAID,
                paid_at=paid_at,
                run_id=run_id,
                transfer_id=transfer_id,
            )
        )
        platform.add(
            Transfer(
                transfer_id=transfer_id,
                amount_cents=amount,
                currency="CAD",
                created_at=paid_at,
                destination=f"acct_{s.studio_id}",
                payout_id=payout_id,
            )
        )
        paid_cents += amount
        paid_studios += 1
    minutes = 38.5 if slow else (11.0 if failed else rng.uniform(12, 22))
    platform.add(
        JobRun(
            run_id=run_id,
            job=job,
            scheduled_for=cycle,
            started_at=started,
            finished_at=started + timedelta(minutes=minutes),
            exit_code=1 if failed else 0,
            studios_scheduled=len(studios) - len(held),
            studios_processed=paid_studios,
            success_count=paid_studios,
            error_count=errors,
            retry_count=rng.randint(0, 3) + (12 if failed else 0) + (6 if slow else 0),
            cad_processed_cents=paid_cents,
            source="demo",
        )
    )
    if failed:  # Payments Ops covered a handful of the failed studios by hand
        for i, (s, amount) in enumerate(unpaid[:5]):
            detected = started + timedelta(minutes=minutes + 20 + 7 * i)
            done = detected + timedelta(hours=rng.uniform(2, 30)) if i < 4 else None
            platform.add(
                ManualPayout(
                    id=f"mp_{s.studio_id}_{cycle:%Y%m%d}",
                    studio_id=s.studio_id,
                    amount_cents=amount,
                    currency="CAD",
                    detected_at=detected,
                    completed_at=done,
                    reason=rng.choice(["bank_rejected", "psp_timeout", "account_closed"]),
                    run_id=run_id,
                    scheduled_for=cycle,
                )
            )


def _reconciliation_exceptions(platform: Platform, cycle: datetime) -> None:
    """Three of ``cycle``'s paid payouts do not reconcile: the PSP has no transfer for the first, the
    second's transfer is 25 CAD short, the third's was reversed."""
    paid = [
        p
        for p in platform.records["scheduled_payouts"]
        if isinstance(p, ScheduledPayout) and p.scheduled_for == cycle and p.status == PayoutStatus.PAID
    ][:3]
    if len(paid) < 3:
        return
    missing, short, reversed_ = (p.transfer_id for p in paid)
    kept: list[Record] = []
    for t in platform.records["transfers"]:
        assert isinstance(t, Transfer)
        if t.transfer_id == short:
            t = t.model_copy(update={"amount_cents": t.amount_cents - 2_500})
        elif t.transfer_id == reversed_:
            t = t.model_copy(update={"reversed": True, "amount_reversed_cents": t.amount_cents})
        if t.transfer_id != missing:
            kept.append(t)
    platform.records["transfers"] = kept


def _in_progress(platform: Platform, cycle: datetime, studios: list[Studio], now: datetime, *, job: str) -> None:
    """A cycle that started less than an hour ago: payouts still scheduled, its run still going."""
    for s in studios:
        platform.add(
            ScheduledPayout(
                payout_id=f"po_{s.studio_id}_{cycle:%Y%m%d}",
                studio_id=s.studio_id,
                scheduled_for=cycle,
                amount_cents=s.typical_cents,
                currency="CAD",
                status=PayoutStatus.SCHEDULED,
            )
        )
    started = cycle + timedelta(seconds=60)
    if now >= started:
        platform.add(
            JobRun(
                run_id=f"run_{cycle:%Y%m%d}",
                job=job,
                scheduled_for=cycle,
                started_at=started,
                studios_scheduled=len(studios),
                source="demo",
            )
        )


def _historic_fallbacks(platform: Platform, rng: random.Random, cycles: list[datetime], studios: list[Studio]) -> None:
    for cycle in rng.sample(cycles, k=min(6, len(cycles))):
        s = rng.choice(studios)
        detected = cycle + timedelta(hours=rng.uniform(3, 30))
        platform.add(
            ManualPayout(
                id=f"mp_{s.studio_id}_{cycle:%Y%m%d}_h",
                studio_id=s.studio_id,
                amount_cents=int(s.typical_cents * rng.uniform(0.6, 1.2)),
                currency="CAD",
                detected_at=detected,
                completed_at=detected + timedelta(hours=rng.uniform(1, 48)),
                reason=rng.choice(["bank_rejected", "missing_tax_form", "psp_timeout"]),
                scheduled_for=cycle,
            )
        )


def _days(now: datetime, n: int) -> Iterator[datetime]:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(n, -1, -1):
        yield midnight - back * DAY


def _reserves(platform: Platform, rng: random.Random, studios: list[Studio], now: datetime) -> None:
    days = list(_days(now, 364))
    for s in studios:
        for i, day in enumerate(days):
            recent = max(0, i - (len(days) - 60))
            balance = s.reserve_cents + s.trend_per_day * recent
            if s.reserve_cents > s.threshold_cents * 1.5 and not s.trend_per_day:
                balance *= 1 + 0.03 * math.sin(i / 9)  # ordinary studios breathe with their payout cycle
            balance += rng.gauss(0, s.threshold_cents * 0.002)
            platform.add(
                ReserveSnapshot(
                    account_id=s.studio_id, as_of=day, balance_cents=int(balance), threshold_cents=s.threshold_cents
                )
            )
    for i, day in enumerate(days):
        platform.add(
            ReserveSnapshot(
                account_id="platform",
                as_of=day,
                balance_cents=int(250_000_000 + 4_000_000 * math.sin(i / 14)),
                threshold_cents=150_000_000,
            )
        )


# Credentials with an earlier version (days ago it was created, days ago it fell due): the Apple Pay
# certificate renewed 48 days before it expired, the reporting key rotated 35 days before its date
EARLIER_VERSIONS = {"applepay-processing": (1500, 700), "rk_live_reporting": (220, 5)}


def _credentials(platform: Platform, now: datetime) -> None:
    for record in (
        Credential(
            credential_id="applepay-processing",
            kind="apple_pay_certificate",
            name="Apple Pay payment processing (merchant.com.example.studios)",
            owner="security",
            created_at=now - 748 * DAY,
            expires_at=now + timedelta(days=12, hours=5),
            source="demo",
        ),
        Credential(
            credential_id="applepay-merchant-identity",
            kind="apple_pay_certificate",
            name="Apple Pay merchant identity (merchant.com.example.studios)",
            owner="security",
            created_at=now - 350 * DAY,
            expires_at=now + 410 * DAY,
            source="demo",
        ),
        Credential(
            credential_id="rk_live_payouts",
            kind="stripe_restricted_key",
            name="Stripe restricted key: payouts worker",
            owner="payments-engineering",
            created_at=now - 95 * DAY,
            source="demo",
        ),
        Credential(
            credential_id="rk_live_reporting",
            kind="stripe_restricted_key",
            name="Stripe restricted key: finance reporting",
            owner="finance",
            created_at=now - 40 * DAY,
            rotate_by=now + 50 * DAY,
            source="demo",
        ),
        Credential(
            credential_id="whsec_payouts",
            kind="webhook_signing_secret",
            name="Stripe webhook signing secret (payout events)",
            owner="payments-engineering",
            created_at=now - 200 * DAY,
            source="demo",
        ),
    ):
        platform.add(record)
        if record.credential_id in EARLIER_VERSIONS:
            created_days_ago, due_days_ago = EARLIER_VERSIONS[record.credential_id]
            due = "expires_at" if record.expires_at else "rotate_by"
            earlier = {"created_at": now - created_days_ago * DAY, due: now - due_days_ago * DAY}
            platform.add(record.model_copy(update=earlier))


def with_sample_runbooks(settings: Settings, base_url: str) -> Settings:
    """The demo's settings: every rule without ``runbook_url`` links to its sample runbook served at
    ``{base_url}/runbooks/<rule>`` (``docs/runbooks/``), and messages link to alert pages under ``base_url``
    unless ``web.base_url`` is set. A configured runbook or base URL is kept."""
    base = base_url.rstrip("/")
    updates = {}
    for name in sample_runbook_names():
        try:
            rule = settings.rules.of(name)
        except KeyError:
            continue
        if rule.runbook_url is None:
            updates[name] = rule.model_copy(update={"runbook_url": f"{base}/runbooks/{name}"})
    web = settings.web if settings.web.base_url else settings.web.model_copy(update={"base_url": base})
    return settings.model_copy(update={"rules": settings.rules.model_copy(update=updates), "web": web})


def prepare_store(engine: Engine, now: datetime) -> None:
    """Empty a store the demo built before; refuse to touch one holding anything else."""
    with engine.begin() as conn:
        has_records = any(conn.execute(select(exists().select_from(t))).scalar() for t in RECORD_TABLES.values())
        is_demo = conn.execute(select(exists().where(audit_log.c.action == DEMO_MARK))).scalar()
        if has_records and not is_demo:
            raise NotADemoStore(
                "this store holds records the demo did not write; point the demo at its own store "
                "(e.g. run it in an empty folder, or set store.url)"
            )
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
        data_version.bump(conn)
        audit(conn, actor="demo", action=DEMO_MARK, target=None, now=now)


def load(engine: Engine, platform: Platform, settings: Settings, now: datetime) -> None:
    schedule = schedule_of(settings)
    with engine.begin() as conn:
        for kind, records in platform.records.items():
            ingest_records(
                conn,
                kind,
                records,
                schedule=schedule,
                now=now,
                reserve_lookback=settings.rules.reserve_breach.lookback(),
            )


def silence_a_reserve_alert(engine: Engine, transitions: list[Transition], now: datetime) -> str | None:
    """Finance mutes the first studio reserve alert for two days while a top-up is on its way, so the demo
    shows a silenced alert (who, why, until when); returns its key (None when no reserve alert fired)."""
    from payoutwatch.notify.silences import Matcher
    from payoutwatch.usecases.alert_actions import add_silence

    fired = sorted(t.key for t in transitions if t.rule is RuleId.RESERVE_BREACH and t.owner == SILENCED_BY_TEAM)
    if not fired:
        return None
    studio = fired[0].split(":", 1)[1]
    add_silence(
        engine,
        Matcher(key=fired[0], owner=SILENCED_BY_TEAM),
        comment=f"Top-up wire for {studio}'s reserve sent this morning; it lands within 2 business days",
        author="sso:maya.finance",
        now=now,
        length=2 * DAY,
    )
    return fired[0]


@dataclass
class DemoResult:
    """What the demo built and what its first evaluation raised."""

    counts: dict[str, int]
    transitions: list[Transition]


def run_demo(engine: Engine, settings: Settings, *, now: datetime, studios: int) -> DemoResult:
    """Build the sample platform in an empty (or demo) store, evaluate it at ``now`` and deliver.

    Raises ``NotADemoStore`` when the store holds records the demo did not write.
    """
    from payoutwatch.usecases.evaluation import deliver, evaluate

    prepare_store(engine, now)
    platform = build_platform(settings, now, studios=studios)
    load(engine, platform, settings, now)
    transitions = evaluate(engine, settings, at=now, now=now)
    deliver(engine, settings, now=lambda: now)
    silence_a_reserve_alert(engine, transitions, now)
    return DemoResult({kind: platform.count(kind) for kind in platform.records}, transitions)
