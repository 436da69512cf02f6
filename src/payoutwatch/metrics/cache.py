"""Heavy dashboards computed once per (store, name, instant, records version, settings).

Pages, ``/metrics``, reports and the CLI ask for the same figures at the same instant again and
again; the reserves (a projection for every account) and payout health (derived from the ledger)
are worth keeping. The key holds the records' version (``store/data_version.py``), read on the
same connection just before computing: every write of records replaces it in its own transaction,
so a figure is never served after a write that could change it. Settings are part of the key (a
reloaded configuration computes afresh). Figures are returned as copies, so a caller that changes
them cannot change what the next one gets.

Concurrent requests for the same key share one computation (single flight): the first computes, the
others wait for it and are served its figures, so 32 scrapes arriving together compute once. If the
computation fails, each waiter computes for itself.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from payoutwatch.config import Settings
from payoutwatch.store import data_version

HEAVY = frozenset({"reserves", "payout_health"})
KEPT = 64  # entries, least recently used first out

Figures = dict[str, Any]
Key = tuple[str, str, datetime, int, int]


class FigureCache:
    def __init__(self, size: int = KEPT) -> None:
        self.size = size
        self._entries: OrderedDict[Key, Figures] = OrderedDict()
        self._settings: dict[int, Settings] = {}  # keeps each keyed settings object alive, so its id stays its own
        self._flights: dict[Key, threading.Lock] = {}  # computations under way, one per key
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def figures(
        self,
        name: str,
        conn: Connection,
        at: datetime,
        settings: Settings,
        compute: Callable[[Connection, datetime, Settings], Figures],
    ) -> Figures:
        key = (conn.engine.url.render_as_string(), name, at, data_version.current(conn), id(settings))
        found = self._kept(key)
        if found is not None:
            return found
        with self._lock:
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:
            found = self._kept(key)  # computed by the request this one waited for
            if found is not None:
                return found
            try:
                with self._lock:
                    self.misses += 1
                figures = compute(conn, at, settings)
                self._keep(key, settings, figures)
            finally:
                with self._lock:
                    if self._flights.get(key) is flight:
                        del self._flights[key]
        return figures

    def _kept(self, key: Key) -> Figures | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return copy.deepcopy(found)

    def _keep(self, key: Key, settings: Settings, figures: Figures) -> None:
        with self._lock:
            if len(self._settings) > self.size:  # settings reloaded many times: start afresh
                self._entries.clear()
                self._settings.clear()
            self._settings[id(settings)] = settings
            self._entries[key] = copy.deepcopy(figures)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._settings.clear()


CACHE = FigureCache()
