"""Settings: one YAML file validated by pydantic, ``${ENV}`` interpolation, redaction.

Every key is documented in ``payoutwatch.example.yaml``. An invalid file raises
``ConfigError`` whose message names each bad key path and what is wrong with it.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from datetime import date, datetime, timedelta
from itertools import islice, pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from payoutwatch.plugins import Registry
from payoutwatch.redaction import MASK, SecretUrl, redact_url
from payoutwatch.vocabulary import SEVERITIES

DEFAULT_CONFIG_PATH = "payoutwatch.yaml"
CONFIG_ENV = "PAYOUTWATCH_CONFIG"
RRULE_SAMPLE = 64  # occurrences looked at to refuse a schedule more frequent than daily
DEFAULT_MAX_AGE_DAYS = {"stripe_restricted_key": 90, "webhook_signing_secret": 365}


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreSettings(Strict):
    url: SecretUrl = SecretUrl("sqlite:///./payoutwatch.db")  # shown with its password masked


class ScheduleSettings(Strict):
    rrule: str = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0"
    start: date | datetime = date(2025, 1, 2)
    job: str = "payouts"

    @field_validator("start", mode="before")
    @classmethod
    def _naive_start(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            raise ValueError("schedule.start is a date or a naive datetime read in `timezone`")
        if isinstance(value, str) and ("T" in value or " " in value.strip()):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                raise ValueError("schedule.start is a date or a naive datetime read in `timezone`")
            return parsed
        return value

    @field_validator("rrule")
    @classmethod
    def _valid_rrule(cls, value: str) -> str:
        from dateutil.rrule import rrulestr

        try:
            rule = rrulestr(value, dtstart=datetime(2000, 1, 1))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not an RFC 5545 RRULE: {exc}") from exc
        frequency = re.search(r"FREQ=([A-Z]+)", value.upper())
        if frequency and frequency.group(1) in ("SECONDLY", "MINUTELY", "HOURLY"):
            raise ValueError(f"FREQ={frequency.group(1)} is more frequent than daily; use DAILY or less often")
        first = list(islice(iter(rule), RRULE_SAMPLE))
        if any(later - earlier < timedelta(days=1) for earlier, later in pairwise(first)):
            raise ValueError("occurs more than once a day (check BYHOUR / BYMINUTE / BYSECOND); at most daily")
        return value


class RuleSettings(Strict):
    owner: str
    severity: str
    runbook_url: str | None = None  # carried by every message of the rule (DESIGN §6)

    @field_validator("severity")
    @classmethod
    def _known_severity(cls, value: str) -> str:
        if value not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
        return value

    @field_validator("runbook_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith(("https://", "http://")) or any(c in value for c in ' <>|"')):
            raise ValueError("runbook_url must be an http(s) URL without spaces, quotes, '<', '>' or '|'")
        return value


class AutomationFailureSettings(RuleSettings):
    owner: str = "payments-ops"
    severity: str = "SEV-2"
    max_duration_minutes: float = Field(30, gt=0)
    min_processed_ratio: float = Field(0.90, ge=0, le=1)
    missed_grace_minutes: float = Field(15, ge=0)


class FallbackVolumeSettings(RuleSettings):
    owner: str = "payments-ops"
    severity: str = "SEV-3"
    window_days: float = Field(30, gt=0)
    max_manual_payouts: int = Field(1, ge=0)
    max_fallback_ratio: float = Field(0.05, ge=0)


class CredentialExpirySettings(RuleSettings):
    owner: str = "security"
    severity: str = "SEV-2"
    reminder_days: list[int] = Field(default_factory=lambda: [30, 14, 7])
    escalate_days: int = Field(3, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> CredentialExpirySettings:
        if not self.reminder_days:
            raise ValueError("reminder_days needs at least one day count")
        if any(d <= self.escalate_days for d in self.reminder_days):
            raise ValueError("every reminder day must be more than escalate_days")
        self.reminder_days = sorted(set(self.reminder_days), reverse=True)
        return self


class ReserveBreachSettings(RuleSettings):
    owner: str = "finance"
    severity: str = "SEV-3"
    buffer_warning: float = Field(0.20, ge=0)
    lookback_days: float = Field(28, gt=0)

    def lookback(self) -> timedelta:
        return timedelta(days=self.lookback_days)


class SourceStaleSettings(RuleSettings):
    owner: str = "payments-engineering"
    severity: str = "SEV-3"


class NotificationFailingSettings(RuleSettings):
    owner: str = "payments-engineering"
    severity: str = "SEV-3"
    after_failures: int = Field(3, ge=1)


class RulesSettings(Strict):
    """``rules.<rule id>``: the built-in rules' settings by name, and a plug-in rule's under its id.

    A plug-in rule's settings are validated against the model it registers (``rules.registry``),
    and default to that model's defaults.
    """

    model_config = ConfigDict(extra="allow")

    automation_failure: AutomationFailureSettings = Field(default_factory=AutomationFailureSettings)
    fallback_volume: FallbackVolumeSettings = Field(default_factory=FallbackVolumeSettings)
    credential_expiry: CredentialExpirySettings = Field(default_factory=CredentialExpirySettings)
    reserve_breach: ReserveBreachSettings = Field(default_factory=ReserveBreachSettings)
    source_stale: SourceStaleSettings = Field(default_factory=SourceStaleSettings)
    notification_failing: NotificationFailingSettings = Field(default_factory=NotificationFailingSettings)

    @model_validator(mode="after")
    def _plug_in_rules(self) -> RulesSettings:
        from payoutwatch.rules.registry import rules  # lazily: the rule modules import this module

        extra = self.__pydantic_extra__ if self.__pydantic_extra__ is not None else {}
        models = {
            rule.id.value: rule.settings_model for rule in rules() if rule.id.value not in type(self).model_fields
        }
        problems = []
        for name, value in extra.items():
            if name not in models:
                close = difflib.get_close_matches(name, self.ids(), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(self.ids()))})"
                problems.append(f"unknown rule {name!r}{hint}")
                continue
            try:
                extra[name] = models[name].model_validate(value)
            except ValidationError as exc:
                problems.extend(f"{name}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        if problems:
            # its own error type: config_checks reports unknown rules from the file itself, each on its line
            raise PydanticCustomError("rules_section", "; ".join(problems))
        for name, model in models.items():
            extra.setdefault(name, model.model_validate({}))
        return self

    def ids(self) -> list[str]:
        return [*type(self).model_fields, *(self.__pydantic_extra__ or {})]

    def of(self, rule: str) -> RuleSettings:
        """The settings of the rule with this id (KeyError if it has none)."""
        value = getattr(self, rule, None)
        if not isinstance(value, RuleSettings):
            raise KeyError(rule)
        return value


class CredentialSettings(Strict):
    # merged per kind with DEFAULT_MAX_AGE_DAYS: configuring one kind never removes another's default
    max_age_days: dict[str, Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: dict(DEFAULT_MAX_AGE_DAYS))

    @field_validator("max_age_days")
    @classmethod
    def _merged_with_defaults(cls, value: dict[str, int]) -> dict[str, int]:
        from payoutwatch.records import CredentialKind  # lazily: records is heavier than config

        kinds = [kind.value for kind in CredentialKind]
        unknown = [name for name in value if name not in kinds]
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, kinds, n=1)
                hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ValueError(f"unknown credential kind {', '.join(hints)}; kinds: {', '.join(kinds)}")
        return {**DEFAULT_MAX_AGE_DAYS, **value}


class ChannelSettingsBase(Strict):
    """Common to every channel's settings; each channel module defines its own (a subclass with a
    ``Literal`` ``type``) beside its code and registers it in ``CHANNEL_TYPES``."""

    carries_reports: ClassVar[bool] = True  # False: the weekly report cannot be sent there (pagerduty, jira)

    type: str


if TYPE_CHECKING:
    from payoutwatch.notify.channels.base import ChannelFactory
    from payoutwatch.sources.base import SourceFactory

CHANNEL_TYPES: Registry[ChannelSettingsBase, ChannelFactory] = Registry(
    "channel", package="payoutwatch.notify.channels"
)
ChannelSettings = Annotated[ChannelSettingsBase, CHANNEL_TYPES]


class Route(Strict):
    """A transition goes to the union of the channels of every route that matches it."""

    rule: str | None = None
    stages: list[str] | None = None
    keys: list[str] | None = None
    owners: list[str] | None = None
    severities: list[str] | None = None
    channels: list[str]


class SourceBase(Strict):
    """Common to every source: how often it syncs and when silence from it becomes an alert.
    Each source module defines its settings, a subclass with a ``Literal`` ``type``, beside its code."""

    interval_minutes: float = Field(15, gt=0)
    max_staleness_minutes: float | None = Field(None, gt=0)  # default: 3 × interval
    timeout_seconds: float = Field(30, gt=0)
    retries: int = Field(3, ge=0)  # retried with backoff inside one sync before it counts as failed
    type: str  # after the common keys, as `config show` has always listed them

    @property
    def staleness_minutes(self) -> float:
        return self.max_staleness_minutes or 3 * self.interval_minutes


SOURCE_TYPES: Registry[SourceBase, SourceFactory] = Registry("source", package="payoutwatch.sources")
SourceSettings = Annotated[SourceBase, SOURCE_TYPES]


class NotificationSettings(Strict):
    max_attempts: int = Field(8, ge=1)
    max_age_hours: float = Field(24, gt=0)
    backoff_base_seconds: float = Field(30, ge=0)
    backoff_max_seconds: float = Field(1800, ge=0)
    fallback_channels: list[str] = Field(default_factory=list)


class ReportSchedule(Strict):
    channels: list[str] = Field(default_factory=list)  # slack, email, webhook or log channels
    schedule: str | None = None  # an RRULE in `timezone`, e.g. FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0
    start: date = date(2024, 1, 1)

    @field_validator("schedule")
    @classmethod
    def _valid_rrule(cls, value: str | None) -> str | None:
        if value is not None:
            ScheduleSettings._valid_rrule(value)
        return value


class ReportSettings(Strict):
    weekly: ReportSchedule = Field(default_factory=ReportSchedule)


class ServiceSettings(Strict):
    """The background loop that `serve` runs."""

    evaluate_interval_seconds: float = Field(60, gt=0)
    tick_seconds: float = Field(5, gt=0)  # how often the loop wakes to see what is due
    # dead-man's switch: GET after every tick that evaluated and delivered (healthchecks.io, Cronitor, ...)
    heartbeat_url: SecretStr | None = None  # a ping URL carries its check's key (healthchecks, Cronitor)
    heartbeat_timeout_seconds: float = Field(5, gt=0, le=60)

    @field_validator("heartbeat_url")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("not an http:// or https:// URL")
        return value


class SsoSettings(Strict):
    """Single sign-on through a trusted reverse proxy that authenticates people and passes headers."""

    user_header: str = "X-Forwarded-User"
    groups_header: str = "X-Forwarded-Groups"  # comma-separated
    # the proxies' own addresses (CIDR): only a request whose DIRECT peer is one of them may set the SSO and
    # X-Forwarded-* headers. No default: even 127.0.0.1 would trust every local process.
    trusted_proxies: list[str] = Field(min_length=1)
    group_roles: dict[str, str] = Field(default_factory=dict)  # group -> role; the most powerful role wins

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an address or network (e.g. 10.0.0.5/32)") from None
        return value


TeamRole = Literal["finance", "security", "engineering"]  # the roles that handle only their team's alerts
DEFAULT_ROLE_OWNERS: dict[TeamRole, list[str]] = {
    "finance": ["finance"],
    "security": ["security"],
    "engineering": ["payments-engineering"],
}


class WebSettings(Strict):
    base_url: str | None = None
    session_secret: SecretStr | None = None  # signs session cookies; unset: a key kept in the store
    secure_cookies: bool = True  # the session cookie is Secure and HttpOnly
    session_hours: float = Field(12, gt=0)
    # /metrics needs a bearer token of the metrics (or admin) role; when false it stays public, but only a
    # token allowed to see credentials gets the payoutwatch_credential_* series
    metrics_auth: bool = False
    # /metrics computes its figures as of now rounded down to this many seconds (since the epoch), so scrapes
    # within one step share one computation; a write of records still gives fresh figures at once (while a new
    # step's figures are computed, scrapes get the previous step's)
    metrics_freshness_seconds: int = Field(15, ge=1, le=300)
    # which alert owners each team role may acknowledge, resolve and silence (ops and admin: every alert)
    role_owners: dict[TeamRole, list[str]] = Field(default_factory=lambda: dict(DEFAULT_ROLE_OWNERS))
    sso: SsoSettings | None = None


class DisplaySettings(Strict):
    """How instants are shown to people (pages, terminal, reports, messages); JSON and the API stay UTC."""

    timezone: str | None = None  # an IANA zone; unset: the schedule's `timezone`

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)


def known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {value!r}") from exc
    return value


def _log_channel() -> ChannelSettingsBase:
    """The channel every configuration has, configured or not: the service log."""
    return CHANNEL_TYPES.lookup("log").settings.model_validate({"type": "log"})


def default_routes() -> list[Route]:
    """One route per registered rule, to its default channels (the log, for the built-in rules)."""
    from payoutwatch.rules.registry import rules  # lazily: the rule modules import this module

    return [Route(rule=rule.id.value, channels=list(rule.default_channels)) for rule in rules()]


class Settings(Strict):
    # Built on first use, from the channel and source types registered by then (and rebuilt when one is added).
    model_config = ConfigDict(extra="forbid", defer_build=True)

    store: StoreSettings = Field(default_factory=StoreSettings)
    timezone: str = "America/Toronto"
    currency: str = "CAD"
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    credentials: CredentialSettings = Field(default_factory=CredentialSettings)
    channels: dict[str, ChannelSettings] = Field(default_factory=lambda: {"log": _log_channel()})
    routes: list[Route] = Field(default_factory=default_routes)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    display: DisplaySettings = Field(default_factory=DisplaySettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", value):
            raise ValueError("an ISO 4217 code such as CAD")
        return value.upper()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def display_tz(self) -> ZoneInfo:
        """The zone instants are shown in to people: ``display.timezone``, else the schedule's ``timezone``."""
        return ZoneInfo(self.display.timezone or self.timezone)

    def channel(self, name: str) -> ChannelSettingsBase:
        if name in self.channels:
            return self.channels[name]
        if name == "log":
            return _log_channel()
        raise KeyError(name)


def _rebuild_settings() -> None:
    Settings.model_rebuild(force=True)


CHANNEL_TYPES.on_change(_rebuild_settings)
SOURCE_TYPES.on_change(_rebuild_settings)


def parse_settings(raw: dict[str, Any], *, origin: str = "config") -> Settings:
    """Validate a parsed YAML mapping; every problem is named with its key path, all in one error."""
    from payoutwatch.config_checks import settings_from

    return settings_from(raw, origin=origin)


def config_path(explicit: str | None) -> Path | None:
    """The file to read: ``--config``, else ``$PAYOUTWATCH_CONFIG``, else ``./payoutwatch.yaml`` if present."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    default = Path(DEFAULT_CONFIG_PATH)
    return default if default.exists() else None


def load_settings(explicit: str | None = None) -> Settings:
    """Load the configuration; with no file at all, the embedded default (SQLite, ``log`` channel)."""
    path = config_path(explicit)
    if path is None:
        return Settings()
    from payoutwatch.config_checks import read_yaml

    return parse_settings(read_yaml(path), origin=str(path))


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret replaced by ``'********'``."""
    data: dict[str, Any] = _mask_secrets(settings.model_dump(mode="json", by_alias=True), settings)
    return data


def _mask_secrets(data: Any, model: Any) -> Any:
    if isinstance(model, BaseModel) and isinstance(data, dict):
        out = {}
        for key, value in data.items():
            field_name = _field_for_alias(model, key)
            attr = getattr(model, field_name, None)
            out[key] = _masked(attr) if isinstance(attr, SecretStr) else _mask_secrets(value, attr)
        return out
    if isinstance(model, dict) and isinstance(data, dict):
        return {
            k: _masked(model[k]) if isinstance(model.get(k), SecretStr) else _mask_secrets(v, model.get(k))
            for k, v in data.items()
        }
    if isinstance(model, list) and isinstance(data, list):
        return [_mask_secrets(d, m) for d, m in zip(data, model, strict=False)]
    if isinstance(data, str) and "://" in data:
        return redact_url(data)
    return data


def _masked(secret: SecretStr) -> str:
    """How a secret is shown: a URL with its password masked, anything else wholly masked."""
    return str(secret) if isinstance(secret, SecretUrl) else MASK


def _field_for_alias(model: BaseModel, key: str) -> str:
    for name, info in type(model).model_fields.items():
        if info.alias == key:
            return name
    return key
