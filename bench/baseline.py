"""The best hand-written SQL we could write for each dashboard's figures, per dialect.

Each function returns the same figures the product computes (checked by bench/run.py), using
the indexes the schema provides: a seek per account on ``(account_id, as_of)``, range scans on
the time indexes, one aggregate per question.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from payoutwatch.store.types import to_micros


def p(conn: Connection, value: datetime) -> Any:
    """Bind an instant the way the store holds it (integer microseconds on SQLite)."""
    return to_micros(value) if conn.dialect.name == "sqlite" else value


def secs(conn: Connection, a: str, b: str) -> str:
    if conn.dialect.name == "sqlite":
        return f"(({b} - {a}) / 1000000.0)"
    return f"date_part('epoch', {b} - {a})"


def payout_health(conn: Connection, at: datetime, job: str, derived: bool) -> dict[str, Any]:
    last = conn.execute(
        text(
            "SELECT run_id, cycle_at, started_at, finished_at, exit_code, cad_processed_cents FROM job_runs "
            "WHERE job = :job AND started_at <= :at ORDER BY started_at DESC, run_id DESC LIMIT 1"
        ),
        {"job": job, "at": p(conn, at)},
    ).one()
    cycles = conn.execute(
        text(
            "SELECT cycle_at, sum(cad_processed_cents), count(*), sum(retry_count), sum(error_count) FROM job_runs "
            "WHERE job = :job AND started_at <= :at GROUP BY cycle_at ORDER BY cycle_at DESC LIMIT 27"
        ),
        {"job": job, "at": p(conn, at)},
    ).all()
    out: dict[str, Any] = {"last_run_id": last.run_id, "cycles": len(cycles)}
    if derived:  # per-cycle CAD for the cycle list; distinct studio counts for the last run's cycle only
        names = {f"c{i}": c[0] for i, c in enumerate(cycles)}
        marks = ", ".join(f":{k}" for k in names)
        paid = conn.execute(
            text(
                f"SELECT scheduled_for, sum(amount_cents) FROM scheduled_payouts "
                f"WHERE scheduled_for IN ({marks}) AND status = 'paid' AND paid_at <= :at GROUP BY scheduled_for"
            ),
            {**names, "at": p(conn, at)},
        ).all()
        processed = conn.execute(
            text(
                "SELECT count(DISTINCT studio_id) FROM scheduled_payouts WHERE scheduled_for = :c "
                "AND status = 'paid' AND paid_at <= :at AND (run_id = :r OR run_id IS NULL)"
            ),
            {"c": last.cycle_at, "at": p(conn, at), "r": last.run_id},
        ).scalar()
        scheduled = conn.execute(
            text(
                "SELECT count(DISTINCT studio_id) FROM scheduled_payouts WHERE scheduled_for = :c "
                "AND status NOT IN ('held', 'cancelled')"
            ),
            {"c": last.cycle_at},
        ).scalar()
        by_cycle = {c: int(total) for c, total in paid}
        out.update(scheduled=scheduled, processed=processed, current_cad=by_cycle.get(cycles[0][0]))
    else:
        out.update(current_cad=int(cycles[0][1]))
    return out


def fallback_activity(conn: Connection, at: datetime, job: str) -> dict[str, Any]:
    args = {"since": p(conn, at - timedelta(days=30)), "at": p(conn, at), "job": job}
    window = "detected_at > :since AND detected_at <= :at"
    count, total = conn.execute(
        text(f"SELECT count(*), coalesce(sum(amount_cents), 0) FROM manual_payouts WHERE {window}"), args
    ).one()
    durations = [
        d
        for (d,) in conn.execute(
            text(
                f"SELECT {secs(conn, 'detected_at', 'completed_at')} FROM manual_payouts WHERE {window} "
                "AND completed_at <= :at ORDER BY 1"
            ),
            args,
        )
    ]
    open_count = conn.execute(
        text(
            f"SELECT count(*), min(detected_at) FROM manual_payouts WHERE {window} "
            "AND (completed_at IS NULL OR completed_at > :at)"
        ),
        args,
    ).one()[0]
    automated = conn.execute(
        text(
            "SELECT coalesce(sum(cad_processed_cents), 0) FROM job_runs WHERE job = :job AND started_at > :since "
            "AND started_at <= :at"
        ),
        args,
    ).scalar()
    return {
        "manual_payout_count": count,
        "fallback_cents": int(total),
        "automated_cents": int(automated or 0),
        "completed": len(durations),
        "open": open_count,
    }


def latest(conn: Connection) -> str:
    """A CTE ``l(account_id, as_of, balance_cents, threshold_cents)``: one index seek per account."""
    if conn.dialect.name == "postgresql":
        return """WITH l AS (
          SELECT a.account_id, n.as_of, n.balance_cents, n.threshold_cents FROM reserve_accounts a
          CROSS JOIN LATERAL (SELECT as_of, balance_cents, threshold_cents FROM reserve_snapshots s
                              WHERE s.account_id = a.account_id AND s.as_of <= :at
                              ORDER BY as_of DESC LIMIT 1) n)
        """
    return """WITH pick AS (
          SELECT a.account_id,
                 (SELECT max(s.as_of) FROM reserve_snapshots s WHERE s.account_id = a.account_id AND s.as_of <= :at)
                   AS as_of
          FROM reserve_accounts a),
        l AS (SELECT pick.account_id, s.as_of, s.balance_cents, s.threshold_cents FROM pick
              JOIN reserve_snapshots s ON s.account_id = pick.account_id AND s.as_of = pick.as_of)
        """


def reserves(conn: Connection, at: datetime) -> dict[str, Any]:
    args = {"at": p(conn, at), "warn": 0.2}
    balance, threshold = conn.execute(
        text(latest(conn) + "SELECT sum(balance_cents), sum(threshold_cents) FROM l WHERE account_id <> 'platform'"),
        args,
    ).one()
    near = conn.execute(
        text(
            latest(conn) + "SELECT account_id, balance_cents, threshold_cents FROM l "
            "WHERE threshold_cents > 0 AND (balance_cents - threshold_cents) < :warn * threshold_cents "
            "AND account_id <> 'platform' ORDER BY (balance_cents - threshold_cents) * 1.0 / threshold_cents"
        ),
        args,
    ).all()
    held = conn.execute(
        text(
            "SELECT count(*), coalesce(sum(amount_cents), 0) FROM scheduled_payouts WHERE status = 'held' "
            "AND hold_reason = 'reserve_cap'"
        )
    ).one()
    return {
        "aggregate_balance_cents": int(balance),
        "aggregate_threshold_cents": int(threshold),
        "near": len(near),
        "held": int(held[0]),
    }


def fit(conn: Connection) -> str:
    """A CTE ``f(account_id, n, sx, sy, sxx, sxy)``: regression sums over each account's index range."""
    x = secs(conn, ":at", "s.as_of")
    sums = (
        f"count(*) AS n, sum({x}) AS sx, sum(s.balance_cents * 1.0) AS sy, sum({x} * {x}) AS sxx, "
        f"sum({x} * s.balance_cents) AS sxy"
    )
    if conn.dialect.name == "postgresql":
        return f""", f AS (
          SELECT a.account_id, w.* FROM reserve_accounts a
          CROSS JOIN LATERAL (SELECT {sums} FROM reserve_snapshots s
                              WHERE s.account_id = a.account_id AND s.as_of >= :since AND s.as_of <= :at) w)
        """
    return f""", f AS (
          SELECT s.account_id, {sums} FROM reserve_accounts a JOIN reserve_snapshots s ON s.account_id = a.account_id
          WHERE s.as_of >= :since AND s.as_of <= :at GROUP BY s.account_id)
        """


def projection(conn: Connection, at: datetime, horizon: datetime, lookback_days: float = 28) -> list[str]:
    args = {"at": p(conn, at), "since": p(conn, at - timedelta(days=lookback_days)), "horizon": p(conn, horizon)}
    slope = (
        "(CASE WHEN f.n >= 2 AND (f.n * f.sxx - f.sx * f.sx) <> 0 "
        "THEN (f.n * f.sxy - f.sx * f.sy) / (f.n * f.sxx - f.sx * f.sx) ELSE 0 END)"
    )
    rows = conn.execute(
        text(
            latest(conn)
            + fit(conn)
            + f"""SELECT l.account_id FROM l LEFT JOIN f ON f.account_id = l.account_id
            WHERE l.balance_cents < l.threshold_cents
               OR l.balance_cents + coalesce({slope}, 0) * {secs(conn, "l.as_of", ":horizon")} < l.threshold_cents
            ORDER BY l.account_id"""
        ),
        args,
    ).all()
    return [r[0] for r in rows]


def credentials(conn: Connection, at: datetime) -> int:
    """The version in force, its due date, days left and stage, soonest due first, all in SQL."""
    if conn.dialect.name == "sqlite":
        age = (
            "CASE c.kind WHEN 'stripe_restricted_key' THEN c.created_at + 90 * 86400000000 "
            "WHEN 'webhook_signing_secret' THEN c.created_at + 365 * 86400000000 END"
        )
        d = "((due - :at) / 86400000000.0)"
        days = f"(CAST({d} AS INTEGER) - ({d} < CAST({d} AS INTEGER)))"  # floor, without math functions
    else:
        age = (
            "CASE c.kind WHEN 'stripe_restricted_key' THEN c.created_at + interval '90 days' "
            "WHEN 'webhook_signing_secret' THEN c.created_at + interval '365 days' END"
        )
        days = "CAST(floor(EXTRACT(EPOCH FROM (due - :at)) / 86400) AS INTEGER)"
    rows = conn.execute(
        text(
            f"""SELECT credential_id, kind, name, owner, due, {days} AS days_left,
                   CASE WHEN due IS NULL THEN 'ok' WHEN {days} < 0 THEN 'expired' WHEN {days} <= 3 THEN '3d'
                        WHEN {days} <= 7 THEN '7d' WHEN {days} <= 14 THEN '14d' WHEN {days} <= 30 THEN '30d'
                        ELSE 'ok' END AS stage
            FROM (SELECT c.credential_id, c.kind, c.name, c.owner,
                         coalesce(c.expires_at, c.rotate_by, {age}) AS due
                  FROM credentials c
                  JOIN (SELECT credential_id, max(created_at) AS created_at FROM credentials
                        WHERE created_at <= :at GROUP BY credential_id) v
                    ON v.credential_id = c.credential_id AND v.created_at = c.created_at) d
            ORDER BY due IS NULL, due, credential_id"""
        ),
        {"at": p(conn, at)},
    ).all()
    return len(rows)
