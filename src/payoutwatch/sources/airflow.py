"""``airflow``: DAG runs -> job runs, through Airflow's stable REST API.

``api_version: v1`` is Airflow 2 (``/api/v1``, basic auth); ``v2`` is Airflow 3 (``/api/v2``, a JWT
from ``POST /auth/token``). A run's state gives its outcome (``success`` exit 0, ``failed`` exit 1,
``queued`` is skipped, ``running`` stays unfinished); its task instances' try numbers give
``retry_count``; a task may push the run's figures (studios, CAD) as JSON to an XCom entry. The
cursor is the start of the oldest run still unfinished (else the newest run seen), so running runs
are read again until they end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase
from payoutwatch.records import RUN_FIGURES
from payoutwatch.sources.base import Page, SourceError
from payoutwatch.sources.http import get_json

PAGE = 100
OUTCOME = {"success": 0, "failed": 1}


class AirflowSource(SourceBase):
    type: Literal["airflow"]
    base_url: str
    dag_id: str
    api_version: Literal["v1", "v2"] = "v1"  # v1: Airflow 2 (basic auth); v2: Airflow 3 (JWT from /auth/token)
    username: str
    password: SecretStr
    as_job: str | None = None  # the job name its runs get here (default: schedule.job)
    xcom_task_id: str | None = None  # a task that pushes the run's figures as JSON under xcom_key
    xcom_key: str = "payoutwatch"
    lookback_days: float = Field(3, gt=0)  # first sync, and how far back unfinished runs are re-read


class Airflow:
    def __init__(self, name: str, config: AirflowSource, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.job = config.as_job or settings.schedule.job
        self.api = f"{config.base_url.rstrip('/')}/api/{config.api_version}"

    def secrets(self) -> list[str]:
        return [self.config.password.get_secret_value()]

    def _client(self) -> httpx.Client:
        c = self.config
        if c.api_version == "v1":
            return httpx.Client(timeout=c.timeout_seconds, auth=(c.username, c.password.get_secret_value()))
        client = httpx.Client(timeout=c.timeout_seconds)
        try:
            response = client.post(
                f"{c.base_url.rstrip('/')}/auth/token",
                json={"username": c.username, "password": c.password.get_secret_value()},
            )
        except httpx.HTTPError as exc:
            client.close()
            raise SourceError(f"Airflow unreachable: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            client.close()
            raise SourceError("Airflow refused the username or password (POST /auth/token)", permanent=True)
        if not response.is_success or "access_token" not in response.json():
            client.close()
            raise SourceError(f"Airflow /auth/token answered HTTP {response.status_code} without a token")
        client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return client

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        since = (cursor or {}).get("start_date_gte") or (now - timedelta(days=self.config.lookback_days)).isoformat()
        page = Page()
        unfinished: list[str] = []
        newest = since
        client = self._client()
        try:
            for run in self._runs(client, since):
                if not run.get("start_date") or run.get("state") == "queued":
                    continue
                newest = max(newest, run["start_date"])
                if run.get("state") not in OUTCOME:
                    unfinished.append(run["start_date"])
                page.add("job_runs", self._record(client, run))
        finally:
            client.close()
        page.cursor = {"start_date_gte": min(unfinished) if unfinished else newest}
        yield page

    def _runs(self, client: httpx.Client, since: str) -> Iterator[dict[str, Any]]:
        offset = 0
        dag = quote(self.config.dag_id, safe="")
        while True:
            body = get_json(
                client,
                f"{self.api}/dags/{dag}/dagRuns",
                "Airflow",
                params={"start_date_gte": since, "order_by": "start_date", "limit": PAGE, "offset": offset},
            )
            runs = body.get("dag_runs") or []
            yield from runs
            offset += len(runs)
            if not runs or offset >= int(body.get("total_entries", 0)):
                return

    def _record(self, client: httpx.Client, run: dict[str, Any]) -> dict[str, Any]:
        run_path = f"{self.api}/dags/{quote(self.config.dag_id, safe='')}/dagRuns/{quote(run['dag_run_id'], safe='')}"
        tasks = get_json(client, f"{run_path}/taskInstances", "Airflow").get("task_instances") or []
        record: dict[str, Any] = {
            "run_id": f"airflow:{self.config.dag_id}:{run['dag_run_id']}",
            "job": self.job,
            "started_at": run["start_date"],
            "retry_count": sum(max(int(t.get("try_number") or 1) - 1, 0) for t in tasks),
            "source": self.name,
        }
        if run.get("state") in OUTCOME and run.get("end_date"):
            record.update(finished_at=run["end_date"], exit_code=OUTCOME[run["state"]])
        if self.config.xcom_task_id:
            record.update(self._figures(client, run_path))
        return record

    def _figures(self, client: httpx.Client, run_path: str) -> dict[str, Any]:
        url = (
            f"{run_path}/taskInstances/{quote(self.config.xcom_task_id or '', safe='')}/xcomEntries/"
            f"{quote(self.config.xcom_key, safe='')}"
        )
        entry = get_json(client, url, "Airflow XCom", missing={})  # 404: the task has not pushed its figures (yet)
        value = entry.get("value")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise SourceError(f"XCom {self.config.xcom_key} is not JSON") from None
        return {k: v for k, v in (value or {}).items() if k in RUN_FIGURES}


SOURCE_TYPES.register(AirflowSource, Airflow)
