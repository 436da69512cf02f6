"""What every request handler shares, kept on ``app.state`` by the app factory (no closures)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Protocol

from jinja2 import Environment
from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.store.engine import reading
from payoutwatch.web.known_tokens import KnownTokens
from payoutwatch.web.ratelimit import RefusalLimiter


class LoopStatus(Protocol):
    """The background loop's heartbeat (``service.Heartbeat``): when it last went round, whether it leads."""

    @property
    def at(self) -> datetime | None: ...

    @property
    def leader(self) -> bool: ...


@dataclass(frozen=True)
class WebState:
    """Settings, the store, the clock, the loop's status and the page templates of one app."""

    settings: Settings
    engine: Engine
    now: Callable[[], datetime]
    loop: LoopStatus | None
    templates: Environment
    webhook_refusals: RefusalLimiter = field(default_factory=RefusalLimiter)  # per source address
    tokens: KnownTokens = field(default_factory=KnownTokens)  # API tokens checked in the last seconds

    @cached_property
    def reads(self) -> Engine:
        """The store for transactions that only read (on SQLite: no write lock, ``store.engine.reading``)."""
        return reading(self.engine)
