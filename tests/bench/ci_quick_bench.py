"""`make bench QUICK=1` in CI (`make bench-check`, run by .ci/run after `make test`, so that
`make test` stays under 10 minutes): the quick bench runs end to end (moto, the local stack,
headless Chromium) and reports every figure as a number. Only counts and ratios are checked,
never a time: this machine is shared. Not named test_*.py: `pytest tests` does not collect it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.bench.keys import REQUIRED_KEYS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard only
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "monthly_cost_usd_5000_payments" in result.stdout  # the table was printed
    return json.loads((out / "results.json").read_text(encoding="utf-8")), out


def test_every_figure_is_a_number(quick_results: tuple[dict[str, Any], Path]) -> None:
    results, _out = quick_results
    assert results["mode"] == "quick"
    for key in REQUIRED_KEYS:
        value = results[key]
        assert isinstance(value, int | float), key
        assert not isinstance(value, bool), key
        assert math.isfinite(value), key
        assert value > 0, key


def test_the_chart_is_drawn(quick_results: tuple[dict[str, Any], Path]) -> None:
    _results, out = quick_results
    chart = out / "capacity_per_payment.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_capacity_counts(quick_results: tuple[dict[str, Any], Path]) -> None:
    results, _out = quick_results
    # One conditional PutItem of an item under 1 KB, whether new or replayed.
    assert results["ingest_wcu_per_payment"] == 1
    assert results["ingest_wcu_per_replay"] == 1
    # Markers (2 units each in a transaction) and one summary update per event in the batch.
    assert 2 <= results["projector_wcu_per_payment"] < 3
    # Constant as the event grows, and cheaper to read than summing the partition.
    assert results["ours_wcu_growth_ratio"] <= 1.05
    assert results["ours_totals_rcu_at_2000"] == results["totals_read_rcu"]
    assert results["seed_sum_on_read_rcu_at_2000"] > 10 * results["ours_totals_rcu_at_2000"]
    assert results["seed_nested_max_payments"] < 2_000  # the nested item cannot hold 2,000
    assert results["seed_nested_wcu_at_2000"] > 100 * results["ingest_wcu_per_payment"]


def test_the_size_arithmetic_matches_real_requests(
    quick_results: tuple[dict[str, Any], Path],
) -> None:
    results, _out = quick_results
    checks = results["details"]["growth"]["checks_against_moto"]
    assert {check["design"] for check in checks} == {"seed_nested", "seed_sum_on_read"}
    for check in checks:
        for name in ("item_bytes", "wcu", "totals_rcu"):
            if name in check:
                assert check[name]["measured"] == check[name]["model"], check
    assert results["size_model_verified"] == 1


def test_ratios_and_cost_are_reported_with_their_breakdown(
    quick_results: tuple[dict[str, Any], Path],
) -> None:
    results, _out = quick_results
    details = results["details"]
    for name in ("ingest", "query", "projector", "notifier"):
        assert len(details["cold_start"]["importtime_top10"][name]) == 10
    lines = details["cost"]["lines"][details["cost"]["template_architecture"]]
    total = sum(line["usd"] for line in lines)
    assert total == pytest.approx(results["monthly_cost_usd_5000_payments"], abs=0.01)
    assert details["cost"]["prices_checked"]
    assert set(results["targets"]) >= {"ours_wcu_growth_ratio", "cold_import_ratio_ingest"}
