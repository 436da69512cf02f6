"""Growth: each figure's time against the scale of the data, from bench/run.py results at several scales.

    python bench/growth.py bench/results/postgresql-0.1.json bench/results/postgresql-1.0.json \\
        bench/results/postgresql-3.0.json --svg bench/results/growth-postgresql.svg

Draws one line per figure (ours solid, the hand-written SQL of the same run dashed, both axes
logarithmic) and prints, per figure, how its time grows: the exponent k of time ∝ scale^k between
each pair of neighbouring scales (k ≈ 1: linear in the data; k ≈ 0: independent of it).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FIGURES = {
    "dashboard_payout_health": "payout_health",
    "dashboard_payout_health_derived": "payout_health, derived",
    "dashboard_fallback_activity": "fallback_activity",
    "dashboard_reserves": "reserves, at now",
    "dashboard_reserves_as_of_120_days_ago": "reserves, 120 days ago",
    "dashboard_reserve_projection": "reserve projection",
    "dashboard_credentials": "credentials",
    "evaluation_steady": "evaluation, steady",
}


def load(paths: list[str]) -> dict[float, dict[str, dict[str, Any]]]:
    """scale -> metric -> row."""
    by_scale: dict[float, dict[str, dict[str, Any]]] = {}
    for path in paths:
        rows = json.loads(Path(path).read_text())
        by_scale[float(rows[0]["scale"])] = {row["metric"]: row for row in rows}
    return dict(sorted(by_scale.items()))


def exponents(by_scale: dict[float, dict[str, dict[str, Any]]], metric: str, key: str) -> list[float]:
    """k in time ∝ scale^k between neighbouring scales."""
    points = [(s, rows[metric][key]) for s, rows in by_scale.items() if metric in rows and rows[metric][key]]
    return [math.log(b / a) / math.log(t / s) for (s, a), (t, b) in zip(points, points[1:], strict=False)]


def draw(by_scale: dict[float, dict[str, dict[str, Any]]], svg: Path) -> None:
    scales = list(by_scale)
    figure, axes = plt.subplots(figsize=(10, 5.5))
    for index, (metric, label) in enumerate(FIGURES.items()):
        colour = f"C{index}"
        ours = [by_scale[s].get(metric, {}).get("value") for s in scales]
        base = [by_scale[s].get(metric, {}).get("baseline") for s in scales]
        axes.plot(scales, ours, marker="o", color=colour, label=label)
        if any(b is not None for b in base):
            axes.plot(scales, base, linestyle="--", marker=".", color=colour, alpha=0.6)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(scales, [f"{s:g}" for s in scales])
    axes.set_xlabel("scale (1.0 = 20,000 studios, 7.3M reserve snapshots, 1.56M payouts)")
    axes.set_ylabel("ms (median of warm runs)")
    store = next(iter(next(iter(by_scale.values())).values()))["store"]
    axes.set_title(f"Each figure's time against scale on {store} (solid: payoutwatch; dashed: hand-written SQL)")
    axes.title.set_fontsize(10)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    figure.savefig(svg, format="svg", metadata={"Date": None})
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+")
    parser.add_argument("--svg", required=True)
    args = parser.parse_args()
    by_scale = load(args.results)
    draw(by_scale, Path(args.svg))
    scales = " → ".join(f"{s:g}" for s in by_scale)
    print(f"growth exponent k (time ∝ scale^k) between scales {scales}: ours / hand-written SQL")
    for metric, label in FIGURES.items():
        ours = ", ".join(f"{k:.2f}" for k in exponents(by_scale, metric, "value"))
        base = ", ".join(f"{k:.2f}" for k in exponents(by_scale, metric, "baseline")) or "–"
        print(f"  {label:<26} {ours:<14} / {base}")


if __name__ == "__main__":
    main()
