"""The machinery of the stream-faults suite (tests/verify/stream_faults.py): a delivery harness
that plays Lambda's event source mapping rules for one consumer with faults on top, the fault
injector behind it (botocore event hooks on one boto3 session), and what reads the outcome
back (the functions' log, the mails sent).

Everything here is seeded (`random.Random`) and single-threaded, so a run with the same seed
injects the same faults in the same places; the only wall-clock input is the in-progress
expiry of the notifier's idempotency records (see `HarnessContext`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

from devstack.pollers import (
    BatchOutcome,
    Condition,
    Discard,
    StreamSettings,
    batch_outcome,
    failure_message,
)
from devstack.runner import InvokeError, InvokeResult
from services.notifier.mail import MailMessage, MailSender
from tests.integration.notifier_records import RecordingHandler

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

# Writes whose answer can be lost after DynamoDB applied them (the client sees a read timeout).
WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
)
# A crash well before the function's deadline: the notifier's in-progress idempotency records
# of that invocation stay locked this long (see HarnessContext).
CRASH_DEADLINE_MS = 300
FAKE_ENDPOINT = "https://verify.invalid/"
# The virtual clock (record age, outages): what one invocation takes, and the pause Lambda makes
# before retrying a failed batch: exponential from 1 s, at most 5 min. Lambda does not document
# its backoff; these only decide how many invocations an outage costs.
INVOCATION_SECONDS = 0.2
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 300.0
# An outage now and then: a share fault_rate * OUTAGE_SHARE of invocations starts one, lasting
# 30 s to 10 min.
OUTAGE_SHARE = 1 / 20
OUTAGE_SECONDS = (30.0, 600.0)
# Of the DynamoDB calls that fail, this share fails before the call, the rest lose the answer.
BEFORE_CALL_SHARE = 0.75
# A record failing this many times in a row means the harness (or the code) is stuck.
MAX_FAILURES_IN_A_ROW = 10_000


class Killed(BaseException):
    """The execution environment died mid-invocation. A BaseException, so that neither the
    batch processor nor the idempotency layer (both catch Exception) sees it: nothing of the
    invocation's own error handling runs, as when Lambda kills it."""


# --- the Lambda context -----------------------------------------------------------------------


@dataclass
class HarnessContext:
    """What Lambda passes a function. `get_remaining_time_in_millis` is the one clock the
    notifier reads (Powertools locks a mail's in-progress idempotency record until the
    invocation's deadline). Two kinds of invocation are played:

    - `deadline_ms is None`: the invocation is taken to run into its timeout when it fails,
      so by the time Lambda retries its batch the deadline has passed (remaining time -1:
      Powertools' in-progress lock has expired by the next look, deterministically);
    - a wall-clock deadline CRASH_DEADLINE_MS ahead: a crash well before the timeout; a retry
      within that time finds the mail in progress (IdempotencyAlreadyInProgressError).
    """

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    log_group_name: str = ""
    log_stream_name: str = ""
    deadline_ms: int | None = None

    def get_remaining_time_in_millis(self) -> int:
        if self.deadline_ms is None:
            return -1
        return self.deadline_ms - int(time.time() * 1000)


# --- mail identity ------------------------------------------------------------------------------


def mail_key(key: str | None) -> str | None:
    """compose's MailMessage.key (``EVENT#<id>/<ledger sk>/<audience>``) -> ``<sk>/<audience>``:
    the (ledger item, audience) pair a mail is about."""
    if not key:
        return None
    parts = key.split("/")
    return None if len(parts) != 3 else f"{parts[1]}/{parts[2]}"


@dataclass
class OutcomeTracker:
    """Sends whose outcome the notifier lost: the relay accepted the mail, then the invocation
    died, or the write marking its idempotency record COMPLETED failed, before the mail was
    recorded as sent. Redelivery can only send such a mail again (SES SendEmail and SMTP take
    no idempotency key): the at-least-once window every mail sender has. Counted per
    (ledger item, audience), so that a duplicate it does not explain stays a finding. A send
    the notifier never even tried to record is not a lost outcome but a finding of its own
    (`unrecorded`)."""

    lost: Counter[str] = field(default_factory=Counter)
    unrecorded: Counter[str] = field(default_factory=Counter)
    _pending: str | None = None
    _recording: bool = False

    def sent(self, key: str) -> None:
        self._settle()
        self._pending, self._recording = key, False

    def recording(self) -> None:
        """An UpdateItem on the idempotency table is about to be sent (COMPLETED)."""
        self._recording = self._pending is not None

    def recorded(self) -> None:
        """That write succeeded: the mail just sent is recorded."""
        self._pending = None

    def killed(self) -> None:
        if self._pending is not None:
            self.lost[self._pending] += 1
            self._pending = None

    def end_invocation(self) -> None:
        self._settle()

    def _settle(self) -> None:
        if self._pending is not None:
            (self.lost if self._recording else self.unrecorded)[self._pending] += 1
            self._pending = None


class TrackedSender:
    """The notifier's own sender (what build_sender made), reporting each accepted mail to the
    tracker; for SMTP also a call the kill counter counts, and the relay's outage switch."""

    def __init__(
        self,
        inner: MailSender,
        injector: FaultInjector,
        *,
        counts_as_call: bool,
        relay: StallingRelay | None = None,
    ) -> None:
        self._inner = inner
        self._injector = injector
        self._counts_as_call = counts_as_call
        self._relay = relay

    def send(self, message: MailMessage) -> None:
        if self._counts_as_call:
            self._injector.count_call()
        if self._relay is not None:
            self._relay.down = self._injector.outage_active("smtp")
        self._inner.send(message)
        key = mail_key(message.key)
        if key is not None:
            self._injector.mail_sent(key)


# --- the fault injector -------------------------------------------------------------------------


class _EmptyBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b"{}"


@dataclass
class _Invocation:
    consumer: str
    kill_at: int | None
    tracker: OutcomeTracker | None
    clock: float
    calls: int = 0


@dataclass(frozen=True)
class Outage:
    """A service down for a span of one consumer's virtual clock."""

    consumer: str
    service: str  # "dynamodb", "sesv2" or "smtp"
    start: float
    end: float


class FaultInjector:
    """Botocore event hooks on one boto3 session (every client made from it afterwards carries
    them), inert unless an invocation is running:

    - kill: the k-th AWS call (DynamoDB, SES, or an SMTP send) of an invocation raises Killed;
    - `fault_rate` is the share of calls that fail. Three quarters of those fail before the
      call (before-call: the SDK's own retries used up): DynamoDB ThrottlingException,
      ProvisionedThroughputExceededException, TransactionCanceledException with
      TransactionConflict reasons (TransactWriteItems), ReadTimeoutError and
      ConnectTimeoutError; SES TooManyRequestsException and ConnectTimeoutError. A quarter
      are lost answers: a DynamoDB write that was applied, then a ReadTimeoutError instead
      of its answer (after-call; SES calls fail only before the call);
    - outages: spans of a consumer's virtual clock in which every call of one service is
      throttled (or the SMTP relay refuses), started now and then at random (OUTAGE_SHARE,
      OUTAGE_SECONDS) or by the delivery (DeliveryPlan.outage).
    """

    def __init__(self, seed: int, fault_rate: float, counts: Counter[str]) -> None:
        self.seed = seed
        self.rng = random.Random(f"{seed}:injector")  # the running consumer's, see begin()
        self._rngs: dict[str, random.Random] = {}
        self.fault_rate = fault_rate
        self.counts = counts
        self.idempotency_tables: set[str] = set()
        self.outages: list[Outage] = []
        self._active: _Invocation | None = None

    def attach(self, events: Any) -> None:
        """Register on a boto3 session's event system before its clients are created."""
        events.register("provide-client-params.dynamodb", self._remember)
        events.register_first("before-call.dynamodb", self._before_dynamodb)
        events.register_first("before-call.sesv2.SendEmail", self._before_ses)
        events.register_first("after-call.dynamodb.UpdateItem", self._after_update)
        events.register_last("after-call.dynamodb", self._after_dynamodb)

    # --- invocations ---------------------------------------------------------------------

    def begin(
        self,
        consumer: str,
        kill_at: int | None,
        tracker: OutcomeTracker | None,
        *,
        clock: float,
        outage_service: str,
    ) -> None:
        self._active = _Invocation(consumer, kill_at, tracker, clock)
        # One random stream per consumer: what one consumer draws (its retries depend on the
        # wall clock now and then) never shifts another's faults.
        self.rng = self._rngs.setdefault(consumer, random.Random(f"{self.seed}:{consumer}"))
        if self.rng.random() < self.fault_rate * OUTAGE_SHARE:
            self.start_outage(consumer, outage_service, clock, self.rng.uniform(*OUTAGE_SECONDS))

    def start_outage(self, consumer: str, service: str, clock: float, seconds: float) -> None:
        self.outages.append(Outage(consumer, service, clock, clock + seconds))
        self.counts[f"fault.outage.{service}"] += 1
        self.counts[f"fault.outage_seconds.{service}"] += int(seconds)

    def outage_active(self, service: str) -> bool:
        active = self._active
        if active is None:
            return False
        return any(
            o.consumer == active.consumer
            and o.service == service
            and o.start <= active.clock < o.end
            for o in self.outages
        )

    def end(self) -> None:
        active, self._active = self._active, None
        if active is not None and active.tracker is not None:
            active.tracker.end_invocation()

    @property
    def active(self) -> bool:
        return self._active is not None

    def count_call(self) -> None:
        """One call of the running invocation; raises Killed at the chosen one."""
        active = self._active
        if active is None:
            return
        active.calls += 1
        if active.kill_at is not None and active.calls == active.kill_at:
            self.counts[f"fault.kill.{active.consumer}"] += 1
            if active.tracker is not None:
                active.tracker.killed()
            raise Killed(f"{active.consumer}: killed at call {active.calls}")

    def mail_sent(self, key: str) -> None:
        if self._active is not None and self._active.tracker is not None:
            self._active.tracker.sent(key)

    # --- hooks ---------------------------------------------------------------------------

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["verify_table"] = params.get("TableName", "")
        context["verify_items"] = len(params.get("TransactItems") or ())

    def _before_dynamodb(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        active = self._active
        if active is None:
            return None
        if (
            active.tracker is not None
            and model.name == "UpdateItem"
            and context.get("verify_table") in self.idempotency_tables
        ):
            active.tracker.recording()
        self.count_call()
        operation = model.name
        if self.outage_active("dynamodb"):
            self.counts["fault.dynamodb.outage_refusals"] += 1
            return self._error("ProvisionedThroughputExceededException", 400, "outage")
        if self.rng.random() >= self.fault_rate * BEFORE_CALL_SHARE:
            return None
        kinds = [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "ReadTimeoutError",
            "ConnectTimeoutError",
        ]
        if operation == "TransactWriteItems":
            kinds += ["TransactionConflict", "TransactionConflict"]
        kind = self.rng.choice(kinds)
        self.counts[f"fault.dynamodb.{kind}"] += 1
        if kind == "ReadTimeoutError":
            raise ReadTimeoutError(endpoint_url=FAKE_ENDPOINT)
        if kind == "ConnectTimeoutError":
            raise ConnectTimeoutError(endpoint_url=FAKE_ENDPOINT)
        if kind == "TransactionConflict":
            size = max(1, int(context.get("verify_items", 1)))
            victim = self.rng.randrange(size)
            reasons = [
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                if index == victim
                else {"Code": "None"}
                for index in range(size)
            ]
            return self._error(
                "TransactionCanceledException",
                400,
                "Transaction cancelled, please refer cancellation reasons for specific reasons "
                f"[{', '.join(r['Code'] for r in reasons)}]",
                CancellationReasons=reasons,
            )
        return self._error(kind, 400, "injected")

    def _before_ses(self, **_: Any) -> Any:
        if self._active is None:
            return None
        self.count_call()
        if self.outage_active("sesv2"):
            self.counts["fault.ses.outage_refusals"] += 1
            return self._error("TooManyRequestsException", 429, "outage")
        if self.rng.random() >= self.fault_rate:
            return None
        if self.rng.random() < 0.8:
            self.counts["fault.ses.TooManyRequestsException"] += 1
            return self._error("TooManyRequestsException", 429, "Maximum sending rate exceeded.")
        self.counts["fault.ses.ConnectTimeoutError"] += 1
        raise ConnectTimeoutError(endpoint_url=FAKE_ENDPOINT)

    def _after_update(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        active = self._active
        if active is None or active.tracker is None:
            return
        if http_response.status_code == 200 and context.get("verify_table") in (
            self.idempotency_tables
        ):
            active.tracker.recorded()

    def _after_dynamodb(self, http_response: Any, model: Any, **_: Any) -> None:
        if self._active is None or model.name not in WRITE_OPERATIONS:
            return
        if http_response.status_code != 200:
            return
        if self.rng.random() < self.fault_rate * (1 - BEFORE_CALL_SHARE):
            self.counts[f"fault.dynamodb.lost_answer.{model.name}"] += 1
            raise ReadTimeoutError(endpoint_url=FAKE_ENDPOINT)

    @staticmethod
    def _error(code: str, status: int, message: str, **extra: Any) -> tuple[Any, dict[str, Any]]:
        headers: Any = {}
        http = AWSResponse(FAKE_ENDPOINT, status, headers, _EmptyBody())
        parsed: dict[str, Any] = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
            **extra,
        }
        return http, parsed


# --- the delivery harness -------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryPlan:
    """How hard one consumer's delivery is shaken."""

    kill_rate: float  # share of invocations killed at a random call
    calls: Callable[[Sequence[dict[str, Any]]], int]  # about how many calls a batch makes
    duplicate_rate: float  # a batch is delivered again (twice: duplicate_rate / 4 more)
    rewind_rate: float  # after a failure, the retry starts at a random earlier point
    crash_rate: float = 0.0  # share of invocations whose deadline is far (HarnessContext)
    outage_service: str = "dynamodb"  # what the random outages take down
    # (n, service, seconds): `service` goes down for `seconds` as the n-th batch of records no
    # invocation has seen yet is first delivered, so the outage meets records never applied.
    outage: tuple[int, str, float] | None = None


class StreamDelivery:
    """One event source mapping over one shard's records, with Lambda's rules and faults.

    Lambda's rules, as devstack/pollers.py's ShardCheckpoint applies them: BatchSize; with
    ReportBatchItemFailures the checkpoint moves to the first failed record; an invocation
    error (or a failure at the first record) fails the whole batch; BisectBatchOnFunctionError
    halves a failed batch (without using up a retry) down to single records; a batch that
    cannot be split is retried MaximumRetryAttempts times (-1: until its records are older
    than MaximumRecordAgeInSeconds), then described to the on-failure destination (here an
    in-memory list of Lambda's invocation records) and skipped.

    Time is virtual (`clock`): an invocation takes INVOCATION_SECONDS, a failed one is followed
    by Lambda's backoff; a record's age is the time it has been failing at the head of the
    shard (the consumer kept up with the stream until then). Outages are spans of that clock.
    The notifier's in-progress idempotency records are the exception: they expire on the wall
    clock (HarnessContext), so while one may still be locked, a retry also waits a little for
    real. MaximumBatchingWindowInSeconds is not played (the whole stream is there at once).

    Faults on top: every batch is delivered 1-3 times (Lambda acts on the last answer, as when
    it did not see the earlier ones); after a failure the poller may restart at a random
    earlier point (a crash before it saved its checkpoint), redelivering records that had
    already succeeded; invocations are killed after a random number of calls (FaultInjector).
    """

    def __init__(
        self,
        *,
        name: str,
        settings: StreamSettings,
        handler: Handler,
        injector: FaultInjector,
        rng: random.Random,
        counts: Counter[str],
        plan: DeliveryPlan,
        shard_id: str,
        tracker: OutcomeTracker | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.handler = handler
        self.injector = injector
        self.rng = rng
        self.counts = counts
        self.plan = plan
        self.shard_id = shard_id
        self.tracker = tracker
        self.dlq: list[dict[str, Any]] = []
        self.clock = 0.0
        self.latest_deadline_ms = 0
        self._function_name = settings.function_arn.rsplit(":", 1)[-1]

    # --- one invocation ------------------------------------------------------------------

    def invoke(self, batch: Sequence[dict[str, Any]], *, faults: bool = True) -> BatchOutcome:
        """Invoke the handler once with `batch`; what Lambda reads from the result."""
        self.counts[f"{self.name}.invocations"] += 1
        deadline: int | None = int(time.time() * 1000) + 30_000
        kill_at: int | None = None
        if faults:
            deadline = None
            if self.rng.random() < self.plan.kill_rate:
                kill_at = self.rng.randint(1, max(1, self.plan.calls(batch)))
            if self.rng.random() < self.plan.crash_rate:
                deadline = int(time.time() * 1000) + CRASH_DEADLINE_MS
                self.latest_deadline_ms = max(self.latest_deadline_ms, deadline)
        context = HarnessContext(
            function_name=self._function_name,
            invoked_function_arn=self.settings.function_arn,
            aws_request_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            deadline_ms=deadline,
        )
        result: InvokeResult | InvokeError
        if faults:
            self.injector.begin(
                self.name,
                kill_at,
                self.tracker,
                clock=self.clock,
                outage_service=self.plan.outage_service,
            )
        try:
            payload = self.handler({"Records": list(batch)}, context)
            result = InvokeResult(ok=True, payload=payload)
        except Killed as killed:
            result = InvokeError("crashed", str(killed))
        except Exception as exc:  # noqa: BLE001 - any error is the invocation's error, as in Lambda
            result = InvokeResult(
                ok=False, error={"errorType": type(exc).__name__, "errorMessage": str(exc)}
            )
        finally:
            if faults:
                self.injector.end()
                self.clock += INVOCATION_SECONDS
        outcome = batch_outcome(
            batch, result, report_batch_item_failures=self.settings.report_batch_item_failures
        )
        if not outcome.ok:
            self.counts[f"{self.name}.failed_invocations"] += 1
        return outcome

    # --- the whole stream -----------------------------------------------------------------

    def drain(self, records: Sequence[dict[str, Any]]) -> None:
        """Deliver every record (or give up on it) under the mapping's rules, with faults."""
        settings = self.settings
        retry_limit = settings.maximum_retry_attempts
        max_age = settings.maximum_record_age_seconds
        total = len(records)
        position = 0  # the checkpoint: records before it succeeded or were given up on
        segments: list[int] = []  # the bisect plan: batch sizes, the top one next
        retries = 0  # counted retries of an unsplittable batch since the checkpoint moved
        invocations = 0  # since the checkpoint last moved (approximateInvokeCount)
        failures = 0  # failed invocations in a row (the backoff)
        # When the record at each position first failed at the checkpoint (virtual, wall):
        # its age. A restarted poller does not make a record younger.
        stuck_since: dict[int, tuple[float, float]] = {}
        rewinds_left = total // settings.batch_size + 10
        floor = 0  # a restarted poller never goes back past records it gave up on
        seen = 0  # records delivered at least once
        fresh_batches = 0
        reported = 0
        while position < total:
            if position * 10 // total > reported:
                reported = position * 10 // total
                log.info("%s: %d of %d records", self.name, position, total)
            size = min(segments[-1] if segments else settings.batch_size, total - position)
            batch = records[position : position + size]
            since = stuck_since.get(position)
            if since is not None and max_age is not None and self.clock - since[0] > max_age:
                self._give_up(batch, invocations, None, "RecordAgeExceeded")
                position = floor = _consume(position, segments, size)
                retries = invocations = failures = 0
                continue
            if position >= seen:
                fresh_batches += 1
                outage = self.plan.outage
                if outage is not None and outage[0] == fresh_batches:
                    self.injector.start_outage(self.name, outage[1], self.clock, outage[2])
            seen = max(seen, position + size)
            copies = 1
            if self.rng.random() < self.plan.duplicate_rate:
                copies += 1 + (self.rng.random() < 0.25)
                self.counts[f"{self.name}.duplicate_deliveries"] += copies - 1
            outcome = BatchOutcome(None)
            for _ in range(copies):
                outcome = self.invoke(batch)
            invocations += copies
            start = position
            failed_from = outcome.failed_from
            head_failed = False  # the record now at the checkpoint has just failed
            if failed_from is None:
                position = _consume(position, segments, size)
                retries = invocations = 0
            elif failed_from > 0:
                position = _consume(position, segments, failed_from)
                retries = invocations = 0
                head_failed = True
                if settings.bisect_batch_on_function_error and not segments:
                    segments.append(size - failed_from)
            elif settings.bisect_batch_on_function_error and size > 1:
                first = (size + 1) // 2
                if segments:
                    segments.pop()
                segments.extend([size - first, first])
                head_failed = True
                self.counts[f"{self.name}.bisections"] += 1
            elif retry_limit is not None and retries >= retry_limit:
                self._give_up(batch, invocations, outcome.function_error, "RetryAttemptsExhausted")
                position = floor = _consume(position, segments, size)
                retries = invocations = 0
            else:
                retries += 1
                head_failed = True
                self.counts[f"{self.name}.retries"] += 1
            if not head_failed:
                failures = 0
            else:
                failures += 1
                since = stuck_since.setdefault(position, (self.clock, time.monotonic()))
                self._back_off(failures, since[1])
                if failures > MAX_FAILURES_IN_A_ROW:
                    raise RuntimeError(f"{self.name}: record {position} failed {failures} times")
            if not outcome.ok and rewinds_left and self.rng.random() < self.plan.rewind_rate:
                # The poller crashed before saving its checkpoint: it starts again at an
                # earlier record, up to one batch before this one (never before a batch it
                # handed to the on-failure destination: that moved the checkpoint for good).
                earlier = self.rng.randint(max(floor, start - settings.batch_size), position)
                if earlier < position:
                    self.counts[f"{self.name}.rewinds"] += 1
                    self.counts[f"{self.name}.records_redelivered_by_rewinds"] += position - earlier
                    position = earlier
                    segments.clear()
                    retries = invocations = failures = 0
                    rewinds_left -= 1

    def _back_off(self, failures: int, stuck_wall: float) -> None:
        """Lambda's pause before the retry, on the virtual clock; and while an in-progress
        idempotency record of a crashed invocation may still be locked (wall clock), a short
        real one too, so that a retry can get past it."""
        self.clock += min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(failures - 1, 20))
        locked = self.latest_deadline_ms > int(time.time() * 1000)
        recent = time.monotonic() - stuck_wall < CRASH_DEADLINE_MS / 1000 + 0.05
        if failures >= 2 and locked and recent:
            pause = min(0.1, 0.01 * 2 ** (failures - 2))
            self.counts["harness.real_wait_ms"] += int(pause * 1000)
            time.sleep(pause)

    def _give_up(
        self,
        batch: Sequence[dict[str, Any]],
        invocations: int,
        function_error: str | None,
        condition: Condition,
    ) -> None:
        discard = Discard(tuple(batch), condition, invocations, function_error)
        self.dlq.append(
            failure_message(
                discard,
                self.settings,
                shard_id=self.shard_id,
                request_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                now=datetime.now(UTC),
            )
        )
        self.counts[f"{self.name}.dlq_records"] += len(batch)
        self.counts[f"{self.name}.dlq.{condition}"] += 1


def _consume(position: int, segments: list[int], count: int) -> int:
    """Move the checkpoint `count` records on, shrinking the bisect plan with it."""
    left = count
    while left > 0 and segments:
        top = segments[-1]
        if top <= left:
            segments.pop()
            left -= top
        else:
            segments[-1] = top - left
            left = 0
    return position + count


# --- reading the stream ----------------------------------------------------------------------


def read_range(
    streams: Any, stream_arn: str, shard_id: str, first: str, last: str
) -> list[dict[str, Any]]:
    """The raw records of one shard from sequence number `first` to `last` (inclusive)."""
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn,
        ShardId=shard_id,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=first,
    )["ShardIterator"]
    found: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        records = page.get("Records") or []
        if not records:
            break
        for record in records:
            if int(record["dynamodb"]["SequenceNumber"]) > int(last):
                return found
            found.append(record)
        iterator = page.get("NextShardIterator")
    return found


def read_all(streams: Any, stream_arn: str) -> tuple[str, list[dict[str, Any]]]:
    """(shard id, every raw record) of a one-shard stream, from TRIM_HORIZON."""
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    assert len(shards) == 1, "moto keeps one shard per stream"
    shard_id = str(shards[0]["ShardId"])
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    found: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        records = page.get("Records") or []
        if not records:
            break
        found.extend(records)
        iterator = page.get("NextShardIterator")
    return shard_id, found


# --- the functions' log ------------------------------------------------------------------------


class LogSink(io.TextIOBase):
    """Where the functions' log and EMF lines go during a run (instead of stdout): keeps what
    the figures need, per notifier run (`run`): the "receipt not sent" warnings (payment ids)
    and the ReceiptsNotSent metric values."""

    def __init__(self) -> None:
        super().__init__()
        self.run = ""
        self.lines = 0
        self.receipt_warnings: dict[str, list[str]] = {}
        self.receipts_not_sent_metric: Counter[str] = Counter()
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = self._partial + text
        *lines, self._partial = data.split("\n")
        for line in lines:
            self._line(line)
        return len(text)

    def _line(self, line: str) -> None:
        self.lines += 1
        if line.startswith('{"_aws"') and '"ReceiptsNotSent"' in line:
            value = json.loads(line).get("ReceiptsNotSent", 0)
            values = value if isinstance(value, list) else [value]
            self.receipts_not_sent_metric[self.run] += int(sum(float(v) for v in values))
        elif '"receipt not sent"' in line:
            entry = json.loads(line)
            if entry.get("message") == "receipt not sent":
                self.receipt_warnings.setdefault(self.run, []).append(str(entry.get("payment_id")))


@contextlib.contextmanager
def captured_logs(loggers: Sequence[Any], sink: LogSink) -> Iterator[None]:
    """Point the Powertools loggers' handlers and stdout (EMF metrics) at `sink`."""
    handlers = {id(h): h for h in (logger.registered_handler for logger in loggers)}
    previous = {key: handler.setStream(sink) for key, handler in handlers.items()}
    try:
        with contextlib.redirect_stdout(sink):
            yield
    finally:
        for key, handler in handlers.items():
            handler.setStream(previous[key])


# --- an SMTP relay that stalls --------------------------------------------------------------


@dataclass
class StallingRelay(RecordingHandler):
    """The tests' recording relay, made slow now and then: at MAIL, RCPT or the end of DATA it
    waits `stall_seconds` (past the client's timeout) and never takes the mail. Seeded; stalls
    at most `max_stalls` times so the time a run spends waiting is bounded. While `down` (an
    outage) it refuses every mail with 421."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))
    stall_rate: float = 0.0
    stall_seconds: float = 1.0
    max_stalls: int = 0
    stalls: int = 0
    down: bool = False
    refused: int = 0

    def _stall_now(self) -> bool:
        if self.stalls >= self.max_stalls or self.rng.random() >= self.stall_rate:
            return False
        self.stalls += 1
        return True

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.down:
            self.refused += 1
            return "421 4.3.2 Service not available"
        if self._stall_now():
            await asyncio.sleep(self.stall_seconds)
            return "421 4.4.2 timed out"
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self._stall_now():
            await asyncio.sleep(self.stall_seconds)
            return "451 4.4.2 timed out"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._stall_now():
            await asyncio.sleep(self.stall_seconds)
            return "451 4.4.2 timed out, message not accepted"
        return await super().handle_DATA(server, session, envelope)


# --- moto: cheap rollback backups for TransactWriteItems -------------------------------------

_TOUCHED: ContextVar[Mapping[str, set[tuple[Any, Any]]] | None] = ContextVar(
    "verify_touched", default=None
)
