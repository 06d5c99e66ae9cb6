"""`make verify` suite: the ledger stream's consumers under delivery faults.

One in-process moto holds the ledger, projection and idempotency tables exactly as
template.yaml declares them, and SES v2 with a verified sender. A seeded ledger (events,
payments in every method, some with a patron e-mail, voids, close-outs) is written through
LedgerTable, so the table's real stream records are produced; they are read back from the
DynamoDB Streams API in Lambda's shape (devstack.pollers.lambda_record) and filtered with each
function's FilterCriteria, read like every other mapping setting from the translated template.

Each consumer is then fed by tests/verify/fault_harness.py's StreamDelivery, which plays
Lambda's rules for its mapping (BatchSize, ReportBatchItemFailures, BisectBatchOnFunctionError,
MaximumRetryAttempts, MaximumRecordAgeInSeconds on a virtual clock, the on-failure destination)
with faults on top: duplicate deliveries, restarts from earlier records, invocations killed
after k calls, DynamoDB throttling, transaction conflicts, timeouts and lost answers, SES
throttling, outages (one per consumer longer than its retries last); and, for a second
notifier with EMAIL_TRANSPORT=smtp, an SMTP relay on 127.0.0.1 that stalls past the client's
timeout. `fault_rate` is the share of AWS calls that fail and of invocations that are killed.

Then what an operator does with the failure queue (docs/deploy.md, "The failure queue is not
empty"): `make reconcile REPAIR=1` for the totals (ops.reconcile, repair on), and for the
mails the records the queue names, read from the stream by sequence number and handed to the
notifier again once the faults are over.

Figures (every one but the last must be 0):
- `drift_cents`: per event, |summary - sums| over gross, voided, net and per-method cents:
  before recovery against the ledger items the projector marked applied (a marker and its
  delta are one transaction, so they must agree exactly, whatever sits in the failure queue),
  and after recovery against the whole ledger;
- `lost`: ledger items neither marked applied nor in the failure queue once the stream is
  drained (silently skipped), plus items still not reflected after recovery (a close-out that
  a newer, shown one supersedes needs no marker);
- `double_counted`: payments and voids counted more than once (summary counts above those of
  the marked items before recovery, above the ledger's after);
- `stale_last_payment_at`: events whose last_payment_at is not the latest received_at: before
  recovery of the marked payments (a payment in the failure queue may be applied without its
  time raised, so there it must lie between the latest of the others and the latest of all),
  after recovery of the whole ledger;
- `duplicate_mails`: (ledger item, audience) pairs mailed more than once, as SES (moto's
  backend) and the SMTP relay received them, beyond what lost outcomes explain: a mail the
  relay accepted just before the invocation was killed, or before the write marking its
  idempotency record COMPLETED failed, can only be sent again (neither SES SendEmail nor SMTP
  takes an idempotency key). Those resends are counted in
  `Outcome.counts["mail.resent_after_lost_outcome"]`; a send the notifier never tried to
  record explains nothing (`check.*.sends_never_recorded`);
- `receipts_dropped_silently`: payments with a patron e-mail whose receipt was neither
  received by the relay nor logged as "receipt not sent" (and counted in ReceiptsNotSent);
- `dlq_records_recovered`: records the consumers gave up on that recovery restored (a count;
  `Outcome.counts["dlq.records"]` is how many there were).

`Outcome.counts` also holds further checks that must be 0 (`check.*`: mails missing,
unexpected, unreadable or to the wrong recipients, a wrong current close-out) and what was
injected (`fault.*`), delivered (`<consumer>.*`) and how long each phase took (`ms.*`).

Sizes: `make verify` runs payments=10_000, voids=500, closeouts=40, events=20; make test runs
tests/verify/test_stream_faults.py at about 300/20/4/5. Both notifiers cover the whole stream
up to SMTP_RECORD_LIMIT: the SMTP one reads a third of it (at least 100 records, at most
SMTP_RECORD_LIMIT), because one TCP connection per mail and a client timeout per stall make it
the slowest consumer, and the SES notifier already covers every record.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import random
import re
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from moto import mock_aws

from devstack.intrinsics import Resolver, ResourceValues
from devstack.pollers import RecordFilter, StreamSettings, lambda_record
from devstack.template import create_table, load_template, translate
from ops.reconcile import reconcile
from services.notifier import mail as notifier_mail
from services.notifier.config import load_notifier_config
from services.projector import logic as projector_logic
from services.projector.store import ProjectionStore
from shared import keys
from shared.ids import make_event_id
from shared.models import PAYMENT_METHODS, Closeout, Event, Payment, Void
from shared.projection import drift, summarize
from shared.repository import LedgerTable
from shared.stream import parse_record
from shared.timeutil import iso_z
from shared.validators import email_address
from tests.bench.moto_speed import cheap_transaction_backups
from tests.handlers import load_handler
from tests.integration.notifier_records import Received, smtp_server
from tests.verify.fault_harness import (
    DeliveryPlan,
    FaultInjector,
    LogSink,
    OutcomeTracker,
    StallingRelay,
    StreamDelivery,
    TrackedSender,
    captured_logs,
    mail_key,
    read_all,
    read_range,
)

log = logging.getLogger(__name__)

FIGURES = (
    "drift_cents",
    "lost",
    "double_counted",
    "stale_last_payment_at",
    "duplicate_mails",
    "receipts_dropped_silently",
    "dlq_records_recovered",
)
MUST_BE_ZERO = FIGURES[:-1]

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
ADMINS = "admin@scc.example,bookkeeper@scc.example"
PARAMETERS = {
    "Stage": "dev",
    "AdminEmail": "admin@scc.example",
    "AllowedOrigin": "http://localhost:8000",
    "AdminNotifyEmails": ADMINS,
}
LEDGER_TABLE = "verify-PaymentsTable"
PROJECTION_TABLE = "verify-ProjectionTable"
IDEMPOTENCY_TABLE = "verify-IdempotencyTable"
SMTP_IDEMPOTENCY_TABLE = "verify-IdempotencyTable-smtp"
QUEUE_NAME = "verify-StreamFailureQueue"
PROJECTOR = "ProjectorFunction"
NOTIFIER = "NotifierFunction"
SMTP_RECORD_LIMIT = 1_500
SMTP_TIMEOUT_SECONDS = 0.3
SMTP_MAX_STALLS = 8
REDRIVE_PASSES = 3
# Beside `fault_rate` (the share of AWS calls that fail, and of invocations killed): the share
# of batches delivered again, of failures after which the poller restarts at an earlier
# record, and of notifier invocations that crash long before their deadline.
DUPLICATE_RATE = 0.1
REWIND_RATE = 0.1
CRASH_RATE = 0.1

_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "verify",
    "AWS_SECRET_ACCESS_KEY": "verify",
    "AWS_SESSION_TOKEN": "verify",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
# Unset for the run: they would point the SDK elsewhere or switch the idempotency layer off.
_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "POWERTOOLS_IDEMPOTENCY_DISABLED")


@dataclass(frozen=True)
class Outcome:
    figures: dict[str, int]  # FIGURES, in that order
    counts: dict[str, int]  # faults injected, deliveries, the failure queue, further checks
    seconds: float


def run(
    *,
    payments: int,
    voids: int,
    closeouts: int,
    events: int,
    seed: int = 7,
    fault_rate: float = 0.05,
) -> dict[str, int]:
    """The figures (see the module docstring); `run_detailed` also returns the counters."""
    return run_detailed(
        payments=payments,
        voids=voids,
        closeouts=closeouts,
        events=events,
        seed=seed,
        fault_rate=fault_rate,
    ).figures


def run_detailed(
    *,
    payments: int,
    voids: int,
    closeouts: int,
    events: int,
    seed: int = 7,
    fault_rate: float = 0.05,
) -> Outcome:
    if events < 1 or payments < 1 or not 0 <= voids <= payments or closeouts < 0:
        raise ValueError("need at least one event and one payment, and voids <= payments")
    started = time.monotonic()
    ledger = generate_ledger(
        random.Random(f"{seed}:ledger"),
        payments=payments,
        voids=voids,
        closeouts=closeouts,
        events=events,
    )
    counts: Counter[str] = Counter()
    sink = LogSink()
    loggers = [
        # The handler modules' loggers, by their service names (the modules are imported
        # later, each run with its own environment; loggers of one service share one output).
        Logger(service=_service("NotifierFunction")),
        Logger(service=_service("ProjectorFunction")),
        projector_logic.logger,
        notifier_mail.logger,
    ]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_environment())
        stack.enter_context(_quiet_relay_log())
        stack.enter_context(_reused_kms_key())
        stack.enter_context(mock_aws())
        translated = _translated()
        stack.enter_context(cheap_transaction_backups())
        stack.enter_context(captured_logs(loggers, sink))
        # A killed invocation still flushes its (empty) metrics here, unlike in Lambda.
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
        run_ = _Run(translated, seed, fault_rate, counts, sink)
        figures = run_.execute(ledger)
    counts["log_lines"] = sink.lines
    seconds = time.monotonic() - started
    log.info("stream faults: %s in %.1f s; %s", figures, seconds, dict(sorted(counts.items())))
    return Outcome(figures, dict(sorted(counts.items())), seconds)


# --- the ledger ---------------------------------------------------------------------------------

_PATRONS = (
    "John Smith",
    "Grace Hopper",
    "Zoë Kraviç",
    "O'Brien & Sons",
    "<script>alert(1)</script>",
    "María-José Nuñez",
    "李小龍",
    "Ada Lovelace",
)
# Unusual addresses the e-mail rule accepts (as ingest stores them); every one of them is
# deliverable by both transports (the validators let nothing through the notifier cannot
# send), so none of the patron addresses here is expected to be refused. Not among them:
# "=?utf-8?q?x?=@example.com", which the rule accepts and SmtpSender sends as given, but
# which aiosmtpd's parser (the test relay) decodes as an RFC 2047 encoded word and records
# as x@example.com.
_ODD_ADDRESSES = (
    "o'brien@example.com",
    "a+tag@example.com",
    "user@bücher.de",
    "{a}@example.com",
    "#!$%&'*+-/=?^_`{}|~@example.org",
    "A@EXAMPLE.COM",
)
_START = datetime(2026, 5, 23, 16, 0, tzinfo=UTC)
_CREW = "deckhand@scc.example"
_ADMIN = "admin@scc.example"


@dataclass
class Ledger:
    events: list[Event]
    payments: list[Payment]
    voids: list[Void]
    closeouts: list[Closeout]
    order: list[Payment | Void | Closeout] = field(default_factory=list)  # write order


def _uuid7(rng: random.Random, moment: datetime) -> str:
    millis = int(moment.timestamp() * 1000)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rng.getrandbits(12) << 64
    value |= 0b10 << 62
    value |= rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def _amount(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.05:
        return rng.randint(1, 99)
    if roll < 0.98:
        return rng.randint(100, 50_000)
    return rng.randint(50_000, 10_000_000)  # up to the template's MaxPaymentCents


def generate_ledger(
    rng: random.Random, *, payments: int, voids: int, closeouts: int, events: int
) -> Ledger:
    """Events, then payments (integer cents, every method; about a third with a patron e-mail,
    some paid earlier than logged), voids of some, and close-outs, in the order ingest would
    write them."""
    event_list = [
        Event(
            event_id=make_event_id(date(2026, 5, 1) + timedelta(days=i), f"Stream Faults {i}"),
            event_name=f"Stream Faults {i}",
            date=date(2026, 5, 1) + timedelta(days=i),
            location="Pier 39",
            currency="USD",
            created_at=_START,
            created_by=_ADMIN,
        )
        for i in range(events)
    ]
    methods = list(PAYMENT_METHODS)
    payment_list: list[Payment] = []
    for index in range(payments):
        logged = _START + timedelta(seconds=3 * index + rng.randint(0, 2))
        roll = rng.random()
        if roll < 0.3:
            received = logged - timedelta(seconds=rng.randint(1, 3 * 3600))  # logged late
        elif roll < 0.33:
            received = logged + timedelta(seconds=rng.randint(1, 240))  # a phone ahead
        else:
            received = logged
        email: str | None = None
        if rng.random() < 0.35:
            raw = (
                rng.choice(_ODD_ADDRESSES)
                if rng.random() < 0.1
                else f"patron{rng.randint(1, 5_000)}@example.org"
            )
            email = email_address(raw)  # stored as ingest stores it
        payment_list.append(
            Payment(
                payment_id=_uuid7(rng, logged),
                event_id=rng.choice(event_list).event_id,
                patron_name=rng.choice(_PATRONS),
                amount_cents=_amount(rng),
                currency="USD",
                payment_method=methods[index % len(methods)]
                if index < len(methods)
                else rng.choice(methods),
                notes=rng.choice((None, None, "Table 4", "paid for two")),
                reference=rng.choice((None, None, f"R-{index}")),
                received_at=received,
                logged_by=_CREW,
                timestamp=logged,
                patron_email=email,
                request_fingerprint=f"{rng.getrandbits(256):064x}",
            )
        )
    void_list = [
        Void(
            payment_id=payment.payment_id,
            event_id=payment.event_id,
            reason="Entered twice",
            voided_by=_ADMIN,
            timestamp=payment.timestamp + timedelta(seconds=rng.randint(1, 900)),
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            payment_method=payment.payment_method,
            patron_name=payment.patron_name,
        )
        for payment in rng.sample(payment_list, voids)
    ]
    end = payment_list[-1].timestamp
    closeout_list: list[Closeout] = []
    for index in range(closeouts):
        event = event_list[index % len(event_list)]
        closed_at = _START + timedelta(
            milliseconds=rng.randint(0, int((end - _START).total_seconds() * 1000) + 60_000)
        )
        included_payments = [
            p for p in payment_list if p.event_id == event.event_id and p.timestamp <= closed_at
        ]
        included_voids = [
            v for v in void_list if v.event_id == event.event_id and v.timestamp <= closed_at
        ]
        recorded = dict(summarize(included_payments, included_voids).by_method_cents)
        counted = dict(recorded)
        note = None
        if rng.random() < 0.3:
            counted["cash"] += rng.randint(-500, 500)
            note = "Till count differs"
        closeout_list.append(
            Closeout(
                closeout_id=_uuid7(rng, closed_at),
                event_id=event.event_id,
                currency="USD",
                closed_by=_ADMIN,
                closed_at=closed_at,
                counted_cents=counted,
                recorded_cents=recorded,
                note=note,
                payment_count=len(included_payments),
                void_count=len(included_voids),
                request_fingerprint=f"{rng.getrandbits(256):064x}",
            )
        )

    def when(item: Payment | Void | Closeout) -> datetime:
        return item.closed_at if isinstance(item, Closeout) else item.timestamp

    order: list[Payment | Void | Closeout] = sorted(
        [*payment_list, *void_list, *closeout_list], key=when
    )
    return Ledger(event_list, payment_list, void_list, closeout_list, order)


# --- the run ----------------------------------------------------------------------------------


@dataclass
class _Projection:
    """What the projector-side checks found, in one phase."""

    drift_cents: int = 0
    lost: set[str] = field(default_factory=set)
    double_counted: int = 0
    stale_last_payment_at: int = 0
    wrong_current_closeout: int = 0
    unapplied_in_dlq: int = 0  # records in the failure queue with no marker: reconcile's work


@dataclass
class _Mails:
    duplicate_mails: int = 0
    receipts_dropped_silently: int = 0
    resent_after_lost_outcome: int = 0
    missing: int = 0
    unexpected: int = 0
    unidentified: int = 0
    wrong_recipients: int = 0


class _Run:
    def __init__(
        self,
        translated: dict[str, Any],
        seed: int,
        fault_rate: float,
        counts: Counter[str],
        sink: LogSink,
    ) -> None:
        self.translated = translated
        self.seed = seed
        self.fault_rate = fault_rate
        self.counts = counts
        self.sink = sink
        self.injector = FaultInjector(seed, fault_rate, counts)
        self.injector.idempotency_tables = {IDEMPOTENCY_TABLE, SMTP_IDEMPOTENCY_TABLE}
        self.session = boto3.Session(region_name=REGION)
        # Before any client exists: every client of the session carries the hooks.
        self.injector.attach(self.session.events)
        self.ddb = self.session.client("dynamodb")
        self.streams = self.session.client(
            "dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")
        )

    # --- set-up --------------------------------------------------------------------------

    def _resolver(self, stream_arn: str) -> Resolver:
        queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{QUEUE_NAME}"
        resources = {
            "PaymentsTable": ResourceValues(LEDGER_TABLE, {"StreamArn": stream_arn}),
            "ProjectionTable": ResourceValues(PROJECTION_TABLE),
            "IdempotencyTable": ResourceValues(IDEMPOTENCY_TABLE),
            "StreamFailureQueue": ResourceValues(
                f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{QUEUE_NAME}",
                {"Arn": queue_arn, "QueueName": QUEUE_NAME},
            ),
            PROJECTOR: ResourceValues(f"verify-{PROJECTOR}"),
            NOTIFIER: ResourceValues(f"verify-{NOTIFIER}"),
        }
        return Resolver(
            self.translated, PARAMETERS, region=REGION, account_id=ACCOUNT_ID, resources=resources
        )

    def _environment(self, resolve: Resolver, function: str) -> dict[str, str]:
        properties = self.translated["Resources"][function]["Properties"]
        variables = resolve(properties["Environment"]["Variables"])
        return {name: str(value) for name, value in variables.items()}

    def _settings(self, resolve: Resolver, function: str) -> StreamSettings:
        """The function's mapping on the ledger stream, as the translated template has it."""
        mappings = [
            resource["Properties"]
            for resource in self.translated["Resources"].values()
            if resource["Type"] == "AWS::Lambda::EventSourceMapping"
            and resource["Properties"].get("FunctionName") == {"Ref": function}
        ]
        assert len(mappings) == 1, f"{function}: expected one event source mapping"
        props = resolve(mappings[0])
        retries = props.get("MaximumRetryAttempts")
        age = props.get("MaximumRecordAgeInSeconds")
        filters = (props.get("FilterCriteria") or {}).get("Filters") or []
        return StreamSettings(
            function_logical_id=function,
            function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{props['FunctionName']}",
            stream_arn=str(props["EventSourceArn"]),
            batch_size=int(props.get("BatchSize", 100)),
            starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
            batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            filter_patterns=tuple(str(f["Pattern"]) for f in filters),
            on_failure_destination=(
                (props.get("DestinationConfig") or {}).get("OnFailure") or {}
            ).get("Destination"),
            bisect_batch_on_function_error=bool(props.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=None if retries is None or int(retries) < 0 else int(retries),
            maximum_record_age_seconds=None if age is None or int(age) < 0 else int(age),
            report_batch_item_failures="ReportBatchItemFailures"
            in (props.get("FunctionResponseTypes") or ()),
        )

    # --- the whole run ----------------------------------------------------------------------

    def execute(self, ledger: Ledger) -> dict[str, int]:
        for logical_id, name in (
            ("PaymentsTable", LEDGER_TABLE),
            ("ProjectionTable", PROJECTION_TABLE),
            ("IdempotencyTable", IDEMPOTENCY_TABLE),
            ("IdempotencyTable", SMTP_IDEMPOTENCY_TABLE),
        ):
            create_table(self.ddb, self.translated, logical_id, name)
        stream_arn = str(
            self.ddb.describe_table(TableName=LEDGER_TABLE)["Table"]["LatestStreamArn"]
        )
        resolve = self._resolver(stream_arn)
        projector_env = self._environment(resolve, PROJECTOR)
        notifier_env = self._environment(resolve, NOTIFIER)
        ses = self.session.client("sesv2")
        ses.create_email_identity(EmailIdentity=notifier_env["SES_SENDER_EMAIL"])

        table = LedgerTable(self.ddb, LEDGER_TABLE)
        phase = time.monotonic()
        _write(table, ledger)
        phase = self._lap("write_ledger", phase)
        shard_id, raw = read_all(self.streams, stream_arn)
        expected_records = len(ledger.events) + len(ledger.order)
        assert len(raw) == expected_records, f"stream has {len(raw)} of {expected_records}"
        records = [lambda_record(r, stream_arn) for r in raw]
        self.counts["stream.records"] = len(records)

        # The projector over the whole stream.
        projector_settings = self._settings(resolve, PROJECTOR)
        projector_records = RecordFilter(projector_settings.filter_patterns).split(records)[0]
        store = ProjectionStore(self.ddb, PROJECTION_TABLE, sleep=self._backoff)
        projector = self._projector(projector_env)
        projector_rng = self._rng("projector")
        projector_delivery = self._delivery(
            "projector",
            projector_settings,
            projector,
            projector_rng,
            shard_id,
            calls=_projector_calls,
            outage_service="dynamodb",
            # DynamoDB down once for 30-60 minutes: longer than the projector's bisection and
            # retries last (with Lambda's backoff), so records reach the failure queue.
            outage=(
                projector_rng.randint(
                    1, max(1, len(projector_records) // projector_settings.batch_size)
                ),
                "dynamodb",
                projector_rng.uniform(1800, 3600),
            ),
        )
        projector_delivery.drain(projector_records)
        phase = self._lap("projector", phase)
        projector_dlq = _dlq_sort_keys(projector_delivery.dlq, projector_records)
        before = self._check_projection(store, ledger, dlq=projector_dlq, recovered=False)
        phase = self._lap("check_before", phase)

        # The notifier over the whole stream (SES v2), then a second one over SMTP.
        notifier_settings = self._settings(resolve, NOTIFIER)
        notifier_filter = RecordFilter(notifier_settings.filter_patterns)
        notifier_records = notifier_filter.split(records)[0]
        ses_run = self._notifier_run(
            "ses", notifier_env, notifier_settings, notifier_records, shard_id
        )
        phase = self._lap("notifier_ses", phase)
        smtp_records = notifier_records[
            : min(SMTP_RECORD_LIMIT, max(100, len(notifier_records) // 3))
        ]
        relay = StallingRelay(
            rng=self._rng("relay"),
            stall_rate=self.fault_rate,
            stall_seconds=2 * SMTP_TIMEOUT_SECONDS,
            max_stalls=SMTP_MAX_STALLS,
        )
        with smtp_server(relay) as (controller, _):
            smtp_env = {
                **notifier_env,
                "EMAIL_TRANSPORT": "smtp",
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(controller.port),
                "SMTP_SECURITY": "none",
                "SMTP_TIMEOUT_SECONDS": str(SMTP_TIMEOUT_SECONDS),
                "IDEMPOTENCY_TABLE_NAME": SMTP_IDEMPOTENCY_TABLE,
            }
            smtp_run = self._notifier_run(
                "smtp", smtp_env, notifier_settings, smtp_records, shard_id, relay=relay
            )
            relay.stall_rate = 0.0  # the relay is fine again when the operator redrives
            smtp_recovered = self._redrive(smtp_run, stream_arn, notifier_filter)
            received = list(relay.received)
        self.counts["fault.smtp.stalls"] = relay.stalls
        self.counts["fault.smtp.outage_refusals"] = relay.refused
        phase = self._lap("notifier_smtp", phase)
        ses_recovered = self._redrive(ses_run, stream_arn, notifier_filter)

        # Recovery of the totals: `make reconcile REPAIR=1`.
        reports = reconcile(table, store, repair=True)
        self.counts["recovery.events_repaired"] = sum(1 for r in reports if r.repaired)
        after = self._check_projection(store, ledger, dlq=set(), recovered=True)
        projector_recovered = sum(1 for sk in projector_dlq if sk not in after.lost)
        phase = self._lap("recovery", phase)

        admins = load_notifier_config(notifier_env).admin_recipients
        ses_mails = self._mail_figures(
            "ses", notifier_records, _ses_sent(), ses_run.tracker, admins
        )
        smtp_mails = self._mail_figures(
            "smtp", smtp_records, _smtp_sent(received, smtp_records), smtp_run.tracker, admins
        )
        dlq_records = len(projector_dlq) + ses_run.dlq_records + smtp_run.dlq_records
        self.counts["dlq.records"] = dlq_records
        self.counts["dlq.projector_records"] = len(projector_dlq)
        self.counts["dlq.projector_unapplied_before_recovery"] = before.unapplied_in_dlq
        self.counts["dlq.ses_records"] = ses_run.dlq_records
        self.counts["dlq.smtp_records"] = smtp_run.dlq_records
        self.counts["smtp.records"] = len(smtp_records)
        self.counts["check.wrong_current_closeout"] = (
            before.wrong_current_closeout + after.wrong_current_closeout
        )
        for name, mails in (("ses", ses_mails), ("smtp", smtp_mails)):
            self.counts[f"check.{name}.mails_missing"] = mails.missing
            self.counts[f"check.{name}.mails_unexpected"] = mails.unexpected
            self.counts[f"check.{name}.mails_unidentified"] = mails.unidentified
            self.counts[f"check.{name}.wrong_recipients"] = mails.wrong_recipients
            self.counts[f"mail.{name}.resent_after_lost_outcome"] = mails.resent_after_lost_outcome
        self.counts["mail.resent_after_lost_outcome"] = (
            ses_mails.resent_after_lost_outcome + smtp_mails.resent_after_lost_outcome
        )
        return {
            "drift_cents": before.drift_cents + after.drift_cents,
            "lost": len(before.lost | after.lost),
            "double_counted": before.double_counted + after.double_counted,
            "stale_last_payment_at": before.stale_last_payment_at + after.stale_last_payment_at,
            "duplicate_mails": ses_mails.duplicate_mails + smtp_mails.duplicate_mails,
            "receipts_dropped_silently": ses_mails.receipts_dropped_silently
            + smtp_mails.receipts_dropped_silently,
            "dlq_records_recovered": projector_recovered + ses_recovered + smtp_recovered,
        }

    def _rng(self, name: str) -> random.Random:
        """A random stream of its own for each part of the run (see FaultInjector.begin)."""
        return random.Random(f"{self.seed}:{name}")

    def _lap(self, name: str, since: float) -> float:
        now = time.monotonic()
        self.counts[f"ms.{name}"] = int((now - since) * 1000)
        log.info("stream faults: %s took %.1f s", name, now - since)
        return now

    def _backoff(self, seconds: float) -> None:
        """The projector's retry pause: counted, not slept (the faults are not timed)."""
        self.counts["projector.backoff_pauses"] += 1

    # --- the functions ---------------------------------------------------------------------

    def _delivery(
        self,
        name: str,
        settings: StreamSettings,
        handler: Any,
        rng: random.Random,
        shard_id: str,
        *,
        calls: Callable[[Sequence[dict[str, Any]]], int],
        outage_service: str,
        outage: tuple[int, str, float],
        crash_rate: float = 0.0,
        tracker: OutcomeTracker | None = None,
    ) -> StreamDelivery:
        """One consumer's delivery, shaken at the run's rates."""
        plan = DeliveryPlan(
            kill_rate=self.fault_rate,
            calls=calls,
            duplicate_rate=DUPLICATE_RATE,
            rewind_rate=REWIND_RATE,
            crash_rate=crash_rate,
            outage_service=outage_service,
            outage=outage,
        )
        extra = {} if tracker is None else {"tracker": tracker}
        return StreamDelivery(
            name=name,
            settings=settings,
            handler=handler,
            injector=self.injector,
            rng=rng,
            counts=self.counts,
            plan=plan,
            shard_id=shard_id,
            **extra,
        )

    def _projector(self, environment: Mapping[str, str]) -> Any:
        store = ProjectionStore(
            self.session.client("dynamodb"),
            environment["PROJECTION_TABLE_NAME"],
            sleep=self._backoff,
        )
        return load_handler(PROJECTOR_MODULE, environment, store=store).lambda_handler

    def _notifier_run(
        self,
        name: str,
        environment: Mapping[str, str],
        settings: StreamSettings,
        records: Sequence[dict[str, Any]],
        shard_id: str,
        *,
        relay: StallingRelay | None = None,
    ) -> _NotifierRun:
        tracker = OutcomeTracker()
        module = load_handler(NOTIFIER_MODULE, environment, session=self.session)
        sender = TrackedSender(
            module.sender,
            self.injector,
            counts_as_call=module.config.transport == "smtp",
            relay=relay,
        )
        module.sender = sender
        handler = module.lambda_handler
        rng = self._rng(f"notifier.{name}")
        # The mail service down once for longer than the mapping retries a record (its
        # maximum record age, or an hour when the retries are counted): the failure queue and
        # the redrive get something to do.
        age = settings.maximum_record_age_seconds
        outage_seconds = (
            3600.0 if age is None or settings.maximum_retry_attempts is not None else age + 1800.0
        )
        delivery = self._delivery(
            f"notifier.{name}",
            settings,
            handler,
            rng,
            shard_id,
            calls=_notifier_calls,
            crash_rate=CRASH_RATE,
            outage_service="sesv2" if module.config.transport == "ses" else "dynamodb",
            outage=(
                rng.randint(1, max(1, len(records) // settings.batch_size)),
                "sesv2" if module.config.transport == "ses" else "smtp",
                outage_seconds,
            ),
            tracker=tracker,
        )
        self.sink.run = name
        delivery.drain(records)
        return _NotifierRun(name, delivery, tracker, records)

    # --- recovery ---------------------------------------------------------------------------

    def _redrive(self, run: _NotifierRun, stream_arn: str, keep: RecordFilter) -> int:
        """The failure queue's records, read from the stream by sequence number and handed to
        the notifier again (faults over): how many of them went through."""
        self.sink.run = run.name
        waiting = run.delivery.latest_deadline_ms - int(time.time() * 1000)
        if waiting > 0:
            # Mails a crashed invocation left in progress unlock at its deadline; the operator
            # redrives later than that.
            time.sleep(waiting / 1000 + 0.01)
        pending: dict[str, dict[str, Any]] = {}
        for message in run.delivery.dlq:
            info = message["DDBStreamBatchInfo"]
            raw = read_range(
                self.streams,
                stream_arn,
                str(info["shardId"]),
                str(info["startSequenceNumber"]),
                str(info["endSequenceNumber"]),
            )
            for record in keep.split(lambda_record(r, stream_arn) for r in raw)[0]:
                pending.setdefault(str(record["dynamodb"]["SequenceNumber"]), record)
        run.dlq_records = len(pending)
        done: set[str] = set()
        size = run.delivery.settings.batch_size
        for _ in range(REDRIVE_PASSES):
            left = [record for sequence, record in pending.items() if sequence not in done]
            for start in range(0, len(left), size):
                batch = left[start : start + size]
                outcome = run.delivery.invoke(batch, faults=False)
                self.counts[f"recovery.{run.name}_redrive_invocations"] += 1
                settled = len(batch) if outcome.failed_from is None else outcome.failed_from
                done.update(str(r["dynamodb"]["SequenceNumber"]) for r in batch[:settled])
        return len(done)

    # --- checks -------------------------------------------------------------------------------

    def _check_projection(
        self, store: ProjectionStore, ledger: Ledger, *, dlq: set[str], recovered: bool
    ) -> _Projection:
        """The projection table against the ledger. The ledger is the one this run wrote (every
        put was a new item and the stream carried each one): moto's Query scans the whole table,
        so reading it back per event would cost more than the run."""
        found = _Projection()
        for event in ledger.events:
            state = store.projection(event.event_id)
            payments = [p for p in ledger.payments if p.event_id == event.event_id]
            voids = [v for v in ledger.voids if v.event_id == event.event_id]
            closeouts = [c for c in ledger.closeouts if c.event_id == event.event_id]
            markers = state.markers
            if recovered:
                counted_payments, counted_voids = payments, voids
            else:
                counted_payments = [p for p in payments if keys.payment_sk(p.payment_id) in markers]
                counted_voids = [v for v in voids if keys.void_sk(v.payment_id) in markers]
            expected = summarize(counted_payments, counted_voids)
            summary = state.summary
            differences = drift(expected, summary)
            found.drift_cents += sum(
                abs(value) for name, value in differences.items() if name.endswith("_cents")
            )
            found.double_counted += max(0, summary.payment_count - expected.payment_count)
            found.double_counted += max(0, summary.void_count - expected.void_count)
            sort_keys = (
                [keys.payment_sk(p.payment_id) for p in payments]
                + [keys.void_sk(v.payment_id) for v in voids]
                + [keys.closeout_sk(c.closeout_id) for c in closeouts]
            )
            newest = max(closeouts, key=lambda c: c.closed_at) if closeouts else None
            shown = summary.closeout.closeout_id if summary.closeout else None
            for sk in sort_keys:
                if sk in markers:
                    continue
                if not recovered and sk in dlq:
                    found.unapplied_in_dlq += 1
                    continue
                if recovered and sk.startswith(keys.CLOSEOUT_PREFIX) and newest is not None:
                    superseded = sk != keys.closeout_sk(newest.closeout_id)
                    if superseded and shown == newest.closeout_id:
                        continue
                found.lost.add(sk)
            if not _last_payment_fits(summary.last_payment_at, counted_payments, dlq):
                found.stale_last_payment_at += 1
            marked_closeouts = [
                c for c in closeouts if recovered or keys.closeout_sk(c.closeout_id) in markers
            ]
            # A close-out becomes current in the transaction that writes its marker.
            if marked_closeouts:
                current = max(marked_closeouts, key=lambda c: c.closed_at).closeout_id
                if shown != current:
                    found.wrong_current_closeout += 1
        return found

    def _mail_figures(
        self,
        name: str,
        records: Sequence[dict[str, Any]],
        mails: Sent,
        tracker: OutcomeTracker,
        admins: Sequence[str],
    ) -> _Mails:
        """Mails the relay received against the mails the records call for."""
        expected = _expected_mails(records, admins)
        warned = set(self.sink.receipt_warnings.get(name, ()))
        warnings = len(self.sink.receipt_warnings.get(name, ()))
        sent = Counter(key for key, _ in mails)
        found = _Mails(unidentified=sent.pop("", 0))
        found.wrong_recipients = sum(
            1 for key, to in mails if key in expected and to != expected[key].recipients
        )
        for key, count in sent.items():
            if key not in expected:
                found.unexpected += 1
            lost = tracker.lost[key]
            if count > 1 + lost:
                found.duplicate_mails += 1
            found.resent_after_lost_outcome += min(count - 1, lost)
        for key, wanted in expected.items():
            if sent[key]:
                continue
            if key.endswith("/patron") and wanted.payment_id in warned:
                continue
            found.missing += 1
            if key.endswith("/patron"):
                found.receipts_dropped_silently += 1
        # Every "receipt not sent" warning must be counted in the metric too.
        found.receipts_dropped_silently += max(
            0, warnings - self.sink.receipts_not_sent_metric[name]
        )
        self.counts[f"mail.{name}.received"] = sum(sent.values())
        self.counts[f"mail.{name}.expected"] = len(expected)
        self.counts[f"mail.{name}.receipt_warnings"] = warnings
        self.counts[f"mail.{name}.lost_outcomes"] = sum(tracker.lost.values())
        self.counts[f"check.{name}.sends_never_recorded"] = sum(tracker.unrecorded.values())
        return found


@dataclass
class _NotifierRun:
    name: str
    delivery: StreamDelivery
    tracker: OutcomeTracker
    records: Sequence[dict[str, Any]]
    dlq_records: int = 0


# --- helpers ---------------------------------------------------------------------------------


def _write(table: LedgerTable, ledger: Ledger) -> None:
    for event in ledger.events:
        table.put_event(event)
    for item in ledger.order:
        if isinstance(item, Payment):
            stored: Any = table.put_payment(item)
        elif isinstance(item, Void):
            stored = table.put_void(item)
        else:
            stored = table.put_closeout(item)
        assert stored is None, "every ledger item is new"


def _projector_calls(batch: Sequence[dict[str, Any]]) -> int:
    """A transaction and a last_payment_at update per event of the batch."""
    return 2 * len({str(r["dynamodb"]["Keys"]["pk"]["S"]) for r in batch})


def _notifier_calls(batch: Sequence[dict[str, Any]]) -> int:
    """Per mail: the idempotency record, the send, the record marked COMPLETED."""
    receipts = sum(1 for r in batch if "patron_email" in (r["dynamodb"].get("NewImage") or {}))
    return 3 * (len(batch) + receipts)


def _last_payment_fits(shown: datetime | None, payments: Sequence[Payment], dlq: set[str]) -> bool:
    """Whether `shown` is the latest received_at of `payments` (the marked ones before
    recovery, all after). Before recovery a payment in the failure queue may have been applied
    without its last_payment_at being raised (the raise follows the transaction), so there the
    time must lie between the latest of the others and the latest of all."""
    latest = max((p.received_at for p in payments), default=None)
    settled = max(
        (p.received_at for p in payments if keys.payment_sk(p.payment_id) not in dlq),
        default=None,
    )
    if _iso(shown) == _iso(latest):
        return True
    if shown is None:
        return settled is None
    if latest is None or shown > latest:
        return False
    return settled is None or shown >= settled


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_z(moment)


def _dlq_sort_keys(dlq: Sequence[dict[str, Any]], records: Sequence[dict[str, Any]]) -> set[str]:
    """The ledger sort keys of the records the failure queue messages describe."""
    by_sequence = {
        int(r["dynamodb"]["SequenceNumber"]): str(r["dynamodb"]["Keys"]["sk"]["S"]) for r in records
    }
    found: set[str] = set()
    for message in dlq:
        info = message["DDBStreamBatchInfo"]
        first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        found.update(sk for sequence, sk in by_sequence.items() if first <= sequence <= last)
    return found


@dataclass(frozen=True)
class _Expected:
    payment_id: str
    recipients: tuple[str, ...]  # sorted


Sent = list[tuple[str, tuple[str, ...]]]  # (ledger sk/audience, sorted recipients) per mail


def _expected_mails(
    records: Sequence[dict[str, Any]], admins: Sequence[str]
) -> dict[str, _Expected]:
    """(ledger sk/audience) -> who must get it, for every mail the records call for."""
    expected: dict[str, _Expected] = {}
    for record in records:
        entry = parse_record(record)
        if entry is None:
            continue
        expected[f"{entry.sort_key}/admins"] = _Expected(entry.payment_id, tuple(sorted(admins)))
        if entry.payment is not None and entry.payment.patron_email:
            expected[f"{entry.sort_key}/patron"] = _Expected(
                entry.payment_id, (entry.payment.patron_email,)
            )
    return expected


_SES_SUBJECTS = (
    ("Payment logged", keys.PAYMENT_PREFIX, "admins"),
    ("Payment voided", keys.VOID_PREFIX, "admins"),
    ("Payment received", keys.PAYMENT_PREFIX, "patron"),
    ("Closed out", keys.CLOSEOUT_PREFIX, "admins"),
)
_SES_ID = re.compile(r">(?:Payment id|Receipt number|Close-out id)</th><td>([0-9a-f-]{36})</td>")


def _ses_sent() -> Sent:
    """What moto's SES accepted: the kind and audience from the subject, the id from the body's
    id row ("" for a mail that names no ledger item), and the recipients."""
    from moto.ses.models import ses_backends

    sent: Sent = []
    for message in ses_backends[ACCOUNT_ID][REGION].sent_messages:
        found = _SES_ID.search(message.body or "")
        kind = next(
            (
                (prefix, audience)
                for start, prefix, audience in _SES_SUBJECTS
                if message.subject.startswith(start)
            ),
            None,
        )
        key = "" if found is None or kind is None else f"{kind[0]}{found.group(1)}/{kind[1]}"
        sent.append((key, tuple(sorted(message.destinations.get("ToAddresses", ())))))
    return sent


def _smtp_sent(received: Sequence[Received], records: Sequence[dict[str, Any]]) -> Sent:
    """What the relay took, by Message-ID (services.notifier.mail derives it from the mail's key: ledger
    item and audience), and the envelope's recipients."""
    digests: dict[str, str] = {}
    for record in records:
        entry = parse_record(record)
        if entry is None:
            continue
        for audience in ("admins", "patron"):
            full = f"{keys.event_pk(entry.event_id)}/{entry.sort_key}/{audience}"
            digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:32]
            digests[digest] = mail_key(full) or ""
    sent: Sent = []
    for item in received:
        digest = str(item.message.get("Message-ID", "")).strip("<>").partition("@")[0]
        sent.append((digests.get(digest, ""), tuple(sorted(item.rcpt_tos))))
    return sent


# --- the process around a run ---------------------------------------------------------------


@functools.cache
def _translated() -> dict[str, Any]:
    """template.yaml as CloudFormation (SAM's translator), once per process; callers only
    read it."""
    return translate(load_template(TEMPLATE_PATH), PARAMETERS, region=REGION)


@contextlib.contextmanager
def _environment() -> Iterator[None]:
    """Fake credentials (nothing can reach a real account) and no endpoint override."""
    saved = {name: os.environ.get(name) for name in (*_AWS_ENV, *_UNSET)}
    os.environ.update(_AWS_ENV)
    for name in _UNSET:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _quiet_relay_log() -> Iterator[None]:
    """aiosmtpd logs every connection the client gave up on (the stalls) as an error."""
    relay_log = logging.getLogger("mail.log")
    level = relay_log.level
    relay_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        relay_log.setLevel(level)


@contextlib.contextmanager
def _reused_kms_key() -> Iterator[None]:
    """The template's tables use SSE, so moto makes a KMS key with a fresh RSA key pair for
    each: the same pre-generated one serves them all (as tests/integration/conftest.py does)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from moto.kms import utils as kms_utils

    cache: dict[tuple[int, int], Any] = {}

    def cached(public_exponent: int, key_size: int) -> Any:
        if (public_exponent, key_size) not in cache:
            cache[public_exponent, key_size] = rsa.generate_private_key(public_exponent, key_size)
        return cache[public_exponent, key_size]

    with mock.patch.object(kms_utils, "rsa", SimpleNamespace(generate_private_key=cached)):
        yield


PROJECTOR_MODULE = "services.projector.handler"
NOTIFIER_MODULE = "services.notifier.handler"


def _service(logical_id: str) -> str:
    """A function's POWERTOOLS_SERVICE_NAME, as template.yaml sets it."""
    resource = _translated()["Resources"][logical_id]
    return str(resource["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"])
