"""The fast path of validation: the common record checked without building a model per record.

``fast_row`` accepts a *subset* of what the models (records.py) accept, and for that subset gives
exactly the row ``Model.model_validate(obj).model_dump()`` would: every field of exactly its expected
type and within its bounds. For anything else it returns None and the caller validates through the
model, so every refusal and every message stays the model's. (``records.plain_object`` does the same
for decoding.) tests/unit/test_record_fastpath.py compares both paths on generated input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic_core import PydanticCustomError

from payoutwatch.records import (
    _FORBIDDEN_CHARS,
    EXIT_CODES,
    ID_CHARS,
    MAX_CENTS,
    MAX_COUNT,
    PROSE_CHARS,
    RECORD_TYPES,
    BatchRejected,
    CredentialKind,
    RecordError,
    _instant,
    validate_object,
)
from payoutwatch.vocabulary import PayoutStatus

Check = Callable[[Any, dict[str, datetime]], Any]  # (value, instants seen) -> stored value, or _SLOW
# (values, instants seen) -> the stored values, or None when any value needs the slow path
ColumnCheck = Callable[[list[Any], dict[str, datetime]], list[Any] | None]
_SLOW = object()
_COLUMNWISE: dict[Check, ColumnCheck] = {}  # each check, applied to a whole column at once
# a value that does not start and end with a printable ASCII character, in values joined by newlines
_LOOSE_END = re.compile("(?:\\A|\n)[^!-~\n]|[^!-~\n](?:\n|\\Z)")


def _columnwise(check: Check, column: ColumnCheck) -> Check:
    _COLUMNWISE[check] = column
    return check


def _all_of(kind: type, values: list[Any]) -> bool:
    return not set(map(type, values)) - {kind}


def _text(limit: int, *, empty: bool = False) -> Check:
    def check(value: Any, _: dict[str, datetime]) -> Any:
        if type(value) is not str or len(value) > limit:
            return _SLOW
        if not value:
            return value if empty else _SLOW
        # no whitespace at either end (so stripping changes nothing by any definition of whitespace)
        if not ("!" <= value[0] <= "~" and "!" <= value[-1] <= "~") or _FORBIDDEN_CHARS.search(value):
            return _SLOW
        return value

    def column(values: list[Any], _: dict[str, datetime]) -> list[Any] | None:
        if not values:
            return values
        if not _all_of(str, values) or max(map(len, values)) > limit or (not empty and not min(map(len, values))):
            return None
        if _FORBIDDEN_CHARS.search("".join(values)) or _LOOSE_END.search("\n".join(filter(None, values))):
            return None
        return values

    return _columnwise(check, column)


def _integer(low: int, high: int) -> Check:
    def check(value: Any, _: dict[str, datetime]) -> Any:
        return value if type(value) is int and low <= value <= high else _SLOW

    def column(values: list[Any], _: dict[str, datetime]) -> list[Any] | None:
        if not values:
            return values
        return values if _all_of(int, values) and low <= min(values) and max(values) <= high else None

    return _columnwise(check, column)


def _instant_check(value: Any, seen: dict[str, datetime]) -> Any:
    if type(value) is not str:
        return _SLOW
    instant = seen.get(value)
    if instant is None:
        try:
            instant = seen[value] = _instant(value)
        except PydanticCustomError:
            return _SLOW
    return instant


def _instant_column(values: list[Any], seen: dict[str, datetime]) -> list[Any] | None:
    if not _all_of(str, values):
        return None
    for value in set(values).difference(seen):
        if _instant_check(value, seen) is _SLOW:
            return None
    return list(map(seen.__getitem__, values))


def _boolean(value: Any, _: dict[str, datetime]) -> Any:
    return value if type(value) is bool else _SLOW


def _boolean_column(values: list[Any], _: dict[str, datetime]) -> list[Any] | None:
    return values if _all_of(bool, values) else None


def _member(enum: type[StrEnum]) -> Check:
    members = enum._value2member_map_

    def check(value: Any, _: dict[str, datetime]) -> Any:
        return members.get(value, _SLOW) if type(value) is str else _SLOW

    def column(values: list[Any], _: dict[str, datetime]) -> list[Any] | None:
        stored = list(map(members.get, values)) if _all_of(str, values) else [None]
        return None if None in stored else stored

    return _columnwise(check, column)


_columnwise(_instant_check, _instant_column)
_columnwise(_boolean, _boolean_column)


ID = _text(ID_CHARS)
TITLE = _text(PROSE_CHARS)
PROSE = _text(PROSE_CHARS, empty=True)
CENTS = _integer(-MAX_CENTS, MAX_CENTS)
AMOUNT = _integer(0, MAX_CENTS)
COUNT = _integer(0, MAX_COUNT)
EXIT_CODE = _integer(*EXIT_CODES)
INSTANT = _instant_check
REQUIRED = object()  # a field with no default

# kind -> (field, check, default or REQUIRED), in the models' field order (model_dump's order)
FIELDS: dict[str, tuple[tuple[str, Check, Any], ...]] = {
    "job_runs": (
        ("run_id", ID, REQUIRED),
        ("job", ID, "payouts"),
        ("scheduled_for", INSTANT, None),
        ("started_at", INSTANT, REQUIRED),
        ("finished_at", INSTANT, None),
        ("exit_code", EXIT_CODE, None),
        ("studios_scheduled", COUNT, None),
        ("studios_processed", COUNT, None),
        ("success_count", COUNT, None),
        ("error_count", COUNT, None),
        ("retry_count", COUNT, None),
        ("cad_processed_cents", CENTS, None),
        ("source", ID, None),
    ),
    "scheduled_payouts": (
        ("payout_id", ID, REQUIRED),
        ("studio_id", ID, REQUIRED),
        ("scheduled_for", INSTANT, REQUIRED),
        ("amount_cents", AMOUNT, REQUIRED),
        ("currency", ID, REQUIRED),
        ("status", _member(PayoutStatus), REQUIRED),
        ("hold_reason", ID, None),
        ("paid_at", INSTANT, None),
        ("run_id", ID, None),
        ("transfer_id", ID, None),
    ),
    "reserve_snapshots": (
        ("account_id", ID, REQUIRED),
        ("as_of", INSTANT, REQUIRED),
        ("balance_cents", CENTS, REQUIRED),
        ("threshold_cents", AMOUNT, REQUIRED),
    ),
    "manual_payouts": (
        ("id", ID, REQUIRED),
        ("studio_id", ID, REQUIRED),
        ("amount_cents", AMOUNT, REQUIRED),
        ("currency", ID, REQUIRED),
        ("detected_at", INSTANT, REQUIRED),
        ("completed_at", INSTANT, None),
        ("reason", PROSE, None),
        ("run_id", ID, None),
        ("scheduled_for", INSTANT, None),
    ),
    "transfers": (
        ("transfer_id", ID, REQUIRED),
        ("amount_cents", AMOUNT, REQUIRED),
        ("currency", ID, REQUIRED),
        ("created_at", INSTANT, REQUIRED),
        ("destination", ID, None),
        ("payout_id", ID, None),
        ("reversed", _boolean, False),
        ("amount_reversed_cents", AMOUNT, None),
    ),
    "credentials": (
        ("credential_id", ID, REQUIRED),
        ("created_at", INSTANT, REQUIRED),
        ("kind", _member(CredentialKind), REQUIRED),
        ("name", TITLE, REQUIRED),
        ("owner", ID, None),
        ("expires_at", INSTANT, None),
        ("rotate_by", INSTANT, None),
        ("source", ID, None),
        ("fingerprint", ID, None),
    ),
}
assert set(FIELDS) == set(RECORD_TYPES), "every record kind has a fast path"
assert all([name for name, _, _ in FIELDS[kind]] == list(model.model_fields) for kind, model in RECORD_TYPES.items()), (
    "the fast path lists each model's fields in the model's order"
)

# (earlier field, later field): the later one may not be smaller (the models' field validators)
_ORDERED = {
    "job_runs": ("started_at", "finished_at"),
    "manual_payouts": ("detected_at", "completed_at"),
    "transfers": ("amount_reversed_cents", "amount_cents"),
}


def fast_row(kind: str, obj: dict[str, Any], *, currency: str, seen: dict[str, datetime]) -> dict[str, Any] | None:
    """``obj`` as the ``model_dump()`` of a valid ``kind`` record, or None when the model must decide.

    ``seen`` caches parsed instants across one batch (many records share a timestamp).
    """
    fields = FIELDS[kind]
    row: dict[str, Any] = {}
    for name, check, default in fields:
        value = obj.get(name, REQUIRED)
        if value is REQUIRED:
            if default is REQUIRED:
                return None
            row[name] = default
        elif value is None and default is None:
            row[name] = None
        else:
            stored = check(value, seen)
            if stored is _SLOW:
                return None
            row[name] = stored
    if not obj.keys() <= row.keys():
        return None  # an unknown field
    ordered = _ORDERED.get(kind)
    if ordered is not None:
        low, high = row[ordered[0]], row[ordered[1]]
        if low is not None and high is not None and high < low:
            return None
    money = row.get("currency")
    if money is not None and money.upper() != currency:
        return None
    return row


def fast_rows(kind: str, objs: list[Any], *, currency: str, seen: dict[str, datetime]) -> list[dict[str, Any]] | None:
    """``fast_row`` of every object, checked a field (a column) at a time; None when any record needs
    the model (then the caller goes record by record)."""
    if not _all_of(dict, objs):
        return None
    fields = FIELDS[kind]
    if not all(map(_NAMES[kind].issuperset, objs)):
        return None  # an unknown field
    columns, changed = [], []
    for name, check, default in fields:
        column = [obj.get(name, REQUIRED) for obj in objs]
        if REQUIRED in column or None in column:
            stored = _with_holes(column, _COLUMNWISE[check], default, seen)
        else:
            stored = _COLUMNWISE[check](column, seen)
        if stored is None:
            return None
        columns.append(stored)
        if stored is not column:
            changed.append(name)
    names = [name for name, _, _ in fields]
    ordered = _ORDERED.get(kind)
    if ordered is not None:
        low, high = columns[names.index(ordered[0])], columns[names.index(ordered[1])]
        if any(a is not None and b is not None and b < a for a, b in zip(low, high, strict=True)):
            return None
    if "currency" in names and any(m is not None and m.upper() != currency for m in columns[names.index("currency")]):
        return None
    if len(changed) > len(names) // 2 or not all(map(_IN_ORDER[kind].__contains__, map(tuple, objs))):
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    rows = list(map(dict, objs))  # a copy of each object, its fields already in the model's order
    for name in changed:
        for row, value in zip(rows, columns[names.index(name)], strict=True):
            row[name] = value
    return rows


_NAMES = {kind: frozenset(name for name, _, _ in fields) for kind, fields in FIELDS.items()}
_IN_ORDER = {kind: {tuple(name for name, _, _ in fields)} for kind, fields in FIELDS.items()}  # every field, in order


def _with_holes(column: list[Any], check: ColumnCheck, default: Any, seen: dict[str, datetime]) -> list[Any] | None:
    """A column where some records leave the field out or null: those take their default (``fast_row``)."""
    if default is REQUIRED and any(value is REQUIRED for value in column):
        return None
    given = [i for i, value in enumerate(column) if value is not REQUIRED and not (value is None and default is None)]
    checked = check([column[i] for i in given], seen)
    if checked is None:
        return None
    stored = [default if value is REQUIRED else None for value in column]
    for i, value in zip(given, checked, strict=True):
        stored[i] = value
    return stored


def row_or_problems(
    kind: str, number: int, obj: Any, *, currency: str, unit: str, seen: dict[str, datetime]
) -> tuple[dict[str, Any] | None, list[RecordError]]:
    """``obj`` as a stored row (``model_dump()``), by the fast path when it applies, else through the model."""
    if type(obj) is dict:
        row = fast_row(kind, obj, currency=currency, seen=seen)
        if row is not None:
            return row, []
    record, problems = validate_object(kind, number, obj, currency=currency, unit=unit)
    return (None if record is None else record.model_dump()), problems


def rows_or_problems(
    kind: str, objects: Sequence[tuple[int, Any]], *, currency: str, unit: str, seen: dict[str, datetime]
) -> tuple[list[dict[str, Any]], list[RecordError]]:
    """The rows of ``objects`` (each paired with its number) and the problems found: a block at a time
    column-wise (``fast_rows``), else record by record (``row_or_problems``)."""
    rows: list[dict[str, Any]] = []
    problems: list[RecordError] = []
    for start in range(0, len(objects), BLOCK):
        block = objects[start : start + BLOCK]
        fast = fast_rows(kind, [obj for _, obj in block], currency=currency, seen=seen)
        if fast is not None:
            rows.extend(fast)
            continue
        for number, obj in block:
            row, found = row_or_problems(kind, number, obj, currency=currency, unit=unit, seen=seen)
            if row is not None:
                rows.append(row)
            problems.extend(found)
    return rows, problems


BLOCK = 1000  # records checked column-wise together: a block with one record for the model goes one by one


def validated_rows(
    kind: str,
    objects: Sequence[tuple[int, Any]],
    *,
    currency: str,
    errors: Sequence[RecordError] = (),
    unit: str = "line",
) -> list[dict[str, Any]]:
    """``records.validate_objects`` giving rows instead of models: the same refusals, the same messages."""
    rows, problems = rows_or_problems(kind, objects, currency=currency, unit=unit, seen={})
    if errors or problems:
        raise BatchRejected(kind, sorted([*errors, *problems], key=lambda e: e.line))
    return rows
