"""The concurrent-load suite at CI size: 20 clients through the local gateway, a tenth of the
payments retried with the same id (some after a dropped connection)."""

from __future__ import annotations

from tests.e2e.stack_process import StackProcess
from tests.verify import load


def test_given_concurrent_clients_with_retries_when_they_log_payments_then_each_is_stored_once(
    local_stack: StackProcess,
) -> None:
    # When 20 clients log 160 payments at once, some of them twice
    figures = load.run(local_stack, payments=160, clients=20)

    # Then every payment was stored exactly once and the totals equal the ledger
    assert figures["accepted"] + figures["replayed"] >= figures["payments"]
    assert figures["replayed"] > 0  # the retries really happened
    assert figures["failed_requests"] == 0
    assert figures["lost"] == 0
    assert figures["double_counted"] == 0
    assert figures["drift_cents"] == 0
    assert 0 < figures["latency_p50_ms"] <= figures["latency_p99_ms"]
