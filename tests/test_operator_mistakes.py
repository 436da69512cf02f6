"""Operator mistakes (issue 9, points 5, 7, 8, 11 and §6 silences at send time): each gives a clear message and
a non-zero exit, and leaves the store as it was.

- ``evaluate --at`` never moves alert state back, nor far ahead without ``--allow-future`` (DESIGN §7);
- ``ping`` runs a command only after ``--``; a future run never captures a ping;
- ``reconcile sign-off`` only after the cycle's run finished (its refusal does not block the real one:
  tests/store/test_reconciliation.py);
- ``deliver`` exits 1 when a row failed for good in that call;
- a silence that starts while a row is retrying suppresses it;
- reports to a missing folder, binary or missing ingest files: one line, no traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from payoutwatch.cli import app
from payoutwatch.metrics import DASHBOARD_NAMES
from payoutwatch.notify.silences import Matcher, add_silence
from payoutwatch.store.engine import open_store
from payoutwatch.store.tables import alerts, job_runs, metadata, notifications
from payoutwatch.usecases.evaluation import EvaluationRefused, deliver, evaluate, latest_evaluated
from payoutwatch.usecases.pings import PingEvent, UnknownEvent, ping_event, record_ping
from tests import helpers
from tests.conftest import make_settings, utc
from tests.integration.jsonserver import JsonServer

NOW = utc(2026, 11, 1)
FAILED_AT = utc(2026, 3, 5, 11, 6)  # the 2026-03-05 cycle's run r1 (tests.helpers.failed_run) has failed
KEY = "automation_failure:payouts:2026-03-05"
runner = CliRunner()


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, except the configuration versions each CLI invocation may record."""
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
            if t.name != "config_versions"
        }


def alert_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(alerts).order_by(alerts.c.id))]


# ------------------------------------------------------------------ evaluate: the use case, both stores


def test_evaluation_never_moves_back_nor_far_ahead(store: Engine) -> None:
    settings = make_settings()
    helpers.failed_run(store, settings, NOW)
    [fired] = evaluate(store, settings, at=FAILED_AT, now=NOW, guarded=True)
    assert fired.key == KEY
    before, alerts_before = table_counts(store), alert_rows(store)

    with pytest.raises(EvaluationRefused) as earlier:
        evaluate(store, settings, at=FAILED_AT - timedelta(hours=1), now=NOW, guarded=True)
    message = str(earlier.value)
    assert "2026-03-05T11:06:00Z" in message and "dashboard" in message and "backtest" in message
    with pytest.raises(EvaluationRefused, match="more than 5 minutes after the clock"):
        evaluate(store, settings, at=NOW + timedelta(minutes=6), now=NOW, guarded=True)
    assert table_counts(store) == before and alert_rows(store) == alerts_before

    assert evaluate(store, settings, at=FAILED_AT, now=NOW, guarded=True) == []  # the same instant: idempotent
    assert alert_rows(store) == alerts_before
    evaluate(store, settings, at=NOW + timedelta(minutes=4), now=NOW, guarded=True)  # within the tolerance
    ahead = NOW + timedelta(days=1)
    evaluate(store, settings, at=ahead, now=NOW, guarded=True, allow_future=True)
    with store.connect() as conn:
        assert latest_evaluated(conn) == ahead


def test_the_loop_is_not_guarded_but_never_moves_the_mark_back(store: Engine) -> None:
    settings = make_settings()
    evaluate(store, settings, at=NOW, now=NOW)
    evaluate(store, settings, at=NOW - timedelta(hours=1), now=NOW)  # the loop at a clock that stepped back
    with store.connect() as conn:
        assert latest_evaluated(conn) == NOW


# ------------------------------------------------------------------ the CLI, on one SQLite file


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "payoutwatch.yaml"
    path.write_text(
        yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}, "schedule": {"start": "2026-03-05"}})
    )
    return path


@pytest.fixture
def engine(config: Path) -> Iterator[Engine]:
    opened = open_store(yaml.safe_load(config.read_text())["store"]["url"])
    yield opened
    opened.dispose()


def cli(config: Path, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, ["--config", str(config), *args], input=stdin)


def refused(result: Result, code: int, *phrases: str) -> None:
    """Exit ``code``, one ``error:`` line holding every phrase, no traceback."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for phrase in phrases:
        assert phrase in errors[0], errors[0]


def test_cli_evaluate_refuses_an_earlier_instant_and_a_far_future_one(config: Path, engine: Engine) -> None:
    helpers.failed_run(engine, make_settings(), NOW)
    assert cli(config, "evaluate", "--at", "2026-03-05T11:06:00Z").exit_code == 0
    assert cli(config, "ack", KEY).exit_code == 0
    before, alerts_before = table_counts(engine), alert_rows(engine)
    refused(
        cli(config, "evaluate", "--at", "2026-03-05T10:00:00Z"),
        2,
        "already evaluated at 2026-03-05T11:06:00Z",
        "dashboard NAME --at 2026-03-05T10:00:00Z",
        "backtest",
    )
    refused(cli(config, "evaluate", "--at", "9999-12-31T23:59:59Z"), 2, "after the clock", "--allow-future")
    assert table_counts(engine) == before and alert_rows(engine) == alerts_before  # still firing, still acked
    again = cli(config, "evaluate", "--at", "2026-03-05T11:06:00Z")
    assert again.exit_code == 0 and "no transitions" in again.output
    assert alert_rows(engine) == alerts_before


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["backtest", "--from", "2026-11-01", "--to", "2026-11-02T00:00:00Z"], "--from"),
        (["backtest", "--from", "2026-11-01T00:00:00Z", "--to", "tomorrow"], "--to"),
        (["report", "incident", "--from", "2026-11-01", "--to", "2026-11-02T00:00:00Z"], "--from"),
        (["report", "incident", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02"], "--to"),
        (["silence", "add", "--rule", "fallback_volume", "--comment", "c", "--start", "2026-11-01"], "--start"),
        (["silence", "add", "--rule", "fallback_volume", "--comment", "c", "--end", "noon"], "--end"),
        (["dashboard", "reserves", "--at", "2026-11-01"], "--at"),
    ],
)
def test_a_bad_instant_names_the_option_typed(config: Path, args: list[str], option: str) -> None:
    result = cli(config, *args)
    refused(result, 2, f"{option} '", "not an ISO 8601 instant")
    wrong = {"--at", "--from", "--to", "--start", "--end"} - {option}
    assert not any(f"{other} '" in result.output for other in wrong), result.output


def test_a_window_is_from_and_to_or_last_and_a_cycle_a_date_latest_or_previous(config: Path) -> None:
    refused(cli(config, "backtest", "--step", "1d"), 2, "give --from", "--last")
    refused(cli(config, "backtest", "--from", "2026-03-05T00:00:00Z", "--last", "1d"), 2, "give --from", "--last")
    refused(cli(config, "report", "incident", "--last", "soon"), 2, "--last 'soon'", "not like 90m")
    refused(cli(config, "report", "incident", "--last", "0d"), 2, "--last '0d'", "more than zero")
    assert cli(config, "report", "incident", "--last", "2d").exit_code == 0
    refused(cli(config, "report", "reconciliation", "--cycle", "2026-03-06"), 2, "--cycle '2026-03-06'")
    for which in ("latest", "previous"):
        shown = cli(config, "report", "reconciliation", "--cycle", which)
        assert shown.exit_code == 0 and "# Reconciliation — cycle " in shown.output


# ------------------------------------------------------------------ ping


def runs(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {r.run_id: r for r in conn.execute(select(job_runs))}


def test_a_word_that_is_not_an_event_is_a_usage_error_and_runs_nothing(
    config: Path, engine: Engine, tmp_path: Path
) -> None:
    before = table_counts(engine)
    refused(cli(config, "ping", "payouts", "finish"), 2, "'finish' is not a ping event", "did you mean 'fail'")
    witness = tmp_path / "ran"
    refused(cli(config, "ping", "payouts", "touch", str(witness)), 2, "not a ping event")
    refused(cli(config, "ping", "payouts", "fail", "--", "touch", str(witness)), 2, "before --")
    refused(cli(config, "ping", "payouts"), 2, "no event given")
    refused(cli(config, "ping", "payouts", "--"), 2, "no command after --")
    assert not witness.exists() and table_counts(engine) == before
    ran = cli(config, "ping", "payouts", "--", sys.executable, "-c", f"open({str(witness)!r}, 'w')")
    assert ran.exit_code == 0 and witness.exists()
    [run] = runs(engine).values()
    assert run.exit_code == 0 and run.finished_at is not None


def test_a_run_starting_in_the_future_never_captures_pings(config: Path, engine: Engine) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    stored = cli(config, "ingest", "job_runs", "-", stdin=json.dumps([{"run_id": "ahead", "started_at": future}]))
    assert stored.exit_code == 0, stored.output
    for event in ("start", "success", "success"):  # opened and closed, then a finish with nothing open
        result = cli(config, "ping", "payouts", event)
        assert result.exit_code == 0 and "finished_at is before started_at" not in result.output, result.output
    stored_runs = runs(engine)
    assert stored_runs["ahead"].finished_at is None and len(stored_runs) == 3
    assert all(r.exit_code == 0 and r.finished_at is not None for k, r in stored_runs.items() if k != "ahead")


def test_an_unknown_event_names_the_nearest_one_for_the_cli_and_the_api() -> None:
    assert ping_event("success") is PingEvent.SUCCESS
    for word, nearest in (("finish", "fail"), ("started", "start"), ("succes", "success")):
        with pytest.raises(UnknownEvent, match=f"did you mean '{nearest}'"):
            ping_event(word)


def test_the_ping_use_case_skips_a_run_that_starts_in_the_future(store: Engine) -> None:
    """The API's pings go through the same use case: both stores."""
    settings = make_settings()
    helpers.load(store, settings, "job_runs", [helpers.run("ahead", NOW + timedelta(days=1))], NOW)
    started = record_ping(store, settings, "payouts", PingEvent.START, now=NOW)
    assert record_ping(store, settings, "payouts", PingEvent.SUCCESS, now=NOW + timedelta(minutes=1)) == started
    alone = record_ping(store, settings, "payouts", PingEvent.FAIL, now=NOW + timedelta(minutes=2))
    stored_runs = runs(store)
    assert alone not in (started, "ahead") and stored_runs["ahead"].finished_at is None
    assert stored_runs[alone].started_at == stored_runs[alone].finished_at == NOW + timedelta(minutes=2)


# ------------------------------------------------------------------ deliver


def test_deliver_exits_1_naming_the_rows_that_failed_for_good(tmp_path: Path) -> None:
    answers = [503, 400]  # down during evaluate's delivery, then a permanent refusal
    server = JsonServer(lambda *_: (answers.pop(0) if answers else 200, {}, {}))
    url = f"sqlite:///{tmp_path / 'pw.db'}"
    config = tmp_path / "payoutwatch.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": {"url": url},
                "schedule": {"start": "2026-03-05"},
                "channels": {"hook": {"type": "webhook", "url": server.url + "/hook"}},
                "routes": [{"rule": "automation_failure", "channels": ["hook"]}],
            }
        )
    )
    try:
        engine = open_store(url)
        helpers.failed_run(engine, make_settings(), NOW)
        evaluated = cli(config, "evaluate", "--at", "2026-03-05T11:06:00Z")
        assert evaluated.exit_code == 0 and "1 retrying" in evaluated.output
        failed = cli(config, "deliver", "--retry-now")
        refused(failed, 1, "1 notification(s) failed for good", f"(firing {KEY}) to hook")
        assert cli(config, "deliver", "--retry-now").exit_code == 0  # nothing failed in this call
        with engine.connect() as conn:
            assert conn.execute(select(notifications.c.state)).scalars().all() == ["failed"]
        engine.dispose()
    finally:
        server.close()


# ------------------------------------------------------------------ silences at send time, both stores


def test_a_silence_starting_while_a_row_retries_suppresses_it(store: Engine) -> None:
    channels = {"pd": {"type": "pagerduty", "routing_key": "rk", "events_url": "http://pd.test/v2/enqueue"}}
    settings = make_settings(channels=channels, routes=[{"rule": "automation_failure", "channels": ["pd"]}])
    helpers.failed_run(store, settings, NOW)
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(502)

    client = httpx.Client(transport=httpx.MockTransport(answer))
    evaluate(store, settings, at=FAILED_AT, now=NOW)
    first, _ = deliver(store, settings, now=lambda: NOW, client=client)
    assert first.retrying == 1 and len(sent) == 1
    with store.begin() as conn:
        silence = add_silence(
            conn,
            Matcher(rule="automation_failure"),
            starts_at=NOW + timedelta(minutes=1),
            ends_at=NOW + timedelta(hours=4),
            author="ana",
            comment="bank maintenance",
            now=NOW + timedelta(minutes=1),
        )
    later, _ = deliver(store, settings, now=lambda: NOW + timedelta(minutes=2), retry_now=True, client=client)
    assert (later.suppressed, later.sent, later.failed, len(sent)) == (1, 0, 0, 1)
    with store.connect() as conn:
        [row] = conn.execute(select(notifications)).all()
    assert row.state == "suppressed" and row.silence_id == silence and row.attempts == 1


# ------------------------------------------------------------------ files


def test_reports_and_ingest_files_fail_in_one_line(config: Path, engine: Engine, tmp_path: Path) -> None:
    before = table_counts(engine)
    missing = tmp_path / "missing" / "x.md"
    refused(cli(config, "report", "weekly", "--out", str(missing)), 2, f"--out {missing}", "cannot write there")
    refused(
        cli(
            config,
            "report",
            "incident",
            "--from",
            "2026-03-01T00:00:00Z",
            "--to",
            "2026-03-02T00:00:00Z",
            "--out",
            str(missing),
        ),
        2,
        "cannot write there",
    )
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("")
    refused(cli(config, "report", "quarterly", "--quarter", "2026Q1", "--out", str(in_the_way)), 2, "cannot write")
    assert not missing.parent.exists()
    binary = tmp_path / "runs.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" + bytes(range(256)))
    refused(cli(config, "ingest", "job_runs", str(binary)), 1, "nothing was written")
    latin1 = tmp_path / "runs.jsonl"
    latin1.write_bytes('{"run_id": "caf\u00e9", "started_at": "2026-03-05T11:00:00Z"}\n'.encode("latin-1"))
    latin = cli(config, "ingest", "job_runs", str(latin1))
    refused(latin, 1, "nothing was written")
    assert "not UTF-8" in latin.output
    refused(cli(config, "ingest", "job_runs", str(tmp_path / "nowhere.jsonl")), 2, "cannot read", "No such file")
    refused(cli(config, "ingest", "job_runs", str(tmp_path)), 2, "cannot read")
    assert table_counts(engine) == before


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00Z", "2200-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00"])
@pytest.mark.parametrize("view", [["dashboard", name, "--json"] for name in DASHBOARD_NAMES] + [["report", "weekly"]])
def test_a_view_outside_the_records_bounds_is_a_usage_error(config: Path, view: list[str], at: str) -> None:
    refused(cli(config, *view, "--at", at), 2, "--at", "outside 1970-01-01")
