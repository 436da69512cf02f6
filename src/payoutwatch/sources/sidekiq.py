"""``sidekiq``: the payout worker's failures from Sidekiq's Redis, as runs.

Each entry of the worker's class in the ``retry`` sorted set is a failed run that is still being
retried (``retry_count`` retries so far, the last error in the reason); an entry in ``dead`` has
given up. A job that leaves the retry set without reaching ``dead`` succeeded on a retry (Sidekiq
removes it then), so its run is closed as succeeded at the sync that notices. Process heartbeats and
the ``stat:processed`` / ``stat:failed`` counters are kept as facts of the sync. Handles Sidekiq 6
(``redis-namespace`` prefixes, float seconds) and 7/8 (8 stores integer milliseconds).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import SecretStr

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase
from payoutwatch.sources.base import Page, SourceError

HEARTBEAT_SECONDS = 60


class SidekiqSource(SourceBase):
    type: Literal["sidekiq"]
    redis_url: SecretStr
    job_class: str  # the payout worker's class (ActiveJob: the wrapped class)
    namespace: str | None = None  # Sidekiq 6 with redis-namespace: keys are "<namespace>:retry" …
    as_job: str | None = None  # the job name its runs get here (default: schedule.job)


def epoch(value: Any) -> datetime | None:
    """Sidekiq instants: float seconds (6, 7) or integer milliseconds (8)."""
    if value is None:
        return None
    number = float(value)
    return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)


class Sidekiq:
    def __init__(self, name: str, config: SidekiqSource, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.job = config.as_job or settings.schedule.job

    def secrets(self) -> list[str]:
        url = self.config.redis_url.get_secret_value()
        password = urlparse(url).password
        return [url] + ([password] if password else [])

    def key(self, name: str) -> str:
        return f"{self.config.namespace}:{name}" if self.config.namespace else name

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        import redis

        client = redis.Redis.from_url(
            self.config.redis_url.get_secret_value(),
            socket_timeout=self.config.timeout_seconds,
            socket_connect_timeout=self.config.timeout_seconds,
            decode_responses=True,
        )
        try:
            page = self._read(client, dict(cursor or {}), now)
        except redis.AuthenticationError:
            raise SourceError("Redis refused the credentials", permanent=True) from None
        except redis.RedisError as exc:
            raise SourceError(f"Redis unreachable: {type(exc).__name__}") from None
        finally:
            client.close()
        yield page

    def _jobs(self, client: Any, set_name: str) -> list[dict[str, Any]]:
        out = []
        for raw in client.zrange(self.key(set_name), 0, -1):
            try:
                job = json.loads(raw)
            except json.JSONDecodeError:
                continue  # not a job payload: nothing payoutwatch can read
            if self.config.job_class in (job.get("class"), job.get("wrapped")):
                out.append(job)
        return out

    def _read(self, client: Any, cursor: dict[str, Any], now: datetime) -> Page:
        page = Page()
        retrying = {job["jid"]: job for job in self._jobs(client, "retry")}
        dead = {job["jid"]: job for job in self._jobs(client, "dead")}
        for job in [*retrying.values(), *dead.values()]:
            page.add("job_runs", self._record(job))
        open_runs: dict[str, Any] = cursor.get("retrying", {})
        for jid, started in open_runs.items():
            if jid not in retrying and jid not in dead:  # it left the retry set alive: a retry succeeded
                page.add(
                    "job_runs",
                    {
                        "run_id": f"sidekiq:{jid}",
                        "job": self.job,
                        "started_at": started["started_at"],
                        "finished_at": now.isoformat(),
                        "exit_code": 0,
                        "retry_count": started["retry_count"] + 1,
                        "source": self.name,
                    },
                )
        page.cursor = {
            "retrying": {
                jid: {"started_at": self._started(job).isoformat(), "retry_count": int(job.get("retry_count", 0))}
                for jid, job in retrying.items()
            }
        }
        page.facts = self._facts(client, now)
        return page

    def _started(self, job: dict[str, Any]) -> datetime:
        started = epoch(job.get("enqueued_at")) or epoch(job.get("created_at")) or epoch(job.get("failed_at"))
        if started is None:
            raise SourceError(f"Sidekiq job {job.get('jid')} has no timestamps")
        return started

    def _record(self, job: dict[str, Any]) -> dict[str, Any]:
        """A failed run: in ``retry`` Sidekiq will try again (a success then closes it), in ``dead`` it gave up."""
        started = self._started(job)
        last_failure = epoch(job.get("retried_at")) or epoch(job.get("failed_at")) or started
        return {
            "run_id": f"sidekiq:{job['jid']}",
            "job": self.job,
            "started_at": started.isoformat(),
            "finished_at": max(last_failure, started).isoformat(),
            "exit_code": 1,
            "retry_count": int(job.get("retry_count", 0)),
            "error_count": 1,
            "source": self.name,
        }

    def _facts(self, client: Any, now: datetime) -> dict[str, int]:
        alive = 0
        for identity in client.smembers(self.key("processes")):
            beat = epoch(client.hget(self.key(identity), "beat"))
            if beat is not None and (now - beat).total_seconds() <= HEARTBEAT_SECONDS:
                alive += 1
        return {
            "sidekiq_processes_alive": alive,
            "sidekiq_processed": int(client.get(self.key("stat:processed")) or 0),
            "sidekiq_failed": int(client.get(self.key("stat:failed")) or 0),
        }


SOURCE_TYPES.register(SidekiqSource, Sidekiq)
