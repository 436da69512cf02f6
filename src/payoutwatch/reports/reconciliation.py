"""The reconciliation report's CSV: one row per exception and orphan, then one per category total and one
per status of the payouts the ledger did not pay.

The figures themselves are computed in ``metrics/reconciliation.py``.
"""

from __future__ import annotations

from typing import Any


def to_csv(figures: dict[str, Any]) -> str:
    """One row per exception and orphan, then one per category total (amounts in cents)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "cycle",
            "category",
            "payout_id",
            "studio_id",
            "status",
            "transfer_id",
            "ledger_cents",
            "psp_cents",
            "reversed",
            "reversed_cents",
        ]
    )
    for e in figures["exceptions"]:
        writer.writerow(
            [
                figures["cycle"],
                e["category"],
                e["payout_id"],
                e["studio_id"],
                e["status"],
                e["transfer_id"] or "",
                e["ledger_cents"],
                e["psp_cents"] if e["psp_cents"] is not None else "",
                e["reversed"] if e["reversed"] is not None else "",
                e["reversed_cents"] if e["reversed_cents"] is not None else "",
            ]
        )
    for o in figures["orphans"]:
        writer.writerow(
            [
                figures["cycle"],
                "orphan_transfer",
                o["payout_id"] or "",
                "",
                "",
                o["transfer_id"],
                "",
                o["amount_cents"],
                "",
                "",
            ]
        )
    for name, t in figures["totals"].items():
        writer.writerow([figures["cycle"], f"total:{name}", "", "", "", "", t["ledger_cents"], t["psp_cents"], "", ""])
    for status, u in figures["unpaid"].items():
        writer.writerow([figures["cycle"], f"unpaid:{status}", "", "", status, "", u["ledger_cents"], "", "", ""])
    return buffer.getvalue()
