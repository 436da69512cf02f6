"""The schema: the six record kinds, alert state and history, the outbox, silences, audit.

Indexes name the query they serve. Instants are ``UtcDateTime``; money is BIGINT cents.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

from payoutwatch.store.types import ExactInteger, UtcDateTime

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
    }
)

Id = String(200)
Prose = String(1000)  # DESIGN §3 bounds: ids and short text ≤ 200 characters, name and reason ≤ 1,000

job_runs = Table(
    "job_runs",
    metadata,
    Column("run_id", Id, primary_key=True),
    Column("job", Id, nullable=False),
    Column("scheduled_for", UtcDateTime, nullable=True, comment="as reported"),
    Column("cycle_at", UtcDateTime, nullable=True, comment="the cycle this run serves (reported or nearest)"),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("exit_code", Integer),
    Column("studios_scheduled", Integer),
    Column("studios_processed", Integer),
    Column("success_count", Integer),
    Column("error_count", Integer),
    Column("retry_count", Integer),
    Column("cad_processed_cents", BigInteger),
    Column("source", Id),
    Column("ingested_at", UtcDateTime, nullable=False),
    # last run / runs in a window: job + started_at
    Index("ix_job_runs_job_started", "job", "started_at"),
    # runs of a cycle
    Index("ix_job_runs_job_cycle", "job", "cycle_at"),
)

scheduled_payouts = Table(
    "scheduled_payouts",
    metadata,
    Column("payout_id", Id, primary_key=True),
    Column("studio_id", Id, nullable=False),
    Column("scheduled_for", UtcDateTime, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("hold_reason", Id),
    Column("paid_at", UtcDateTime),
    Column("run_id", Id),
    Column("transfer_id", Id),
    Column("ingested_at", UtcDateTime, nullable=False),
    # figures derived per cycle (scheduled / processed studios, paid CAD): covering
    Index(
        "ix_payouts_cycle_covering",
        "scheduled_for",
        "status",
        "run_id",
        "paid_at",
        "studio_id",
        "amount_cents",
    ),
    # held by reserve caps, whatever the cycle
    Index("ix_payouts_status_hold", "status", "hold_reason"),
    # reconciliation: the payout a transfer names by its transfer id (orphan transfers are those with none)
    Index("ix_payouts_transfer", "transfer_id"),
)

reserve_snapshots = Table(
    "reserve_snapshots",
    metadata,
    Column("account_id", Id, nullable=False),
    Column("as_of", UtcDateTime, nullable=False),
    Column("balance_cents", BigInteger, nullable=False),
    Column("threshold_cents", BigInteger, nullable=False),
    # latest-per-account seeks and per-account regression windows read only the key: on SQLite the
    # table is clustered on it (WITHOUT ROWID); on PostgreSQL the key INCLUDEs the figures (index-only)
    PrimaryKeyConstraint(
        "account_id", "as_of", name="pk_reserve_snapshots", postgresql_include=["balance_cents", "threshold_cents"]
    ),
    sqlite_with_rowid=False,
)

reserve_accounts = Table(
    "reserve_accounts",
    metadata,
    Column("account_id", Id, primary_key=True),
    Column("first_as_of", UtcDateTime, nullable=False),
    Column("last_as_of", UtcDateTime, nullable=False),
    Column("last_balance_cents", BigInteger, nullable=False),
    Column("last_threshold_cents", BigInteger, nullable=False),
    comment="each account's latest snapshot, kept at ingest: the as-of seek is skipped when at >= last_as_of",
)

data_versions = Table(
    "data_versions",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("version", BigInteger, nullable=False),
    comment="a new random version in the same transaction as every write of records: cached figures key on it",
)

reserve_fits = Table(
    "reserve_fits",
    metadata,
    Column("account_id", Id, primary_key=True),
    Column("window_low", UtcDateTime, nullable=False, comment="exclusive: the sums cover (window_low, last_as_of]"),
    Column("first_as_of", UtcDateTime, nullable=False, comment="the oldest snapshot in the window"),
    Column("excluded_as_of", UtcDateTime, comment="the newest snapshot before the window (null: none)"),
    Column("last_as_of", UtcDateTime, nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("sx", ExactInteger, nullable=False),
    Column("sy", ExactInteger, nullable=False),
    Column("sxx", ExactInteger, nullable=False),
    Column("sxy", ExactInteger, nullable=False),
    Column("slope", Float, nullable=False, comment="the slope in cents per second, rounded: to filter in SQL"),
    comment="each account's exact regression sums over its lookback, kept at ingest (x: as_of in microseconds)",
)

manual_payouts = Table(
    "manual_payouts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("studio_id", Id, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("reason", Prose),
    Column("run_id", Id),
    Column("scheduled_for", UtcDateTime),
    Column("ingested_at", UtcDateTime, nullable=False),
    Index("ix_manual_payouts_detected", "detected_at"),
)

transfers = Table(
    "transfers",
    metadata,
    Column("transfer_id", Id, primary_key=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("destination", Id),
    Column("payout_id", Id),
    Column("reversed", Boolean, nullable=False, server_default=text("false")),
    Column("amount_reversed_cents", BigInteger),
    Column("ingested_at", UtcDateTime, nullable=False),
    Index("ix_transfers_payout", "payout_id"),
    Index("ix_transfers_created", "created_at"),
)

credentials = Table(
    "credentials",
    metadata,
    Column("credential_id", Id, primary_key=True),
    Column("created_at", UtcDateTime, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("name", Prose, nullable=False),
    Column("owner", Id),
    Column("expires_at", UtcDateTime),
    Column("rotate_by", UtcDateTime),
    Column("source", Id),
    Column("fingerprint", Id),
    Column("ingested_at", UtcDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("rule", String(60), nullable=False),
    Column("state", String(16), nullable=False),
    Column("stage", String(20)),
    Column("severity", String(10), nullable=False),
    Column("owner", Id, nullable=False, comment="the rule's owner, or a credential's owner (a record field)"),
    Column("summary", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Column(
        "details_digest",
        String(32),
        comment="digest of details as written (rules/engine.py); null before revision 0016",
    ),
    Column("episode", String(40), nullable=False, comment="label unique to this firing episode"),
    Column("started_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("resolved_by", String(100), comment="the person who resolved it; null when the finding cleared"),
    Column("held_stage", String(20), comment="after a person's resolve: the stage the hold covers"),
    Column("finding_cleared_at", UtcDateTime, comment="after a person's resolve: when the finding went away"),
    Column("acked_by", String(100)),
    Column("acked_at", UtcDateTime),
    Index("ix_alerts_key_started", "key", "started_at"),
    # at most one firing alert per key, whatever the number of evaluators
    Index(
        "uq_alerts_firing_key",
        "key",
        unique=True,
        sqlite_where=text("state = 'firing'"),
        postgresql_where=text("state = 'firing'"),
    ),
    Index("ix_alerts_state_rule", "state", "rule"),
)

alert_history = Table(
    "alert_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, nullable=False),
    Column("key", String(300), nullable=False),
    Column("rule", String(60), nullable=False),
    Column("action", String(30), nullable=False),
    Column("event", String(16)),
    Column("stage", String(20)),
    Column("at", UtcDateTime, nullable=False, comment="the evaluated instant (or the time of a person's action)"),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor", String(100)),
    Column("comment", Text),
    Column("details", JSON),
    Index("ix_alert_history_alert", "alert_id"),
    Index("ix_alert_history_at", "at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, nullable=False),
    Column("history_id", Integer, nullable=False),
    Column("channel", String(100), nullable=False),
    Column("event", String(16), nullable=False),
    Column("rule", String(60), nullable=False),
    Column("alert_key", String(300), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("message", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Column("silence_id", Integer),
    Column("claimed_by", String(200), comment="the deliverer sending this row now (host:pid:thread)"),
    Column("claimed_until", UtcDateTime, comment="the claim's expiry; a later deliverer may take the row then"),
    Column("remote_ref", String(255), comment="what the channel made for this notification (Jira: the ticket key)"),
    # the outbox scan: pending rows by due time
    Index("ix_notifications_due", "state", "next_attempt_at"),
    Index("ix_notifications_alert_channel", "alert_id", "channel"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(60)),
    Column("key", String(300)),
    Column("owner", Id),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("author", String(100), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

channel_health = Table(
    "channel_health",
    metadata,
    Column("channel", String(100), primary_key=True),
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("last_attempt_at", UtcDateTime),
    Column("last_success_at", UtcDateTime),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("state", String(16), nullable=False, comment="ok or failing: the outcome of the last sync"),
    Column("cursor", JSON, comment="where the next sync starts; advanced only after a successful write"),
    Column("first_attempt_at", UtcDateTime, nullable=False),
    Column("last_attempt_at", UtcDateTime, nullable=False),
    Column("last_success_at", UtcDateTime),
    Column("last_error", Text),
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    Column("last_counts", JSON),
    Column("last_duration_s", Float),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("source", String(100), nullable=False),
    Column("type", String(100), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("records", Integer, nullable=False),
    comment="events already applied: a redelivered event is acknowledged and not applied twice",
)

report_runs = Table(
    "report_runs",
    metadata,
    Column("report", String(40), primary_key=True),
    Column("occurrence", UtcDateTime, primary_key=True, comment="the scheduled instant this send is for"),
    Column("sent_at", UtcDateTime),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
)

reconciliation_signoffs = Table(
    "reconciliation_signoffs",
    metadata,
    Column("cycle", UtcDateTime, primary_key=True),
    Column("signed_by", String(100), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("comment", Text),
    Column("totals", JSON, nullable=False, comment="the reconciliation figures that were signed"),
)

alert_reviews = Table(
    "alert_reviews",
    metadata,
    Column("alert_id", Integer, primary_key=True),
    Column("reviewed_by", String(100), nullable=False),
    Column("reviewed_at", UtcDateTime, nullable=False),
    Column("note", Text),
)

config_versions = Table(
    "config_versions",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("origin", String(300), nullable=False),
    Column("redacted", JSON, nullable=False),
    Column("diff", Text, comment="against the version seen before it, secrets redacted"),
    Index("ix_config_versions_seen", "first_seen_at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column(
        "token_hash", String(64), nullable=False, unique=True, comment="SHA-256 of the token; the token is shown once"
    ),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

sso_users = Table(
    "sso_users",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("role", String(20), nullable=False, comment="the role their groups gave them when last seen"),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
)

service_secrets = Table(
    "service_secrets",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("value", Text, nullable=False, comment="generated by payoutwatch, e.g. the session signing key"),
    Column("created_at", UtcDateTime, nullable=False),
)

evaluation_marks = Table(
    "evaluation_marks",
    metadata,
    Column("name", String(60), primary_key=True, comment="what was evaluated: 'alerts' for the rules"),
    Column("latest_at", UtcDateTime, nullable=False, comment="the latest instant evaluated; alert state moves forward"),
    Column("recorded_at", UtcDateTime, nullable=False, comment="the clock when latest_at was recorded"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(60), nullable=False),
    Column("target", String(300)),
    Column("details", JSON),
    Index("ix_audit_log_at", "at"),
)

RECORD_TABLES: dict[str, Table] = {
    "job_runs": job_runs,
    "scheduled_payouts": scheduled_payouts,
    "reserve_snapshots": reserve_snapshots,
    "manual_payouts": manual_payouts,
    "transfers": transfers,
    "credentials": credentials,
}
