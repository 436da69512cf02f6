"""One rendering of a transition for every channel: what happened, to what, the figures, who owns it.

A message names its own rule id and alert key and no other rule's id.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.money import format_cents
from payoutwatch.rules.registry import rule_named
from payoutwatch.vocabulary import Event, Transition

TAGS = {Event.FIRING: "FIRING", Event.RESOLVED: "RESOLVED", Event.ESCALATED: "ESCALATED"}


@dataclass(frozen=True)
class Message:
    rule: str
    key: str
    event: str
    stage: str | None
    severity: str
    owner: str
    title: str
    summary: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    link: str | None = None
    episode: str = ""
    at: str = ""
    started_at: str = ""
    actor: str | None = None

    @property
    def tag(self) -> str:
        """``[FIRING]``, ``[RESOLVED]``, ``[REMINDER 14d]`` or ``[ESCALATED]``."""
        if self.event == Event.REMINDER:
            return f"[REMINDER {self.stage}]"
        return f"[{TAGS[Event(self.event)]}]"

    @property
    def headline(self) -> str:
        return f"{self.tag} {self.title}"

    def text(self) -> str:
        lines = [self.headline, self.summary]
        lines += [f"- {reason}" for reason in self.reasons]
        lines += [f"{label}: {value}" for label, value in self.facts]
        if self.link:
            lines.append(self.link)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        data = dict(data)
        data["facts"] = [tuple(f) for f in data.get("facts", [])]
        return cls(**data)


def _fmt(name: str, value: Any, currency: str) -> str:
    if name.endswith("_cents") and isinstance(value, int):
        return format_cents(value, currency)
    if name.endswith("_ratio") and isinstance(value, float):
        return f"{value:.2%}"
    return str(value)


def render(transition: Transition, settings: Settings) -> Message:
    assert transition.event is not None
    details = transition.details
    facts = [
        ("Alert key", transition.key),
        ("Rule", transition.rule),
        ("Owner", transition.owner),
        ("Severity", transition.severity),
    ]
    if transition.stage:
        facts.append(("Stage", transition.stage))
    rule = rule_named(transition.rule)
    labels = rule.fact_labels if rule is not None else {}
    facts += [
        (label, _fmt(name, details[name], settings.currency))
        for name, label in labels.items()
        if details.get(name) is not None
    ]
    if transition.actor:
        facts.append(("Resolved by", transition.actor))
    link = None
    if settings.web.base_url:
        link = f"{settings.web.base_url.rstrip('/')}/alerts/{transition.key}"
    verb = {
        Event.FIRING: Event.FIRING.value,
        Event.RESOLVED: Event.RESOLVED.value,
        Event.REMINDER: f"reminder ({transition.stage})",
        Event.ESCALATED: f"escalated ({transition.stage})",
    }[transition.event]
    return Message(
        rule=transition.rule,
        key=transition.key,
        event=transition.event.value,
        stage=transition.stage,
        severity=transition.severity,
        owner=transition.owner,
        title=f"{transition.rule} {verb}: {transition.key}",
        summary=transition.summary if transition.event != Event.RESOLVED else f"Resolved: {transition.summary}",
        facts=facts,
        reasons=list(details.get("reasons") or []),
        link=link,
        episode=transition.episode,
        at=iso(transition.at) or "",
        started_at=iso(transition.started_at) or "",
        actor=transition.actor,
    )
