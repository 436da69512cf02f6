"""The Source protocol: pull what changed since a cursor, as raw record fields.

A source never writes: ``sync`` validates what it returns through the same path as
``payoutwatch ingest`` and advances the cursor only after the write committed. A source never reads
the clock either: the sync passes the instant of the pull as ``now``.

Each source type is one module holding its settings model (a ``SourceBase`` subclass with a
``Literal`` ``type``) and its class, registered in ``config.SOURCE_TYPES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from payoutwatch.config import Settings
from payoutwatch.integration_errors import IntegrationError


class SourceError(IntegrationError):
    """A pull failed; ``permanent`` errors (bad credentials, missing relation) are not retried."""


@dataclass
class Page:
    """One unit of work: records by kind, written in one transaction together with ``cursor``."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cursor: dict[str, Any] | None = None
    facts: dict[str, int] = field(default_factory=dict)  # what the source reports besides records
    # problems of single items (a bad file, a run's unreadable figures): the rest of the page is still written
    warnings: list[str] = field(default_factory=list)

    def add(self, kind: str, record: dict[str, Any]) -> None:
        self.records.setdefault(kind, []).append(record)

    def count(self) -> int:
        return sum(len(v) for v in self.records.values())


class Source(Protocol):
    name: str

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        """Pages of records since ``cursor``, read at ``now``; each page carries the cursor to store
        once it is written."""
        ...

    def secrets(self) -> list[str]:
        """Secret values this source holds, scrubbed from every error message it produces."""
        ...


# (name, its settings model instance, the whole settings) -> the source; registered in SOURCE_TYPES.
SourceFactory = Callable[[str, Any, Settings], Source]


def midnight_if_date(text: str) -> str:
    """Metadata often holds a bare date (``2026-12-01``, a rotate-by tag): that is midnight UTC.
    Anything else is returned as it is, for the record's validation to judge."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()
    return text
