"""The tamper suite: a direct UpdateItem and DeleteItem on ledger items are each detected from
the stream with the item as it was, counted in the alarmed metric, and reported by reconcile."""

from __future__ import annotations

from tests.e2e.stack_process import StackProcess
from tests.verify import tamper


def test_given_a_compromised_role_when_it_changes_and_deletes_payments_then_each_is_detected(
    local_stack: StackProcess,
) -> None:
    figures = tamper.run(local_stack)

    assert figures["tamper_writes"] == 2
    assert figures["tamper_detected"] == figures["tamper_writes"]
    assert figures["tamper_metric_count"] >= figures["tamper_writes"]
    assert figures["reconcile_events_reported"] == 1
