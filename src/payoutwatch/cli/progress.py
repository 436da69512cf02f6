"""Progress bars for long commands (``sync``, ``backtest``, ``report quarterly``, a large ``ingest``).

A bar is drawn on standard error only when standard error is a terminal, and it disappears when the work
ends; piped or redirected, nothing extra is printed (whatever ``FORCE_COLOR`` says).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

Advance = Callable[[float], None]


def attached(console: Console) -> bool:
    """Whether ``console`` writes to a terminal (a real one: its file's ``isatty``)."""
    isatty = getattr(console.file, "isatty", None)
    return bool(isatty and isatty())


def _nothing(done: float = 1) -> None:
    """The advance of a bar that is not drawn."""


@contextmanager
def progress_bar(console: Console, description: str, total: float | None, *, size: bool = False) -> Iterator[Advance]:
    """A bar of ``total`` steps (or bytes, with ``size``) while the block runs, if ``console`` is a terminal;
    yields the function that advances it (by 1 or by a given amount)."""
    if not attached(console):
        yield _nothing
        return
    count: ProgressColumn = DownloadColumn() if size else MofNCompleteColumn()
    columns = (TextColumn("{task.description}"), BarColumn(), count, TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(done: float = 1) -> None:
            bar.advance(task, done)

        yield advance


class CountedReader(io.RawIOBase):
    """A binary file that reports every byte read to ``advance`` (a large ingest's bar)."""

    def __init__(self, raw: IO[bytes], advance: Advance) -> None:
        self._raw = raw
        self._advance = advance

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._advance(len(data))
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()
