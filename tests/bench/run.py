"""`make bench` (`python -m tests.bench [--quick] [--out DIR]`): our design measured against the
floor (boto3's import, moto's own request rate) and against the two seed designs
(tests/bench/baselines.py), in one run. Prints a table, writes DIR/results.json (every figure a number, details
beside them) and draws DIR/capacity_per_payment.png.

Figures are counts (capacity units, exact) and ratios measured in the same run (times on a
shared machine are noisy; a ratio of two things timed side by side is what is compared).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench import environment as env
from tests.bench.keys import REQUIRED_KEYS, TARGETS


class Sizes:
    def __init__(self, *, quick: bool) -> None:
        self.quick = quick
        self.import_runs = 9 if quick else 15
        self.backlog = 1_000 if quick else 10_000
        self.gateway_payments = 200 if quick else 2_000
        self.confirm_runs = 5 if quick else 20


def _section(
    name: str, run: Callable[[], dict[str, Any]], results: dict[str, Any], seconds: dict[str, float]
) -> None:
    print(f"... {name}", flush=True)
    started = time.perf_counter()
    figures = run()
    seconds[name] = round(time.perf_counter() - started, 1)
    results["details"][name] = figures.pop("details", {})
    results.update(figures)


def measure(sizes: Sizes) -> dict[str, Any]:
    from tests.bench import capacity_runs, cold_start, cost, throughput

    results: dict[str, Any] = {"details": {}}
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    _section("cold_start", lambda: cold_start.measure(runs=sizes.import_runs), results, seconds)
    _section("capacity", capacity_runs.measure_capacity, results, seconds)
    _section("growth", lambda: capacity_runs.measure_growth(quick=sizes.quick), results, seconds)
    _section("projector", lambda: throughput.projector_throughput(sizes.backlog), results, seconds)
    _section(
        "gateway",
        lambda: throughput.gateway_throughput(sizes.gateway_payments),
        results,
        seconds,
    )
    _section("confirm", lambda: throughput.confirm_in_browser(sizes.confirm_runs), results, seconds)
    _section("cost", lambda: cost.monthly_cost(results), results, seconds)
    results["details"]["seconds"] = seconds
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    return results


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    met = {}
    for key, (comparison, bound) in TARGETS.items():
        value = results[key]
        met[key] = {
            "target": f"{comparison} {bound}",
            "met": value <= bound if comparison == "<=" else value >= bound,
        }
    return met


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def report(results: dict[str, Any]) -> str:
    details = results["details"]
    lines = [f"make bench ({results['mode']}, {results['wall_seconds']} s)", ""]
    met = results["targets"]
    lines.append(f"{'figure':40} {'value':>14}  target")
    for key in REQUIRED_KEYS:
        target = met.get(key)
        note = (
            "" if target is None else f"{target['target']}: {'met' if target['met'] else 'NOT met'}"
        )
        lines.append(f"{key:40} {_fmt(results[key]):>14}  {note}")
    extras = sorted(
        k
        for k, v in env.numbers_only(results).items()
        if k not in REQUIRED_KEYS and k != "wall_seconds"
    )
    lines.append("")
    lines.append("also measured:")
    for key in extras:
        lines.append(f"  {key:38} {_fmt(results[key]):>14}")

    cold = details["cold_start"]
    lines += [
        "",
        f"cold start: median of {cold['runs']} fresh processes; `import boto3` = {cold['floor_import_ms']} ms",
    ]
    for name, figures in cold["functions"].items():
        lines.append(
            f"  {name:10} import {figures['import_ms']:7.1f} ms   whole process x{figures['process_ratio']:.2f} the floor's"
        )
    for name, rows in cold["importtime_top10"].items():
        lines.append(f"  -X importtime, {name}: top 10 by cumulative ms")
        lines += [f"    {row['cumulative_ms']:8.1f}  {row['module']}" for row in rows]

    curves = details["growth"]["curves"]
    lines += [
        "",
        "growth: capacity per payment and per totals view (model from item sizes; ours measured)",
    ]
    lines.append(
        f"  {'payments':>8} {'ours wcu':>9} {'ours rcu':>9} {'nested wcu':>11} {'nested rcu':>11} {'sum wcu':>8} {'sum rcu':>9}"
    )
    for index, size in enumerate(curves["payments"]):
        nested_fits = curves["seed_nested_fits"][index]
        mark = "" if nested_fits else "*"
        lines.append(
            f"  {size:>8,} {_fmt(curves['ours_wcu'][index]):>9} {_fmt(curves['ours_totals_rcu'][index]):>9}"
            f" {_fmt(curves['seed_nested_wcu'][index]) + mark:>11} {_fmt(curves['seed_nested_totals_rcu'][index]) + mark:>11}"
            f" {_fmt(curves['seed_sum_on_read_wcu'][index]):>8} {_fmt(curves['seed_sum_on_read_totals_rcu'][index]):>9}"
        )
    lines.append("  * beyond DynamoDB's 400 KB item limit: the nested design cannot store it")
    for check in details["growth"]["checks_against_moto"]:
        parts = ", ".join(
            f"{name} {check[name]['measured']} = {check[name]['model']}"
            for name in ("item_bytes", "wcu", "totals_rcu")
            if name in check
        )
        lines.append(f"  checked on moto: {check['design']} at {check['payments']:,}: {parts}")

    money = details["cost"]
    arch = money["template_architecture"]
    lines += [
        "",
        f"cost of a month: {money['payments']:,} payments, {money['page_views']:,} page views ({arch}; prices as published, checked {money['prices_checked']})",
    ]
    for line in money["lines"][arch]:
        lines.append(
            f"  {line['item']:28} {line['quantity']:>14,.3f} {line['unit']:22} ${line['usd']:.4f}"
        )
    lines.append(
        f"  {'total':28} {'':>14} {'':22} ${results['monthly_cost_usd_5000_payments']:.2f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI sizes (under 3 minutes)")
    parser.add_argument("--out", type=Path, default=env.ROOT / "bench", help="output directory")
    args = parser.parse_args(argv)
    from tests.bench import chart

    sizes = Sizes(quick=args.quick)
    results = measure(sizes)
    results["mode"] = "quick" if args.quick else "full"
    results["generated_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    results["targets"] = targets(results)
    args.out.mkdir(parents=True, exist_ok=True)
    chart.draw(
        results["details"]["growth"]["curves"],
        int(results["seed_nested_max_payments"]),
        args.out / "capacity_per_payment.png",
    )
    ordered = {
        "mode": results["mode"],
        "generated_at": results["generated_at"],
        "wall_seconds": results["wall_seconds"],
        **{key: results[key] for key in REQUIRED_KEYS},
        **{
            k: v
            for k, v in results.items()
            if k not in REQUIRED_KEYS
            and k not in ("mode", "generated_at", "wall_seconds", "targets", "details")
        },
        "targets": results["targets"],
        "details": results["details"],
    }
    (args.out / "results.json").write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")
    print(report(ordered))
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'capacity_per_payment.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
