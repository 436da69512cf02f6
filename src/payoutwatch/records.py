"""The six record kinds of DESIGN §3 and batch parsing with line-numbered errors.

A batch is JSON Lines (one object per line) or one JSON array. Parsing never stops at
the first problem: every bad record is reported as ``line N: field: reason`` so a person
can fix the whole file in one go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from payoutwatch.clock import to_utc


def _utc(value: datetime) -> datetime:
    return to_utc(value)


Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
Cents = StrictInt
NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]


class PayoutStatus(StrEnum):
    SCHEDULED = "scheduled"
    PAID = "paid"
    FAILED = "failed"
    HELD = "held"
    CANCELLED = "cancelled"


class CredentialKind(StrEnum):
    APPLE_PAY_CERTIFICATE = "apple_pay_certificate"
    STRIPE_RESTRICTED_KEY = "stripe_restricted_key"
    WEBHOOK_SIGNING_SECRET = "webhook_signing_secret"
    OTHER = "other"


RESERVE_CAP = "reserve_cap"
PLATFORM_ACCOUNT = "platform"


class Record(BaseModel):
    """Common base: unknown fields are errors (usually a typo), timestamps need an offset."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    record_kind: ClassVar[str]
    key_fields: ClassVar[tuple[str, ...]]

    def key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self.key_fields)


class JobRun(Record):
    record_kind: ClassVar[str] = "job_runs"
    key_fields: ClassVar[tuple[str, ...]] = ("run_id",)
    run_id: NonEmpty
    job: NonEmpty = "payouts"
    scheduled_for: Instant | None = None
    started_at: Instant
    finished_at: Instant | None = None
    exit_code: StrictInt | None = None
    studios_scheduled: Annotated[StrictInt, Field(ge=0)] | None = None
    studios_processed: Annotated[StrictInt, Field(ge=0)] | None = None
    success_count: Annotated[StrictInt, Field(ge=0)] | None = None
    error_count: Annotated[StrictInt, Field(ge=0)] | None = None
    retry_count: Annotated[StrictInt, Field(ge=0)] | None = None
    cad_processed_cents: Cents | None = None
    source: str | None = None

    @field_validator("finished_at")
    @classmethod
    def _after_start(cls, value: datetime | None, info: Any) -> datetime | None:
        started = info.data.get("started_at")
        if value is not None and started is not None and value < started:
            raise ValueError("finished_at is before started_at")
        return value


# The figures a job may report about its own run (pings, the monitored command, Airflow's XCom).
RUN_FIGURES = (
    "scheduled_for",
    "studios_scheduled",
    "studios_processed",
    "success_count",
    "error_count",
    "retry_count",
    "cad_processed_cents",
)


class ScheduledPayout(Record):
    record_kind: ClassVar[str] = "scheduled_payouts"
    key_fields: ClassVar[tuple[str, ...]] = ("payout_id",)
    payout_id: NonEmpty
    studio_id: NonEmpty
    scheduled_for: Instant
    amount_cents: Cents
    currency: str
    status: PayoutStatus
    hold_reason: str | None = None
    paid_at: Instant | None = None
    run_id: str | None = None
    transfer_id: str | None = None


class ReserveSnapshot(Record):
    record_kind: ClassVar[str] = "reserve_snapshots"
    key_fields: ClassVar[tuple[str, ...]] = ("account_id", "as_of")
    account_id: NonEmpty
    as_of: Instant
    balance_cents: Cents
    threshold_cents: Annotated[StrictInt, Field(ge=0)]


class ManualPayout(Record):
    record_kind: ClassVar[str] = "manual_payouts"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)
    id: NonEmpty
    studio_id: NonEmpty
    amount_cents: Cents
    currency: str
    detected_at: Instant
    completed_at: Instant | None = None
    reason: str | None = None
    run_id: str | None = None
    scheduled_for: Instant | None = None

    @field_validator("completed_at")
    @classmethod
    def _after_detection(cls, value: datetime | None, info: Any) -> datetime | None:
        detected = info.data.get("detected_at")
        if value is not None and detected is not None and value < detected:
            raise ValueError("completed_at is before detected_at")
        return value


class Transfer(Record):
    record_kind: ClassVar[str] = "transfers"
    key_fields: ClassVar[tuple[str, ...]] = ("transfer_id",)
    transfer_id: NonEmpty
    amount_cents: Cents
    currency: str
    created_at: Instant
    destination: str | None = None
    payout_id: str | None = None
    reversed: StrictBool = False


class Credential(Record):
    record_kind: ClassVar[str] = "credentials"
    key_fields: ClassVar[tuple[str, ...]] = ("credential_id", "created_at")
    credential_id: NonEmpty
    created_at: Instant
    kind: CredentialKind
    name: NonEmpty
    owner: str | None = None
    expires_at: Instant | None = None
    rotate_by: Instant | None = None
    source: str | None = None
    fingerprint: str | None = None  # SHA-256 of an X.509 certificate, when the credential is one


RECORD_TYPES: dict[str, type[Record]] = {
    t.record_kind: t for t in (JobRun, ScheduledPayout, ReserveSnapshot, ManualPayout, Transfer, Credential)
}


@dataclass(frozen=True)
class RecordError:
    """One problem with one record: where (line), which field, and why."""

    line: int
    field: str
    reason: str
    unit: str = "line"

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.field}: {self.reason}"


class BatchRejected(Exception):
    """A batch with any invalid record; nothing of it was written."""

    def __init__(self, kind: str, errors: list[RecordError]) -> None:
        self.kind = kind
        self.errors = errors
        super().__init__(f"{len(errors)} invalid {kind} record(s); nothing was written")


def unknown_kind_message(kind: str) -> str:
    return f"unknown record kind {kind!r}; expected one of: {', '.join(RECORD_TYPES)}"


def parse_batch(kind: str, text: str, *, currency: str = "CAD") -> list[Record]:
    """Parse and validate a whole batch; raise ``BatchRejected`` listing every bad record."""
    if kind not in RECORD_TYPES:
        raise ValueError(unknown_kind_message(kind))
    objects, errors, unit = split_batch(text)
    return validate_objects(kind, objects, currency=currency, errors=errors, unit=unit)


def validate_objects(
    kind: str,
    objects: list[tuple[int, Any]],
    *,
    currency: str = "CAD",
    errors: list[RecordError] | None = None,
    unit: str = "line",
) -> list[Record]:
    """Validate already-decoded objects, each paired with its line (or record) number."""
    model = RECORD_TYPES[kind]
    errors = list(errors or [])
    records: list[Record] = []
    has_money = "currency" in model.model_fields
    for number, obj in objects:
        if not isinstance(obj, dict):
            errors.append(RecordError(number, "(record)", "expected a JSON object", unit))
            continue
        try:
            record = model.model_validate(obj)
        except ValidationError as exc:
            errors.extend(_describe(number, exc, unit))
            continue
        money_currency = record.currency if has_money else None  # type: ignore[attr-defined]
        if money_currency is not None and money_currency.upper() != currency:
            errors.append(
                RecordError(number, "currency", f"{money_currency!r} is not the base currency {currency}", unit)
            )
            continue
        records.append(record)
    if errors:
        raise BatchRejected(kind, sorted(errors, key=lambda e: e.line))
    return records


def split_batch(text: str) -> tuple[list[tuple[int, Any]], list[RecordError], str]:
    """JSON Lines or a JSON array as numbered objects, the lines that are not JSON, and the unit (line or record)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            array = json.loads(text)
        except json.JSONDecodeError as exc:
            return [], [RecordError(exc.lineno, "(json)", f"not valid JSON: {exc.msg}")], "line"
        if not isinstance(array, list):
            return [], [RecordError(1, "(json)", "expected a JSON array or JSON Lines")], "line"
        return [(i + 1, obj) for i, obj in enumerate(array)], [], "record"
    objects: list[tuple[int, Any]] = []
    errors: list[RecordError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            objects.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            errors.append(RecordError(number, "(json)", f"not valid JSON: {exc.msg} at column {exc.colno}"))
    return objects, errors, "line"


def _describe(number: int, exc: ValidationError, unit: str) -> list[RecordError]:
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(record)"
        kind = err["type"]
        if kind == "extra_forbidden":
            reason = "unknown field (check the spelling against DESIGN §3)"
        elif kind == "missing":
            reason = "required field is missing"
        elif kind == "timezone_aware":
            reason = "timestamp has no UTC offset; add one, e.g. 'Z' or '+00:00'"
        else:
            reason = err["msg"]
        out.append(RecordError(number, field, reason, unit))
    return out
