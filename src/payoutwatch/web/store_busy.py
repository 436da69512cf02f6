"""The store had no connection to give in time: the answer is 503 with ``Retry-After``, not a 500.

SQLAlchemy's pool hands out at most ``pool_size + max_overflow`` connections and a request waits
``pool_timeout`` seconds for one, then raises ``sqlalchemy.exc.TimeoutError``. That is load, not a
fault: the client is told to come back, and each refusal is counted (``/metrics`` exposes the count as
``payoutwatch_store_busy_refusals_total``; per process, starting at zero).
"""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout

RETRY_AFTER_SECONDS = 5

logger = logging.getLogger("payoutwatch.web")


class Refusals:
    """A thread-safe count of the requests refused because the store was busy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def count(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def total(self) -> int:
        with self._lock:
            return self._count


STORE_BUSY = Refusals()


def install_store_busy(app: FastAPI) -> None:
    app.add_exception_handler(PoolTimeout, _store_busy)


def _store_busy(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PoolTimeout)
    STORE_BUSY.count()
    logger.warning("store busy, %s %s refused with 503: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "the store is busy (no connection free in time); retry later"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
