"""One command's state, kept in the Typer context (``ctx.obj``): the config path, the settings and the
store it opens (each loaded once, on first use), the clock, who is acting, and the terminal."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn

import typer
from sqlalchemy import Engine

from payoutwatch.cli.render import Terminal
from payoutwatch.clock import SystemClock
from payoutwatch.config import ConfigError, Settings, load_settings
from payoutwatch.redaction import install_log_scrubbing, scrub, secret_values


@dataclass
class Invocation:
    config: str | None
    terminal: Terminal = field(default_factory=Terminal)
    clock: SystemClock = field(default_factory=SystemClock)
    _settings: Settings | None = None
    _engine: Engine | None = None
    _reader: Engine | None = None

    @property
    def settings(self) -> Settings:
        """The configuration; a bad one exits 2 with every problem named. Its secrets are masked in logs."""
        if self._settings is None:
            try:
                self._settings = load_settings(self.config)
            except ConfigError as exc:
                self.fail(str(exc), code=2)
            install_log_scrubbing(secret_values(self._settings))
            self.terminal.zone = self._settings.display_tz
        return self._settings

    def use_settings(self, settings: Settings) -> None:
        """Run with ``settings`` (derived from the loaded ones, e.g. the demo's) instead; before the store opens."""
        self._settings = settings

    @property
    def engine(self) -> Engine:
        """The store, opened (and this configuration recorded) on first use; one that cannot be opened exits 2."""
        if self._engine is None:
            from payoutwatch.config import config_path
            from payoutwatch.store.config_versions import record_config
            from payoutwatch.store.engine import open_store

            engine = self._open(open_store)
            try:
                origin = str(config_path(self.config) or "embedded default")
                record_config(engine, self.settings, origin=origin, now=self.now())
            except Exception as exc:  # a store that cannot be written is an operator problem, not a bug
                self._store_failed("cannot write to the store", exc)
            self._engine = engine
        return self._engine

    @property
    def reader(self) -> Engine:
        """The store for a read-only command: opened read-only, nothing recorded (DESIGN §7)."""
        if self._engine is not None:
            return self._engine
        if self._reader is None:
            from payoutwatch.store.engine import open_reader

            self._reader = self._open(open_reader)
        return self._reader

    def _open(self, opener: Callable[[str], Engine]) -> Engine:
        try:
            return opener(self.settings.store.url.get_secret_value())
        except Exception as exc:  # a store that cannot be opened is an operator problem, not a bug
            self._store_failed("cannot open the store", exc)

    def _store_failed(self, what: str, exc: BaseException) -> NoReturn:
        """Exit 2 naming the store (password masked) and the driver's reason, never the statement or
        its parameters (which would print the configuration being recorded)."""
        reason = getattr(exc, "orig", None) or exc
        first_line = (str(reason).strip().splitlines() or [""])[0]
        shown = scrub(f"{type(reason).__name__}: {first_line}", secret_values(self.settings))
        self.fail(f"{what} {self.settings.store.url}: {shown}", code=2)

    def now(self) -> datetime:
        return self.clock.now()

    def instant(self, value: str | None, option_name: str = "--at", *, within_records: bool = True) -> datetime:
        """``value`` as an instant (now when absent); a bad value exits 2 naming the option.

        Views and windows take instants within the records' bounds (1970 … 2199 UTC); ``evaluate``
        passes ``within_records=False`` so its own guard can say how far after the clock a value is.
        """
        from payoutwatch.usecases.instants import InstantError, instant_or_now

        try:
            return instant_or_now(value, option_name=option_name, now=self.now(), within_records=within_records)
        except InstantError as exc:
            self.fail(str(exc), code=2)

    def window(self, start: str | None, end: str | None, last: str | None) -> tuple[datetime, datetime]:
        """``--from A --to B``, or ``--last D`` (ending at ``--to``, default now); a mistake exits 2 naming
        the options."""
        from payoutwatch.notify.silences import parse_duration

        if (start is None) == (last is None):
            self.fail("give --from (with --to, default now) or --last, e.g. --last 30d", code=2)
        until = self.instant(end, "--to")
        if last is None:
            return self.instant(start, "--from"), until
        try:
            return until - parse_duration(last), until
        except ValueError as exc:
            self.fail(f"--last {last!r}: {exc}", code=2)
        except OverflowError:
            self.fail(f"--last {last!r} reaches before year 1", code=2)

    @staticmethod
    def actor() -> str:
        """Who is acting: ``$PAYOUTWATCH_USER``, else the login name."""
        return os.environ.get("PAYOUTWATCH_USER") or getpass.getuser()

    def fail(self, message: str, code: int = 1) -> NoReturn:
        self.terminal.fail(message, code)


def invocation(ctx: typer.Context, *, wide: bool = False) -> Invocation:
    """The state the root callback put in the context (sub-commands' contexts inherit it); ``wide``: the
    command's ``--wide`` (tables as wide as their content)."""
    state = ctx.obj
    if not isinstance(state, Invocation):
        raise RuntimeError("the payoutwatch root callback did not run")
    if wide:
        state.terminal.widen()
    return state
