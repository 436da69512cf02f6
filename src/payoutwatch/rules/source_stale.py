"""``source_stale``: a configured source whose last successful sync is older than its staleness limit.

A source that never succeeded counts from its first attempt; one never attempted is not judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, select

from payoutwatch.clock import iso
from payoutwatch.config import Settings, SourceSettings, SourceStaleSettings
from payoutwatch.rules.registry import RuleBase, register
from payoutwatch.store.tables import source_state
from payoutwatch.timefmt import local
from payoutwatch.vocabulary import Finding, RuleId


def findings(
    states: list[Any],
    sources: dict[str, SourceSettings],
    at: datetime,
    rule: SourceStaleSettings,
    zone: tzinfo = UTC,
) -> list[Finding]:
    out = []
    for state in states:
        config = sources.get(state.source)
        if config is None:
            continue
        limit = timedelta(minutes=config.staleness_minutes)
        since = state.last_success_at or state.first_attempt_at
        if at - since <= limit:
            continue
        minutes = (at - since).total_seconds() / 60
        reason = (
            f"no successful sync for {minutes:.0f} min (limit {config.staleness_minutes:g} min)"
            if state.last_success_at
            else f"never synced successfully since {local(state.first_attempt_at, zone)}"
        )
        reasons = [reason] + ([f"last error: {state.last_error}"] if state.last_error else [])
        out.append(
            Finding(
                rule=RuleId.SOURCE_STALE,
                key=f"{RuleId.SOURCE_STALE}:{state.source}",
                severity=rule.severity,
                owner=rule.owner,
                summary=f"Source {state.source} is stale: {reason}",
                details={
                    "source": state.source,
                    "last_success_at": iso(state.last_success_at),
                    "last_attempt_at": iso(state.last_attempt_at),
                    "last_error": state.last_error,
                    "staleness_minutes": config.staleness_minutes,
                    "reasons": reasons,
                },
            )
        )
    return out


class SourceStale(RuleBase):
    id = RuleId.SOURCE_STALE
    settings_model = SourceStaleSettings
    fact_labels: Mapping[str, str] = {
        "source": "Source",
        "last_success_at": "Last successful sync",
        "last_error": "Last error",
        "staleness_minutes": "Stale after",
    }

    def findings_at(self, conn: Connection, at: datetime, settings: Settings) -> list[Finding]:
        states = list(conn.execute(select(source_state).order_by(source_state.c.source)))
        return findings(states, settings.sources, at, settings.rules.source_stale, settings.display_tz)


RULE = register(SourceStale())
