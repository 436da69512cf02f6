-- Reference views for payoutwatch's sql_ledger source (PostgreSQL; adapt names to your ledger).
--
-- payoutwatch reads four relations whose columns are named like the record fields of DESIGN §3.
-- Point these views at your own tables, grant a read-only role SELECT on them and nothing else,
-- and configure:
--
--   sources:
--     ledger:
--       type: sql_ledger
--       url: postgresql://payoutwatch_reader:${LEDGER_PASSWORD}@ledger.internal/ledger
--       cursor_column: updated_at        # optional: read only rows changed since the last sync
--
-- Money is integer cents (BIGINT) in the base currency; timestamps are timestamptz (a column
-- without a zone is read in `naive_timezone`, UTC by default).

CREATE SCHEMA IF NOT EXISTS payoutwatch;

-- One row per studio per payout cycle: the ledger's current state of each scheduled payout.
CREATE OR REPLACE VIEW payoutwatch.scheduled_payouts AS
SELECT p.id                          AS payout_id,
       p.studio_id                   AS studio_id,
       p.cycle_at                    AS scheduled_for,   -- the scheduled instant of the payout run
       p.amount_cents                AS amount_cents,
       upper(p.currency)             AS currency,
       CASE p.state                                         -- scheduled | paid | failed | held | cancelled
            WHEN 'settled' THEN 'paid'
            WHEN 'on_hold' THEN 'held'
            ELSE p.state END          AS status,
       p.hold_reason                 AS hold_reason,     -- 'reserve_cap' counts as held by reserve caps
       p.paid_at                     AS paid_at,
       p.payout_run_id               AS run_id,
       p.psp_transfer_id             AS transfer_id,
       p.updated_at                  AS updated_at
FROM ledger.studio_payouts p;

-- Daily (or more frequent) reserve balances per studio, plus the platform reserve as 'platform'.
CREATE OR REPLACE VIEW payoutwatch.reserve_snapshots AS
SELECT r.studio_id                   AS account_id,
       r.snapshot_at                 AS as_of,
       r.balance_cents               AS balance_cents,
       r.policy_minimum_cents        AS threshold_cents,
       r.snapshot_at                 AS updated_at
FROM ledger.reserve_balances r
UNION ALL
SELECT 'platform', b.snapshot_at, b.available_cents, b.policy_minimum_cents, b.snapshot_at
FROM ledger.platform_reserve b;

-- Manual transfers made when automation fell back.
CREATE OR REPLACE VIEW payoutwatch.manual_payouts AS
SELECT m.id                          AS id,
       m.studio_id                   AS studio_id,
       m.amount_cents                AS amount_cents,
       upper(m.currency)             AS currency,
       m.detected_at                 AS detected_at,     -- when someone saw the automated payout fail
       m.completed_at                AS completed_at,    -- when the manual transfer completed
       m.reason                      AS reason,
       m.failed_run_id               AS run_id,
       m.cycle_at                    AS scheduled_for,
       m.updated_at                  AS updated_at
FROM ledger.manual_payouts m;

-- Optional: the payout job's runs, if the ledger records them.
CREATE OR REPLACE VIEW payoutwatch.job_runs AS
SELECT j.id                          AS run_id,
       'payouts'                     AS job,
       j.cycle_at                    AS scheduled_for,
       j.started_at                  AS started_at,
       j.finished_at                 AS finished_at,
       j.exit_code                   AS exit_code,
       j.studios_scheduled           AS studios_scheduled,
       j.studios_processed           AS studios_processed,
       j.retry_count                 AS retry_count,
       j.updated_at                  AS updated_at
FROM ledger.payout_runs j;

CREATE ROLE payoutwatch_reader LOGIN PASSWORD 'change-me' NOINHERIT;
ALTER ROLE payoutwatch_reader SET default_transaction_read_only = on;
GRANT USAGE ON SCHEMA payoutwatch TO payoutwatch_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA payoutwatch TO payoutwatch_reader;
ALTER ROLE payoutwatch_reader SET search_path = payoutwatch;
