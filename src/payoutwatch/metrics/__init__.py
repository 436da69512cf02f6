"""Dashboards: pure as-of functions ``(conn, at, settings) -> figures`` (DESIGN §4).

Every figure counts only what was known at ``at``; aggregation happens in SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from payoutwatch.config import Settings
from payoutwatch.vocabulary import DASHBOARD_NAMES as DASHBOARD_NAMES  # the names, where callers look for them

DashboardFunction = Callable[[Connection, datetime, Settings], dict[str, Any]]


def dashboards() -> dict[str, DashboardFunction]:
    """Each registered dashboard's function (``vocabulary.DASHBOARDS``: name, title, who sees it)."""
    from payoutwatch.metrics import credentials, fallback_activity, payout_health, reserves

    functions: dict[str, DashboardFunction] = {
        "payout_health": payout_health.dashboard,
        "fallback_activity": fallback_activity.dashboard,
        "reserves": reserves.dashboard,
        "credentials": credentials.dashboard,
    }
    return {name: functions[name] for name in DASHBOARD_NAMES}


def compute(name: str, conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
    """The named dashboard's figures at ``at`` (raises KeyError for an unknown name); the heavy ones
    are computed once per instant and version of the records (``metrics/cache.py``)."""
    from payoutwatch.metrics.cache import CACHE, HEAVY

    function = dashboards()[name]
    if name in HEAVY:
        return CACHE.figures(name, conn, at, settings, function)
    return function(conn, at, settings)
