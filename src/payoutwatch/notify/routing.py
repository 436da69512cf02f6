"""Routes (DESIGN §6): a transition goes to the union of the channels of every matching route."""

from __future__ import annotations

from fnmatch import fnmatchcase

from payoutwatch.config import Route, Settings


def route_matches(route: Route, *, rule: str, stage: str | None, key: str, owner: str, severity: str) -> bool:
    if route.rule is not None and route.rule not in (rule, "*"):
        return False
    if route.stages is not None and stage not in route.stages:
        return False
    if route.keys is not None and not any(fnmatchcase(key, pattern) for pattern in route.keys):
        return False
    if route.owners is not None and owner not in route.owners:
        return False
    return route.severities is None or severity in route.severities


def channels_for(settings: Settings, *, rule: str, stage: str | None, key: str, owner: str, severity: str) -> list[str]:
    """Channel names in route order, each once."""
    out: list[str] = []
    for route in settings.routes:
        if route_matches(route, rule=rule, stage=stage, key=key, owner=owner, severity=severity):
            out.extend(name for name in route.channels if name not in out)
    return out
