"""The Rule protocol and the one registry every consumer iterates.

A rule is one module: it declares its id, how it reads its inputs and turns them into findings,
its stages (in order of urgency, each with the event it sends), the labels of its detail facts (and
the limit each is shown against), its settings model (default owner and severity), its default
channels and what it exports to Prometheus. Evaluation, the engine, the outbox, messages, config
defaults and exports loop over ``rules()``; none of them names a particular rule. Registering a module's rule::

    RULE = register(MyRule())

The built-in rules are imported on the first call to ``rules()`` (not at import time), so this
module can be imported from anywhere, including ``config``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from payoutwatch.vocabulary import Event, Finding, RuleId, Transition

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from payoutwatch.config import RuleSettings, Settings

BUILT_IN = "payoutwatch.rules.built_in"


class Checked(StrEnum):
    """When a rule is evaluated: with every rule at an instant, or after deliveries (channel health)."""

    AT_INSTANT = "at_instant"
    AFTER_DELIVERY = "after_delivery"


@dataclass(frozen=True)
class Stage:
    """A stage an alert of the rule can reach, and the event reaching it sends."""

    name: str
    event: Event


@dataclass(frozen=True)
class Limit:
    """The threshold a figure is shown against: ``word`` ("limit", "minimum") and the detail holding it."""

    word: str
    detail: str


@dataclass(frozen=True)
class PrometheusAlert:
    """One Prometheus alerting rule mirroring a payoutwatch rule (``exports.prometheus_rules``)."""

    name: str
    expr: str
    severity: str
    owner: str
    summary: str


class Rule(Protocol):
    """What every rule module provides (see ``RuleBase`` for the usual defaults)."""

    @property
    def id(self) -> RuleId: ...

    @property
    def settings_model(self) -> type[RuleSettings]: ...

    @property
    def fact_labels(self) -> Mapping[str, str]:
        """The figures behind an alert: detail name → label, in the order messages and the alert page show them."""
        ...

    @property
    def fact_limits(self) -> Mapping[str, Limit]:
        """Detail name of a figure → the threshold it is shown against ("38.5 min (limit 30 min)")."""
        ...

    @property
    def default_channels(self) -> Sequence[str]: ...

    @property
    def checked(self) -> Checked: ...

    def findings_at(self, conn: Connection, at: datetime, settings: Settings) -> list[Finding]:
        """Read the rule's inputs from the store as known at ``at`` and return its findings (pure)."""
        ...

    def stages(self, settings: Settings) -> Sequence[Stage]:
        """The rule's stages, least urgent first; empty for a rule without stages."""
        ...

    def targets(self, transition: Transition, routed: list[str], settings: Settings) -> list[str]:
        """The channels a transition goes to, given the ones its routes name."""
        ...

    def prometheus_alerts(self, settings: Settings) -> list[PrometheusAlert]: ...


class RuleBase:
    """Defaults for a rule: no stages, sent where its routes say, to the log by default, nothing exported."""

    default_channels: Sequence[str] = ("log",)
    checked: Checked = Checked.AT_INSTANT
    fact_limits: Mapping[str, Limit] = {}

    def stages(self, settings: Settings) -> Sequence[Stage]:
        return ()

    def targets(self, transition: Transition, routed: list[str], settings: Settings) -> list[str]:
        return routed

    def prometheus_alerts(self, settings: Settings) -> list[PrometheusAlert]:
        return []


_RULES: dict[RuleId, Rule] = {}
_BUILT_IN_ORDER = {rule_id: position for position, rule_id in enumerate(RuleId)}


def register(rule: Rule) -> Rule:
    """Add a rule to the registry (replacing one with the same id) and return it."""
    _RULES[rule.id] = rule
    return rule


def unregister(rule_id: RuleId) -> None:
    _RULES.pop(rule_id, None)


def rules() -> list[Rule]:
    """Every registered rule: the built-in ones in ``RuleId`` order, then plug-ins in registration order."""
    importlib.import_module(BUILT_IN)
    return sorted(_RULES.values(), key=lambda rule: _BUILT_IN_ORDER.get(rule.id, len(_BUILT_IN_ORDER)))


def rule_named(rule_id: str) -> Rule | None:
    """The registered rule with this id, or None (an alert of a rule no longer registered)."""
    importlib.import_module(BUILT_IN)
    return _RULES.get(RuleId(rule_id))


def checked(when: Checked) -> list[Rule]:
    return [rule for rule in rules() if rule.checked is when]


def stage_event(rule_id: str, stage: str | None, settings: Settings) -> Event:
    """The event a finding at this stage sends: the stage's own event, else ``firing``."""
    rule = rule_named(rule_id)
    if rule is not None and stage is not None:
        for known in rule.stages(settings):
            if known.name == stage:
                return known.event
    return Event.FIRING


def stage_rank(rule_id: str, stage: str | None, settings: Settings) -> int:
    """Higher is more urgent; 0 for no stage (or one the rule does not know)."""
    rule = rule_named(rule_id)
    if rule is None or stage is None:
        return 0
    names = [known.name for known in rule.stages(settings)]
    return names.index(stage) + 1 if stage in names else 0
