import pytest

from payoutwatch.records import BatchRejected, parse_batch


def errors_of(kind: str, text: str) -> list[str]:
    with pytest.raises(BatchRejected) as info:
        parse_batch(kind, text)
    return [str(e) for e in info.value.errors]


def test_every_bad_record_is_named_with_its_line_and_field() -> None:
    text = (
        '{"run_id": "a", "started_at": "2026-01-01T00:00:00Z"}\n'
        '{"run_id": "b", "started_at": "2026-01-01T00:00:00"}\n'
        "\n"
        '{"run_id": "c", "started_at": "2026-01-01T00:00:00Z", "exitcode": 1}\n'
        '{"run_id": "d", "started_at": "2026-01-01T00:00:00Z", "cad_processed_cents": 12.5}\n'
        '{"run_id": "e", "started_at": \n'
    )
    errs = errors_of("job_runs", text)
    assert errs[0] == "line 2: started_at: timestamp has no UTC offset; add one, e.g. 'Z' or '+00:00'"
    assert errs[1].startswith("line 4: exitcode: unknown field")
    assert errs[2].startswith("line 5: cad_processed_cents:")
    assert errs[3].startswith("line 6: (json): not valid JSON")


def test_money_in_another_currency_is_refused() -> None:
    errs = errors_of(
        "transfers",
        '[{"transfer_id": "t", "amount_cents": 5, "currency": "USD", "created_at": "2026-01-01T00:00:00Z"}]',
    )
    assert errs == ["record 1: currency: 'USD' is not the base currency CAD"]


def test_lowercase_base_currency_is_accepted_and_offsets_become_utc() -> None:
    [rec] = parse_batch(
        "manual_payouts",
        '{"id": "m", "studio_id": "s", "amount_cents": 5, "currency": "cad", '
        '"detected_at": "2026-01-01T01:00:00+01:00"}',
    )
    assert rec.detected_at.isoformat() == "2026-01-01T00:00:00+00:00"  # type: ignore[attr-defined]


def test_status_and_kind_are_checked_against_their_lists() -> None:
    errs = errors_of(
        "scheduled_payouts",
        '{"payout_id": "p", "studio_id": "s", "scheduled_for": '
        '"2026-01-01T00:00:00Z", "amount_cents": 1, "currency": "CAD", '
        '"status": "sent"}',
    )
    assert errs[0].startswith("line 1: status:")
    errs = errors_of(
        "credentials", '{"credential_id": "c", "created_at": "2026-01-01T00:00:00Z", "kind": "password", "name": "n"}'
    )
    assert errs[0].startswith("line 1: kind:")


def test_a_finish_before_the_start_is_an_error() -> None:
    errs = errors_of(
        "job_runs", '{"run_id": "a", "started_at": "2026-01-01T01:00:00Z", "finished_at": "2026-01-01T00:00:00Z"}'
    )
    assert errs == ["line 1: finished_at: Value error, finished_at is before started_at"]


def test_unknown_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown record kind"):
        parse_batch("payouts", "")
