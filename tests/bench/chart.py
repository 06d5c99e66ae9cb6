"""bench/capacity_per_payment.png: capacity against payments per event for the three designs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.bench.item_size import MAX_ITEM_BYTES

STYLE = {
    "ours": {
        "label": "ours (ledger put + projector's share; summary read)",
        "color": "#1b7f3b",
        "marker": "o",
    },
    "seed_nested": {
        "label": "seed_nested (payments in the event item)",
        "color": "#c0392b",
        "marker": "s",
    },
    "seed_sum_on_read": {
        "label": "seed_sum_on_read (sum on every read)",
        "color": "#2c5aa0",
        "marker": "^",
    },
}


def draw(curves: dict[str, Any], max_nested: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = curves["payments"]
    fits = curves["seed_nested_fits"]
    figure, (writes, reads) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    panels = (
        (writes, "wcu", "write units per new payment", "totals_rcu"),
        (reads, "totals_rcu", "read units per totals view", "wcu"),
    )
    for axis, metric, ylabel, _other in panels:
        for design, style in STYLE.items():
            values = curves[f"{design}_{metric}"]
            points = [
                (n, v)
                for n, v, fit in zip(sizes, values, fits, strict=True)
                if v is not None and (design != "seed_nested" or fit)
            ]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            axis.plot(xs, ys, marker=style["marker"], color=style["color"], label=style["label"])
            if design == "seed_nested":
                beyond = [(n, v) for n, v, fit in zip(sizes, values, fits, strict=True) if not fit]
                if beyond:
                    bx, by = zip(*beyond, strict=True)
                    axis.plot(bx, by, linestyle=":", marker="x", color=style["color"], alpha=0.6)
        axis.axvline(max_nested, color=STYLE["seed_nested"]["color"], linestyle="--", linewidth=1)
        axis.annotate(
            f"{MAX_ITEM_BYTES // 1024} KB item limit:\n{max_nested:,} payments",
            xy=(max_nested, 0.5),
            xycoords=("data", "axes fraction"),
            xytext=(6, 0),
            textcoords="offset points",
            fontsize=8,
            color=STYLE["seed_nested"]["color"],
        )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("payments in the event")
        axis.set_ylabel(ylabel)
        axis.grid(True, which="both", alpha=0.3)
    writes.set_title("Logging one payment (DynamoDB write units)")
    reads.set_title("Showing one event's totals (DynamoDB read units)")
    reads.legend(loc="upper left", fontsize=8)
    figure.suptitle(
        "Capacity per payment against payments per event (x beyond 400 KB: not writable)"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
