"""``airflow``: DAG runs -> job runs, through Airflow's stable REST API.

``api_version: v1`` is Airflow 2 (``/api/v1``, basic auth); ``v2`` is Airflow 3 (``/api/v2``, a JWT
from ``POST /auth/token``). A run's state gives its outcome (``success`` exit 0, ``failed`` exit 1,
``queued`` is skipped, ``running`` stays unfinished). The cursor is the start of the oldest run still
unfinished (else the newest run seen), so running runs are read again until they end.

- **Retries**: task instances are read page by page (``limit``/``offset`` until ``total_entries``);
  each task instance (a mapped index is one) adds ``max(try_number) - 1`` tries of this attempt.
- **Figures**: a task may push the run's figures under ``xcom_key``. They are read natively
  (``?stringify=false`` on Airflow 2; Airflow 3 answers native values): a JSON object, a JSON string, or
  as a last resort a Python literal (Airflow 2's repr). A value that is none of these, or whose figures
  are invalid, is that run's problem: the run is stored without figures and the sync reports a warning.
- **Cycle** (``scheduled_for_from``): ``data_interval_end`` (default on Airflow 2: the instant a
  timetable run is due), ``run_after`` (default on Airflow 3), ``logical_date``, or ``nearest`` (never
  from Airflow). The instant is snapped to payoutwatch's nearest cycle. Manual and asset-triggered runs,
  and runs without that field, serve the cycle nearest their start.
- **Cleared and re-run DAG runs**: the cursor remembers each run seen in the last
  ``rerun_memory_days`` (its start, attempt number, record and try numbers). A run seen again with
  another start was cleared and re-run: the earlier attempt is stored as its own run
  ``<run id>#try<n>`` (so its failure stays in history and as-of views) and the current attempt keeps
  the run id, its retries counted from the try numbers the earlier attempt ended with. An attempt that
  no sync saw finish (cleared between two syncs while still unread, or while running) is not kept.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase
from payoutwatch.records import RUN_FIGURES, BatchRejected, validate_objects
from payoutwatch.schedule import schedule_of
from payoutwatch.sources.base import Page, SourceError
from payoutwatch.sources.http import get_json

PAGE = 100  # Airflow's default maximum page size on both versions
OUTCOME = {"success": 0, "failed": 1}
TIMETABLE_RUNS = {"scheduled", "backfill"}  # run types whose dates say which cycle they serve
CycleField = Literal["data_interval_end", "logical_date", "run_after", "nearest"]
DEFAULT_CYCLE_FIELD: dict[str, CycleField] = {"v1": "data_interval_end", "v2": "run_after"}


class AirflowSource(SourceBase):
    type: Literal["airflow"]
    base_url: str
    dag_id: str
    api_version: Literal["v1", "v2"] = "v1"  # v1: Airflow 2 (basic auth); v2: Airflow 3 (JWT from /auth/token)
    username: str
    password: SecretStr
    as_job: str | None = None  # the job name its runs get here (default: schedule.job)
    xcom_task_id: str | None = None  # a task that pushes the run's figures (a dict or JSON) under xcom_key
    xcom_key: str = "payoutwatch"
    lookback_days: float = Field(3, gt=0)  # first sync, and how far back unfinished runs are re-read
    # which DAG-run field names the cycle a timetable run serves; default data_interval_end (v1), run_after (v2)
    scheduled_for_from: CycleField | None = None
    rerun_memory_days: float = Field(45, gt=0)  # how long a run is remembered to detect a clear and re-run

    @property
    def cycle_field(self) -> CycleField:
        return self.scheduled_for_from or DEFAULT_CYCLE_FIELD[self.api_version]


class Airflow:
    def __init__(self, name: str, config: AirflowSource, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.settings = settings
        self.job = config.as_job or settings.schedule.job
        self.root = config.base_url.rstrip("/")
        self.api = f"{self.root}/api/{config.api_version}"

    def secrets(self) -> list[str]:
        return [self.config.password.get_secret_value()]

    def _client(self) -> httpx.Client:
        c = self.config
        if c.api_version == "v1":
            return httpx.Client(timeout=c.timeout_seconds, auth=(c.username, c.password.get_secret_value()))
        client = httpx.Client(timeout=c.timeout_seconds)
        try:
            response = client.post(
                f"{self.root}/auth/token",
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
        cursor = cursor or {}
        since = cursor.get("start_date_gte") or (now - timedelta(days=self.config.lookback_days)).isoformat()
        memory: dict[str, dict[str, Any]] = dict(cursor.get("runs") or {})
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
                for record in self._attempts(client, run, memory, page):
                    page.add("job_runs", record)
        finally:
            client.close()
        forget_before = (now - timedelta(days=self.config.rerun_memory_days)).isoformat()
        kept = {run_id: seen for run_id, seen in memory.items() if seen["start_date"] >= forget_before}
        page.cursor = {"start_date_gte": min(unfinished) if unfinished else newest, "runs": kept}
        yield page

    def _runs(self, client: httpx.Client, since: str) -> Iterator[dict[str, Any]]:
        dag = quote(self.config.dag_id, safe="")
        params = {"start_date_gte": since, "order_by": "start_date"}
        yield from self._paged(client, f"{self.api}/dags/{dag}/dagRuns", "dag_runs", params)

    def _paged(self, client: httpx.Client, url: str, field: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of an Airflow list, ``limit``/``offset`` page by page until ``total_entries``."""
        offset = 0
        while True:
            body = get_json(client, url, "Airflow", missing=None, params={**params, "limit": PAGE, "offset": offset})
            if body is None:
                raise self._not_found(client, url)
            items = body.get(field) or []
            yield from items
            offset += len(items)
            if not items or offset >= int(body.get("total_entries", 0)):
                return

    def _not_found(self, client: httpx.Client, url: str) -> SourceError:
        """A 404: on ``/api/v1`` while ``/api/v2`` answers, this is Airflow 3 configured as Airflow 2."""
        if self.config.api_version == "v1":
            try:
                probe = client.get(f"{self.root}/api/v2/version")
            except httpx.HTTPError:
                probe = None
            if probe is not None and probe.status_code != 404:
                return SourceError(
                    "this Airflow speaks /api/v2 (Airflow 3), not /api/v1: set api_version: v2 for this source",
                    permanent=True,
                )
        return SourceError(f"Airflow answered HTTP 404 for {url} (is dag_id {self.config.dag_id!r} right?)")

    def _attempts(
        self, client: httpx.Client, run: dict[str, Any], memory: dict[str, dict[str, Any]], page: Page
    ) -> list[dict[str, Any]]:
        """The run's current attempt, preceded by its earlier attempt when it was cleared and re-run."""
        run_id = str(run["dag_run_id"])
        tries = self._tries(client, run)
        seen = memory.get(run_id)
        out: list[dict[str, Any]] = []
        if seen is None:
            attempt, before = 1, {}
        elif seen["start_date"] == run["start_date"]:
            attempt, before = int(seen["attempt"]), dict(seen.get("before") or {})
        else:  # cleared and re-run since the last sync: the earlier attempt becomes its own run
            attempt, before = int(seen["attempt"]) + 1, dict(seen.get("tries") or {})
            earlier = dict(seen["record"])
            if earlier.get("finished_at"):
                earlier["run_id"] = f"{earlier['run_id']}#try{seen['attempt']}"
                out.append(earlier)
        retries = sum(max(n - int(before.get(task, 0)) - 1, 0) for task, n in tries.items())
        record = self._record(client, run, retries, page)
        memory[run_id] = {
            "start_date": run["start_date"],
            "attempt": attempt,
            "before": before,
            "tries": tries,
            "record": record,
        }
        return [*out, record]

    def _tries(self, client: httpx.Client, run: dict[str, Any]) -> dict[str, int]:
        """The highest try number of each task instance (``task_id`` or ``task_id[map_index]``) that ran."""
        tries: dict[str, int] = {}
        for task in self._paged(client, f"{self._run_path(run)}/taskInstances", "task_instances", {}):
            index = task.get("map_index", -1)
            key = str(task.get("task_id")) + (f"[{index}]" if index not in (None, -1) else "")
            number = int(task.get("try_number") or 0)
            if number > 0:
                tries[key] = max(tries.get(key, 0), number)
        return tries

    def _run_path(self, run: dict[str, Any]) -> str:
        dag = quote(self.config.dag_id, safe="")
        return f"{self.api}/dags/{dag}/dagRuns/{quote(str(run['dag_run_id']), safe='')}"

    def _record(self, client: httpx.Client, run: dict[str, Any], retries: int, page: Page) -> dict[str, Any]:
        record: dict[str, Any] = {
            "run_id": f"airflow:{self.config.dag_id}:{run['dag_run_id']}",
            "job": self.job,
            "started_at": run["start_date"],
            "retry_count": retries,
            "source": self.name,
        }
        cycle = self._cycle(run)
        if cycle:
            record["scheduled_for"] = cycle
        if run.get("state") in OUTCOME and run.get("end_date"):
            record.update(finished_at=run["end_date"], exit_code=OUTCOME[run["state"]])
        if self.config.xcom_task_id:
            figures, problem = self._figures(client, run)
            if problem is None:
                problem = self._invalid({**record, **figures})
            if problem is None:
                record.update(figures)
            else:
                page.warnings.append(f"run {run['dag_run_id']}: {problem}; stored without its figures")
        return record

    def _cycle(self, run: dict[str, Any]) -> str | None:
        """The cycle a timetable run serves, from ``scheduled_for_from`` (None: the nearest to its start)."""
        field = self.config.cycle_field
        if field == "nearest" or run.get("run_type") not in TIMETABLE_RUNS or not run.get(field):
            return None
        try:
            instant = datetime.fromisoformat(str(run[field]).replace("Z", "+00:00"))
        except ValueError:
            return None
        cycle = schedule_of(self.settings).nearest(instant)
        return cycle.isoformat() if cycle else None

    def _figures(self, client: httpx.Client, run: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """(the figures the task pushed, or a problem with its XCom value)."""
        url = (
            f"{self._run_path(run)}/taskInstances/{quote(self.config.xcom_task_id or '', safe='')}/xcomEntries/"
            f"{quote(self.config.xcom_key, safe='')}"
        )
        params = {"stringify": "false"} if self.config.api_version == "v1" else {}
        # 404: the task has not pushed its figures (yet)
        entry = get_json(client, url, "Airflow XCom", missing={}, params=params)
        value = native(entry.get("value")) if isinstance(entry, dict) else None
        if value is None:
            return {}, None
        if not isinstance(value, dict):
            return {}, f"XCom {self.config.xcom_key} is not a JSON object or a dict ({type(value).__name__})"
        return {k: v for k, v in value.items() if k in RUN_FIGURES}, None

    def _invalid(self, record: dict[str, Any]) -> str | None:
        """Why the record with its figures would be refused, or None."""
        try:
            validate_objects("job_runs", [(1, record)], currency=self.settings.currency, unit="run")
        except BatchRejected as exc:
            return "XCom figures refused (" + "; ".join(f"{e.field}: {e.reason}" for e in exc.errors[:3]) + ")"
        return None


def native(value: Any) -> Any:
    """An XCom value as pushed: native JSON as is; a string as JSON, else as a Python literal (Airflow 2's
    stringified dict); text that is neither stays a string, which the caller reports."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


SOURCE_TYPES.register(AirflowSource, Airflow)
