"""The loop's contained errors: each part of a tick that fails is counted here, per part.

``serve`` runs the loop in the web app's process, so ``/metrics`` exposes these counts as
``payoutwatch_loop_errors_total{part=...}``. The counts are per process and start at zero.
"""

from __future__ import annotations

import threading
from enum import StrEnum


class LoopPart(StrEnum):
    """The parts of a tick whose failure is contained and counted separately."""

    SOURCE = "source"  # one source's sync
    EVALUATE = "evaluate"
    DELIVER = "deliver"  # the delivery pass as a whole (store errors, channel-health check)
    CHANNEL = "channel"  # one channel's send raising something other than a delivery error
    REPORT = "report"  # a scheduled report
    HEARTBEAT = "heartbeat"  # the dead-man's switch request


class LoopErrors:
    """A thread-safe counter per part."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[LoopPart, int] = dict.fromkeys(LoopPart, 0)

    def count(self, part: LoopPart) -> None:
        with self._lock:
            self._counts[part] += 1

    def snapshot(self) -> dict[LoopPart, int]:
        with self._lock:
            return dict(self._counts)


LOOP_ERRORS = LoopErrors()
