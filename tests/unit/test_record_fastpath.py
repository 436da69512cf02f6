"""The fast paths of ingest give exactly the slow path's result, or step aside.

``records._plain_objects`` (decoding) and ``record_fastpath.fast_row`` (validation) may only return
what ``decode_json`` and the models would; for anything else they return None and the slow path
decides, so refusals and messages cannot change. Generated input probes the edges: duplicate fields,
escapes, control characters, whitespace, bounds, wrong types, unknown fields, instants with offsets.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import from_json

from payoutwatch import record_fastpath as fastpath
from payoutwatch.record_fastpath import FIELDS, fast_row, validated_rows
from payoutwatch.records import (
    MAX_CENTS,
    RECORD_TYPES,
    BatchRejected,
    JsonRefused,
    _block_objects,
    _plain_objects,
    decode_json,
    validate_object,
    validate_objects,
)

KINDS = sorted(RECORD_TYPES)
JSONISH = st.text(alphabet='{}[]":, \t\\abn01-.eE+ué\x01\x7f', max_size=40)


def scalar() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**20), max_value=10**20),
        st.sampled_from([0, -1, MAX_CENTS, MAX_CENTS + 1, -MAX_CENTS - 1, 10**9, 10**9 + 1, 2**31, -(2**31) - 1]),
        st.floats(allow_nan=False),
        st.text(max_size=12),
        st.sampled_from(
            [
                "2026-03-05T06:00:00Z",
                "2026-03-05T06:00:00-05:00",
                "2026-03-05T06:00:00",
                " 2026-03-05T06:00:00z ",
                "1969-12-31T23:59:59Z",
                "2199-12-31T23:59:59+00:00",
                "paid",
                "held",
                "other",
                "stripe_restricted_key",
                "CAD",
                "cad",
                "USD",
                " id ",
                "id\x85",
                "\u00a0id",
                "id\t1",
                "x" * 201,
                "",
            ]
        ),
    )


INSTANTS = st.sampled_from(
    ["2026-03-05T06:00:00Z", "2026-03-05T01:00:00-05:00", "2026-03-06T00:00:00.5+00:00", "1970-01-01T00:00:00Z"]
)
IDS = st.sampled_from(["a_1", "st_000001", "Café x", "x" * 200, "a\tb", "cad", "é"])
VALID: dict[Any, st.SearchStrategy[Any]] = {
    fastpath.ID: IDS,
    fastpath.TITLE: IDS,
    fastpath.PROSE: st.one_of(IDS, st.just("")),
    fastpath.INSTANT: INSTANTS,
    fastpath.CENTS: st.integers(-MAX_CENTS, MAX_CENTS),
    fastpath.AMOUNT: st.integers(0, MAX_CENTS),
    fastpath.COUNT: st.integers(0, 10**9),
    fastpath.EXIT_CODE: st.integers(-(2**31), 2**31 - 1),
}


def valid(name: str, check: Any) -> st.SearchStrategy[Any]:
    """A value the field accepts on its own (the record may still be refused: an order between fields)."""
    if name == "status":
        return st.sampled_from(["paid", "held", "scheduled", "failed", "cancelled"])
    if name == "kind":
        return st.sampled_from(["other", "apple_pay_certificate", "stripe_restricted_key"])
    if name == "currency":
        return st.sampled_from(["CAD", "cad"])
    if name == "reversed":
        return st.booleans()
    return VALID[check]


@st.composite
def objects(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    fields = FIELDS[kind]
    names = [name for name, _, _ in fields]
    if draw(st.integers(0, 3)) == 0:  # anything at all
        chosen = draw(st.lists(st.sampled_from([*names, "unknown", "Run_id"]), max_size=len(names) + 2, unique=True))
        return {name: draw(scalar()) for name in chosen}
    obj = {}
    for name, check, default in fields:  # plausible records, each field present or not, null or not
        roll = draw(st.integers(0, 24))
        if roll == 0 and default is not fastpath.REQUIRED:
            continue
        obj[name] = None if roll == 1 else draw(scalar()) if roll == 2 else draw(valid(name, check))
    return obj


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_fast_row_is_the_models_row_or_steps_aside(kind: str, data: st.DataObject) -> None:
    obj = data.draw(objects(kind))
    row = fast_row(kind, obj, currency="CAD", seen={})
    record, problems = validate_object(kind, 1, obj, currency="CAD")
    if row is not None:
        assert record is not None and not problems, (obj, problems)
        assert row == record.model_dump()
        assert [type(v) for v in row.values()] == [type(v) for v in record.model_dump().values()]


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_validated_rows_refuse_and_describe_exactly_like_the_models(kind: str, data: st.DataObject) -> None:
    numbered = list(enumerate(data.draw(st.lists(objects(kind), max_size=4)), start=1))
    try:
        expected: Any = [r.model_dump() for r in validate_objects(kind, numbered)]
    except BatchRejected as exc:
        expected = [str(e) for e in exc.errors]
    try:
        got: Any = validated_rows(kind, numbered, currency="CAD")
    except BatchRejected as exc:
        got = [str(e) for e in exc.errors]
    assert got == expected


def decoded(line: bytes) -> Any:
    try:
        return decode_json(line.decode("utf-8"))
    except (UnicodeDecodeError, JsonRefused):
        return "refused"


def lines() -> st.SearchStrategy[bytes]:
    flat = st.dictionaries(st.text(max_size=6), scalar(), max_size=5)
    nested = st.dictionaries(st.text(max_size=3), st.one_of(scalar(), flat, st.lists(scalar(), max_size=3)), max_size=4)
    dumped = st.one_of(flat, nested).map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    doubled = flat.filter(bool).map(
        lambda d: (
            json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")[:-1]
            + b", "
            + json.dumps(dict([next(iter(d.items()))]), ensure_ascii=False).encode("utf-8", "surrogatepass")[1:]
        )
    )
    return st.one_of(dumped, doubled, JSONISH.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=30))


@settings(max_examples=500, deadline=None)
@given(block=st.lists(lines(), min_size=1, max_size=6))
def test_plain_objects_are_what_decode_json_gives_or_step_aside(block: list[bytes]) -> None:
    for line, plain in zip(block, _plain_objects(block), strict=True):
        if plain is not None:
            assert plain == decoded(line), line


def test_a_field_given_twice_is_never_taken_fast() -> None:
    lines = [b'{"a": "1:2", "a": 3}', b'{"a": 1, "b": {"c": 1, "c": 2}}', b'{"a":1}']
    assert _plain_objects(lines) == [None, None, {"a": 1}]


def test_escapes_and_control_characters_go_to_the_slow_path() -> None:
    assert _plain_objects([b'{"a": "\\u003a"}', b'{"a": "x\ty"}', b'{"a": 1}']) == [None, None, {"a": 1}]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_fast_rows_of_a_block_are_fast_row_of_each_or_step_aside(kind: str, data: st.DataObject) -> None:
    objs = data.draw(st.lists(objects(kind), max_size=5))
    rows = fastpath.fast_rows(kind, objs, currency="CAD", seen={})
    one_by_one = [fast_row(kind, obj, currency="CAD", seen={}) for obj in objs]
    if rows is not None:
        assert rows == one_by_one
        assert [[type(v) for v in row.values()] for row in rows] == [
            [type(v) for v in row.values()] for row in one_by_one if row is not None
        ]
        assert all(list(row) == [name for name, _, _ in FIELDS[kind]] for row in rows)
    if objs and all(row is not None for row in one_by_one):
        assert rows == one_by_one, "a block of records the fast path takes one by one is taken whole"


def test_a_block_with_one_record_for_the_model_is_checked_record_by_record() -> None:
    good = {"account_id": "st_1", "as_of": "2026-03-05T06:00:00Z", "balance_cents": 5, "threshold_cents": 1}
    bad = {**good, "balance_cents": True}
    assert fastpath.fast_rows("reserve_snapshots", [good, bad], currency="CAD", seen={}) is None
    with_end_space = {**good, "account_id": "st_1 "}
    assert fastpath.fast_rows("reserve_snapshots", [good, with_end_space], currency="CAD", seen={}) is None
    rows, problems = fastpath.rows_or_problems(
        "reserve_snapshots", [(1, good), (2, bad), (3, good)], currency="CAD", unit="line", seen={}
    )
    assert len(rows) == 2 and [(p.line, p.field) for p in problems] == [(2, "balance_cents")]


@settings(max_examples=500, deadline=None)
@given(block=st.lists(lines(), min_size=1, max_size=6))
def test_a_block_decoded_whole_is_each_line_parsed_alone(block: list[bytes]) -> None:
    """(Fields given twice are left to ``_plain_objects``' colon count, tested above.)"""
    bodies = [line.strip(b" \t\r\n") for line in block]
    whole = _block_objects(bodies)
    if whole is not None:
        for body, plain in zip(bodies, whole, strict=True):
            assert plain == (from_json(body, allow_inf_nan=False) if body else None), body


def test_lines_that_only_parse_joined_are_not_decoded_whole() -> None:
    # joined with commas these two lines parse as two objects, yet neither line is JSON on its own
    lines = [b'{"x":[1', b'{"y":1}]},{"z":1}']
    assert _block_objects(lines) is None
    assert _plain_objects(lines) == [None, None]
    assert _block_objects([b'{"a":1}', b"", b'{"b":"x:y"}']) == [{"a": 1}, None, {"b": "x:y"}]
