"""The stream-fault suite at CI size (make verify runs it at 10,000 payments): the ledger
stream's consumers under duplicate deliveries, crashes, throttling, conflicts, timeouts and a
stalling SMTP relay keep the totals exact and mail every item exactly once, and what they gave
up on is recovered the way the runbook says."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from devstack.pollers import BatchOutcome, StreamSettings
from shared.models import PAYMENT_METHODS
from tests.verify import stream_faults
from tests.verify.fault_harness import DeliveryPlan, FaultInjector, StreamDelivery

CI_SIZE = {"payments": 300, "voids": 20, "closeouts": 4, "events": 5}


@pytest.fixture(scope="module")
def outcome() -> stream_faults.Outcome:
    return stream_faults.run_detailed(**CI_SIZE)


def test_given_a_faulty_stream_when_drained_and_recovered_then_every_must_be_zero_figure_is_zero(
    outcome: stream_faults.Outcome,
) -> None:
    # Given the CI-size ledger on the template's tables, its real stream records
    # When the projector and two notifiers (SES, SMTP) consume them under faults, and the
    # failure queue is recovered (reconcile, redrive)
    figures = outcome.figures

    # Then the figures are exactly make verify's, and every one that must be 0 is
    assert list(figures) == list(stream_faults.FIGURES)
    assert {name: figures[name] for name in stream_faults.MUST_BE_ZERO} == dict.fromkeys(
        stream_faults.MUST_BE_ZERO, 0
    )


def test_given_the_ci_run_then_faults_of_every_kind_really_happened(
    outcome: stream_faults.Outcome,
) -> None:
    # Given the counters of what the harness injected and played
    counts = Counter(outcome.counts)

    def total(prefix: str) -> int:
        return sum(value for name, value in counts.items() if name.startswith(prefix))

    # Then every consumer got duplicate deliveries, was killed mid-batch and bisected
    for consumer in ("projector", "notifier.ses", "notifier.smtp"):
        assert counts[f"{consumer}.duplicate_deliveries"] > 0, consumer
        assert counts[f"fault.kill.{consumer}"] > 0, consumer
        assert counts[f"{consumer}.failed_invocations"] > 0, consumer
        assert counts[f"{consumer}.bisections"] > 0, consumer
    assert sum(counts[f"{c}.rewinds"] for c in ("projector", "notifier.ses", "notifier.smtp")) > 0
    # And DynamoDB, SES and the SMTP relay failed in each of their ways
    for kind in (
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "TransactionConflict",
        "ReadTimeoutError",
        "ConnectTimeoutError",
    ):
        assert counts[f"fault.dynamodb.{kind}"] > 0, kind
    assert total("fault.dynamodb.lost_answer.") > 0
    assert counts["fault.ses.TooManyRequestsException"] > 0
    assert counts["fault.ses.ConnectTimeoutError"] > 0
    assert counts["fault.smtp.stalls"] > 0
    assert counts["fault.outage.dynamodb"] > 0
    assert counts["fault.outage.sesv2"] > 0
    assert counts["fault.outage.smtp"] > 0


def test_given_records_in_the_failure_queue_when_recovered_then_every_one_is_restored(
    outcome: stream_faults.Outcome,
) -> None:
    # Given the records the consumers gave up on (outages longer than their retries)
    dlq = outcome.counts["dlq.records"]

    # Then there were some, and reconcile and the redrive restored every one of them
    assert dlq > 0
    assert outcome.counts["dlq.projector_records"] > 0
    assert outcome.figures["dlq_records_recovered"] == dlq
    # And some projector records were still unapplied when the stream was drained: reconcile
    # repaired their events
    assert outcome.counts["dlq.projector_unapplied_before_recovery"] > 0
    assert outcome.counts["recovery.events_repaired"] > 0


def test_given_the_ci_run_then_no_mail_is_missing_unexpected_or_unreadable(
    outcome: stream_faults.Outcome,
) -> None:
    counts = outcome.counts
    for run in ("ses", "smtp"):
        assert counts[f"check.{run}.mails_missing"] == 0, run
        assert counts[f"check.{run}.mails_unexpected"] == 0, run
        assert counts[f"check.{run}.mails_unidentified"] == 0, run
        assert counts[f"check.{run}.wrong_recipients"] == 0, run
        assert counts[f"check.{run}.sends_never_recorded"] == 0, run
        assert counts[f"mail.{run}.received"] >= counts[f"mail.{run}.expected"], run
    assert counts["check.wrong_current_closeout"] == 0


def test_given_a_mail_accepted_just_before_a_crash_then_it_is_the_only_kind_sent_twice(
    outcome: stream_faults.Outcome,
) -> None:
    # Given the sends whose outcome was lost (accepted by the relay, then the invocation died
    # or the idempotency record could not be marked COMPLETED)
    counts = outcome.counts
    lost = counts["mail.ses.lost_outcomes"] + counts["mail.smtp.lost_outcomes"]

    # Then those are the only mails sent again, at most once per lost outcome
    assert outcome.figures["duplicate_mails"] == 0
    assert counts["mail.resent_after_lost_outcome"] <= lost


# --- the parts, without moto --------------------------------------------------------------------


def test_given_a_seed_when_the_ledger_is_generated_twice_then_it_is_the_same_and_covers_every_case() -> (
    None
):
    # Given one seed
    def generate() -> stream_faults.Ledger:
        return stream_faults.generate_ledger(random.Random(11), **CI_SIZE)

    # When the ledger is generated twice
    first, second = generate(), generate()

    # Then it is the same, in integer cents, with every method, patron addresses, late
    # payments, voids and close-outs
    assert first == second
    assert all(isinstance(p.amount_cents, int) and p.amount_cents > 0 for p in first.payments)
    assert {p.payment_method for p in first.payments} == set(PAYMENT_METHODS)
    assert sum(1 for p in first.payments if p.patron_email) > CI_SIZE["payments"] // 5
    assert any(p.received_at < p.timestamp for p in first.payments)
    assert len(first.voids) == CI_SIZE["voids"]
    assert len(first.closeouts) == CI_SIZE["closeouts"]
    assert len(first.order) == CI_SIZE["payments"] + CI_SIZE["voids"] + CI_SIZE["closeouts"]


def _settings(**changes: Any) -> StreamSettings:
    fields: dict[str, Any] = {
        "function_logical_id": "Consumer",
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:consumer",
        "stream_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
        "batch_size": 10,
        "bisect_batch_on_function_error": True,
        "maximum_retry_attempts": 3,
        "report_batch_item_failures": True,
    }
    fields.update(changes)
    return StreamSettings(**fields)


def _records(count: int) -> list[dict[str, Any]]:
    return [
        {"dynamodb": {"SequenceNumber": f"{100 + i:021d}", "Keys": {"pk": {"S": "EVENT#e"}}}}
        for i in range(count)
    ]


class _Poisoned:
    """A consumer for which one record always fails (reported as a batch item failure)."""

    def __init__(self, poison: str) -> None:
        self.poison = poison
        self.batches: list[list[str]] = []

    def __call__(self, event: dict[str, Any], _context: Any) -> dict[str, Any]:
        sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        self.batches.append(sequences)
        failed = [{"itemIdentifier": s} for s in sequences if s == self.poison]
        return {"batchItemFailures": failed}


def _delivery(settings: StreamSettings, handler: Any) -> StreamDelivery:
    counts: Counter[str] = Counter()
    quiet = DeliveryPlan(kill_rate=0.0, calls=len, duplicate_rate=0.0, rewind_rate=0.0)
    return StreamDelivery(
        name="consumer",
        settings=settings,
        handler=handler,
        injector=FaultInjector(1, 0.0, counts),
        rng=random.Random(2),
        counts=counts,
        plan=quiet,
        shard_id="shardId-1",
    )


def test_given_a_poison_record_when_delivered_without_faults_then_only_it_reaches_the_failure_queue() -> (
    None
):
    # Given a stream of 30 records whose 16th always fails, and Lambda's rules (batch 10,
    # bisect, 3 retries, item failures)
    records = _records(30)
    poison = records[15]["dynamodb"]["SequenceNumber"]
    handler = _Poisoned(poison)
    delivery = _delivery(_settings(), handler)

    # When the harness delivers the stream
    delivery.drain(records)

    # Then the retries start at the poison record, bisect down to it alone, retry it three
    # times, and only it is described to the failure queue
    assert handler.batches[1][0] == records[10]["dynamodb"]["SequenceNumber"]
    assert handler.batches[2][0] == poison
    assert [b for b in handler.batches if b == [poison]] == [[poison]] * 4
    [message] = delivery.dlq
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        poison,
        poison,
        1,
    )
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert handler.batches[-1][-1] == records[-1]["dynamodb"]["SequenceNumber"]


def test_given_unlimited_retries_when_a_record_keeps_failing_then_it_is_given_up_once_too_old() -> (
    None
):
    # Given a mapping that retries until records are an hour old (MaximumRetryAttempts -1)
    records = _records(12)
    poison = records[3]["dynamodb"]["SequenceNumber"]
    delivery = _delivery(
        _settings(maximum_retry_attempts=None, maximum_record_age_seconds=3600),
        _Poisoned(poison),
    )

    # When the harness delivers the stream
    delivery.drain(records)

    # Then the poison record went to the failure queue for its age, after Lambda's backoff
    # had let more than an hour of virtual time pass, and nothing else did
    [message] = delivery.dlq
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    assert message["DDBStreamBatchInfo"]["startSequenceNumber"] == poison
    assert delivery.clock > 3600


def test_given_item_failures_when_the_outcome_is_read_then_lambda_retries_from_the_first() -> None:
    # Given a batch where the 3rd and 5th records failed
    batch = _records(6)
    failed = [batch[4]["dynamodb"]["SequenceNumber"], batch[2]["dynamodb"]["SequenceNumber"]]
    delivery = _delivery(
        _settings(),
        lambda event, _context: {"batchItemFailures": [{"itemIdentifier": s} for s in failed]},
    )

    # When it is invoked once
    result = delivery.invoke(batch, faults=False)

    # Then Lambda reads "retry from the 3rd record"
    assert result == BatchOutcome(2, None, "2 of 6 failed")
