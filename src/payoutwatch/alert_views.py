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
