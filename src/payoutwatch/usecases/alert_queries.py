"""How a stored alert is shown (CLI JSON and the API): one shape for both."""

from __future__ import annotations

from typing import Any

from payoutwatch.clock import iso


def alert_json(row: Any) -> dict[str, Any]:
    return {
        "key": row.key,
        "rule": row.rule,
        "state": row.state,
        "stage": row.stage,
        "severity": row.severity,
        "owner": row.owner,
        "summary": row.summary,
        "started_at": iso(row.started_at),
        "resolved_at": iso(row.resolved_at),
        "resolved_by": row.resolved_by,
        "acked_by": row.acked_by,
        "acked_at": iso(row.acked_at),
        "episode": row.episode,
        "details": row.details,
    }


def silence_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "rule": row.rule,
        "key": row.key,
        "owner": row.owner,
        "starts_at": iso(row.starts_at),
        "ends_at": iso(row.ends_at),
        "author": row.author,
        "comment": row.comment,
    }


def notification_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "event": row.event,
        "rule": row.rule,
        "alert_key": row.alert_key,
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at),
        "sent_at": iso(row.sent_at),
        "last_error": row.last_error,
    }
