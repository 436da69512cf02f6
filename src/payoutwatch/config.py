"""Settings: one YAML file validated by pydantic, ``${ENV}`` interpolation, redaction.

Every key is documented in ``payoutwatch.example.yaml``. An invalid file raises
``ConfigError`` whose message names each bad key path and what is wrong with it.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG_PATH = "payoutwatch.yaml"
CONFIG_ENV = "PAYOUTWATCH_CONFIG"
SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreSettings(Strict):
    url: str = "sqlite:///./payoutwatch.db"


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
            rrulestr(value, dtstart=datetime(2000, 1, 1))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not an RFC 5545 RRULE: {exc}") from exc
        return value


class RuleSettings(Strict):
    owner: str
    severity: str

    @field_validator("severity")
    @classmethod
    def _known_severity(cls, value: str) -> str:
        if value not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
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


class SourceStaleSettings(RuleSettings):
    owner: str = "payments-engineering"
    severity: str = "SEV-3"


class NotificationFailingSettings(RuleSettings):
    owner: str = "payments-engineering"
    severity: str = "SEV-3"
    after_failures: int = Field(3, ge=1)


class RulesSettings(Strict):
    automation_failure: AutomationFailureSettings = Field(default_factory=AutomationFailureSettings)
    fallback_volume: FallbackVolumeSettings = Field(default_factory=FallbackVolumeSettings)
    credential_expiry: CredentialExpirySettings = Field(default_factory=CredentialExpirySettings)
    reserve_breach: ReserveBreachSettings = Field(default_factory=ReserveBreachSettings)
    source_stale: SourceStaleSettings = Field(default_factory=SourceStaleSettings)
    notification_failing: NotificationFailingSettings = Field(default_factory=NotificationFailingSettings)


class CredentialSettings(Strict):
    max_age_days: dict[str, int] = Field(
        default_factory=lambda: {"stripe_restricted_key": 90, "webhook_signing_secret": 365}
    )


class PagerDutyChannel(Strict):
    type: Literal["pagerduty"]
    routing_key: SecretStr
    events_url: str = "https://events.pagerduty.com/v2/enqueue"
    severity_map: dict[str, str] = Field(
        default_factory=lambda: {"SEV-1": "critical", "SEV-2": "error", "SEV-3": "warning", "SEV-4": "info"}
    )
    timeout_seconds: float = 10


class SlackChannel(Strict):
    type: Literal["slack"]
    webhook_url: SecretStr | None = None
    bot_token: SecretStr | None = None
    channel: str | None = None
    api_url: str = "https://slack.com/api/chat.postMessage"
    timeout_seconds: float = 10

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackChannel:
        if self.webhook_url is None and (self.bot_token is None or not self.channel):
            raise ValueError("a slack channel needs webhook_url, or bot_token and channel")
        return self


class JiraChannel(Strict):
    type: Literal["jira"]
    base_url: str
    project: str
    issue_type: str = "Task"
    api_version: Literal[2, 3] = 2
    email: str | None = None
    api_token: SecretStr | None = None
    bearer_token: SecretStr | None = None
    timeout_seconds: float = 10

    @model_validator(mode="after")
    def _auth(self) -> JiraChannel:
        if self.bearer_token is None and (self.email is None or self.api_token is None):
            raise ValueError("a jira channel needs email and api_token, or bearer_token")
        return self


class EmailChannel(Strict):
    type: Literal["email"]
    host: str
    port: int = 25
    starttls: bool = False
    tls_ca_file: str | None = None  # a private CA to trust for STARTTLS (default: the system store)
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field("payoutwatch@localhost", alias="from")
    to: list[str]
    timeout_seconds: float = 10

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WebhookChannel(Strict):
    type: Literal["webhook"]
    url: str
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout_seconds: float = 10


class LogChannel(Strict):
    type: Literal["log"]


ChannelSettings = Annotated[
    PagerDutyChannel | SlackChannel | JiraChannel | EmailChannel | WebhookChannel | LogChannel,
    Field(discriminator="type"),
]


class Route(Strict):
    """A transition goes to the union of the channels of every route that matches it."""

    rule: str | None = None
    stages: list[str] | None = None
    keys: list[str] | None = None
    owners: list[str] | None = None
    severities: list[str] | None = None
    channels: list[str]


class SourceBase(Strict):
    """Common to every source: how often it syncs and when silence from it becomes an alert."""

    interval_minutes: float = Field(15, gt=0)
    max_staleness_minutes: float | None = Field(None, gt=0)  # default: 3 × interval
    timeout_seconds: float = Field(30, gt=0)
    retries: int = Field(3, ge=0)  # retried with backoff inside one sync before it counts as failed

    @property
    def staleness_minutes(self) -> float:
        return self.max_staleness_minutes or 3 * self.interval_minutes


class SqlLedgerSource(SourceBase):
    type: Literal["sql_ledger"]
    url: SecretStr
    relations: dict[str, str] = Field(default_factory=dict)  # kind -> relation (table or view)
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)  # kind -> {field: their column}
    cursor_column: str | None = None  # an updated_at-style column present in every relation read
    naive_timezone: str = "UTC"  # how to read timestamps stored without an offset
    page_size: int = Field(5000, ge=1)


class CertificatePath(Strict):
    path: str  # a file or a glob
    kind: str | None = None  # default: recognised from the subject, else `other`
    owner: str | None = None
    password_env: str | None = None  # PKCS#12 password, read from this environment variable
    credential_id: str | None = None  # default: the file name without its extension


class CertificatesSource(SourceBase):
    type: Literal["certificates"]
    paths: list[CertificatePath | str]
    owner: str | None = None

    def entries(self) -> list[CertificatePath]:
        return [p if isinstance(p, CertificatePath) else CertificatePath(path=p) for p in self.paths]


class AwsSecretsManagerSource(SourceBase):
    type: Literal["aws_secrets_manager"]
    region: str
    endpoint_url: str | None = None
    name_prefix: str | None = None
    kinds: dict[str, str] = Field(default_factory=dict)  # name glob -> credential kind (tags win)
    owner: str | None = None


class VaultKvSource(SourceBase):
    type: Literal["vault_kv"]
    url: str
    token: SecretStr
    mount: str = "secret"
    path_prefix: str = ""
    namespace: str | None = None  # Vault Enterprise namespace
    owner: str | None = None


class ChronosSource(SourceBase):
    type: Literal["chronos"]
    base_url: str
    job: str  # the Chronos job's name
    as_job: str | None = None  # the job name its runs get here (default: schedule.job)
    username: str | None = None
    password: SecretStr | None = None


class StripeSource(SourceBase):
    type: Literal["stripe"]
    api_key: SecretStr  # a restricted key with read access to transfers, payouts and balance
    api_base: str = "https://api.stripe.com"
    watch_payouts_days: float = Field(10, ge=0)  # re-read recent payouts: `paid` can turn `failed` later
    platform_reserve_threshold_cents: int | None = None  # record the CAD available balance as `platform`
    balance_history_days: int = Field(28, ge=0)  # daily platform balances rebuilt from balance transactions
    webhook_secrets: list[SecretStr] = Field(default_factory=list)  # whsec_…; several while rolling
    webhook_tolerance_seconds: int = Field(300, ge=0)


class AirflowSource(SourceBase):
    type: Literal["airflow"]
    base_url: str
    dag_id: str
    api_version: Literal["v1", "v2"] = "v1"  # v1: Airflow 2 (basic auth); v2: Airflow 3 (JWT from /auth/token)
    username: str
    password: SecretStr
    as_job: str | None = None  # the job name its runs get here (default: schedule.job)
    xcom_task_id: str | None = None  # a task that pushes the run's figures as JSON under xcom_key
    xcom_key: str = "payoutwatch"
    lookback_days: float = Field(3, gt=0)  # first sync, and how far back unfinished runs are re-read


class GcpSecretManagerSource(SourceBase):
    type: Literal["gcp_secret_manager"]
    project: str
    credentials_file: str | None = None  # a service-account JSON key; default: Application Default Credentials
    api_base: str = "https://secretmanager.googleapis.com"
    filter: str | None = None  # Secret Manager list filter, e.g. "labels.team=payments"
    owner: str | None = None


class SidekiqSource(SourceBase):
    type: Literal["sidekiq"]
    redis_url: SecretStr
    job_class: str  # the payout worker's class (ActiveJob: the wrapped class)
    namespace: str | None = None  # Sidekiq 6 with redis-namespace: keys are "<namespace>:retry" …
    as_job: str | None = None  # the job name its runs get here (default: schedule.job)


SourceSettings = Annotated[
    SqlLedgerSource
    | CertificatesSource
    | AwsSecretsManagerSource
    | VaultKvSource
    | ChronosSource
    | StripeSource
    | AirflowSource
    | GcpSecretManagerSource
    | SidekiqSource,
    Field(discriminator="type"),
]


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


class SsoSettings(Strict):
    """Single sign-on through a trusted reverse proxy that authenticates people and passes headers."""

    user_header: str = "X-Forwarded-User"
    groups_header: str = "X-Forwarded-Groups"  # comma-separated
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1/32"])  # addresses (CIDR) allowed to
    group_roles: dict[str, str] = Field(default_factory=dict)  # group -> role; the most powerful role wins


class WebSettings(Strict):
    base_url: str | None = None
    session_secret: SecretStr | None = None  # signs session cookies; set it (the same) on every replica
    secure_cookies: bool = True  # the session cookie is Secure and HttpOnly
    session_hours: float = Field(12, gt=0)
    public_metrics: bool = True  # /metrics without a token
    sso: SsoSettings | None = None


def _log_channel() -> ChannelSettings:
    return LogChannel(type="log")


DEFAULT_ROUTES = [
    Route(rule="automation_failure", channels=["log"]),
    Route(rule="fallback_volume", channels=["log"]),
    Route(rule="credential_expiry", channels=["log"]),
    Route(rule="reserve_breach", channels=["log"]),
    Route(rule="source_stale", channels=["log"]),
    Route(rule="notification_failing", channels=["log"]),
]


class Settings(Strict):
    store: StoreSettings = Field(default_factory=StoreSettings)
    timezone: str = "America/Toronto"
    currency: str = "CAD"
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    credentials: CredentialSettings = Field(default_factory=CredentialSettings)
    channels: dict[str, ChannelSettings] = Field(default_factory=lambda: {"log": _log_channel()})
    routes: list[Route] = Field(default_factory=lambda: list(DEFAULT_ROUTES))
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", value):
            raise ValueError("an ISO 4217 code such as CAD")
        return value.upper()

    @model_validator(mode="after")
    def _routes_name_channels(self) -> Settings:
        known = set(self.channels) | {"log"}
        for i, route in enumerate(self.routes):
            for name in route.channels:
                if name not in known:
                    raise ValueError(f"routes.{i}.channels: no channel named {name!r} under `channels`")
        for name in self.notifications.fallback_channels:
            if name not in known:
                raise ValueError(f"notifications.fallback_channels: no channel named {name!r}")
        for name in self.reports.weekly.channels:
            if name not in known:
                raise ValueError(f"reports.weekly.channels: no channel named {name!r}")
            if self.channel(name).type in ("pagerduty", "jira"):
                raise ValueError(
                    f"reports.weekly.channels: {name!r} is a {self.channel(name).type} channel; "
                    "reports go to slack, email, webhook or log channels"
                )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def channel(self, name: str) -> ChannelSettings:
        if name in self.channels:
            return self.channels[name]
        if name == "log":
            return LogChannel(type="log")
        raise KeyError(name)


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, path: str = "") -> Any:
    """Replace ``${NAME}`` (or ``${NAME:-default}``) in every string with the environment's value."""
    if isinstance(value, dict):
        return {k: interpolate(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{path}: environment variable {name} is not set")

        return _ENV.sub(lookup, value)
    return value


def parse_settings(raw: dict[str, Any], *, origin: str = "config") -> Settings:
    """Validate a parsed YAML mapping; errors name the key path."""
    try:
        return Settings.model_validate(interpolate(raw))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p))
            lines.append(f"  {where or '(top level)'}: {err['msg']}")
        raise ConfigError(f"{origin} is invalid:\n" + "\n".join(lines)) from None


def _type_tags() -> set[str]:
    """Every ``type`` value of the channel and source unions (pydantic names the union member in error paths)."""
    tags: set[str] = set()
    for union in (ChannelSettings, SourceSettings):
        for model in get_args(get_args(union)[0]):
            tags |= set(get_args(model.model_fields["type"].annotation))
    return tags


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in _type_tags()


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
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return parse_settings(raw, origin=str(path))


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
            out[key] = "********" if isinstance(attr, SecretStr) else _mask_secrets(value, attr)
        return out
    if isinstance(model, dict) and isinstance(data, dict):
        return {
            k: "********" if isinstance(model.get(k), SecretStr) else _mask_secrets(v, model.get(k))
            for k, v in data.items()
        }
    if isinstance(model, list) and isinstance(data, list):
        return [_mask_secrets(d, m) for d, m in zip(data, model, strict=False)]
    if isinstance(data, str) and "://" in data:
        return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1********@", data)
    return data


def _field_for_alias(model: BaseModel, key: str) -> str:
    for name, info in type(model).model_fields.items():
        if info.alias == key:
            return name
    return key
