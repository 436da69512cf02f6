"""One rendering of a transition for every channel: what happened, to what, the figures, who owns it.

A message names its own rule id and alert key and no other rule's id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import tzinfo
from typing import Any
from urllib.parse import quote

from payoutwatch.clock import format_duration, iso
from payoutwatch.config import Settings
from payoutwatch.money import format_cents
from payoutwatch.rules.registry import rule_named
from payoutwatch.timefmt import local
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
    runbook_url: str | None = None  # rules.<rule>.runbook_url
    # what this channel answered for an earlier message of the episode (Jira: the ticket key); set by the
    # outbox just before sending (always None in the stored message)
    remote_ref: str | None = None

    @property
    def tag(self) -> str:
        """``[FIRING]``, ``[RESOLVED]``, ``[REMINDER 14d]`` or ``[ESCALATED]``."""
        if self.event == Event.REMINDER:
            return f"[REMINDER {self.stage}]"
        return f"[{TAGS[Event(self.event)]}]"

    @property
    def headline(self) -> str:
        return f"{self.tag} {self.title}"

    def text(self, *, links: bool = True) -> str:
        lines = [self.headline, self.summary]
        lines += [f"- {reason}" for reason in self.reasons]
        lines += [f"{label}: {value}" for label, value in self.facts]
        if self.runbook_url and links:
            lines.append(f"Runbook: {self.runbook_url}")
        if self.link and links:
            lines.append(f"Alert page: {self.link}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        data = dict(data)
        data["facts"] = [tuple(f) for f in data.get("facts", [])]
        return cls(**data)


def alert_link(base_url: str, key: str) -> str:
    """The alert page of ``key`` under ``web.base_url``, the key percent-encoded as one path segment."""
    return f"{base_url.rstrip('/')}/alerts/{quote(key, safe=':@')}"


def clip(text: str, limit: int, measure: Callable[[str], int] = len) -> str:
    """``text`` cut (with ``…``) so that ``measure`` of it is at most ``limit``."""
    if measure(text) <= limit:
        return text
    keep = min(len(text), limit)
    while keep > 0 and measure(text[:keep] + "…") > limit:
        keep -= max(1, (measure(text[:keep] + "…") - limit) // 6)
    return text[: max(keep, 0)] + "…"


def more(hidden: int) -> str:
    return f"… and {hidden} more (the alert page has the rest)"


def fit_lines(
    lines: Sequence[str], limit: int, *, measure: Callable[[str], int] = len, line_limit: int = 1000, sep: str = "\n"
) -> list[str]:
    """As many of ``lines`` (each clipped to ``line_limit``) as fit in ``limit`` when joined with ``sep``,
    ending with "… and N more" when some are left out."""
    shown: list[str] = []
    for i, line in enumerate(lines):
        candidate = clip(line, line_limit, measure)
        rest = len(lines) - i - 1
        tail = [more(rest)] if rest else []
        if measure(sep.join([*shown, candidate, *tail])) > limit:
            return [*shown, more(len(lines) - i)]
        shown.append(candidate)
    return shown


def _fmt(name: str, value: Any, currency: str, zone: tzinfo) -> str:
    """A fact as people read it: money, a ratio, or an instant (``*_at``, a ``cycle``) in the display zone."""
    if (name.endswith("_at") or name == "cycle") and isinstance(value, str):
        return local(value, zone, minutes=name == "cycle")
    if name.endswith("_cents") and isinstance(value, int):
        return format_cents(value, currency)
    if name.endswith("_ratio") and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.2%}"
    if name.endswith("_s") and isinstance(value, int | float) and not isinstance(value, bool):
        return format_duration(value)
    if name.endswith("_minutes") and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g} min"
    return str(value)


def figures(rule_id: str, details: Mapping[str, Any], currency: str, zone: tzinfo) -> list[tuple[str, str]]:
    """The figures behind an alert, as its rule labels them, each with the limit it is held against:
    the same list in every message and on the alert page (instants in ``zone``, as people read them)."""
    rule = rule_named(rule_id)
    if rule is None:
        return []
    out = []
    for name, label in rule.fact_labels.items():
        if details.get(name) is None:
            continue
        shown = _fmt(name, details[name], currency, zone)
        limit = rule.fact_limits.get(name)
        if limit is not None and details.get(limit.detail) is not None:
            shown += f" ({limit.word} {_fmt(limit.detail, details[limit.detail], currency, zone)})"
        out.append((label, shown))
    return out


def runbook_of(settings: Settings, rule_id: str) -> str | None:
    """``rules.<rule>.runbook_url``, or None (also for a rule no longer configured)."""
    try:
        return settings.rules.of(rule_id).runbook_url
    except KeyError:
        return None


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
    facts += figures(transition.rule, details, settings.currency, settings.display_tz)
    if transition.actor:
        facts.append(("Resolved by", transition.actor))
    link = alert_link(settings.web.base_url, transition.key) if settings.web.base_url else None
    runbook_url = runbook_of(settings, transition.rule)
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
        runbook_url=runbook_url,
    )
