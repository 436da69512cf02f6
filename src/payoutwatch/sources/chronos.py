"""``chronos``: ``GET /v1/scheduler/jobs`` -> the job's last success and last error as runs.

Chronos keeps no run history in its API: each new ``lastSuccess`` / ``lastError`` instant becomes a
finished run (exit 0 / 1) of the configured job, so a failing Chronos job raises
``automation_failure`` like any other. Its cumulative ``successCount`` / ``errorCount`` are job
counters, not per-run figures, and are not recorded as run figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase
from payoutwatch.sources.base import Page, SourceError
from payoutwatch.sources.http import get_json


class ChronosSource(SourceBase):
    type: Literal["chronos"]
    base_url: str
    job: str  # the Chronos job's name
    as_job: str | None = None  # the job name its runs get here (default: schedule.job)
    username: str | None = None
    password: SecretStr | None = None


class Chronos:
    def __init__(self, name: str, config: ChronosSource, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.job = config.as_job or settings.schedule.job

    def secrets(self) -> list[str]:
        return [self.config.password.get_secret_value()] if self.config.password else []

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        auth = None
        if self.config.username and self.config.password:
            auth = (self.config.username, self.config.password.get_secret_value())
        with httpx.Client(timeout=self.config.timeout_seconds, auth=auth, follow_redirects=True) as client:
            jobs = get_json(client, f"{self.config.base_url.rstrip('/')}/v1/scheduler/jobs", "Chronos")
        if not isinstance(jobs, list):
            raise SourceError("Chronos /v1/scheduler/jobs did not answer a list of jobs")
        job = next((j for j in jobs if isinstance(j, dict) and j.get("name") == self.config.job), None)
        if job is None:
            raise SourceError(f"Chronos has no job named {self.config.job!r}", permanent=True)
        page = Page()
        for field, exit_code in (("lastSuccess", 0), ("lastError", 1)):
            instant = _instant(job.get(field))
            if instant is not None:
                page.add(
                    "job_runs",
                    {
                        "run_id": f"chronos:{self.config.job}:{instant.isoformat()}",
                        "job": self.job,
                        "started_at": instant.isoformat(),
                        "finished_at": instant.isoformat(),
                        "exit_code": exit_code,
                        "source": self.name,
                    },
                )
        yield page


def _instant(value: Any) -> datetime | None:
    if not value:
        return None  # Chronos says "" for never
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise SourceError(f"Chronos timestamp {value!r} is not ISO 8601") from None


SOURCE_TYPES.register(ChronosSource, Chronos)
