"""One command's state, kept in the Typer context (``ctx.obj``): the config path, the settings and the
store it opens (each loaded once, on first use), the clock, who is acting, and the terminal."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn

import typer
from sqlalchemy import Engine

from payoutwatch.cli.render import Terminal
from payoutwatch.clock import SystemClock
from payoutwatch.config import ConfigError, Settings, load_settings


@dataclass
class Invocation:
    config: str | None
    terminal: Terminal = field(default_factory=Terminal)
    clock: SystemClock = field(default_factory=SystemClock)
    _settings: Settings | None = None
    _engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        """The configuration; a bad one exits 2 with every problem named."""
        if self._settings is None:
            try:
                self._settings = load_settings(self.config)
            except ConfigError as exc:
                self.fail(str(exc), code=2)
        return self._settings

    @property
    def engine(self) -> Engine:
        """The store, opened (and this configuration recorded) on first use; one that cannot be opened exits 2."""
        if self._engine is None:
            from payoutwatch.config import config_path
            from payoutwatch.store.config_versions import record_config
            from payoutwatch.store.engine import open_store

            url = self.settings.store.url
            try:
                engine = open_store(url)
                origin = str(config_path(self.config) or "embedded default")
                record_config(engine, self.settings, origin=origin, now=self.now())
            except Exception as exc:  # a store that cannot be opened is an operator problem, not a bug
                self.fail(f"cannot open the store {url.split('@')[-1]}: {type(exc).__name__}: {exc}", code=2)
            self._engine = engine
        return self._engine

    def now(self) -> datetime:
        return self.clock.now()

    def instant(self, value: str | None, option_name: str = "--at") -> datetime:
        """``value`` as an instant (now when absent); a bad value exits 2 naming the option."""
        from payoutwatch.usecases.instants import InstantError, instant_or_now

        try:
            return instant_or_now(value, option_name=option_name, now=self.now())
        except InstantError as exc:
            self.fail(str(exc), code=2)

    @staticmethod
    def actor() -> str:
        """Who is acting: ``$PAYOUTWATCH_USER``, else the login name."""
        return os.environ.get("PAYOUTWATCH_USER") or getpass.getuser()

    def fail(self, message: str, code: int = 1) -> NoReturn:
        self.terminal.fail(message, code)


def invocation(ctx: typer.Context) -> Invocation:
    """The state the root callback put in the context (sub-commands' contexts inherit it)."""
    state = ctx.obj
    if not isinstance(state, Invocation):
        raise RuntimeError("the payoutwatch root callback did not run")
    return state
