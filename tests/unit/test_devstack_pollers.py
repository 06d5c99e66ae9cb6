"""devstack.pollers without sockets: record shape, filters, reading a function's result, and the
checkpoint / batching / bisect / retry state machine that stands in for Lambda's stream
event source mapping."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from devstack.pollers import (
    BatchOutcome,
    Discard,
    RecordFilter,
    ShardCheckpoint,
    StreamSettings,
    batch_outcome,
    describe,
    epoch_seconds,
    failure_message,
    is_dynamodb_stream,
    lambda_record,
    queue_name_from_arn,
    retry_delay,
    stream_settings,
)
from devstack.runner import InvokeError, InvokeResult
from devstack.template import EventSourceSpec, FunctionSpec, StackInfo

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026-01-01T00:00:00.000"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:local-Consumer"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:failures"
# The pattern template.yaml gives both stream consumers.
LEDGER_PATTERN = (
    '{"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": '
    '[{"prefix": "PAYMENT#"}, {"prefix": "VOID#"}]}}}}'
)
FIRST_SEQUENCE = 1100000000017454423009
CREATED = 1_790_000_000  # epoch seconds of every test record unless a test says otherwise


def settings(**overrides: Any) -> StreamSettings:
    base = StreamSettings(
        function_logical_id="Consumer",
        function_arn=FUNCTION_ARN,
        stream_arn=STREAM_ARN,
        batch_size=10,
        on_failure_destination=QUEUE_ARN,
    )
    return replace(base, **overrides)


def raw_record(
    n: int,
    *,
    event_name: str = "INSERT",
    sk: str | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """A record as boto3's dynamodbstreams.get_records returns it from moto."""
    return {
        "eventID": f"id{n}",
        "eventName": event_name,
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": created or datetime.fromtimestamp(CREATED + 0.7, UTC),
            "Keys": {"pk": {"S": "EVENT#e1"}, "sk": {"S": sk or f"PAYMENT#{n:04d}"}},
            "NewImage": {"pk": {"S": "EVENT#e1"}, "sk": {"S": sk or f"PAYMENT#{n:04d}"}},
            "SequenceNumber": str(FIRST_SEQUENCE + n),
            "SizeBytes": 120,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def record(n: int, **kwargs: Any) -> dict[str, Any]:
    return lambda_record(raw_record(n, **kwargs), STREAM_ARN)


def seq(n: int) -> str:
    return str(FIRST_SEQUENCE + n)


def numbers(batch: Sequence[dict[str, Any]]) -> list[int]:
    return [int(r["dynamodb"]["SequenceNumber"]) - FIRST_SEQUENCE for r in batch]


# --- Lambda's record shape --------------------------------------------------------------------


def test_a_stream_record_gets_lambdas_shape_and_the_stream_arn() -> None:
    converted = lambda_record(raw_record(1), STREAM_ARN)

    assert converted == {
        "eventID": "id1",
        "eventName": "INSERT",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": CREATED,
            "Keys": {"pk": {"S": "EVENT#e1"}, "sk": {"S": "PAYMENT#0001"}},
            "NewImage": {"pk": {"S": "EVENT#e1"}, "sk": {"S": "PAYMENT#0001"}},
            "SequenceNumber": seq(1),
            "SizeBytes": 120,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": STREAM_ARN,
    }
    json.dumps(converted)  # what the worker protocol needs: plain JSON


def test_the_creation_time_is_whole_epoch_seconds_rounded_down() -> None:
    local = timezone(timedelta(hours=-5))

    assert epoch_seconds(datetime(2026, 1, 1, 0, 0, 0, 999_000, tzinfo=UTC)) == 1767225600
    assert epoch_seconds(datetime(2025, 12, 31, 19, 0, 0, tzinfo=local)) == 1767225600
    # moto's own records are naive UTC when read in-process
    assert epoch_seconds(datetime(2026, 1, 1)) == 1767225600  # noqa: DTZ001
    assert epoch_seconds(1767225600.9) == 1767225600


def test_fields_lambda_does_not_send_are_left_out_and_ttl_identity_is_kept() -> None:
    raw = raw_record(2, event_name="REMOVE")
    raw["dynamodb"]["SomethingNew"] = 1
    raw["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}

    converted = lambda_record(raw, STREAM_ARN)

    assert "SomethingNew" not in converted["dynamodb"]
    assert converted["userIdentity"]["principalId"] == "dynamodb.amazonaws.com"


def test_stream_arns_are_told_from_other_event_sources() -> None:
    assert is_dynamodb_stream(STREAM_ARN)
    assert not is_dynamodb_stream(QUEUE_ARN)
    assert not is_dynamodb_stream("arn:aws:kinesis:us-east-1:123456789012:stream/x")


# --- FilterCriteria (moto's EventBridge matcher; internal API, pinned) ------------------------


@pytest.mark.parametrize(
    ("event_name", "sk", "passes"),
    [
        ("INSERT", "PAYMENT#1", True),
        ("INSERT", "VOID#1", True),
        ("MODIFY", "PAYMENT#1", False),
        ("REMOVE", "VOID#1", False),
        ("INSERT", "SUMMARY", False),
        ("INSERT", "APPLIED#PAYMENT#1", False),
        ("INSERT", "META", False),
    ],
)
def test_the_ledger_filter_passes_only_payment_and_void_inserts(
    event_name: str, sk: str, passes: bool
) -> None:
    ledger = RecordFilter([LEDGER_PATTERN])

    assert ledger.matches(record(1, event_name=event_name, sk=sk)) is passes


def test_a_record_passes_when_any_filter_matches_and_or_patterns_work() -> None:
    either = RecordFilter(['{"eventName": ["REMOVE"]}', '{"eventName": ["MODIFY"]}'])
    alternatives = RecordFilter(
        ['{"$or": [{"eventName": ["REMOVE"]}, {"dynamodb": {"Keys": {"sk": {"S": ["META"]}}}}]}']
    )

    assert either.matches(record(1, event_name="MODIFY"))
    assert not either.matches(record(1))
    assert alternatives.matches(record(1, sk="META"))
    assert not alternatives.matches(record(1))


def test_no_filter_passes_everything() -> None:
    assert RecordFilter([]).matches(record(1, event_name="REMOVE"))


def test_split_keeps_stream_order_on_both_sides() -> None:
    records = [record(1), record(2, sk="SUMMARY"), record(3), record(4, event_name="MODIFY")]

    kept, dropped = RecordFilter([LEDGER_PATTERN]).split(records)

    assert numbers(kept) == [1, 3]
    assert numbers(dropped) == [2, 4]


@pytest.mark.parametrize("pattern", ["not json", '{"eventName": "INSERT"}'])
def test_an_invalid_pattern_is_refused_like_lambda_refuses_the_mapping(pattern: str) -> None:
    with pytest.raises(ValueError, match="filter pattern 1 is not valid"):
        RecordFilter([pattern])


# --- reading a function's result ---------------------------------------------------------------


def ok(payload: Any) -> InvokeResult:
    return InvokeResult(ok=True, payload=payload)


BATCH = [record(1), record(2), record(3), record(4)]


@pytest.mark.parametrize(
    "payload",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "done", 3],
)
def test_lambda_reads_these_responses_as_complete_success(payload: Any) -> None:
    outcome = batch_outcome(BATCH, ok(payload), report_batch_item_failures=True)

    assert outcome.ok


def test_the_lowest_failed_sequence_number_is_where_the_retry_starts() -> None:
    payload = {"batchItemFailures": [{"itemIdentifier": seq(4)}, {"itemIdentifier": seq(2)}]}

    outcome = batch_outcome(BATCH, ok(payload), report_batch_item_failures=True)

    assert outcome.failed_from == 1
    assert outcome.function_error is None


@pytest.mark.parametrize(
    "failures",
    [
        [{"itemIdentifier": ""}],
        [{"itemIdentifier": None}],
        [{"itemId": seq(2)}],
        [{"itemIdentifier": "999"}],
        ["just a string"],
        {"itemIdentifier": seq(2)},
    ],
)
def test_an_unusable_item_failure_fails_the_whole_batch(failures: Any) -> None:
    outcome = batch_outcome(
        BATCH, ok({"batchItemFailures": failures}), report_batch_item_failures=True
    )

    assert outcome.failed_from == 0


def test_item_failures_are_ignored_unless_the_mapping_asks_for_them() -> None:
    payload = {"batchItemFailures": [{"itemIdentifier": seq(2)}]}

    assert batch_outcome(BATCH, ok(payload), report_batch_item_failures=False).ok


@pytest.mark.parametrize(
    "result",
    [
        InvokeResult(ok=False, error={"errorType": "KeyError", "errorMessage": "x"}),
        InvokeError("timeout", "timed out after 10 s"),
        InvokeError("crashed", "worker exited with -9"),
    ],
)
def test_an_invocation_error_fails_the_whole_batch_as_unhandled(
    result: InvokeResult | InvokeError,
) -> None:
    outcome = batch_outcome(BATCH, result, report_batch_item_failures=True)

    assert outcome.failed_from == 0
    assert outcome.function_error == "Unhandled"


# --- the checkpoint state machine --------------------------------------------------------------

FOREVER = 1e9  # a "now" after any batching window


@dataclass
class Run:
    """Drives a ShardCheckpoint the way StreamPoller does, with a scripted function."""

    checkpoint: ShardCheckpoint
    invocations: list[list[int]] = field(default_factory=list)
    discards: list[Discard] = field(default_factory=list)

    def until_idle(
        self, function: Callable[[list[int]], BatchOutcome], limit: int = 200
    ) -> list[list[int]]:
        for _ in range(limit):
            batch = self.checkpoint.next_batch(FOREVER)
            if batch is None:
                return self.invocations
            self.invocations.append(numbers(batch))
            settlement = self.checkpoint.settle(batch, function(numbers(batch)))
            if settlement.discard is not None:
                self.discards.append(settlement.discard)
        raise AssertionError(f"still busy after {limit} invocations: {self.invocations[-5:]}")


def run(*records_: int, **overrides: Any) -> Run:
    checkpoint = ShardCheckpoint(settings(**overrides))
    checkpoint.offer([record(n) for n in records_], now=0.0)
    return Run(checkpoint)


def succeed(_batch: list[int]) -> BatchOutcome:
    return BatchOutcome(None)


def crash_if(poison: int) -> Callable[[list[int]], BatchOutcome]:
    """An invocation error whenever the batch holds the poison record."""

    def function(batch: list[int]) -> BatchOutcome:
        return BatchOutcome(0, "Unhandled") if poison in batch else BatchOutcome(None)

    return function


def report(poison: int) -> Callable[[list[int]], BatchOutcome]:
    """Powertools' partial response: only the poison record fails."""

    def function(batch: list[int]) -> BatchOutcome:
        return BatchOutcome(batch.index(poison)) if poison in batch else BatchOutcome(None)

    return function


def test_batches_hold_at_most_batch_size_records_in_stream_order() -> None:
    invocations = run(*range(1, 8), batch_size=3).until_idle(succeed)

    assert invocations == [[1, 2, 3], [4, 5, 6], [7]]


def test_the_batching_window_holds_a_partial_batch_until_it_closes() -> None:
    checkpoint = ShardCheckpoint(settings(batch_size=5, batching_window_seconds=1.0))
    checkpoint.offer([record(1), record(2)], now=10.0)

    assert checkpoint.next_batch(10.5) is None
    assert checkpoint.window_remaining(10.5) == pytest.approx(0.5)
    assert numbers(checkpoint.next_batch(11.0) or []) == [1, 2]


def test_a_full_batch_goes_before_the_window_closes() -> None:
    checkpoint = ShardCheckpoint(settings(batch_size=2, batching_window_seconds=5.0))
    checkpoint.offer([record(1), record(2), record(3)], now=10.0)

    assert numbers(checkpoint.next_batch(10.0) or []) == [1, 2]


def test_without_a_window_whatever_was_read_goes_at_once() -> None:
    checkpoint = ShardCheckpoint(settings(batch_size=100))
    checkpoint.offer([record(1)], now=10.0)

    assert numbers(checkpoint.next_batch(10.0) or []) == [1]


def test_success_moves_the_checkpoint_past_the_batch() -> None:
    checkpoint = ShardCheckpoint(settings(batch_size=2))
    checkpoint.offer([record(1), record(2), record(3)], now=0.0)
    batch = checkpoint.next_batch(FOREVER) or []

    settlement = checkpoint.settle(batch, BatchOutcome(None))

    assert settlement.consumed == 2
    assert numbers(checkpoint.next_batch(FOREVER) or []) == [3]


def test_a_partial_failure_retries_from_the_failed_record_not_before_it() -> None:
    attempts: list[list[int]] = []

    def fail_3_once(batch: list[int]) -> BatchOutcome:
        attempts.append(batch)
        return BatchOutcome(batch.index(3)) if len(attempts) == 1 else BatchOutcome(None)

    invocations = run(1, 2, 3, 4, 5, report_batch_item_failures=True).until_idle(fail_3_once)

    # Without bisect the retry is a fresh batch from the checkpoint (up to BatchSize).
    assert invocations == [[1, 2, 3, 4, 5], [3, 4, 5]]


def test_a_retry_ignores_the_batching_window() -> None:
    checkpoint = ShardCheckpoint(settings(batch_size=5, batching_window_seconds=30.0))
    checkpoint.offer([record(1), record(2)], now=0.0)
    batch = checkpoint.next_batch(30.0) or []

    checkpoint.settle(batch, BatchOutcome(0, "Unhandled"))

    assert numbers(checkpoint.next_batch(30.0) or []) == [1, 2]


def test_with_bisect_a_partial_failure_re_sends_only_the_rest_of_that_batch() -> None:
    attempts: list[list[int]] = []

    def fail_3_once(batch: list[int]) -> BatchOutcome:
        attempts.append(batch)
        return BatchOutcome(batch.index(3)) if len(attempts) == 1 else BatchOutcome(None)

    r = run(*range(1, 8), batch_size=5, bisect_batch_on_function_error=True)

    assert r.until_idle(fail_3_once) == [[1, 2, 3, 4, 5], [3, 4, 5], [6, 7]]


def test_with_bisect_a_crashing_batch_is_halved_until_the_poison_record_is_alone() -> None:
    r = run(*range(1, 9), bisect_batch_on_function_error=True, maximum_retry_attempts=2)

    invocations = r.until_idle(crash_if(6))

    assert invocations == [
        [1, 2, 3, 4, 5, 6, 7, 8],
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        [5, 6],
        [5],
        [6],  # alone: now each failure counts as a retry
        [6],
        [6],
        [7, 8],
    ]
    assert [numbers(d.records) for d in r.discards] == [[6]]
    assert r.discards[0].condition == "RetryAttemptsExhausted"
    assert r.discards[0].invoke_count == 3
    assert r.discards[0].function_error == "Unhandled"


def test_bisect_halves_odd_batches_with_the_extra_record_first() -> None:
    r = run(1, 2, 3, bisect_batch_on_function_error=True, maximum_retry_attempts=0)

    assert r.until_idle(crash_if(3)) == [[1, 2, 3], [1, 2], [3]]


def test_a_reported_poison_record_is_isolated_and_only_it_is_given_up_on() -> None:
    r = run(
        1,
        2,
        3,
        4,
        5,
        bisect_batch_on_function_error=True,
        report_batch_item_failures=True,
        maximum_retry_attempts=1,
    )

    invocations = r.until_idle(report(2))

    assert invocations == [[1, 2, 3, 4, 5], [2, 3, 4, 5], [2, 3], [2], [2], [3], [4, 5]]
    assert [numbers(d.records) for d in r.discards] == [[2]]
    delivered = {n for batch in invocations for n in batch}
    assert delivered == {1, 2, 3, 4, 5}


def test_without_bisect_the_whole_retried_batch_is_given_up_on() -> None:
    r = run(1, 2, 3, maximum_retry_attempts=2)

    invocations = r.until_idle(crash_if(2))

    assert invocations == [[1, 2, 3]] * 3
    assert [numbers(d.records) for d in r.discards] == [[1, 2, 3]]
    assert r.discards[0].invoke_count == 3


def test_zero_retries_gives_up_after_the_first_failure() -> None:
    r = run(1, maximum_retry_attempts=0)

    assert r.until_idle(crash_if(1)) == [[1]]
    assert len(r.discards) == 1


def test_without_a_retry_limit_a_failing_batch_is_never_given_up_on() -> None:
    r = run(1, 2, maximum_retry_attempts=None)

    with pytest.raises(AssertionError, match="still busy"):
        r.until_idle(crash_if(1), limit=50)
    assert r.discards == []


def test_the_retry_count_starts_again_when_the_checkpoint_moves() -> None:
    # Each retry makes progress (one more record succeeds): never given up on.
    def one_at_a_time(batch: list[int]) -> BatchOutcome:
        return BatchOutcome(1) if len(batch) > 1 else BatchOutcome(None)

    r = run(1, 2, 3, 4, 5, report_batch_item_failures=True, maximum_retry_attempts=0)

    assert r.until_idle(one_at_a_time) == [[1, 2, 3, 4, 5], [2, 3, 4, 5], [3, 4, 5], [4, 5], [5]]
    assert r.discards == []


def test_records_older_than_the_maximum_age_are_given_up_on_before_they_are_sent() -> None:
    checkpoint = ShardCheckpoint(settings(maximum_record_age_seconds=60))
    old = datetime.fromtimestamp(CREATED - 120, UTC)
    checkpoint.offer([record(1, created=old), record(2, created=old), record(3)], now=0.0)

    discard = checkpoint.expire(wall_clock=CREATED + 1)

    assert discard is not None
    assert numbers(discard.records) == [1, 2]
    assert discard.condition == "RecordAgeExceeded"
    assert numbers(checkpoint.next_batch(FOREVER) or []) == [3]
    assert checkpoint.expire(wall_clock=CREATED + 1) is None


def test_expiry_during_a_bisect_keeps_the_plan_aligned_with_the_checkpoint() -> None:
    checkpoint = ShardCheckpoint(
        settings(bisect_batch_on_function_error=True, maximum_record_age_seconds=60)
    )
    old = datetime.fromtimestamp(CREATED - 120, UTC)
    checkpoint.offer([record(1, created=old)] + [record(n) for n in (2, 3, 4)], now=0.0)
    checkpoint.settle(checkpoint.next_batch(FOREVER) or [], BatchOutcome(0, "Unhandled"))

    checkpoint.expire(wall_clock=CREATED + 1)  # record 1 leaves the first half [1, 2]

    assert numbers(checkpoint.next_batch(FOREVER) or []) == [2]
    checkpoint.settle(checkpoint.next_batch(FOREVER) or [], BatchOutcome(None))
    assert numbers(checkpoint.next_batch(FOREVER) or []) == [3, 4]


def test_no_age_limit_means_nothing_expires() -> None:
    checkpoint = ShardCheckpoint(settings(maximum_record_age_seconds=None))
    checkpoint.offer([record(1, created=datetime(2001, 1, 1, tzinfo=UTC))], now=0.0)

    assert checkpoint.expire(wall_clock=CREATED) is None


def test_retry_delays_grow_and_are_capped() -> None:
    assert [retry_delay(n, 0.1, 1.0) for n in range(6)] == pytest.approx(
        [0.0, 0.1, 0.2, 0.4, 0.8, 1.0]
    )
    assert retry_delay(5, 0.0, 1.0) == 0.0


# --- the on-failure destination message -----------------------------------------------------


def test_the_failure_message_has_lambdas_invocation_record_shape() -> None:
    discard = Discard((record(3), record(4)), "RetryAttemptsExhausted", 4, "Unhandled")
    now = datetime(2026, 5, 23, 18, 30, 0, 123456, tzinfo=UTC)

    message = failure_message(
        discard, settings(), shard_id="shardId-1", request_id="req-1", now=now
    )

    assert message == {
        "requestContext": {
            "requestId": "req-1",
            "functionArn": FUNCTION_ARN,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 4,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": "2026-05-23T18:30:00.123Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-1",
            "startSequenceNumber": seq(3),
            "endSequenceNumber": seq(4),
            "approximateArrivalOfFirstRecord": "2026-09-21T14:13:20Z",
            "approximateArrivalOfLastRecord": "2026-09-21T14:13:20Z",
            "batchSize": 2,
            "streamArn": STREAM_ARN,
        },
    }


def test_only_sqs_queue_arns_name_a_queue() -> None:
    assert queue_name_from_arn(QUEUE_ARN) == ("123456789012", "failures")
    assert queue_name_from_arn("arn:aws:sns:us-east-1:123456789012:topic") is None
    assert queue_name_from_arn("failures") is None


# --- settings from the event source mappings ------------------------------------------------


def event_source(function: str, arn: str = STREAM_ARN, **overrides: Any) -> EventSourceSpec:
    base = EventSourceSpec(
        uuid=f"uuid-{function}",
        function_logical_id=function,
        function_name=f"local-{function}",
        event_source_arn=arn,
        source_logical_id="LedgerTable",
        batch_size=25,
        starting_position="LATEST",
        maximum_batching_window_in_seconds=2,
        filter_patterns=(LEDGER_PATTERN,),
        on_failure_destination=QUEUE_ARN,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=-1,
        maximum_record_age_in_seconds=-1,
        function_response_types=("ReportBatchItemFailures",),
        enabled=True,
    )
    return replace(base, **overrides)


def test_settings_are_read_from_the_mapping_with_minus_one_meaning_no_limit() -> None:
    converted = StreamSettings.from_event_source(event_source("Consumer"), FUNCTION_ARN)

    assert converted == StreamSettings(
        function_logical_id="Consumer",
        function_arn=FUNCTION_ARN,
        stream_arn=STREAM_ARN,
        batch_size=25,
        starting_position="LATEST",
        batching_window_seconds=2.0,
        filter_patterns=(LEDGER_PATTERN,),
        on_failure_destination=QUEUE_ARN,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=None,
        maximum_record_age_seconds=None,
        report_batch_item_failures=True,
    )


def test_every_enabled_stream_mapping_gets_a_poller_whatever_its_function() -> None:
    functions = {
        name: FunctionSpec(name, f"local-{name}", "h.handler", {}, arn=f"arn:{name}")
        for name in ("Alpha", "Beta", "Gamma", "Delta")
    }
    info = StackInfo(
        stack_name="s",
        region="us-east-1",
        tables={},
        functions=functions,
        routes=[],
        event_sources=[
            event_source("Alpha"),
            event_source("Beta", maximum_retry_attempts=3),
            event_source("Gamma", arn=QUEUE_ARN),  # an SQS mapping: not a stream
            event_source("Delta", enabled=False),
        ],
        cors=None,
        physical_ids={},
        translated={},
    )

    found = stream_settings(info)

    assert [(s.function_logical_id, s.function_arn) for s in found] == [
        ("Alpha", "arn:Alpha"),
        ("Beta", "arn:Beta"),
    ]
    assert found[1].maximum_retry_attempts == 3


def test_the_startup_line_names_what_the_poller_applies() -> None:
    line = describe(settings(maximum_retry_attempts=3, bisect_batch_on_function_error=True))

    assert line.startswith("Consumer from TRIM_HORIZON: batch 10, window 0s")
    assert "retries 3" in line
    assert "bisect" in line
    assert line.endswith("on failure -> failures")


def test_a_third_reader_of_one_stream_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    functions = {
        name: FunctionSpec(name, f"local-{name}", "h.handler", {}, arn=f"arn:{name}")
        for name in ("Alpha", "Beta", "Gamma")
    }
    info = StackInfo(
        stack_name="s",
        region="us-east-1",
        tables={},
        functions=functions,
        routes=[],
        event_sources=[event_source(name) for name in functions],
        cors=None,
        physical_ids={},
        translated={},
    )

    with caplog.at_level("WARNING", logger="devstack.pollers"):
        found = stream_settings(info)

    assert len(found) == 3  # still run: locally nothing throttles
    assert "3 functions read" in caplog.text
    assert "fan out" in caplog.text


def test_the_checkpoint_position_is_the_last_record_it_moved_past() -> None:
    # Given a batch of 1-3 where record 3 fails after 1 and 2 succeeded
    checkpoint = ShardCheckpoint(settings(batch_size=3, report_batch_item_failures=True))
    checkpoint.offer([record(1), record(2), record(3)], now=0.0)
    assert checkpoint.position is None
    batch = checkpoint.next_batch(FOREVER) or []

    # When the partial failure is settled
    checkpoint.settle(batch, BatchOutcome(2))

    # Then a restarted mapping would resume right after record 2: record 3 is delivered again
    assert checkpoint.position == seq(2)
