"""Dashboards computed once per (store, name, instant, records version, settings), and their encoded answers.

Pages, ``/metrics``, reports and the CLI ask for the same figures at the same instant again and
again; the reserves (a projection for every account) and payout health (derived from the ledger)
are worth keeping. The key holds the records' version (``store/data_version.py``), read just before
computing: every write of records replaces it in its own transaction, so a figure is never served
after a write that could change it. Settings are part of the key (a reloaded configuration computes
afresh). ``figures`` returns copies, so a caller that changes them cannot change what the next one
gets; ``shared`` returns the kept figures themselves, for a caller that only reads them (``/metrics``).

The API answers a dashboard with bytes: ``encoded`` keeps the answer already encoded (JSON, or JSON
gzipped) under the figures' key and the form, so a repeated request costs the version read and a
lookup (encoding the reserves' 1.4 MB of JSON cost 0.3-0.5 s per request). Encoded answers are kept
up to ``ENCODED_BYTES`` in all, least recently used first out.

Concurrent requests for the same key share one computation (single flight): the first computes, the
others wait for it and are served its result, so 32 scrapes arriving together compute once. If the
computation fails, each waiter computes for itself. ``shared`` and ``encoded`` take the engine, not a
connection: a request waiting for another's computation holds no pooled connection while it waits.
``recent`` (``/metrics``) does not wait at all when figures of the same records version for a slightly
earlier instant are kept: it returns those and computes the new instant's in the background.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from payoutwatch.config import Settings
from payoutwatch.store import data_version

HEAVY = frozenset({"reserves", "payout_health"})
KEPT = 64  # figures, least recently used first out
ENCODED_BYTES = 64 * 1024 * 1024  # encoded answers kept, in all

Figures = dict[str, Any]
Compute = Callable[[Connection, datetime, Settings], Figures]
Key = tuple[str, str, datetime, int, int]
EncodedKey = tuple[str, str, datetime, int, int, str]
T = TypeVar("T")

logger = logging.getLogger("payoutwatch.metrics")


class FigureCache:
    def __init__(self, size: int = KEPT, encoded_bytes: int = ENCODED_BYTES) -> None:
        self.size = size
        self.encoded_bytes = encoded_bytes
        self._entries: OrderedDict[Key, Figures] = OrderedDict()
        self._encoded: OrderedDict[EncodedKey, bytes] = OrderedDict()
        self._encoded_total = 0
        self._settings: dict[int, Settings] = {}  # keeps each keyed settings object alive, so its id stays its own
        self._flights: dict[Key | EncodedKey, threading.Lock] = {}  # computations under way, one per key
        self._latest_at: dict[tuple[str, str, int, int], datetime] = {}  # latest instant kept per the rest of a key
        self._refreshing: set[Key] = set()  # computed in the background (``recent``)
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def figures(self, name: str, conn: Connection, at: datetime, settings: Settings, compute: Compute) -> Figures:
        """A copy of the figures, computed on ``conn`` unless kept."""
        key = self._key(name, conn, at, settings)
        return copy.deepcopy(self._figures(key, settings, lambda: compute(conn, at, settings)))

    def shared(self, name: str, engine: Engine, at: datetime, settings: Settings, compute: Compute) -> Figures:
        """The kept figures themselves (read them, never change them), computed on a connection of
        ``engine`` unless kept; no connection is held while waiting for another request's computation."""
        key = self._key_of(name, engine, at, settings)
        return self._figures(key, settings, lambda: _on(engine, lambda conn: compute(conn, at, settings)))

    def recent(
        self, name: str, engine: Engine, at: datetime, settings: Settings, compute: Compute, *, within: timedelta
    ) -> Figures:
        """Like ``shared``; but while the figures at ``at`` are not kept yet, the latest kept figures of the
        same records version, computed for an instant at most ``within`` before ``at``, are returned at
        once and ``at``'s are computed in the background (once). With none that recent, as ``shared``."""
        key = self._key_of(name, engine, at, settings)
        found = self._kept(key)
        if found is not None:
            return found

        def make() -> Figures:
            return _on(engine, lambda conn: compute(conn, at, settings))

        earlier = self._latest(key, within)
        if earlier is None:
            return self._figures(key, settings, make)
        self._refresh(key, settings, make)
        return earlier

    def _latest(self, key: Key, within: timedelta) -> Figures | None:
        """The figures of the latest instant kept for ``key``'s store, name, version and settings, if it is
        at most ``within`` before ``key``'s instant."""
        store, name, at, version, settings_id = key
        with self._lock:
            latest = self._latest_at.get((store, name, version, settings_id))
            if latest is None or not at - within <= latest < at:
                return None
            found = self._entries.get((store, name, latest, version, settings_id))
            if found is not None:
                self.hits += 1
            return found

    def _refresh(self, key: Key, settings: Settings, make: Callable[[], Figures]) -> None:
        """Compute ``key``'s figures in a thread of their own, unless that is already under way."""
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def run() -> None:
            try:
                self._figures(key, settings, make)
            except Exception:
                logger.exception("figures %s at %s could not be computed in the background", key[1], key[2])
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        threading.Thread(target=run, name=f"figures-{key[1]}", daemon=True).start()

    def encoded(
        self,
        name: str,
        engine: Engine,
        at: datetime,
        settings: Settings,
        compute: Compute,
        *,
        form: str,
        encode: Callable[[Figures], bytes],
    ) -> bytes:
        """The figures as ``encode`` writes them (``form`` names the encoding), encoded once per key."""
        key = self._key_of(name, engine, at, settings)

        def make() -> bytes:
            figures = self._figures(key, settings, lambda: _on(engine, lambda conn: compute(conn, at, settings)))
            body = encode(figures)
            self._keep_encoded((*key, form), body)
            return body

        return self._once((*key, form), self._kept_encoded, make)

    def _key(self, name: str, conn: Connection, at: datetime, settings: Settings) -> Key:
        return (conn.engine.url.render_as_string(), name, at, data_version.current(conn), id(settings))

    def _key_of(self, name: str, engine: Engine, at: datetime, settings: Settings) -> Key:
        return _on(engine, lambda conn: self._key(name, conn, at, settings))

    def _figures(self, key: Key, settings: Settings, compute: Callable[[], Figures]) -> Figures:
        def make() -> Figures:
            with self._lock:
                self.misses += 1
            figures = compute()
            self._keep(key, settings, figures)
            return figures

        return self._once(key, self._kept, make)

    def _once(self, key: Any, find: Callable[[Any], T | None], make: Callable[[], T]) -> T:
        """What ``find`` has for ``key``, or else what ``make`` makes, made by one request at a time."""
        found = find(key)
        if found is not None:
            return found
        with self._lock:
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:
            found = find(key)  # made by the request this one waited for
            if found is not None:
                return found
            try:
                return make()
            finally:
                with self._lock:
                    if self._flights.get(key) is flight:
                        del self._flights[key]

    def _kept(self, key: Key) -> Figures | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return found

    def _kept_encoded(self, key: EncodedKey) -> bytes | None:
        with self._lock:
            found = self._encoded.get(key)
            if found is not None:
                self._encoded.move_to_end(key)
            return found

    def _keep(self, key: Key, settings: Settings, figures: Figures) -> None:
        with self._lock:
            if len(self._settings) > self.size:  # settings reloaded many times: start afresh
                self._entries.clear()
                self._latest_at.clear()
                self._encoded.clear()
                self._encoded_total = 0
                self._settings.clear()
            self._settings[id(settings)] = settings
            self._entries[key] = figures
            store, name, at, version, settings_id = key
            if len(self._latest_at) > 4 * self.size:  # versions long gone: only a hint, start afresh
                self._latest_at.clear()
            latest = self._latest_at.get((store, name, version, settings_id))
            if latest is None or latest < at:
                self._latest_at[(store, name, version, settings_id)] = at
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def _keep_encoded(self, key: EncodedKey, body: bytes) -> None:
        with self._lock:
            if key[4] not in self._settings or len(body) > self.encoded_bytes:
                return  # its settings were let go meanwhile, or it is too big to keep
            previous = self._encoded.pop(key, None)
            self._encoded_total += len(body) - (len(previous) if previous is not None else 0)
            self._encoded[key] = body
            while self._encoded_total > self.encoded_bytes:
                _, dropped = self._encoded.popitem(last=False)
                self._encoded_total -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._latest_at.clear()
            self._encoded.clear()
            self._encoded_total = 0
            self._settings.clear()


def _on(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.connect() as conn:
        return work(conn)


CACHE = FigureCache()
