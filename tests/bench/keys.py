"""The figures `make bench` must report (results.json) and the targets set for them.

No imports with side effects: tests read this without starting anything.
"""

from __future__ import annotations

REQUIRED_KEYS = (
    "cold_import_ratio_ingest",
    "cold_import_ratio_query",
    "cold_import_ratio_projector",
    "cold_import_ratio_notifier",
    "ingest_wcu_per_payment",
    "ingest_wcu_per_replay",
    "ingest_rcu_per_replay",
    "projector_wcu_per_payment",
    "totals_read_rcu",
    "page_read_rcu",
    "ours_wcu_growth_ratio",
    "seed_nested_wcu_at_2000",
    "seed_sum_on_read_rcu_at_2000",
    "ours_totals_rcu_at_2000",
    "seed_nested_max_payments",
    "projector_records_per_s",
    "projector_vs_raw_ratio",
    "gateway_payments_per_s",
    "gateway_p50_ms",
    "gateway_p99_ms",
    "gateway_vs_raw_put_ratio",
    "confirm_ms_p50",
    "monthly_cost_usd_5000_payments",
)
# key -> (comparison, bound): the targets.
TARGETS: dict[str, tuple[str, float]] = {
    "cold_import_ratio_ingest": ("<=", 1.5),
    "cold_import_ratio_query": ("<=", 1.5),
    "cold_import_ratio_projector": ("<=", 1.5),
    "cold_import_ratio_notifier": ("<=", 1.5),
    "ours_wcu_growth_ratio": ("<=", 1.05),
}
