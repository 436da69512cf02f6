"""``reserve_fits``: each account's regression sums over its lookback, kept current as snapshots arrive.

An account's row holds the exact sums (``store/regression.py``) of its snapshots in
``(window_low, last_as_of]``, where ``window_low = last_as_of − lookback``, and the snapshots that
bound that window: ``first_as_of`` (its oldest) and ``excluded_as_of`` (the newest before it). The
row gives the regression at ``at`` exactly when ``last_as_of`` is the account's latest snapshot ≤ at
and ``excluded_as_of < at − lookback ≤ first_as_of``: the window then holds exactly the snapshots of
``[at − lookback, at]`` (``metrics/reserves.py`` checks this per account and computes the others
from their snapshots).

At ingest, ``before_upsert`` reads the rows of the batch's accounts and ``keep_current`` (after the
snapshots are upserted and ``reserve_accounts`` refreshed) brings them up to date:
- an account whose new snapshots all come after its window's last (the usual case) adds them, and
  subtracts the snapshots its window slid past (read back from the store);
- an out-of-order or replaced snapshot (at or before the window's last), an account without a row, a
  row built for another lookback or one that missed a snapshot: the window is summed from the store.
Then one statement sets each row's ``first_as_of`` / ``excluded_as_of`` with an index seek each.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from payoutwatch.store.regression import IN_CHUNK, Sums
from payoutwatch.store.tables import reserve_accounts, reserve_fits, reserve_snapshots

Points = list[tuple[datetime, int]]
DEFAULT_LOOKBACK = timedelta(days=28)  # rules.reserve_breach.lookback_days when a caller does not say
GROUPED_READS = 20  # more distinct windows in a chunk than this: one read spanning them all


@dataclass(frozen=True)
class Prior:
    """An account's fit before the batch, and whether it covered every snapshot stored then."""

    fit: Row[Any] | None
    complete: bool


def stored_sums(fit: Any) -> Sums:
    return Sums(int(fit.n), int(fit.sx), int(fit.sy), int(fit.sxx), int(fit.sxy))


def before_upsert(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> dict[str, Prior]:
    """The batch's accounts' fits as they were (call before the snapshots are written)."""
    ids = sorted({row["account_id"] for row in rows})
    a, f = reserve_accounts.c, reserve_fits.c
    prior: dict[str, Prior] = {}
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        query = (
            select(reserve_fits, a.last_as_of.label("account_last"))
            .join_from(reserve_fits, reserve_accounts, a.account_id == f.account_id)
            .where(f.account_id.in_(chunk))
        )
        for fit in conn.execute(query):
            prior[fit.account_id] = Prior(fit, complete=fit.last_as_of == fit.account_last)
    return prior


def keep_current(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    prior: Mapping[str, Prior],
    lookback: timedelta,
    new: Collection[str] = (),
) -> None:
    """Bring the fits of the batch's accounts up to date (after the upsert and ``reserve_accounts``).

    ``new``: accounts that had no snapshot before the batch (none in ``reserve_accounts``): their
    window is summed from the batch's rows, not read back from the store."""
    added: dict[str, Points] = {}
    for row in rows:
        added.setdefault(row["account_id"], []).append((row["as_of"], int(row["balance_cents"])))
    ids = sorted(added)
    for start in range(0, len(ids), IN_CHUNK):
        _update(conn, ids[start : start + IN_CHUNK], added, prior, lookback, new)


def rebuild(conn: Connection, lookback: timedelta) -> int:
    """Sum every account's window from its snapshots (after a bulk load that bypassed ingest)."""
    ids = list(conn.execute(select(reserve_accounts.c.account_id).order_by(reserve_accounts.c.account_id)).scalars())
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        _update(conn, chunk, {account: [] for account in chunk}, {}, lookback, ())
    return len(ids)


def _update(
    conn: Connection,
    ids: list[str],
    added: Mapping[str, Points],
    prior: Mapping[str, Prior],
    lookback: timedelta,
    new: Collection[str],
) -> None:
    a = reserve_accounts.c
    last: dict[str, datetime] = {
        r.account_id: r.last_as_of
        for r in conn.execute(select(a.account_id, a.last_as_of).where(a.account_id.in_(ids)))
    }
    sums: dict[str, Sums] = {}
    slid: dict[str, tuple[datetime, datetime]] = {}  # (from, to]: left the window, to subtract
    whole: dict[str, tuple[datetime, datetime]] = {}  # (from, to]: the new window, summed from the store
    for account in ids:
        new_low = last[account] - lookback
        before = prior.get(account)
        points = added[account]
        fit = before.fit if before is not None else None
        if (
            fit is not None
            and before is not None
            and before.complete
            and points
            and fit.last_as_of - fit.window_low == lookback
            and min(as_of for as_of, _ in points) > fit.last_as_of
        ):
            sums[account] = stored_sums(fit) + Sums.of(p for p in points if p[0] > new_low)
            upto = min(new_low, fit.last_as_of)
            if upto > fit.window_low:
                slid[account] = (fit.window_low, upto)
        elif before is None and account in new:  # every snapshot it has is in the batch
            sums[account] = Sums.of(p for p in points if p[0] > new_low)
        else:
            sums[account] = Sums()
            whole[account] = (new_low, last[account])
    for account, points in _points_in(conn, slid).items():
        sums[account] -= Sums.of(points)
    for account, points in _points_in(conn, whole).items():
        sums[account] = Sums.of(points)
    f, s = reserve_fits.c, reserve_snapshots.c
    conn.execute(delete(reserve_fits).where(f.account_id.in_(ids)))
    conn.execute(
        insert(reserve_fits),
        [
            {
                "account_id": account,
                "window_low": last[account] - lookback,
                "first_as_of": last[account],  # set below, from the store
                "excluded_as_of": None,
                "last_as_of": last[account],
                "n": sums[account].n,
                "sx": sums[account].sx,
                "sy": sums[account].sy,
                "sxx": sums[account].sxx,
                "sxy": sums[account].sxy,
                "slope": sums[account].slope_per_second(),
            }
            for account in ids
        ],
    )
    first = select(func.min(s.as_of)).where(s.account_id == f.account_id, s.as_of > f.window_low).scalar_subquery()
    excluded = select(func.max(s.as_of)).where(s.account_id == f.account_id, s.as_of <= f.window_low).scalar_subquery()
    conn.execute(update(reserve_fits).where(f.account_id.in_(ids)).values(first_as_of=first, excluded_as_of=excluded))


def _points_in(conn: Connection, ranges: Mapping[str, tuple[datetime, datetime]]) -> dict[str, Points]:
    """Each account's snapshots in its range ``(from, to]``: one read per distinct range (daily data has
    one), or one read spanning them all when they are many, filtered here."""
    by_range: dict[tuple[datetime, datetime], list[str]] = {}
    for account, bounds in ranges.items():
        by_range.setdefault(bounds, []).append(account)
    if len(by_range) > GROUPED_READS:
        span = (min(low for low, _ in by_range), max(high for _, high in by_range))
        by_range = {span: list(ranges)}
    s = reserve_snapshots.c
    out: dict[str, Points] = {}
    for (low, high), accounts in by_range.items():
        query = select(s.account_id, s.as_of, s.balance_cents).where(
            s.account_id.in_(accounts), s.as_of > low, s.as_of <= high
        )
        for r in conn.execute(query):
            own_low, own_high = ranges[r.account_id]
            if own_low < r.as_of <= own_high:
                out.setdefault(r.account_id, []).append((r.as_of, int(r.balance_cents)))
    return out
