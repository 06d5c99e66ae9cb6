"""DynamoDB Stream pollers: what Lambda's event source mappings do, for the local stack.

In AWS, Lambda polls each stream shard for each mapping, filters the records, batches them and
invokes the function synchronously, then retries, bisects and finally hands what it gave up on
to the on-failure destination. moto stores the stream but does none of that (its own invoker
needs Docker and is detached in devstack.template), so the local stack polls moto itself, with
the settings read back from moto's Lambda API, for every mapping whose source is a DynamoDB
stream: nothing here knows which functions the template declares.

What is applied, per mapping (AWS semantics, and where this differs):
- StartingPosition TRIM_HORIZON / LATEST for the first shard iterator; then the iterators the
  stream hands back are followed. Every mapping has its own iterator and checkpoint, so two
  consumers read one shard independently (as Lambda allows).
- FilterCriteria with moto's EventBridge pattern matcher, on the record in Lambda's shape;
  a record no filter matches is consumed without an invocation. Filtering happens before
  batching, so BatchSize counts matching records.
- BatchSize and MaximumBatchingWindowInSeconds: a batch is sent when BatchSize matching records
  are waiting or the oldest waiting one has waited the window (window 0: whatever one poll
  found). Retries are not held back by the window.
- ReportBatchItemFailures: the checkpoint moves to the failed record with the lowest sequence
  number and the retry starts there; an empty, null or unknown itemIdentifier, a malformed
  list or an invocation error (exception, timeout, crash) fails the whole batch. Without
  ReportBatchItemFailures the response is ignored, as Lambda does.
- BisectBatchOnFunctionError: a batch that failed as a whole is split in two halves (the
  first half gets the extra record) and the halves are retried one after the other, each
  bisected again if it fails; splitting does not use up MaximumRetryAttempts (AWS: "splitting
  a batch does not consume the retry quota"). A partial failure is split at the failed record
  ("retries only the remaining records"). One local choice: a partial failure at the *first*
  record of a multi-record batch is treated like a whole-batch failure and halved, so a poison
  record ends up alone and only it is given up on; AWS documents no rule for that case.
- MaximumRetryAttempts: counted per batch that cannot be split further (one record with
  bisect, the whole batch without); the count restarts whenever the checkpoint moves. When
  it is used up, the batch (from the checkpoint) goes to the on-failure destination with
  condition RetryAttemptsExhausted and the poller moves past it. -1 means retry forever.
- MaximumRecordAgeInSeconds: records older than that (by ApproximateCreationDateTime) are
  not sent again; they go to the on-failure destination with condition RecordAgeExceeded.
- DestinationConfig.OnFailure (SQS): one JSON message per discarded batch in Lambda's
  invocation record shape (requestContext, responseContext, version, timestamp,
  DDBStreamBatchInfo); records are referenced, not included, exactly as Lambda does.

More than two mappings on one stream only get a warning: AWS would throttle them (a third
consumer belongs behind a fan-out such as Kinesis Data Streams or EventBridge Pipes). Not emulated: ParallelizationFactor > 1, TumblingWindowInSeconds, shard
splits (moto has one shard that never closes), Enabled toggled at run time, SNS/S3 on-failure
destinations (reported in the log instead) and the 6 MB payload limit. Checkpoints do not
survive a restart of the process: a kept local stack (devstack/persist.py) instead records
which ledger items a consumer had not yet been handed, and writes those again after a restart.

A `DeliveryGate` shared by a stack's pollers lets that snapshot pause every delivery (a batch
in flight finishes first), so the checkpoints, summaries and idempotency records it reads agree.

The parts that decide (record shape, filters, batching, checkpoints, bisect and retry
planning, on-failure messages) are plain functions and a socket-free state machine
(`ShardCheckpoint`); `StreamPoller` only moves data between moto, the state machine and the
function runner.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, cast

from devstack.runner import InvokeError, InvokeResult
from devstack.template import EventSourceSpec, StackInfo

log = logging.getLogger(__name__)

# Lambda polls a stream shard about four times a second.
DEFAULT_POLL_INTERVAL_SECONDS = 0.25
# Pause before re-sending a failed batch: base * 2^(failures - 1), capped. Small, because a
# developer is watching; Lambda's own backoff is not documented.
DEFAULT_RETRY_BASE_SECONDS = 0.1
DEFAULT_RETRY_CAP_SECONDS = 1.0
GET_RECORDS_LIMIT = 1000  # the DynamoDB Streams maximum per call
# Stop reading ahead once this many matching records wait (memory bound; moto keeps the rest).
MAX_BUFFERED_RECORDS = 10_000
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
_STOP_JOIN_SECONDS = 5.0
_MIN_WAIT_SECONDS = 0.02
_DRAIN_POLL_SECONDS = 0.05

Condition = Literal["RetryAttemptsExhausted", "RecordAgeExceeded"]


# ---------------------------------------------------------------------------------------------
# Settings: one event source mapping, as the poller needs it
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamSettings:
    """The mapping settings a poller applies (built from moto's event source mapping)."""

    function_logical_id: str
    function_arn: str
    stream_arn: str
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    batching_window_seconds: float = 0.0
    filter_patterns: tuple[str, ...] = ()
    on_failure_destination: str | None = None
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int | None = None  # None: retry until the record is too old
    maximum_record_age_seconds: int | None = None  # None: no age limit
    report_batch_item_failures: bool = False

    @classmethod
    def from_event_source(cls, source: EventSourceSpec, function_arn: str) -> StreamSettings:
        return cls(
            function_logical_id=source.function_logical_id,
            function_arn=function_arn,
            stream_arn=source.event_source_arn,
            batch_size=max(1, source.batch_size),
            starting_position=source.starting_position or "TRIM_HORIZON",
            batching_window_seconds=float(source.maximum_batching_window_in_seconds),
            filter_patterns=source.filter_patterns,
            on_failure_destination=source.on_failure_destination,
            bisect_batch_on_function_error=source.bisect_batch_on_function_error,
            # -1 is the API's "infinite" for both.
            maximum_retry_attempts=_limit(source.maximum_retry_attempts),
            maximum_record_age_seconds=_limit(source.maximum_record_age_in_seconds),
            report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES in source.function_response_types,
        )


def _limit(value: int | None) -> int | None:
    return None if value is None or value < 0 else value


def is_dynamodb_stream(arn: str) -> bool:
    return arn.startswith("arn:") and ":dynamodb:" in arn and "/stream/" in arn


# DynamoDB Streams throttles a shard read by more than two consumers at once.
MAX_CONSUMERS_PER_STREAM = 2


def stream_settings(info: StackInfo) -> list[StreamSettings]:
    """One StreamSettings per enabled mapping of a DynamoDB stream, whatever the function."""
    settings = []
    for source in info.event_sources:
        if not source.enabled or not is_dynamodb_stream(source.event_source_arn):
            continue
        function = info.functions.get(source.function_logical_id)
        arn = function.arn if function is not None else ""
        settings.append(StreamSettings.from_event_source(source, arn))
    readers = Counter(s.stream_arn for s in settings)
    for stream_arn, count in readers.items():
        if count > MAX_CONSUMERS_PER_STREAM:
            # Locally nothing throttles, so say it: in AWS this design needs a fan-out.
            log.warning(
                "%d functions read %s; AWS throttles more than %d readers per shard "
                "(fan out through Kinesis Data Streams or EventBridge Pipes instead)",
                count,
                stream_arn,
                MAX_CONSUMERS_PER_STREAM,
            )
    return settings


# ---------------------------------------------------------------------------------------------
# Records: DynamoDB Streams shape -> Lambda event shape, and filtering
# ---------------------------------------------------------------------------------------------

_DYNAMODB_FIELDS = (
    "ApproximateCreationDateTime",
    "Keys",
    "NewImage",
    "OldImage",
    "SequenceNumber",
    "SizeBytes",
    "StreamViewType",
)


def lambda_record(raw: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda delivers it: epoch-seconds creation time (boto3 parses it
    into a datetime; Lambda sends a number, rounded down to the second as DynamoDB Streams
    documents) and `eventSourceARN`, which the Lambda service adds."""
    body = raw.get("dynamodb") or {}
    dynamodb = {name: body[name] for name in _DYNAMODB_FIELDS if name in body}
    if "ApproximateCreationDateTime" in dynamodb:
        dynamodb["ApproximateCreationDateTime"] = epoch_seconds(
            dynamodb["ApproximateCreationDateTime"]
        )
    record: dict[str, Any] = {
        "eventID": raw.get("eventID", ""),
        "eventName": raw.get("eventName", ""),
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": raw.get("eventSource", "aws:dynamodb"),
        "awsRegion": raw.get("awsRegion", ""),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # TTL deletions carry the DynamoDB service identity
        record["userIdentity"] = raw["userIdentity"]
    return record


def epoch_seconds(value: Any) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return math.floor(moment.timestamp())
    return math.floor(float(value))


def sequence_of(record: Mapping[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def created_at(record: Mapping[str, Any]) -> int | None:
    value = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    return None if value is None else epoch_seconds(value)


class RecordFilter:
    """A mapping's FilterCriteria: a record passes when any pattern matches (no pattern: all).

    Uses moto's EventBridge pattern matcher (`moto.events.models.EventPattern`, an internal
    API of the pinned moto version, covered by tests/unit/test_devstack_pollers.py). Lambda
    rejects an invalid pattern when the mapping is created; here it raises ValueError.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        from moto.events.models import EventPattern

        self.patterns = tuple(patterns)
        compiled = []
        for position, pattern in enumerate(self.patterns, start=1):
            try:
                compiled.append(EventPattern.load(pattern))
            except Exception as exc:  # moto raises its own exception types
                raise ValueError(f"filter pattern {position} is not valid: {exc}") from exc
        self._compiled = tuple(compiled)

    def matches(self, record: Mapping[str, Any]) -> bool:
        if not self._compiled:
            return True
        # The matcher is typed for EventBridge events; a stream record is just JSON to it.
        event = cast(Any, record)
        return any(pattern.matches_event(event) for pattern in self._compiled)

    def split(
        self, records: Iterable[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(kept, dropped), each in stream order."""
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for record in records:
            (kept if self.matches(record) else dropped).append(record)
        return kept, dropped


# ---------------------------------------------------------------------------------------------
# What an invocation says about its batch
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOutcome:
    """`failed_from` is None for success, else the index of the first record to retry
    (0: the whole batch failed). `function_error` is "Unhandled" for invocation errors."""

    failed_from: int | None
    function_error: str | None = None
    detail: str = "ok"

    @property
    def ok(self) -> bool:
        return self.failed_from is None


def batch_outcome(
    batch: Sequence[Mapping[str, Any]],
    result: InvokeResult | InvokeError,
    *,
    report_batch_item_failures: bool,
) -> BatchOutcome:
    """Lambda's reading of one invocation's result for a stream batch."""
    if isinstance(result, InvokeError):
        return BatchOutcome(0, "Unhandled", f"{result.kind}: {result}")
    if not result.ok:
        error = result.error
        detail = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
        return BatchOutcome(0, "Unhandled", detail)
    if not report_batch_item_failures:
        return BatchOutcome(None)
    return _item_failures_outcome(batch, result.payload)


def _item_failures_outcome(batch: Sequence[Mapping[str, Any]], payload: Any) -> BatchOutcome:
    # Success: null/empty response, null/empty list. Anything unreadable fails the batch.
    if not isinstance(payload, Mapping):
        return BatchOutcome(None)
    failures = payload.get("batchItemFailures")
    if failures is None or failures == []:
        return BatchOutcome(None)
    if not isinstance(failures, list):
        return BatchOutcome(0, None, "batchItemFailures is not a list: whole batch failed")
    positions = {sequence_of(record): index for index, record in enumerate(batch)}
    indexes = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(identifier, str) or identifier not in positions:
            return BatchOutcome(
                0, None, f"itemIdentifier {identifier!r} names no record: whole batch failed"
            )
        indexes.append(positions[identifier])
    first = min(indexes)
    return BatchOutcome(first, None, f"{len(set(indexes))} of {len(batch)} failed")


# ---------------------------------------------------------------------------------------------
# Checkpoint, batching, bisect and retry planning (no I/O, no clock of its own)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Discard:
    """Records the poller gives up on (sent to the on-failure destination, then skipped)."""

    records: tuple[dict[str, Any], ...]
    condition: Condition
    invoke_count: int
    function_error: str | None = None


@dataclass(frozen=True)
class Settlement:
    """What happened to the checkpoint after one invocation."""

    consumed: int  # records behind the checkpoint now (succeeded or discarded)
    discard: Discard | None = None
    retry: bool = False  # the next batch re-sends records this one had
    bisected: bool = False


@dataclass
class _Waiting:
    record: dict[str, Any]
    seen_at: float  # monotonic: when the poller first saw it (the batching window)


@dataclass
class ShardCheckpoint:
    """One mapping's position in one shard: records past the checkpoint, and the plan for them.

    `segments` is the bisect plan: a stack of batch sizes, the top one being the next batch
    (it always starts at the checkpoint). Empty means "normal batching".
    """

    settings: StreamSettings
    waiting: deque[_Waiting] = field(default_factory=deque)
    segments: list[int] = field(default_factory=list)
    retries: int = 0  # counted retries since the checkpoint last moved
    invocations: int = 0  # invocations since the checkpoint last moved
    retrying: bool = False  # the head batch failed: re-send it without waiting for the window
    consecutive_failures: int = 0
    # Sequence number of the last record the checkpoint moved past: where a restarted mapping
    # resumes (Lambda keeps this position durably; the batch in flight is delivered again).
    position: str | None = None

    def __len__(self) -> int:
        return len(self.waiting)

    def offer(self, records: Iterable[dict[str, Any]], now: float) -> None:
        """Matching records read from the stream, in order."""
        self.waiting.extend(_Waiting(record, now) for record in records)

    def expire(self, wall_clock: float) -> Discard | None:
        """Give up on the records at the checkpoint that are older than the maximum age."""
        limit = self.settings.maximum_record_age_seconds
        if limit is None:
            return None
        count = 0
        for item in self.waiting:
            created = created_at(item.record)
            if created is None or wall_clock - created <= limit:
                break
            count += 1
        if count == 0:
            return None
        records = tuple(item.record for item in itertools.islice(self.waiting, count))
        discard = Discard(records, "RecordAgeExceeded", self.invocations)
        self._consume(count)
        return discard

    def next_batch(self, now: float) -> list[dict[str, Any]] | None:
        """The batch to send now, or None (nothing waiting, or the window is still open)."""
        if not self.waiting:
            return None
        if self.segments:
            size = self.segments[-1]
        else:
            size = self.settings.batch_size
            full = len(self.waiting) >= size
            if not (full or self.retrying or self.window_remaining(now) <= 0):
                return None
        return [item.record for item in itertools.islice(self.waiting, size)]

    def window_remaining(self, now: float) -> float:
        """Seconds until the batching window of the oldest waiting record closes."""
        if not self.waiting:
            return math.inf
        window = self.settings.batching_window_seconds
        return max(0.0, self.waiting[0].seen_at + window - now)

    def settle(self, batch: Sequence[dict[str, Any]], outcome: BatchOutcome) -> Settlement:
        """Move the checkpoint and plan the next batch after one invocation of `batch`."""
        size = len(batch)
        assert 0 < size <= len(self.waiting), "a batch always starts at the checkpoint"
        self.invocations += 1
        if outcome.failed_from is None:
            self._consume(size)
            self.consecutive_failures = 0
            return Settlement(consumed=size)
        self.consecutive_failures += 1
        failed_from = outcome.failed_from
        bisect = self.settings.bisect_batch_on_function_error
        if failed_from > 0:
            # Partial success: the checkpoint moves to the first failed record.
            self._consume(failed_from)
            remaining = size - failed_from
            if bisect:
                # "Bisected at the returned sequence number": only the rest is re-sent. When
                # this batch was already a segment, _consume has shrunk it to that rest.
                if not self.segments:
                    self.segments.append(remaining)
            else:
                self.retrying = True  # a fresh batch from the new checkpoint, up to BatchSize
            return Settlement(consumed=failed_from, retry=True, bisected=bisect)
        if bisect and size > 1:
            first = (size + 1) // 2
            if self.segments:
                self.segments.pop()
            self.segments.extend([size - first, first])  # top of the stack: the first half
            return Settlement(consumed=0, retry=True, bisected=True)
        limit = self.settings.maximum_retry_attempts
        if limit is not None and self.retries >= limit:
            discard = Discard(
                tuple(batch), "RetryAttemptsExhausted", self.invocations, outcome.function_error
            )
            self._consume(size)
            return Settlement(consumed=size, discard=discard)
        self.retries += 1
        self.retrying = True
        return Settlement(consumed=0, retry=True)

    def _consume(self, count: int) -> None:
        """Move the checkpoint `count` records on (they succeeded or were given up on)."""
        for _ in range(count):
            self.position = sequence_of(self.waiting.popleft().record)
        left = count
        while left > 0 and self.segments:
            top = self.segments[-1]
            if top <= left:
                self.segments.pop()
                left -= top
            else:
                self.segments[-1] = top - left
                left = 0
        if count:
            self.retries = 0
            self.invocations = 0
            self.retrying = False


def retry_delay(failures: int, base: float, cap: float) -> float:
    """Seconds to wait before re-sending after `failures` failed invocations in a row."""
    if failures <= 0 or base <= 0:
        return 0.0
    return float(min(cap, base * 2 ** min(failures - 1, 30)))


# ---------------------------------------------------------------------------------------------
# The on-failure destination message
# ---------------------------------------------------------------------------------------------


def _iso_seconds(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failure_message(
    discard: Discard,
    settings: StreamSettings,
    *,
    shard_id: str,
    request_id: str,
    now: datetime,
) -> dict[str, Any]:
    """Lambda's invocation record for a DynamoDB stream batch it gave up on."""
    first, last = discard.records[0], discard.records[-1]
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": settings.function_arn,
            "condition": discard.condition,
            "approximateInvokeCount": discard.invoke_count,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": discard.function_error,
        },
        "version": "1.0",
        "timestamp": now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": sequence_of(first),
            "endSequenceNumber": sequence_of(last),
            "approximateArrivalOfFirstRecord": _iso_seconds(created_at(first)),
            "approximateArrivalOfLastRecord": _iso_seconds(created_at(last)),
            "batchSize": len(discard.records),
            "streamArn": settings.stream_arn,
        },
    }


def queue_name_from_arn(arn: str) -> tuple[str, str] | None:
    """(account id, queue name) of an SQS queue ARN, or None for any other ARN."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        return None
    return parts[4], parts[5]


# ---------------------------------------------------------------------------------------------
# The poller: moto <-> ShardCheckpoint <-> function runner
# ---------------------------------------------------------------------------------------------


class FunctionInvoker(Protocol):
    """What the poller needs from devstack.runner.FunctionRunner (tests pass a fake)."""

    def invoke(
        self, logical_id: str, event: Any, *, request_id: str | None = None
    ) -> InvokeResult: ...


class DeliveryGate:
    """Pollers read and deliver inside `delivering()`, any number at once; `paused()` waits
    for those in progress to finish and keeps new ones out while it is held (a waiting pause
    goes first). The local stack's snapshots hold it while they read."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._active = 0
        self._paused = False
        self._waiting = 0

    @contextlib.contextmanager
    def delivering(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._paused and not self._waiting)
            self._active += 1
        try:
            yield
        finally:
            with self._condition:
                self._active -= 1
                self._condition.notify_all()

    @contextlib.contextmanager
    def paused(self, timeout: float) -> Iterator[bool]:
        """Yields True once no delivery is in progress (none starts until the block ends), or
        False when a delivery still runs after `timeout` seconds (nothing is paused then)."""
        with self._condition:
            self._waiting += 1
            try:
                acquired = self._condition.wait_for(
                    lambda: self._active == 0 and not self._paused, timeout
                )
                if acquired:
                    self._paused = True
            finally:
                self._waiting -= 1
                self._condition.notify_all()
        try:
            yield acquired
        finally:
            if acquired:
                with self._condition:
                    self._paused = False
                    self._condition.notify_all()


@dataclass
class _Shard:
    shard_id: str
    checkpoint: ShardCheckpoint
    iterator: str | None = None
    last_read: str | None = None  # sequence number of the last record read (any filter)
    empty_reads: int = 0  # reads that found nothing new: the poller had read to the end
    at_end: bool = False  # the last read found nothing new


class StreamPoller:
    """One event source mapping: a thread that reads its stream and invokes its function."""

    def __init__(
        self,
        settings: StreamSettings,
        invoker: FunctionInvoker,
        streams: Any,
        sqs: Any,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS,
        retry_base: float = DEFAULT_RETRY_BASE_SECONDS,
        retry_cap: float = DEFAULT_RETRY_CAP_SECONDS,
        forget_iterator: Callable[[str], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        resume_after: Mapping[str, str] | None = None,
        gate: DeliveryGate | None = None,
    ) -> None:
        self.settings = settings
        self._gate = gate
        # shard id -> sequence number: where a restarted mapping picks up (see `positions`).
        self._resume_after = dict(resume_after or {})
        self.filter = RecordFilter(settings.filter_patterns)  # invalid patterns fail here
        self._invoker = invoker
        self._streams = streams
        self._sqs = sqs
        self._poll_interval = poll_interval
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._forget_iterator = forget_iterator
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._shards: list[_Shard] = []
        self._queue_urls: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"poller-{settings.function_logical_id}", daemon=True
        )
        # Counters for tests and the log; only this poller's thread writes them.
        self.invocations = 0
        self.records_filtered_out = 0
        self.batches_discarded = 0

    @property
    def name(self) -> str:
        return self.settings.function_logical_id

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop (it finishes the invocation in flight, if any)."""
        self._stop.set()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._gate.delivering() if self._gate else contextlib.nullcontext():
                    if not self._shards:
                        self._open_shards()
                    busy = self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return  # moto or the workers went away first: that is how stacks stop
                log.exception("%s: stream poller error; retrying", self.name)
                busy = False
                self._stop.wait(1.0)
            if not busy:
                self._stop.wait(self._idle_wait())

    def _idle_wait(self) -> float:
        window = min(
            (s.checkpoint.window_remaining(self._monotonic()) for s in self._shards),
            default=math.inf,
        )
        return max(_MIN_WAIT_SECONDS, min(self._poll_interval, window))

    def _open_shards(self) -> None:
        description = self._streams.describe_stream(StreamArn=self.settings.stream_arn)
        shards = description["StreamDescription"].get("Shards") or []
        self._shards = [
            _Shard(shard["ShardId"], ShardCheckpoint(self.settings))
            for shard in shards
            if "EndingSequenceNumber" not in shard.get("SequenceNumberRange", {})
        ]
        for shard in self._shards:
            resume = self._resume_after.get(shard.shard_id)
            if resume is not None:
                shard.checkpoint.position = shard.last_read = resume
            shard.iterator = self._reopen_iterator(shard)

    def caught_up(self) -> bool:
        """Every shard read to its end, with nothing left to deliver (as of the last poll)."""
        return bool(self._shards) and all(
            shard.at_end and not len(shard.checkpoint) for shard in self._shards
        )

    def empty_reads(self) -> int:
        """How often the least-read shard was found with nothing new (grows while idle)."""
        return min((shard.empty_reads for shard in self._shards), default=0)

    def positions(self) -> dict[str, str]:
        """Each shard's checkpoint (shard id -> last sequence number moved past). Read it once
        the poller has stopped (or while a DeliveryGate pauses it): a new poller given these
        resumes where this one left off."""
        found = dict(self._resume_after)
        for shard in self._shards:
            if shard.checkpoint.position is not None:
                found[shard.shard_id] = shard.checkpoint.position
        return found

    def poll_once(self) -> bool:
        """Read what is new, then send at most one batch per shard. True if a batch was sent
        (there may be more to do right away)."""
        busy = False
        for shard in self._shards:
            if self._stop.is_set():
                return False
            if len(shard.checkpoint) < MAX_BUFFERED_RECORDS:
                self._read(shard)
            expired = shard.checkpoint.expire(self._wall_clock())
            if expired is not None:
                self._give_up(shard, expired)
            batch = shard.checkpoint.next_batch(self._monotonic())
            if batch is not None:
                self._deliver(shard, batch)
                busy = True
        return busy

    def _read(self, shard: _Shard) -> None:
        if shard.iterator is None:
            return
        used = shard.iterator
        try:
            page = self._streams.get_records(ShardIterator=used, Limit=GET_RECORDS_LIMIT)
        except Exception as exc:
            if self._stop.is_set():
                raise
            # An expired or unknown iterator: start again right after what was read.
            log.warning("%s: get_records failed (%s); new iterator", self.name, exc)
            shard.iterator = self._reopen_iterator(shard)
            return
        if self._forget_iterator is not None:
            self._forget_iterator(used)
        shard.iterator = page.get("NextShardIterator")
        raw = page.get("Records") or []
        shard.at_end = not raw
        if not raw:
            shard.empty_reads += 1
            return
        shard.last_read = sequence_of(raw[-1])
        records = [lambda_record(r, self.settings.stream_arn) for r in raw]
        kept, dropped = self.filter.split(records)
        self.records_filtered_out += len(dropped)
        shard.checkpoint.offer(kept, self._monotonic())

    def _reopen_iterator(self, shard: _Shard) -> str:
        arguments: dict[str, Any] = {
            "StreamArn": self.settings.stream_arn,
            "ShardId": shard.shard_id,
        }
        if shard.last_read is None:
            arguments["ShardIteratorType"] = self.settings.starting_position
        else:
            arguments["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            arguments["SequenceNumber"] = shard.last_read
        return str(self._streams.get_shard_iterator(**arguments)["ShardIterator"])

    def _deliver(self, shard: _Shard, batch: list[dict[str, Any]]) -> None:
        request_id = str(uuid.uuid4())
        result: InvokeResult | InvokeError
        try:
            result = self._invoker.invoke(
                self.settings.function_logical_id, {"Records": batch}, request_id=request_id
            )
        except InvokeError as exc:
            result = exc
        if self._stop.is_set():
            return  # the stack is stopping: the workers may have been killed mid-batch
        self.invocations += 1
        outcome = batch_outcome(
            batch, result, report_batch_item_failures=self.settings.report_batch_item_failures
        )
        settlement = shard.checkpoint.settle(batch, outcome)
        self._log_batch(batch, outcome, settlement)
        if settlement.discard is not None:
            self._give_up(shard, settlement.discard)
        if not outcome.ok and settlement.retry:
            delay = retry_delay(
                shard.checkpoint.consecutive_failures, self._retry_base, self._retry_cap
            )
            if delay:
                self._stop.wait(delay)

    def _log_batch(
        self, batch: Sequence[dict[str, Any]], outcome: BatchOutcome, settlement: Settlement
    ) -> None:
        span = f"{sequence_of(batch[0])}..{sequence_of(batch[-1])}"
        if outcome.ok:
            result = "ok"
        elif settlement.discard is not None:
            result = f"failed ({outcome.detail}); retries used up"
        elif settlement.bisected:
            result = f"failed ({outcome.detail}); bisecting"
        else:
            result = f"failed ({outcome.detail}); will retry"
        log.info(
            "%s: batch of %d record(s) %s -> %s",
            self.name,
            len(batch),
            span,
            result,
        )

    def _give_up(self, shard: _Shard, discard: Discard) -> None:
        self.batches_discarded += 1
        message = failure_message(
            discard,
            self.settings,
            shard_id=shard.shard_id,
            request_id=str(uuid.uuid4()),
            now=datetime.now(UTC),
        )
        info = message["DDBStreamBatchInfo"]
        what = (
            f"{info['batchSize']} record(s) {info['startSequenceNumber']}.."
            f"{info['endSequenceNumber']} ({discard.condition})"
        )
        destination = self.settings.on_failure_destination
        if destination is None:
            log.error("%s: gave up on %s; no on-failure destination", self.name, what)
            return
        queue = queue_name_from_arn(destination)
        if queue is None:
            log.error(
                "%s: gave up on %s; on-failure destination %s is not an SQS queue (only SQS "
                "is emulated locally): %s",
                self.name,
                what,
                destination,
                json.dumps(message),
            )
            return
        try:
            self._sqs.send_message(
                QueueUrl=self._queue_url(*queue), MessageBody=json.dumps(message)
            )
        except Exception:
            log.exception(
                "%s: gave up on %s; could not send it to %s", self.name, what, destination
            )
            return
        log.warning("%s: gave up on %s; sent to %s", self.name, what, queue[1])

    def _queue_url(self, account_id: str, queue_name: str) -> str:
        if queue_name not in self._queue_urls:
            reply = self._sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account_id)
            self._queue_urls[queue_name] = str(reply["QueueUrl"])
        return self._queue_urls[queue_name]


# ---------------------------------------------------------------------------------------------
# All the stack's pollers
# ---------------------------------------------------------------------------------------------


class PollerGroup:
    """The pollers of one stack: started together, stopped together."""

    def __init__(self, pollers: Sequence[StreamPoller]) -> None:
        self.pollers = list(pollers)

    def __iter__(self) -> Iterator[StreamPoller]:
        return iter(self.pollers)

    def __len__(self) -> int:
        return len(self.pollers)

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self, timeout: float = _STOP_JOIN_SECONDS) -> None:
        """Stop every poller; waits up to `timeout` for batches in flight. A poller still
        waiting on a function after that is a daemon thread that notices the stop when the
        runner's workers are stopped."""
        for poller in self.pollers:
            poller.stop()
        self.join(timeout)

    def join(self, timeout: float = _STOP_JOIN_SECONDS) -> bool:
        deadline = time.monotonic() + timeout
        stopped = True
        for poller in self.pollers:
            if not poller.join(max(0.0, deadline - time.monotonic())):
                log.warning("%s: poller still finishing a batch; not waiting", poller.name)
                stopped = False
        return stopped

    def positions(self) -> dict[str, dict[str, str]]:
        """Every mapping's checkpoints: function logical id -> shard id -> sequence number."""
        return {poller.name: poller.positions() for poller in self.pollers}

    def drain(self, timeout: float) -> bool:
        """Wait until every poller has read its stream to the end after this call began and
        has delivered everything it read (what a stop does once no request can write any
        more). False when the deadline passed first (a function still failing, say)."""
        baseline = {poller.name: poller.empty_reads() for poller in self.pollers}
        deadline = time.monotonic() + timeout
        while True:
            if all(
                poller.caught_up() and poller.empty_reads() > baseline[poller.name]
                for poller in self.pollers
            ):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_DRAIN_POLL_SECONDS)


def moto_iterator_janitor(account_id: str, region: str) -> Callable[[str], None] | None:
    """A callable that drops a used shard iterator from moto's in-process store.

    moto keeps every shard iterator it ever issued, and a poller gets a new one every poll
    (four a second per mapping): about 60 MB an hour for two mappings. Lambda's iterators
    expire after 15 minutes; here a used one is simply forgotten. Internal moto API (pinned
    version); only meaningful when moto runs in this process (ThreadedMotoServer/mock_aws).
    """
    try:
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        store: dict[str, Any] = dynamodbstreams_backends[account_id][region].shard_iterators
    except Exception:  # noqa: BLE001 - another moto version: pollers work, iterators pile up
        log.warning("cannot reach moto's shard iterators; they will accumulate")
        return None

    def forget(iterator: str) -> None:
        store.pop(iterator, None)

    return forget


def start_pollers(
    info: StackInfo,
    invoker: FunctionInvoker,
    *,
    streams: Any,
    sqs: Any,
    forget_iterator: Callable[[str], None] | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS,
    retry_base: float = DEFAULT_RETRY_BASE_SECONDS,
    retry_cap: float = DEFAULT_RETRY_CAP_SECONDS,
    resume_after: Mapping[str, Mapping[str, str]] | None = None,
    gate: DeliveryGate | None = None,
) -> PollerGroup:
    """Start one poller per enabled DynamoDB stream mapping of the stack; `resume_after`
    (PollerGroup.positions() of stopped pollers) makes them resume from those checkpoints, and
    `gate` (shared by all of them) lets a snapshot pause their deliveries.

    Raises ValueError for a mapping Lambda would have refused (an invalid filter pattern).
    """
    resume = resume_after or {}
    pollers = [
        StreamPoller(
            settings,
            invoker,
            streams,
            sqs,
            poll_interval=poll_interval,
            retry_base=retry_base,
            retry_cap=retry_cap,
            forget_iterator=forget_iterator,
            resume_after=resume.get(settings.function_logical_id),
            gate=gate,
        )
        for settings in stream_settings(info)
    ]
    group = PollerGroup(pollers)
    group.start()
    return group


def describe(settings: StreamSettings) -> str:
    """One line per mapping for the startup log."""
    retries = (
        "forever" if settings.maximum_retry_attempts is None else settings.maximum_retry_attempts
    )
    parts = [
        f"batch {settings.batch_size}",
        f"window {settings.batching_window_seconds:g}s",
        f"{len(settings.filter_patterns)} filter(s)",
        f"retries {retries}",
        "bisect" if settings.bisect_batch_on_function_error else "no bisect",
        "item failures" if settings.report_batch_item_failures else "whole-batch results",
    ]
    if settings.maximum_record_age_seconds is not None:
        parts.append(f"max age {settings.maximum_record_age_seconds}s")
    if settings.on_failure_destination:
        parts.append(f"on failure -> {settings.on_failure_destination.rsplit(':', 1)[-1]}")
    return f"{settings.function_logical_id} from {settings.starting_position}: " + ", ".join(parts)
