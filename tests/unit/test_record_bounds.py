"""DESIGN §3 "Bounds": every bound just inside (accepted) and just outside (refused with line and field)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from payoutwatch.records import BatchRejected, Record, parse_batch

RUN = {"run_id": "r", "started_at": "2026-03-05T11:00:00Z"}
PAYOUT = {
    "payout_id": "p",
    "studio_id": "s",
    "scheduled_for": "2026-03-05T11:00:00Z",
    "amount_cents": 1,
    "currency": "CAD",
    "status": "paid",
}
SNAPSHOT = {"account_id": "a", "as_of": "2026-03-05T11:00:00Z", "balance_cents": 0, "threshold_cents": 0}
MANUAL = {"id": "m", "studio_id": "s", "amount_cents": 1, "currency": "CAD", "detected_at": "2026-03-05T11:00:00Z"}
TRANSFER = {"transfer_id": "t", "amount_cents": 1, "currency": "CAD", "created_at": "2026-03-05T11:00:00Z"}
CREDENTIAL = {"credential_id": "c", "created_at": "2026-03-05T11:00:00Z", "kind": "other", "name": "n"}
BASE = {
    "job_runs": RUN,
    "scheduled_payouts": PAYOUT,
    "reserve_snapshots": SNAPSHOT,
    "manual_payouts": MANUAL,
    "transfers": TRANSFER,
    "credentials": CREDENTIAL,
}


def accepted(kind: str, **fields: Any) -> Record:
    [record] = parse_batch(kind, json.dumps({**BASE[kind], **fields}) + "\n")
    return record


def refused(kind: str, text: str | bytes) -> list[str]:
    with pytest.raises(BatchRejected) as info:
        parse_batch(kind, text)
    return [str(e) for e in info.value.errors]


def refused_fields(kind: str, **fields: Any) -> list[str]:
    return refused(kind, json.dumps({**BASE[kind], **fields}) + "\n")


CENTS = 10**15
INTEGER_BOUNDS = [  # kind, field, lowest accepted, highest accepted
    ("scheduled_payouts", "amount_cents", 0, CENTS),
    ("manual_payouts", "amount_cents", 0, CENTS),
    ("transfers", "amount_cents", 0, CENTS),
    ("reserve_snapshots", "threshold_cents", 0, CENTS),
    ("reserve_snapshots", "balance_cents", -CENTS, CENTS),
    ("job_runs", "cad_processed_cents", -CENTS, CENTS),
    ("job_runs", "studios_scheduled", 0, 10**9),
    ("job_runs", "studios_processed", 0, 10**9),
    ("job_runs", "success_count", 0, 10**9),
    ("job_runs", "error_count", 0, 10**9),
    ("job_runs", "retry_count", 0, 10**9),
    ("job_runs", "exit_code", -(2**31), 2**31 - 1),
]


@pytest.mark.parametrize("kind,field,low,high", INTEGER_BOUNDS, ids=[f"{k}.{f}" for k, f, _, _ in INTEGER_BOUNDS])
def test_integers_are_accepted_up_to_their_bounds_and_refused_past_them(
    kind: str, field: str, low: int, high: int
) -> None:
    assert getattr(accepted(kind, **{field: low}), field) == low
    assert getattr(accepted(kind, **{field: high}), field) == high
    for outside in (low - 1, high + 1, 2**63, -(2**63) - 1, 10**30):
        [error] = refused_fields(kind, **{field: outside})
        assert error.startswith(f"line 1: {field}: ")


@pytest.mark.parametrize("value", [12.0, 12.5, True, False, "12", [12], {"v": 12}])
def test_a_float_boolean_string_or_container_is_not_an_integer(value: Any) -> None:
    [error] = refused_fields("scheduled_payouts", amount_cents=value)
    assert error.startswith("line 1: amount_cents: ")


INSTANTS_INSIDE = [
    "1970-01-01T00:00:00Z",
    "2199-12-31T23:59:59.999999Z",
    "1970-01-01T05:00:00+05:00",
    "2026-03-05t11:00:00z",
]
INSTANTS_OUTSIDE = [
    "1969-12-31T23:59:59.999999Z",
    "2200-01-01T00:00:00Z",
    "1970-01-01T04:59:59+05:00",
    "2199-12-31T23:00:00-01:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59Z",
]


@pytest.mark.parametrize("value", INSTANTS_INSIDE)
def test_instants_from_1970_to_2199_utc_are_accepted(value: str) -> None:
    accepted("job_runs", started_at=value)


@pytest.mark.parametrize("value", INSTANTS_OUTSIDE)
def test_instants_outside_1970_to_2199_utc_are_refused_without_overflow(value: str) -> None:
    assert refused_fields("job_runs", started_at=value) == [
        "line 1: started_at: timestamp is outside 1970-01-01 … 2199-12-31 (UTC)"
    ]


@pytest.mark.parametrize("value", [5, 1772708400, 1.5, True])
def test_a_numeric_timestamp_is_refused(value: Any) -> None:
    [error] = refused_fields("job_runs", started_at=value)
    assert error.startswith("line 1: started_at: a timestamp must be a string")


@pytest.mark.parametrize("value", ["1772708400", "yesterday", "2026-02-30T00:00:00Z", ""])
def test_text_that_is_not_iso_8601_is_refused(value: str) -> None:
    [error] = refused_fields("job_runs", started_at=value)
    assert error.startswith("line 1: started_at: not an ISO 8601 timestamp")


TEXT_FIELDS = [  # kind, field, longest accepted
    ("job_runs", "run_id", 200),
    ("job_runs", "job", 200),
    ("job_runs", "source", 200),
    ("scheduled_payouts", "payout_id", 200),
    ("scheduled_payouts", "studio_id", 200),
    ("scheduled_payouts", "hold_reason", 200),
    ("scheduled_payouts", "run_id", 200),
    ("scheduled_payouts", "transfer_id", 200),
    ("reserve_snapshots", "account_id", 200),
    ("manual_payouts", "id", 200),
    ("manual_payouts", "reason", 1000),
    ("transfers", "destination", 200),
    ("transfers", "payout_id", 200),
    ("credentials", "credential_id", 200),
    ("credentials", "name", 1000),
    ("credentials", "owner", 200),
    ("credentials", "source", 200),
]


@pytest.mark.parametrize("kind,field,longest", TEXT_FIELDS, ids=[f"{k}.{f}" for k, f, _ in TEXT_FIELDS])
def test_text_is_accepted_up_to_its_length_and_refused_past_it(kind: str, field: str, longest: int) -> None:
    assert getattr(accepted(kind, **{field: "é" * longest}), field) == "é" * longest
    [error] = refused_fields(kind, **{field: "é" * (longest + 1)})
    assert error.startswith(f"line 1: {field}: ")


@pytest.mark.parametrize("field", ["run_id", "job", "source"])
def test_an_empty_identifier_is_refused(field: str) -> None:
    [error] = refused_fields("job_runs", **{field: "  "})
    assert error.startswith(f"line 1: {field}: ")


@pytest.mark.parametrize("char", ["\x00", "\n", "\r", "\x1b", "\x7f", "\x85", "\ud800"])
def test_control_characters_and_lone_surrogates_are_refused(char: str) -> None:
    [error] = refused_fields("manual_payouts", reason=f"late{char}payout")
    assert error.startswith("line 1: reason: ")


def test_a_tab_is_allowed_in_text() -> None:
    assert accepted("manual_payouts", reason="late\tpayout").reason == "late\tpayout"  # type: ignore[attr-defined]


def test_a_field_given_twice_is_refused_with_its_line() -> None:
    text = json.dumps(RUN) + '\n{"run_id": "a", "run_id": "b", "started_at": "2026-03-05T11:00:00Z"}\n'
    assert refused("job_runs", text) == ["line 2: run_id: field is given more than once"]
    array = '[{"run_id": "a", "started_at": "2026-03-05T11:00:00Z", "started_at": "2026-03-05T12:00:00Z"}]'
    assert refused("job_runs", array) == ["line 1: started_at: field is given more than once"]


def test_an_object_or_array_where_a_value_is_expected_is_refused() -> None:
    errors = refused_fields("job_runs", source={"name": "x"}, job=["payouts"])
    assert sorted(errors) == [
        "line 1: job: expected a single value, not an array",
        "line 1: source: expected a single value, not an object",
    ]


def test_a_line_that_is_not_utf8_is_refused_with_its_number() -> None:
    good = json.dumps(RUN).encode()
    text = good + b"\n" + b'{"run_id": "\xff\xfe", "started_at": "2026-03-05T11:00:00Z"}\n' + good + b"\n"
    assert refused("job_runs", text) == ["line 2: (encoding): not UTF-8 (byte 13 of the line)"]
    array = b"[\n" + good + b",\n" + b'{"run_id": "\xc3"}\n]'
    assert refused("job_runs", array) == ["line 3: (encoding): not UTF-8"]


def test_bytes_with_crlf_and_a_byte_order_mark_are_read_like_text() -> None:
    records = parse_batch("job_runs", b"\xef\xbb\xbf" + json.dumps(RUN).encode() + b"\r\n\r\n")
    assert [r.key() for r in records] == [("r",)]


@pytest.mark.parametrize("depth", [1000, 50_000])
def test_deep_nesting_is_refused_cleanly(depth: int) -> None:
    line = '{"run_id": "r", "started_at": "2026-03-05T11:00:00Z", "source": ' + "[" * depth + "]" * depth + "}"
    [error] = refused("job_runs", line + "\n")
    assert error.startswith("line 1: ")
    [error] = refused("job_runs", "[" * depth + "]" * depth)
    assert error.startswith(("line 1: ", "record 1: "))


def test_an_integer_too_long_to_convert_is_refused() -> None:
    line = '{"run_id": "r", "started_at": "2026-03-05T11:00:00Z", "retry_count": ' + "9" * 5000 + "}"
    assert refused("job_runs", line) == ["line 1: (json): a number has too many digits"]


def test_a_json_array_follows_the_same_bounds() -> None:
    array = json.dumps([RUN, {**RUN, "run_id": "x", "exit_code": 2**31}, {**RUN, "run_id": "y", "started_at": 5}])
    errors = refused("job_runs", array)
    assert [e.split(":")[0:2] for e in errors] == [["record 2", " exit_code"], ["record 3", " started_at"]]
