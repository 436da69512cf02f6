"""A real Apache Airflow on SQLite on loopback ports, started from the virtual environment ``.ci/airflow.sh``
built under ``$PAYOUTWATCH_AIRFLOW_CACHE/<version>`` (default /var/cache/payoutwatch-airflow).

Airflow 2 runs ``webserver`` + ``scheduler`` (``/api/v1``, basic auth for a user made with ``users create``);
Airflow 3 runs ``api-server`` + ``scheduler`` + ``dag-processor`` (``/api/v2``, a JWT from ``/auth/token`` for a
simple-auth-manager user). Both use the LocalExecutor with 4 slots: a task forks instead of starting a new
interpreter (Airflow 2's SequentialExecutor took ~25 s a task on a busy machine; Airflow 2 refuses SQLite with
the LocalExecutor unless told to skip that check). Scheduler and DAG-parsing intervals are tuned down so a run
is picked up within seconds. Every process started here carries a marker in its environment, so the ones
Airflow detaches into their own session (Airflow 2's DAG processor manager) are stopped too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

VERSIONS = {"v1": "2.10.5", "v2": "3.3.2"}  # api_version -> the release .ci/airflow.sh installs
CACHE = Path(os.environ.get("PAYOUTWATCH_AIRFLOW_CACHE", "/var/cache/payoutwatch-airflow"))
DAGS = Path(__file__).parent / "airflow_dags"
USER, PASSWORD = "svc", "af-pass-123"
MARKER = "PAYOUTWATCH_AIRFLOW_TEST_RUN"
# Airflow 2: a writer waits up to a minute for SQLite's lock (default 5 s, then "database is locked"). Not on
# Airflow 3, whose API server writes from several threads of one process: a longer wait only stalls it longer.
SQLITE_ARGS = {"timeout": 60}
BUSY_TRIES = 8


def venv_of(version: str) -> Path | None:
    """The virtual environment of an Airflow release when .ci/airflow.sh finished building it."""
    venv = CACHE / version
    return venv if (venv / ".complete").is_file() and (venv / "bin" / "airflow").is_file() else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class AirflowFailed(AssertionError):
    pass


class RealAirflow:
    """One running Airflow; ``api`` is its REST client (``/api/v1`` or ``/api/v2``)."""

    def __init__(self, api_version: str, home: Path) -> None:
        self.api_version = api_version
        self.version = VERSIONS[api_version]
        venv = venv_of(self.version)
        assert venv is not None
        self.bin = venv / "bin"
        self.home = home
        self.release_dir = home / "release"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.run_marker = uuid.uuid4().hex
        self.dag_start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.timings: dict[str, float] = {}
        self._client: httpx.Client | None = None

    # --- processes -------------------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        home = self.home
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                MARKER: self.run_marker,
                "AIRFLOW_HOME": str(home),
                "PATH": f"{self.bin}:{env.get('PATH', '/usr/bin:/bin')}",
                "PAYOUTWATCH_AIRFLOW_RELEASE_DIR": str(self.release_dir),
                "PAYOUTWATCH_AIRFLOW_DAG_START": self.dag_start.isoformat(),
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__SCHEDULE_AFTER_TASK_EXECUTION": "False",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__WEBSERVER__SECRET_KEY": self.run_marker,
            }
        )
        if self.api_version == "v1":
            env.update(
                {
                    "_AIRFLOW__SKIP_DATABASE_EXECUTOR_COMPATIBILITY_CHECK": "1",
                    "PYTHONPATH": str(home),
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "pw_sqlite.CONNECT_ARGS",
                    "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.basic_auth",
                    "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
                    "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(self.port),
                    "AIRFLOW__WEBSERVER__WORKERS": "1",
                    "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "1",
                    "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
                }
            )
        else:
            env.update(
                {
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
                    "AIRFLOW__API_AUTH__JWT_SECRET": self.run_marker * 2,
                    "AIRFLOW__API__SECRET_KEY": self.run_marker,
                    "AIRFLOW__API__HOST": "127.0.0.1",
                    "AIRFLOW__API__PORT": str(self.port),
                    "AIRFLOW__API__BASE_URL": self.url,
                    "AIRFLOW__API__WORKERS": "1",
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "1",
                }
            )
        return env

    def _airflow(self, *args: str, timeout: float = 300) -> None:
        """Run one ``airflow`` command to its end; its output goes to the log."""
        with (self.home / "setup.log").open("ab") as log:
            done = subprocess.run(
                [str(self.bin / "airflow"), *args], env=self.env(), stdout=log, stderr=log, timeout=timeout
            )
        if done.returncode != 0:
            raise AirflowFailed(f"airflow {' '.join(args)} exited {done.returncode}:\n{self.log_tail('setup')}")

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.home / f"{name}.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                [str(self.bin / "airflow"), *args],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        log.close()

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.release_dir.mkdir(exist_ok=True)
        (self.home / "pw_sqlite.py").write_text(f"CONNECT_ARGS = {SQLITE_ARGS}\n")
        started = time.monotonic()
        self._airflow("db", "migrate")
        with sqlite3.connect(self.home / "airflow.db") as db:  # readers no longer block the one writer
            db.execute("PRAGMA journal_mode=WAL")
        if self.api_version == "v1":
            self._airflow(
                "users", "create", "--username", USER, "--password", PASSWORD, "--role", "Admin",
                "--firstname", "pay", "--lastname", "outwatch", "--email", "svc@example.invalid",
            )  # fmt: skip
            self._spawn("webserver", "webserver")
            self._spawn("scheduler", "scheduler")
            self.wait(self._answers, 300, "the API to answer")
        else:  # tasks report to the API server's execution API: it answers before any task is scheduled
            (self.home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
            self._spawn("api-server", "api-server")
            self.wait(self._answers, 300, "the API to answer")
            self._spawn("scheduler", "scheduler")
            self._spawn("dag-processor", "dag-processor")
        self.timings["start"] = time.monotonic() - started

    def _answers(self) -> bool:
        for process in self.processes:
            if process.poll() is not None:
                raise AirflowFailed(f"an Airflow process exited {process.returncode}:\n{self.logs()}")
        try:
            self.api()
            return self.client.get("/version").status_code == 200
        except httpx.HTTPError:
            self._client = None
            return False

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        for process in self.processes:
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(10)
        for pid in marked_processes(self.run_marker):  # detached into their own session by Airflow
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.home / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def logs(self) -> str:
        names = ["setup", "webserver", "scheduler"] if self.api_version == "v1" else ["setup", "api-server"]
        names += [] if self.api_version == "v1" else ["scheduler", "dag-processor"]
        return "\n".join(f"--- {name}.log\n{self.log_tail(name, 15)}" for name in names)

    # --- REST API --------------------------------------------------------------------------------------------

    def api(self) -> httpx.Client:
        if self._client is None:
            if self.api_version == "v1":
                self._client = httpx.Client(base_url=f"{self.url}/api/v1", auth=(USER, PASSWORD), timeout=180)
            else:
                token = httpx.post(f"{self.url}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=180)
                token.raise_for_status()
                headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                self._client = httpx.Client(base_url=f"{self.url}/api/v2", headers=headers, timeout=180)
        return self._client

    @property
    def client(self) -> httpx.Client:
        return self.api()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; again after a 401 (Airflow 3's JWT expired) or a 5xx (SQLite was locked: Airflow rolled
        the request back and says "Database error"), up to ``BUSY_TRIES`` times."""
        for attempt in range(1, BUSY_TRIES + 1):
            response = self.client.request(method, path, **kwargs)
            if response.status_code == 401 and self.api_version == "v2":
                self._client = None
            elif response.status_code < 500 or attempt == BUSY_TRIES:
                return response
            time.sleep(1)
        return response

    def get(self, path: str, **params: Any) -> Any:
        response = self.request("GET", path, params=params)
        response.raise_for_status()
        return response.json()

    def send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        response = self.request(method, path, json=body)
        if not response.is_success:
            raise AirflowFailed(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def all(self, path: str, field: str, page: int = 40) -> list[dict[str, Any]]:
        """Every item of a list, read in pages of ``page`` (smaller than the connector's, on purpose)."""
        items: list[dict[str, Any]] = []
        while True:
            body = self.get(path, limit=page, offset=len(items))
            items += body[field]
            if not body[field] or len(items) >= body["total_entries"]:
                return items

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.all(f"/dags/{dag_id}/dagRuns", "dag_runs")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.all(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances")

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")
        return run

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str) -> Any:
        params = {"stringify": "false"} if self.api_version == "v1" else {}
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        response = self.request("GET", path, params=params)
        if response.status_code == 404:
            return None  # nothing pushed
        response.raise_for_status()
        return response.json()["value"]

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"dag_run_id": run_id, "conf": conf or {}}
        if self.api_version == "v2":
            body["logical_date"] = None  # Airflow 3 asks for it; None: a manual run that serves no interval
        response = self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)
        if response.status_code == 409:  # made by an attempt that answered 5xx (its audit log entry failed)
            return self.dag_run(dag_id, run_id)
        if not response.is_success:
            raise AirflowFailed(f"POST /dags/{dag_id}/dagRuns answered {response.status_code}: {response.text[:500]}")
        run: dict[str, Any] = response.json()
        return run

    def clear(self, dag_id: str, run_id: str) -> None:
        self.send("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", {"dry_run": False})

    def release(self, run_id: str) -> None:
        (self.release_dir / run_id).touch()

    def wait_parsed(self, dag_ids: list[str], timeout: float = 240) -> None:
        def parsed() -> bool:
            return all(self.client.get(f"/dags/{dag_id}").status_code == 200 for dag_id in dag_ids)

        self.wait(parsed, timeout, f"Airflow to parse {dag_ids}")
        for dag_id in dag_ids:  # paused at creation or not, depending on the version's defaults
            self.send("PATCH", f"/dags/{dag_id}", {"is_paused": False})

    def wait_runs(
        self, dag_id: str, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 420
    ) -> list[dict[str, Any]]:
        """The DAG's runs, once ``done`` says they are what the test needs."""
        result: list[list[dict[str, Any]]] = []

        def ready() -> bool:
            runs = self.dag_runs(dag_id)
            result[:] = [runs]
            return done(runs)

        self.wait(ready, timeout, f"the runs of {dag_id}", lambda: json.dumps(result[0] if result else [])[:2000])
        return result[0]

    def wait(
        self, predicate: Callable[[], bool], timeout: float, what: str, detail: Callable[[], str] = lambda: ""
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.5)
        raise AirflowFailed(f"waited {timeout:.0f} s for {what}; {detail()}\n{self.logs()}")


def finished(runs: list[dict[str, Any]], count: int = 1) -> bool:
    return len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs)


def marked_processes(marker: str) -> Iterator[int]:
    """Processes whose environment carries ``MARKER=marker`` (only ones this harness started)."""
    needle = f"{MARKER}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            yield int(entry.name)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pid, sig)


@contextmanager
def running_airflow(api_version: str, home: Path) -> Iterator[RealAirflow]:
    airflow = RealAirflow(api_version, home)
    try:
        airflow.start()
        yield airflow
    finally:
        airflow.stop()
