"""docs/records.md, where ingest errors point, lists every field of every record kind, and its examples
are accepted as they stand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from payoutwatch.records import RECORD_TYPES, BatchRejected, parse_batch, record_doc

DOC = Path(__file__).resolve().parents[2] / "docs" / "records.md"


def section(kind: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {kind}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/records.md has no section for {kind}"
    return match.group(1)


@pytest.mark.parametrize("kind", sorted(RECORD_TYPES))
def test_every_field_is_documented(kind: str) -> None:
    documented = set(re.findall(r"^\| `(\w+)`", section(kind), re.M))
    assert documented == set(RECORD_TYPES[kind].model_fields)


@pytest.mark.parametrize("kind", sorted(RECORD_TYPES))
def test_examples_are_accepted(kind: str) -> None:
    [example] = re.findall(r"```json\n(.*?)```", section(kind), re.S)
    assert len(parse_batch(kind, example)) == example.strip().count("\n") + 1


def test_unknown_field_points_to_the_kind_section() -> None:
    with pytest.raises(BatchRejected) as refused:
        parse_batch("job_runs", '{"run_id": "r", "started_at": "2026-03-05T11:00:00Z", "exitcode": 1}')
    assert record_doc("job_runs") in str(refused.value.errors[0])
    assert record_doc("job_runs") == "docs/records.md#job_runs"
    assert "## job_runs" in DOC.read_text(encoding="utf-8")
