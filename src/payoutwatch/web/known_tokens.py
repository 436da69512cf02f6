"""API tokens found valid in the last few seconds, so a busy client is not checked against the store on
every request.

A token is kept by its digest for ``TTL_SECONDS`` (monotonic time) after the store last said it is known
and unrevoked, so a revoked token is refused at most that long after the revocation commits (revoking is
a CLI command, another process: nothing here can hear of it sooner). The store is asked again after
that, which also records the token's use (to the minute, ``usecases/tokens.py``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from payoutwatch.usecases.tokens import digest

TTL_SECONDS = 2.0
KEPT = 1024  # tokens, least recently checked first out


class KnownTokens:
    def __init__(self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._rows: OrderedDict[str, tuple[float, Any]] = OrderedDict()  # digest -> (checked at, row)
        self._lock = threading.Lock()

    def row(self, token: str) -> Any | None:
        """The token's row if the store found it valid less than ``ttl`` seconds ago; None otherwise."""
        key = digest(token)
        with self._lock:
            kept = self._rows.get(key)
            if kept is None:
                return None
            checked_at, row = kept
            if not 0 <= self.clock() - checked_at < self.ttl:
                del self._rows[key]
                return None
            return row

    def keep(self, token: str, row: Any) -> None:
        """The store just found ``token`` valid: its ``row``."""
        key = digest(token)
        with self._lock:
            self._rows[key] = (self.clock(), row)
            self._rows.move_to_end(key)
            while len(self._rows) > KEPT:
                self._rows.popitem(last=False)
