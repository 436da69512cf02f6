"""The six record kinds of DESIGN §3, their bounds, and batch parsing with line-numbered errors.

A batch is JSON Lines (one object per line) or one JSON array. Parsing never stops at
the first problem: every bad record is reported as ``line N: field: reason`` so a person
can fix the whole file in one go.

Bounds (DESIGN §3, pinned) keep every accepted value storable on both stores and summable:
cents within ±10^15, counts within 0…10^9, exit codes within 32 bits, instants between
1970-01-01 and 2199-12-31 UTC given as ISO 8601 strings with an offset, text of bounded
length without control characters, and no field given twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice, repeat
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError, from_json

from payoutwatch.vocabulary import PayoutStatus

MAX_CENTS = 10**15
MAX_COUNT = 10**9
EXIT_CODES = (-(2**31), 2**31 - 1)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
ID_CHARS = 200
PROSE_CHARS = 1000

# decoding JSON Lines fast (decode_lines)
_BLOCK = 4096  # lines decoded together
# every byte but control characters and the backslash (escapes): lines of only these may be decoded fast
_SURE_BYTES = bytes(b for b in range(256) if b >= 0x20 and b != ord("\\"))
_JSON_WHITESPACE = b" \t\r\n"
_LONGEST_PLAIN = 4000  # bytes: longer lines go to json.loads (its limit of 4,300 digits per integer)

# C0 and C1 control characters except tab, and lone surrogates (not encodable as UTF-8)
_FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def _instant(value: Any) -> datetime:
    """An ISO 8601 string with an offset (or an aware ``datetime`` from code) → UTC, within bounds."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("z"):
            text = text[:-1] + "Z"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise PydanticCustomError(
                "instant_format", "not an ISO 8601 timestamp with an offset, e.g. 2026-03-05T06:00:00-05:00"
            ) from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise PydanticCustomError(
            "instant_type", "a timestamp must be a string (ISO 8601 with an offset), not {kind}", {"kind": _kind(value)}
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError("timezone_aware", "timestamp has no UTC offset")
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise PydanticCustomError("instant_range", "timestamp is outside 1970-01-01 … 2199-12-31 (UTC)")
    return utc


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else type(value).__name__


def _plain_text(value: str) -> str:
    found = _FORBIDDEN_CHARS.search(value)
    if found is not None:
        code = f"U+{ord(found.group()):04X}"
        raise PydanticCustomError("control_character", f"contains the control character {code}; only tab is allowed")
    return value


def text_problem(value: str, limit: int) -> str | None:
    """Why ``value`` cannot be stored as a short text (empty, over ``limit`` characters, a control
    character other than tab), or None: the bounds of ids, for values that are not records (a ping's job,
    a silence's matcher)."""
    if not 0 < len(value) <= limit:
        return f"must be 1 … {limit} characters, not {len(value)}"
    found = _FORBIDDEN_CHARS.search(value)
    return None if found is None else f"contains the control character U+{ord(found.group()):04X}"


Instant = Annotated[datetime, BeforeValidator(_instant)]
Cents = Annotated[StrictInt, Field(ge=-MAX_CENTS, le=MAX_CENTS)]
Amount = Annotated[StrictInt, Field(ge=0, le=MAX_CENTS)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
ExitCode = Annotated[StrictInt, Field(ge=EXIT_CODES[0], le=EXIT_CODES[1])]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=ID_CHARS), AfterValidator(_plain_text)]
Prose = Annotated[str, StringConstraints(max_length=PROSE_CHARS), AfterValidator(_plain_text)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=PROSE_CHARS), AfterValidator(_plain_text)]


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
    exit_code: ExitCode | None = None
    studios_scheduled: Count | None = None
    studios_processed: Count | None = None
    success_count: Count | None = None
    error_count: Count | None = None
    retry_count: Count | None = None
    cad_processed_cents: Cents | None = None
    source: NonEmpty | None = None

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
    amount_cents: Amount
    currency: NonEmpty
    status: PayoutStatus
    hold_reason: NonEmpty | None = None
    paid_at: Instant | None = None
    run_id: NonEmpty | None = None
    transfer_id: NonEmpty | None = None


class ReserveSnapshot(Record):
    record_kind: ClassVar[str] = "reserve_snapshots"
    key_fields: ClassVar[tuple[str, ...]] = ("account_id", "as_of")
    account_id: NonEmpty
    as_of: Instant
    balance_cents: Cents
    threshold_cents: Amount


class ManualPayout(Record):
    record_kind: ClassVar[str] = "manual_payouts"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)
    id: NonEmpty
    studio_id: NonEmpty
    amount_cents: Amount
    currency: NonEmpty
    detected_at: Instant
    completed_at: Instant | None = None
    reason: Prose | None = None
    run_id: NonEmpty | None = None
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
    amount_cents: Amount
    currency: NonEmpty
    created_at: Instant
    destination: NonEmpty | None = None
    payout_id: NonEmpty | None = None
    reversed: StrictBool = False
    amount_reversed_cents: Amount | None = None  # reversed so far (a partial reversal leaves `reversed` false)

    @field_validator("amount_reversed_cents")
    @classmethod
    def _within_amount(cls, value: int | None, info: Any) -> int | None:
        amount = info.data.get("amount_cents")
        if value is not None and amount is not None and value > amount:
            raise ValueError("amount_reversed_cents is more than amount_cents")
        return value


class Credential(Record):
    record_kind: ClassVar[str] = "credentials"
    key_fields: ClassVar[tuple[str, ...]] = ("credential_id", "created_at")
    credential_id: NonEmpty
    created_at: Instant
    kind: CredentialKind
    name: Title
    owner: NonEmpty | None = None
    expires_at: Instant | None = None
    rotate_by: Instant | None = None
    source: NonEmpty | None = None
    fingerprint: NonEmpty | None = None  # SHA-256 of an X.509 certificate, when the credential is one


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


def parse_batch(kind: str, data: str | bytes, *, currency: str = "CAD") -> list[Record]:
    """Parse and validate a whole batch; raise ``BatchRejected`` listing every bad record.

    ``data`` is JSON Lines or one JSON array, as text or as raw bytes (decoded as UTF-8 line by
    line, so a line that is not UTF-8 is reported with its number instead of failing the read).
    """
    if kind not in RECORD_TYPES:
        raise ValueError(unknown_kind_message(kind))
    objects, errors, unit = split_batch(data)
    return validate_objects(kind, objects, currency=currency, errors=errors, unit=unit)


RECORDS_DOC = "docs/records.md"


def record_doc(kind: str) -> str:
    """Where a person reads every field and bound of ``kind``: its section of docs/records.md."""
    return f"{RECORDS_DOC}#{kind}"


def validate_objects(
    kind: str,
    objects: list[tuple[int, Any]],
    *,
    currency: str = "CAD",
    errors: list[RecordError] | None = None,
    unit: str = "line",
) -> list[Record]:
    """Validate already-decoded objects, each paired with its line (or record) number."""
    errors = list(errors or [])
    records: list[Record] = []
    for number, obj in objects:
        record, problems = validate_object(kind, number, obj, currency=currency, unit=unit)
        errors.extend(problems)
        if record is not None:
            records.append(record)
    if errors:
        raise BatchRejected(kind, sorted(errors, key=lambda e: e.line))
    return records


def validate_object(
    kind: str, number: int, obj: Any, *, currency: str = "CAD", unit: str = "line"
) -> tuple[Record | None, list[RecordError]]:
    """One decoded object as a ``kind`` record, or the problems found in it (with its number)."""
    model = RECORD_TYPES[kind]
    if not isinstance(obj, dict):
        return None, [RecordError(number, "(record)", "expected a JSON object", unit)]
    try:
        record = model.model_validate(obj)
    except ValidationError as exc:
        return None, _describe(kind, number, exc, unit)
    money_currency = record.currency if "currency" in model.model_fields else None  # type: ignore[attr-defined]
    if money_currency is not None and money_currency.upper() != currency:
        return None, [RecordError(number, "currency", f"{money_currency!r} is not the base currency {currency}", unit)]
    return record, []


class _DuplicateField(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a field given twice is an error, not a silent last-wins."""
    obj: dict[str, Any] = {}
    for name, value in pairs:
        if name in obj:
            raise _DuplicateField(name)
        obj[name] = value
    return obj


class JsonRefused(ValueError):
    """Text that is not acceptable JSON: ``field`` and ``reason`` as in ``RecordError``; ``line``
    is the line of the text where the problem is (1 when unknown)."""

    def __init__(self, field: str, reason: str, line: int = 1) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.line = field, reason, line


def decode_json(text: str) -> Any:
    """``json.loads`` that raises ``JsonRefused`` for anything a batch may not contain.

    Refused: invalid JSON, a field given twice in one object, nesting too deep for the parser,
    and integers too long to convert (Python's 4,300-digit limit).
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_fields)
    except _DuplicateField as exc:
        raise JsonRefused(exc.name, "field is given more than once") from None
    except json.JSONDecodeError as exc:
        raise JsonRefused("(json)", f"not valid JSON: {exc.msg} at column {exc.colno}", exc.lineno) from None
    except RecursionError:
        raise JsonRefused("(json)", "nested too deeply") from None
    except ValueError:  # Python refuses to convert integers of more than 4,300 digits
        raise JsonRefused("(json)", "a number has too many digits") from None


def without_bom(raw: bytes) -> bytes:
    """``raw`` without a leading UTF-8 byte order mark, as some editors write."""
    return raw.removeprefix(b"\xef\xbb\xbf")


def is_json_array(head: bytes) -> bool:
    """Whether input starting with ``head`` is one JSON array (else JSON Lines)."""
    return without_bom(head).lstrip().startswith(b"[")


def split_batch(data: str | bytes) -> tuple[list[tuple[int, Any]], list[RecordError], str]:
    """Decode a batch into ``(number, object)`` pairs plus the errors met, and the unit numbered."""
    raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data
    raw = without_bom(raw)
    if is_json_array(raw):
        return _split_array(raw)
    objects: list[tuple[int, Any]] = []
    errors: list[RecordError] = []
    for block, every_line_an_object in decoded_blocks(raw.split(b"\n")):
        if every_line_an_object:
            objects.extend(block)
            continue
        for number, decoded in block:
            if isinstance(decoded, RecordError):
                errors.append(decoded)
            else:
                objects.append((number, decoded))
    return objects, errors, "line"


def decode_lines(lines: Iterable[bytes]) -> Iterator[tuple[int, Any]]:
    """JSON Lines, one line at a time: ``(line number, object)``, or ``(line number, RecordError)`` for a
    line that is not UTF-8 or not acceptable JSON. Blank lines are skipped; a leading byte order mark too.
    """
    for block, _ in decoded_blocks(lines):
        yield from block


def decoded_blocks(lines: Iterable[bytes]) -> Iterator[tuple[list[tuple[int, Any]], bool]]:
    """``decode_lines`` a block of lines at a time (the block's blank lines left out; a block may be empty),
    with whether every line of the block is an object (no ``RecordError`` among them).

    Lines are read in blocks of ``_BLOCK``; ``_plain_objects`` decodes the lines it is sure of (nearly all)
    and ``decode_json`` the others, so every problem and its message are ``decode_json``'s.
    """
    numbered = enumerate(lines, start=1)
    while block := list(islice(numbered, _BLOCK)):
        if block[0][0] == 1:
            block[0] = (1, without_bom(block[0][1]))
        plain = _plain_objects([line for _, line in block])
        if all(not block[i][1].strip() for i, obj in enumerate(plain) if obj is None):  # the rest blank
            yield [(number, obj) for (number, _), obj in zip(block, plain, strict=True) if obj is not None], True
            continue
        decoded: list[tuple[int, Any]] = []
        for (number, line), obj in zip(block, plain, strict=True):
            if obj is not None:
                decoded.append((number, obj))
            elif line.strip():
                decoded.append((number, _decoded_line(number, line)))
        yield decoded, False


def _decoded_line(number: int, line: bytes) -> Any:
    """``decode_json`` of one line, or the ``RecordError`` saying why it is refused."""
    try:
        return decode_json(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return RecordError(number, "(encoding)", f"not UTF-8 (byte {exc.start + 1} of the line)")
    except JsonRefused as exc:
        return RecordError(number, exc.field, exc.reason)


def _plain_objects(lines: list[bytes]) -> list[dict[str, Any] | None]:
    """Per line, the object ``decode_json`` would give, where the fast parser (pydantic-core's) is sure of
    it; else None.

    Sure means: one object, no escapes and no control characters in the line (strings decode literally),
    too short for an integer of 4,300 digits (Python's limit), and no field given twice at any depth
    (``decode_json`` refuses it; the fast parser would take the last). The last is checked by counting
    colons: a line has one colon per field in its text plus those inside its strings; the ``repr`` of
    the object has one per field it kept plus those inside the strings it kept. The line has at least
    as many, and exactly as many only if no field was dropped; so equal sums over a block mean equal
    counts on every line.
    """
    bodies = list(map(bytes.strip, lines, repeat(_JSON_WHITESPACE)))
    text = b"".join(bodies)
    clean = not text.translate(None, _SURE_BYTES)
    objects = _block_objects(bodies) if clean else None
    if objects is None:
        objects = [_plain_object(body, clean) for body in bodies]
    # the whole block's colons first (a body left undecoded only matches when it has none): one count
    if text.count(b":") == repr(objects).count(":"):
        return objects
    return [
        obj if obj is None or body.count(b":") == repr(obj).count(":") else None
        for body, obj in zip(bodies, objects, strict=True)
    ]


def _block_objects(bodies: list[bytes]) -> list[dict[str, Any] | None] | None:
    """Every body's object from ONE parse of the block's non-blank bodies as a JSON array (None for a
    blank one), or None when the block must be decoded line by line.

    Each element is exactly one body's text: every body starts with ``{`` and ends with ``}``, and the
    array holds exactly as many ``{`` and ``}`` as bodies, so no body holds another brace (none in a
    string, no nested object). The elements are objects, each opened by a ``{``: the i-th body's first
    byte opens the i-th element, whose closing brace, the next ``}``, is that body's last byte.
    """
    filled = [body for body in bodies if body]
    if not filled or max(map(len, filled)) > _LONGEST_PLAIN:
        return None
    if {body[:1] for body in filled} != {b"{"} or {body[-1:] for body in filled} != {b"}"}:
        return None
    joined = b"[" + b",".join(filled) + b"]"
    if not joined.count(b"{") == joined.count(b"}") == len(filled):
        return None
    try:
        array = from_json(joined, allow_inf_nan=False, cache_strings="all")
    except ValueError:
        return None
    if type(array) is not list or len(array) != len(filled) or set(map(type, array)) != {dict}:
        return None
    if len(filled) == len(bodies):
        return array
    objects = iter(array)
    return [next(objects) if body else None for body in bodies]


def _plain_object(body: bytes, clean: bool) -> dict[str, Any] | None:
    """The object of one body, where the fast parser is sure of it (``_plain_objects``); else None."""
    obj = None
    if body[:1] == b"{" and len(body) <= _LONGEST_PLAIN and (clean or not body.translate(None, _SURE_BYTES)):
        try:
            obj = from_json(body, allow_inf_nan=False, cache_strings="keys")
        except ValueError:
            obj = None
        if type(obj) is not dict:
            obj = None
    return obj


def _split_array(raw: bytes) -> tuple[list[tuple[int, Any]], list[RecordError], str]:
    try:
        array = decode_json(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return [], [RecordError(raw.count(b"\n", 0, exc.start) + 1, "(encoding)", "not UTF-8")], "line"
    except JsonRefused as exc:
        return [], [RecordError(exc.line, exc.field, exc.reason)], "line"
    if not isinstance(array, list):
        return [], [RecordError(1, "(json)", "expected a JSON array or JSON Lines")], "line"
    return [(i + 1, obj) for i, obj in enumerate(array)], [], "record"


def _describe(kind: str, number: int, exc: ValidationError, unit: str) -> list[RecordError]:
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(record)"
        problem = err["type"]
        if problem == "extra_forbidden":
            reason = f"unknown field (check the spelling against {record_doc(kind)})"
        elif problem == "missing":
            reason = "required field is missing"
        elif problem == "timezone_aware":
            reason = "timestamp has no UTC offset; add one, e.g. 'Z' or '+00:00'"
        elif isinstance(err.get("input"), dict | list) and len(err["loc"]) == 1:
            reason = f"expected a single value, not {_kind(err['input'])}"
        else:
            reason = err["msg"]
        out.append(RecordError(number, field, reason, unit))
    return out
