"""``prometheus``: job runs (and reserve balances) from PromQL queries over Prometheus' HTTP API.

A run is read from gauges whose *value* is an instant, as job exporters publish them
(``payout_job_last_start_timestamp_seconds`` and its ``_last_success_`` / ``_last_failure_``
siblings): a range query (``/api/v1/query_range``) of the ``started`` query over the window since the
cursor yields every distinct start instant, each one run; its finish is the last ``succeeded`` or
``failed`` instant at or after its start and before the next start (exit 0 or 1). A gauge keeps its
value, so the first sample of each window repeats the latest run before it: a run seen running is
closed by a later sync. Several finishes before the next start are retries (``retry_count``, the last
finish decides). Its figures (``studios_processed``, ``retry_count`` …) are instant queries
(``/api/v1/query``) evaluated when its finish was first sampled (at ``now`` while it runs). Reserve balances are a range
query per account label, one snapshot per ``reserve_step_minutes``.

The window advances page by page (at most ``MAX_POINTS`` steps each); each page carries its end as the
cursor, so an interrupted first sync resumes where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, model_validator

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase, Strict
from payoutwatch.sources.base import Page, SourceError
from payoutwatch.sources.http import get_json

MAX_POINTS = 10_000  # Prometheus refuses a range query of more than 11,000 points per series
RunFigure = Literal[
    "studios_scheduled", "studios_processed", "success_count", "error_count", "retry_count", "cad_processed_cents"
]


class RunQueries(Strict):
    """One job's runs: PromQL expressions whose values are Unix instants (seconds), plus figures."""

    job: str | None = None  # the job name its runs get here (default: schedule.job)
    started: str
    succeeded: str | None = None
    failed: str | None = None
    figures: dict[RunFigure, str] = Field(default_factory=dict)


class ReserveQueries(Strict):
    """Balances exported per account: one series per ``account_label`` value (``platform`` for the platform)."""

    balance: str
    threshold: str
    account_label: str = "account_id"
    scale: float = Field(1, gt=0)  # multiplies the values into cents (100 for a gauge in dollars)
    step_minutes: float = Field(60, gt=0)


class PrometheusSource(SourceBase):
    type: Literal["prometheus"]
    base_url: str
    username: str | None = None
    password: SecretStr | None = None
    bearer_token: SecretStr | None = None
    step_seconds: float = Field(60, gt=0)  # below the shortest time between two runs' starts
    lookback_days: float = Field(35, gt=0)  # how far back the first sync reads
    runs: list[RunQueries] = Field(default_factory=list)
    reserves: ReserveQueries | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> PrometheusSource:
        if self.bearer_token is not None and (self.username or self.password):
            raise ValueError("give either username/password (basic auth) or bearer_token, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        if not self.runs and self.reserves is None:
            raise ValueError("configure runs, reserves or both")
        return self


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Prometheus:
    def __init__(self, name: str, config: PrometheusSource, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.default_job = settings.schedule.job

    def secrets(self) -> list[str]:
        return [s.get_secret_value() for s in (self.config.password, self.config.bearer_token) if s is not None]

    def _client(self) -> httpx.Client:
        auth = None
        headers = {}
        if self.config.username and self.config.password:
            auth = httpx.BasicAuth(self.config.username, self.config.password.get_secret_value())
        if self.config.bearer_token:
            headers["Authorization"] = f"Bearer {self.config.bearer_token.get_secret_value()}"
        return httpx.Client(timeout=self.config.timeout_seconds, auth=auth, headers=headers, follow_redirects=True)

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        end = now.timestamp()
        start = float(cursor["until"]) if cursor else end - self.config.lookback_days * 86400
        span = MAX_POINTS * self.config.step_seconds
        with self._client() as client:
            while True:
                until = min(end, start + span)
                page = Page(cursor={"until": until})
                for queries in self.config.runs:
                    self._runs(client, queries, start, until, page)
                if self.config.reserves is not None:
                    self._reserves(client, self.config.reserves, start, until, page)
                yield page
                if until >= end:
                    return
                start = until

    # --- the HTTP API ---------------------------------------------------------------------------
    def _api(self, client: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        url = f"{self.config.base_url.rstrip('/')}/api/v1/{path}"
        answer = get_json(client, url, "Prometheus", method="POST", data=params)
        if not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error") if isinstance(answer, dict) else None
            raise SourceError(f"Prometheus refused {params.get('query')!r}: {error}", permanent=True)
        result = answer.get("data", {}).get("result")
        if not isinstance(result, list):
            raise SourceError(f"Prometheus answered {params.get('query')!r} without a result list")
        return result

    def _range(self, client: httpx.Client, query: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        first = math.ceil(start / step) * step  # aligned, so every sync samples the same instants
        if first > end:
            return []
        return self._api(client, "query_range", {"query": query, "start": first, "end": end, "step": step})

    def _instants(self, client: httpx.Client, query: str | None, start: float, end: float) -> dict[float, float]:
        """The distinct positive values ``query`` held over the window (the instants a gauge named),
        each with the sample time it was first seen at (when its run's figures are read)."""
        if query is None:
            return {}
        seen: dict[float, float] = {}
        for series in self._range(client, query, start, end, self.config.step_seconds):
            for at, value in series.get("values", []):
                number = float(value)
                if math.isfinite(number) and number > 0:
                    seen[number] = min(float(at), seen.get(number, math.inf))
        return seen

    def _scalar(self, client: httpx.Client, query: str, at: float) -> float | None:
        result = self._api(client, "query", {"query": query, "time": at})
        if not result:
            return None
        value = result[0].get("value")
        if isinstance(value, list) and len(value) == 2:
            return float(value[1])
        if isinstance(value, (int, float, str)):
            return float(value)
        raise SourceError(f"Prometheus answered {query!r} with an unreadable value")

    # --- runs -----------------------------------------------------------------------------------
    def _runs(self, client: httpx.Client, queries: RunQueries, start: float, end: float, page: Page) -> None:
        job = queries.job or self.default_job
        starts = sorted(self._instants(client, queries.started, start, end))
        finishes = sorted(
            [(t, 0, seen) for t, seen in self._instants(client, queries.succeeded, start, end).items()]
            + [(t, 1, seen) for t, seen in self._instants(client, queries.failed, start, end).items()]
        )
        for index, started in enumerate(starts):
            following = starts[index + 1] if index + 1 < len(starts) else math.inf
            ends = [finish for finish in finishes if started <= finish[0] < following]
            record: dict[str, Any] = {
                "run_id": f"{self.name}:{job}:{_instant(started).isoformat()}",
                "job": job,
                "started_at": _instant(started).isoformat(),
                "source": self.name,
            }
            figures_at = end  # a running run: its figures as last reported
            if ends:
                finished, code, figures_at = ends[-1]
                record["finished_at"] = _instant(finished).isoformat()
                record["exit_code"] = code
            if len(ends) > 1:  # failed, then finished again without a new start: retried in place
                record["retry_count"] = len(ends) - 1
            warning = self._figures(client, queries, figures_at, record)
            if warning:
                page.warnings.append(f"run {record['run_id']}: {warning}")
            page.add("job_runs", record)

    def _figures(self, client: httpx.Client, queries: RunQueries, at: float, record: dict[str, Any]) -> str | None:
        """Each figure's value at ``at`` into ``record``; a value that is not a whole number is a warning."""
        for figure, query in queries.figures.items():
            value = self._scalar(client, query, at)
            if value is None:
                continue
            if not math.isfinite(value) or value != int(value):
                return f"{figure} is {value}, not a whole number; figures not recorded"
            record[figure] = int(value)
        return None

    # --- reserves -------------------------------------------------------------------------------
    def _reserves(self, client: httpx.Client, queries: ReserveQueries, start: float, end: float, page: Page) -> None:
        step = queries.step_minutes * 60
        thresholds = self._by_account(client, queries, queries.threshold, start, end, step)
        for (account, at), balance in sorted(
            self._by_account(client, queries, queries.balance, start, end, step).items()
        ):
            threshold = thresholds.get((account, at))
            if threshold is None:
                continue  # a balance without its threshold at that instant cannot be judged
            page.add(
                "reserve_snapshots",
                {
                    "account_id": account,
                    "as_of": _instant(at).isoformat(),
                    "balance_cents": _cents(balance * queries.scale),
                    "threshold_cents": _cents(threshold * queries.scale),
                },
            )

    def _by_account(
        self, client: httpx.Client, queries: ReserveQueries, query: str, start: float, end: float, step: float
    ) -> dict[tuple[str, float], float]:
        out = {}
        for series in self._range(client, query, start, end, step):
            account = series.get("metric", {}).get(queries.account_label)
            if not account:
                raise SourceError(f"a series of {query!r} has no {queries.account_label!r} label", permanent=True)
            for at, value in series.get("values", []):
                out[(str(account), float(at))] = float(value)
        return out


def _cents(value: float) -> Any:
    """Whole cents; NaN or infinity is passed on as it is, for the record's validation to refuse."""
    return round(value) if math.isfinite(value) else value


SOURCE_TYPES.register(PrometheusSource, Prometheus)
