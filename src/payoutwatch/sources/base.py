"""The Source protocol: pull what changed since a cursor, as raw record fields.

A source never writes: ``sync`` validates what it returns through the same path as
``payoutwatch ingest`` and advances the cursor only after the write committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class SourceError(Exception):
    """A pull failed; ``permanent`` errors (bad credentials, missing relation) are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass
class Page:
    """One unit of work: records by kind, written in one transaction together with ``cursor``."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cursor: dict[str, Any] | None = None
    facts: dict[str, int] = field(default_factory=dict)  # what the source reports besides records

    def add(self, kind: str, record: dict[str, Any]) -> None:
        self.records.setdefault(kind, []).append(record)

    def count(self) -> int:
        return sum(len(v) for v in self.records.values())


class Source(Protocol):
    name: str

    def pages(self, cursor: dict[str, Any] | None) -> Iterator[Page]:
        """Pages of records since ``cursor``; each page carries the cursor to store once it is written."""
        ...

    def secrets(self) -> list[str]:
        """Secret values this source holds, scrubbed from every error message it produces."""
        ...
