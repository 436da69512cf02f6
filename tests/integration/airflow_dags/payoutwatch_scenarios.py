"""DAGs the real-Airflow tests drive (tests/integration/test_source_airflow_real.py); one file for Airflow 2 and 3.

Every DAG has the same two steps: ``pay`` (fails while its try number is at most ``fail_until_try`` from the
run's conf; with ``hold`` it waits until the test writes ``$PAYOUTWATCH_AIRFLOW_RELEASE_DIR/<run id>``) and
``report``, which pushes the run's figures under the XCom key ``payoutwatch`` as a dict, or as a JSON string
when the conf says ``"figures_as": "json"``.

- ``pw_scheduled``: ``@daily`` from ``$PAYOUTWATCH_AIRFLOW_DAG_START`` with catch-up, so its runs start late;
- ``pw_figures``, ``pw_failure``, ``pw_running``, ``pw_rerun``: the same steps, run when the test triggers them;
- ``pw_mapped``: ``pay_studio`` mapped over ``studios`` (conf) indexes; the last ``retried`` fail their first try
  and the very last its second too;
- ``pw_many``: one EmptyOperator (Airflow's scheduler marks it done without running anything), for run counts.

This file is parsed by Airflow only; it is not imported by the suite.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

try:  # Airflow 3
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import dag, get_current_context, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task
    from airflow.operators.empty import EmptyOperator
    from airflow.operators.python import get_current_context

FIGURES = {"studios_scheduled": 120, "studios_processed": 118, "cad_processed_cents": 9_876_543}
HOLD_SECONDS = 600  # a held run gives up after this (the test releases it within seconds)
EPOCH = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


def _conf() -> dict[str, Any]:
    run = get_current_context()["dag_run"]
    return dict(run.conf or {})


def _steps() -> None:
    @task(retries=1, retry_delay=timedelta(seconds=0))
    def pay() -> None:
        context = get_current_context()
        conf = _conf()
        if context["ti"].try_number <= int(conf.get("fail_until_try", 0)):
            raise RuntimeError(f"payout batch failed on try {context['ti'].try_number} (as the test asked)")
        if conf.get("hold"):
            release = Path(os.environ["PAYOUTWATCH_AIRFLOW_RELEASE_DIR"]) / context["dag_run"].run_id
            deadline = time.monotonic() + HOLD_SECONDS
            while not release.exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("never released")
                time.sleep(0.2)

    @task
    def report() -> None:
        context = get_current_context()
        figures = dict(FIGURES, **_conf().get("figures", {}))
        value: Any = json.dumps(figures) if _conf().get("figures_as") == "json" else figures
        context["ti"].xcom_push(key="payoutwatch", value=value)

    pay() >> report()


def _manual(dag_id: str) -> None:
    @dag(dag_id=dag_id, schedule=None, start_date=EPOCH, catchup=False, max_active_runs=16)
    def steps() -> None:
        _steps()

    steps()


for _dag_id in ("pw_figures", "pw_failure", "pw_running", "pw_rerun"):
    _manual(_dag_id)


@dag(
    dag_id="pw_scheduled",
    schedule="@daily",
    start_date=datetime.fromisoformat(os.environ.get("PAYOUTWATCH_AIRFLOW_DAG_START", EPOCH.isoformat())),
    catchup=True,
    max_active_runs=16,
)
def pw_scheduled() -> None:
    _steps()


pw_scheduled()


@dag(dag_id="pw_mapped", schedule=None, start_date=EPOCH, catchup=False)
def pw_mapped() -> None:
    @task
    def studios() -> list[int]:
        return list(range(int(_conf().get("studios", 3))))

    @task(retries=2, retry_delay=timedelta(seconds=0))
    def pay_studio(index: int) -> None:
        context = get_current_context()
        conf = _conf()
        count, retried = int(conf.get("studios", 3)), int(conf.get("retried", 0))
        failing_tries = 2 if index == count - 1 and retried else 1 if index >= count - retried else 0
        if context["ti"].try_number <= failing_tries:
            raise RuntimeError(f"studio {index} failed on try {context['ti'].try_number} (as the test asked)")

    pay_studio.expand(index=studios())


pw_mapped()


@dag(dag_id="pw_many", schedule=None, start_date=EPOCH, catchup=False, max_active_runs=500)
def pw_many() -> None:
    EmptyOperator(task_id="noop")


pw_many()
