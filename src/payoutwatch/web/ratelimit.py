"""A per-address count of refusals in the current minute, kept in this process.

Used for the Stripe webhook: an address that has been refused ``per_minute`` times this minute gets 429
and no further audit rows until the minute turns (genuine, correctly signed events still pass). The
table holds at most ``max_addresses``; beyond that every new address shares one count, so a spray of
addresses cannot grow memory.
"""

from __future__ import annotations

import threading
from datetime import datetime

SHARED = "*"


class RefusalLimiter:
    def __init__(self, *, per_minute: int = 30, max_addresses: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_addresses = max_addresses
        self._minute: datetime | None = None
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _slot(self, address: str | None, now: datetime) -> str:
        minute = now.replace(second=0, microsecond=0)
        if minute != self._minute:
            self._minute, self._counts = minute, {}
        key = address or SHARED
        if key not in self._counts and len(self._counts) >= self.max_addresses:
            return SHARED
        return key

    def exceeded(self, address: str | None, now: datetime) -> bool:
        """Whether ``address`` has already been refused ``per_minute`` times in ``now``'s minute."""
        with self._lock:
            slot = self._slot(address, now)  # first: it may start a new minute with a new table
            return self._counts.get(slot, 0) >= self.per_minute

    def refused(self, address: str | None, now: datetime) -> None:
        """Count one more refusal for ``address`` in ``now``'s minute."""
        with self._lock:
            slot = self._slot(address, now)
            self._counts[slot] = self._counts.get(slot, 0) + 1
