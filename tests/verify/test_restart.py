"""The restart suite at CI size: the stream pollers crash mid-batch twice while payments arrive,
and start again from their checkpoints."""

from __future__ import annotations

from tests.e2e.stack_process import StackProcess
from tests.verify import restart


def test_given_pollers_crashing_mid_batch_when_they_restart_then_totals_and_mail_are_exact(
    local_stack: StackProcess,
) -> None:
    figures = restart.run(local_stack, payments=90, restarts=2)

    assert figures["restarts"] == 2
    assert figures["restart_drift_cents"] == 0
    assert figures["restart_stale_last_payment_at"] == 0
    assert figures["restart_lost"] == 0
    assert figures["restart_duplicate_mails"] == 0
    assert figures["restart_missing_mails"] == 0
