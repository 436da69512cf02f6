"""Back-testing: replay every rule over history with (possibly changed) thresholds.

Findings are computed from the real store at each step; alert state lives in a scratch in-memory
store, so the real alerts, history and outbox are never touched and nothing is sent. The result
lists every transition that would have happened, and how it differs from what actually fired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

import yaml
from sqlalchemy import Engine, select
from sqlalchemy.pool import StaticPool

from payoutwatch.clock import iso
from payoutwatch.config import ConfigError, Settings, parse_settings
from payoutwatch.rules.engine import apply_findings
from payoutwatch.store.engine import make_engine, migrate
from payoutwatch.store.tables import alert_history
from payoutwatch.timefmt import local
from payoutwatch.usecases.evaluation import evaluated_rules, findings_at
from payoutwatch.vocabulary import Action, Event

MAX_STEPS = 100_000
EVENTFUL = {Action.FIRED.value, Action.STAGE_CHANGED.value, Action.RESOLVED.value, Action.RESOLVED_BY_PERSON.value}


@dataclass(frozen=True)
class Replayed:
    key: str
    rule: str
    event: str
    at: datetime
    stage: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "rule": self.rule, "event": self.event, "at": iso(self.at), "stage": self.stage}


@dataclass
class Comparison:
    only_backtest: list[tuple[str, str]]
    only_actual: list[tuple[str, str]]
    both: list[tuple[str, str]]


def with_overrides(settings: Settings, overrides: list[str], *, named: str = "--set") -> Settings:
    """``rules.fallback_volume.max_fallback_ratio=0.01`` … applied to a copy, validated like the file.

    ``named`` is what the person typed them into (the CLI's ``--set``, the page's "override"): every
    error starts with it."""
    data = settings.model_dump(mode="json", by_alias=True)
    for override in overrides:
        path, sep, raw = override.partition("=")
        if not sep or not path.strip():
            raise ConfigError(f"{named} {override!r}: expected key.path=value")
        node = data
        parts = path.strip().split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"{named} {override!r}: {part!r} is not a section")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"{named} {override!r}: no key {path.strip()!r}")
        try:
            node[parts[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"{named} {override!r}: the value is not a YAML value") from None
    # secrets come back redacted from model_dump; a back-test sends nothing, so they are never used
    return parse_settings(data, origin=named)


def scratch_store() -> Engine:
    engine = make_engine("sqlite://", poolclass=StaticPool)
    migrate(engine)
    return engine


def steps(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    if step <= timedelta(0):
        raise ValueError("--step must be positive")
    if end < start:
        raise ValueError("--to is before --from")
    count = int((end - start) / step) + 1
    if count > MAX_STEPS:
        raise ValueError(f"{count} steps is too many (at most {MAX_STEPS}); use a larger --step")
    return [start + i * step for i in range(count)]


def replay(
    store: Engine,
    settings: Settings,
    *,
    start: datetime,
    end: datetime,
    step: timedelta,
    on_step: Callable[[float], None] | None = None,
) -> list[Replayed]:
    """What would have fired, evaluating every ``step`` from ``start`` to ``end`` on scratch alert state;
    ``on_step`` is called after each evaluation (a progress bar)."""
    scratch = scratch_store()
    out: list[Replayed] = []
    try:
        for at in steps(start, end, step):
            with store.connect() as real:
                findings = findings_at(real, at, settings)
            with scratch.begin() as conn:
                transitions = apply_findings(conn, findings, rules=evaluated_rules(), at=at, now=at, settings=settings)
            out += [Replayed(t.key, t.rule, t.event.value, at, t.stage) for t in transitions if t.event is not None]
            if on_step is not None:
                on_step(1)
    finally:
        scratch.dispose()
    return out


def actual(store: Engine, *, start: datetime, end: datetime) -> list[Replayed]:
    h = alert_history.c
    with store.connect() as conn:
        rows = conn.execute(
            select(h.key, h.rule, h.event, h.at, h.stage)
            .where(h.at >= start, h.at <= end, h.action.in_(EVENTFUL), h.event.is_not(None))
            .order_by(h.at, h.id)
        ).all()
    return [Replayed(r.key, r.rule, r.event, r.at, r.stage) for r in rows]


def compare(backtest: list[Replayed], real: list[Replayed]) -> Comparison:
    ours = {(r.key, r.event) for r in backtest}
    theirs = {(r.key, r.event) for r in real}
    return Comparison(sorted(ours - theirs), sorted(theirs - ours), sorted(ours & theirs))


@dataclass(frozen=True)
class Course:
    """What one alert key does over the window: how many times it starts firing, when first, which stages."""

    starts: int = 0
    first_at: datetime | None = None
    stages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """One alert key that the overrides change: its course under the current and the changed settings."""

    key: str
    rule: str
    current: Course
    changed: Course

    def describe(self, zone: tzinfo | None = None) -> str:
        """The change in a sentence; instants in ``zone`` as people read them (ISO UTC without one)."""

        def at(instant: datetime | None) -> str:
            return local(instant, zone, minutes=True) if zone is not None else iso(instant) or ""

        now, then = self.current, self.changed
        if now.starts and not then.starts:
            return f"{self.key} would not fire (under the current configuration it fires {at(now.first_at)})"
        if then.starts and not now.starts:
            return f"{self.key} would fire {at(then.first_at)} (under the current configuration it does not fire)"
        parts = []
        if then.first_at != now.first_at:
            parts.append(f"would first fire {at(then.first_at)} instead of {at(now.first_at)}")
        if then.starts != now.starts:
            parts.append(f"would fire {_times(then.starts)} instead of {_times(now.starts)}")
        if then.stages != now.stages:
            parts.append(f"would reach {_stages(then.stages)} instead of {_stages(now.stages)}")
        return f"{self.key} " + "; ".join(parts)

    def as_json(self, zone: tzinfo | None = None) -> dict[str, Any]:
        return {
            "key": self.key,
            "rule": self.rule,
            "current": {"starts": self.current.starts, "first_at": iso(self.current.first_at)},
            "changed": {"starts": self.changed.starts, "first_at": iso(self.changed.first_at)},
            "current_stages": list(self.current.stages),
            "changed_stages": list(self.changed.stages),
            "change": self.describe(zone),
        }


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _stages(stages: tuple[str, ...]) -> str:
    return "stage " + ", ".join(stages) if stages else "no stage"


def courses(replayed: list[Replayed]) -> dict[str, tuple[str, Course]]:
    """Each key's course: a start is an event of the key while it was not firing (a resolve ends one)."""
    out: dict[str, tuple[str, Course]] = {}
    open_keys: set[str] = set()
    for r in replayed:
        rule, course = out.get(r.key, (r.rule, Course()))
        if r.event == Event.RESOLVED.value:
            open_keys.discard(r.key)
        else:
            if r.key not in open_keys:
                open_keys.add(r.key)
                course = Course(course.starts + 1, course.first_at or r.at, course.stages)
            if r.stage and r.stage not in course.stages:
                course = Course(course.starts, course.first_at, (*course.stages, r.stage))
        out[r.key] = (rule, course)
    return out


def against_current(current: list[Replayed], changed: list[Replayed]) -> list[Change]:
    """The keys whose course over the same window differs between the current settings and the overrides:
    would fire, would not fire, fires at another time or another number of times, reaches other stages."""
    before, after = courses(current), courses(changed)
    out = []
    for key in sorted(before.keys() | after.keys()):
        rule = (before.get(key) or after[key])[0]
        was, will = before.get(key, (rule, Course()))[1], after.get(key, (rule, Course()))[1]
        if was != will:
            out.append(Change(key, rule, was, will))
    return out
