"""The totals projector: summaries equal the ledger sums whatever the stream does."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from devstack.template import create_table
from services.projector.logic import project_batch
from services.projector.store import ProjectionStore
from shared.ids import new_payment_id
from shared.models import PAYMENT_METHODS, Payment, Summary, Void
from shared.projection import summarize
from shared.repository import SummaryTable, payment_item, to_ddb, void_item
from shared.stream import sequence_number
from tests import builders
from tests.handlers import load_handler
from tests.integration.support import (
    PROJECTION_LOGICAL_ID,
    PROJECTION_TABLE_NAME,
    LambdaContext,
    function_environment,
)

EVENTS = ("2026-05-23-corporate-mixer", "2026-06-14-sunset-cruise", "2026-07-04-fireworks")
NOW = datetime(2026, 5, 23, 20, 0, tzinfo=UTC)
CONTEXT = LambdaContext(
    function_name="projector",
    memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:projector",
    aws_request_id="00000000-0000-4000-8000-000000000001",
)
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/scc/stream/2026-05-23T00:00:00.000"


# --- building a ledger and its stream records ----------------------------------------------


@pytest.fixture
def make_handler(
    translated_template: dict[str, Any], stack_parameters: dict[str, str]
) -> Callable[[ProjectionStore], Any]:
    """ProjectorFunction's handler module imported with its template environment, as Lambda
    does, projecting through `store`."""
    environment = function_environment(
        translated_template,
        "ProjectorFunction",
        stack_parameters,
        physical_ids={PROJECTION_LOGICAL_ID: PROJECTION_TABLE_NAME},
    )

    def make(store: ProjectionStore) -> Any:
        return load_handler("services.projector.handler", environment, store=store).lambda_handler

    return make


def make_payment(event_id: str, cents: int, method: str, minute: int) -> Payment:
    moment = NOW + timedelta(minutes=minute)
    return builders.a_payment(
        payment_id=new_payment_id(int(moment.timestamp() * 1000)),
        event_id=event_id,
        patron_name=f"Patron {minute}",
        amount_cents=cents,
        payment_method=method,
        received_at=moment,
        timestamp=moment,
    )


def make_void(payment: Payment) -> Void:
    return builders.a_void(payment, timestamp=payment.timestamp + timedelta(minutes=1))


def stream_record(
    item: dict[str, Any],
    sequence: int,
    event_name: str = "INSERT",
    old_item: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A record exactly as Lambda delivers it from the ledger's stream (NEW_AND_OLD_IMAGES):
    an INSERT has the new image, a MODIFY both, a REMOVE only the old one."""
    image = to_ddb(item)
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": NOW.timestamp(),
        "Keys": {k: image[k] for k in ("pk", "sk") if k in image},
        "SequenceNumber": f"{sequence:021d}",
        "SizeBytes": 300,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event_name == "REMOVE":
        body["OldImage"] = image
    else:
        body["NewImage"] = image
    if event_name == "MODIFY":
        body["OldImage"] = to_ddb(old_item if old_item is not None else item)
    return {
        "eventID": f"{sequence:032x}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": STREAM_ARN,
        "dynamodb": body,
    }


def ledger_records(payments: Sequence[Payment], voids: Sequence[Void]) -> list[dict[str, Any]]:
    items = [payment_item(p) for p in payments] + [void_item(v) for v in voids]
    return [stream_record(item, n + 1) for n, item in enumerate(items)]


def batch(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


@pytest.fixture
def store(ddb: Any) -> ProjectionStore:
    return ProjectionStore(ddb, PROJECTION_TABLE_NAME, sleep=lambda _seconds: None)


def summaries(ddb: Any) -> dict[str, Summary]:
    return SummaryTable(ddb, PROJECTION_TABLE_NAME).many(EVENTS)


def expected(
    payments: Sequence[Payment], voids: Sequence[Void], events: Sequence[str] = EVENTS
) -> dict[str, Summary]:
    return {
        event_id: summarize(
            [p for p in payments if p.event_id == event_id],
            [v for v in voids if v.event_id == event_id],
        )
        for event_id in events
    }


def assert_totals_equal_ledger(
    ddb: Any, payments: Sequence[Payment], voids: Sequence[Void]
) -> None:
    actual = summaries(ddb)
    for event_id, want in expected(payments, voids).items():
        got = actual[event_id]
        assert (got.payment_count, got.void_count) == (want.payment_count, want.void_count)
        assert (got.gross_cents, got.voided_cents, got.net_cents) == (
            want.gross_cents,
            want.voided_cents,
            want.net_cents,
        ), event_id
        for method in PAYMENT_METHODS:
            assert got.by_method_cents.get(method, 0) == want.by_method_cents.get(method, 0)
        assert got.last_payment_at == want.last_payment_at


# --- behaviour -------------------------------------------------------------------------------


def test_a_batch_of_payments_and_a_void_produces_exact_totals(
    ddb: Any, make_handler: Callable[[ProjectionStore], Any]
) -> None:
    # Given two payments on one event and one on another, and a void of the first
    first = make_payment(EVENTS[0], 15010, "card", 1)
    second = make_payment(EVENTS[0], 4000, "cash", 2)
    third = make_payment(EVENTS[1], 99, "venmo", 3)
    void = make_void(first)
    handler = make_handler(ProjectionStore(ddb, PROJECTION_TABLE_NAME))
    # When the stream delivers them in one batch
    response = handler(batch(ledger_records([first, second, third], [void])), CONTEXT)
    # Then nothing failed and the summaries are exact to the cent
    assert response == {"batchItemFailures": []}
    assert_totals_equal_ledger(ddb, [first, second, third], [void])
    mixer = summaries(ddb)[EVENTS[0]]
    assert (mixer.gross_cents, mixer.voided_cents, mixer.net_cents) == (19010, 15010, 4000)
    assert mixer.by_method_cents["card"] == 0


def test_redelivering_a_batch_changes_nothing(
    ddb: Any, make_handler: Callable[[ProjectionStore], Any]
) -> None:
    payments = [make_payment(EVENTS[0], 1000 + n, "check", n) for n in range(5)]
    records = ledger_records(payments, [])
    handler = make_handler(ProjectionStore(ddb, PROJECTION_TABLE_NAME))
    handler(batch(records), CONTEXT)
    before = summaries(ddb)
    # When the same batch arrives again, twice, reversed
    handler(batch(records), CONTEXT)
    handler(batch(list(reversed(records))), CONTEXT)
    # Then the totals did not move
    assert summaries(ddb) == before
    assert_totals_equal_ledger(ddb, payments, [])


def test_one_transaction_per_event_per_99_records(ddb: Any, store: ProjectionStore) -> None:
    # Given 150 payments on one event and 3 on another in one batch
    payments = [make_payment(EVENTS[0], 100, "cash", n) for n in range(150)]
    payments += [make_payment(EVENTS[1], 100, "card", n) for n in range(3)]
    writes: list[str] = []
    ddb.meta.events.register("before-call.dynamodb.*", lambda model, **_: writes.append(model.name))
    # When they are projected
    outcome = project_batch(store, ledger_records(payments, []), NOW)
    # Then the big event took two transactions (99 + 51) and the small one took one
    assert outcome.failed == set()
    assert writes.count("TransactWriteItems") == 3
    assert outcome.transactions == 3
    assert_totals_equal_ledger(ddb, payments, [])


def test_records_that_are_not_ledger_inserts_change_no_totals(
    ddb: Any, store: ProjectionStore
) -> None:
    payment = make_payment(EVENTS[0], 500, "cash", 1)
    summary_write = stream_record(
        {"pk": f"EVENT#{EVENTS[0]}", "sk": "SUMMARY", "gross_cents": 9}, 7
    )
    marker_write = stream_record({"pk": f"EVENT#{EVENTS[0]}", "sk": "APPLIED#PAYMENT#x"}, 8)
    modify = stream_record(payment_item(payment), 9, event_name="MODIFY")
    remove = stream_record(payment_item(payment), 10, event_name="REMOVE")
    foreign = stream_record({"Id": "101", "Message": "hello"}, 11)
    foreign["dynamodb"]["Keys"] = {"Id": {"N": "101"}}
    outcome = project_batch(store, [summary_write, marker_write, modify, remove, foreign], NOW)
    assert outcome.failed == set()
    assert outcome.ignored == 3
    assert [change.event_name for change in outcome.tampered] == ["MODIFY", "REMOVE"]
    assert summaries(ddb)[EVENTS[0]] == Summary()


def metric_blobs(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF metric lines Powertools Metrics printed (CloudWatch reads them from the log)."""
    lines = capsys.readouterr().out.splitlines()
    return [json.loads(line) for line in lines if line.startswith('{"_aws"')]


def test_a_changed_or_deleted_ledger_item_is_logged_with_its_old_image_and_counted(
    ddb: Any,
    store: ProjectionStore,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    make_handler: Callable[[ProjectionStore], Any],
) -> None:
    # Given a projected payment
    handler = make_handler(store)
    payment = make_payment(EVENTS[0], 2500, "cash", 1)
    handler(batch(ledger_records([payment], [])), CONTEXT)
    capsys.readouterr()
    # When someone raises its amount and someone else deletes it (the stream shows both)
    raised = {**payment_item(payment), "amount_cents": 250000}
    modify = stream_record(raised, 20, event_name="MODIFY", old_item=payment_item(payment))
    remove = stream_record(payment_item(payment), 21, event_name="REMOVE")
    response = handler(batch([modify, remove]), CONTEXT)
    # Then the batch is not retried (a retry cannot undo a change) and the totals are untouched
    assert response == {"batchItemFailures": []}
    assert summaries(ddb)[EVENTS[0]].gross_cents == 2500
    # And each change is logged as an error with the item as it was
    reports = [
        r for r in caplog.records if r.getMessage() == "ledger item changed after it was written"
    ]
    assert [(r.levelname, getattr(r, "change", None)) for r in reports] == [
        ("ERROR", "MODIFY"),
        ("ERROR", "REMOVE"),
    ]
    assert all(getattr(r, "old_image", {})["amount_cents"] == 2500 for r in reports)
    assert getattr(reports[0], "new_image", {})["amount_cents"] == 250000
    assert getattr(reports[1], "new_image", "absent") is None  # a deletion leaves no new image
    # And the count reaches the metric the template alarms on
    (blob,) = metric_blobs(capsys)
    assert blob["LedgerTamperDetected"] == [2.0]
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "scc-payments"


def test_an_ordinary_batch_reports_zero_tampering(
    store: ProjectionStore,
    capsys: pytest.CaptureFixture[str],
    make_handler: Callable[[ProjectionStore], Any],
) -> None:
    handler = make_handler(store)
    handler(batch(ledger_records([make_payment(EVENTS[1], 700, "card", 2)], [])), CONTEXT)
    (blob,) = metric_blobs(capsys)
    assert blob["LedgerTamperDetected"] == [0.0]
    assert blob["RecordsProjected"] == [1.0]


def test_a_poison_record_is_reported_and_the_rest_are_applied(
    ddb: Any, make_handler: Callable[[ProjectionStore], Any]
) -> None:
    good = make_payment(EVENTS[0], 2500, "card", 1)
    records = ledger_records([good], [])
    poison = stream_record(
        {"pk": f"EVENT#{EVENTS[0]}", "sk": "PAYMENT#bad", "amount_cents": "x"}, 99
    )
    handler = make_handler(ProjectionStore(ddb, PROJECTION_TABLE_NAME))
    response = handler(batch([*records, poison]), CONTEXT)
    assert response == {"batchItemFailures": [{"itemIdentifier": f"{99:021d}"}]}
    assert_totals_equal_ledger(ddb, [good], [])


def _inject(ddb: Any, operation: str, code: str, times: int) -> list[int]:
    """Make the next `times` calls of `operation` fail with `code`; returns a call counter."""
    calls = [0]

    def fail(**_: Any) -> None:
        calls[0] += 1
        if calls[0] <= times:
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    ddb.meta.events.register(f"before-call.dynamodb.{operation}", fail)
    return calls


@pytest.mark.parametrize("code", ["TransactionConflict", "ThrottlingException"])
def test_conflicts_and_throttling_are_retried_to_exact_totals(
    ddb: Any, code: str, make_handler: Callable[[ProjectionStore], Any]
) -> None:
    payments = [make_payment(EVENTS[n % 2], 700 + n, "venmo", n) for n in range(6)]
    _inject(ddb, "TransactWriteItems", code, times=2)
    handler = make_handler(ProjectionStore(ddb, PROJECTION_TABLE_NAME, sleep=lambda _s: None))
    response = handler(batch(ledger_records(payments, [])), CONTEXT)
    assert response == {"batchItemFailures": []}
    assert_totals_equal_ledger(ddb, payments, [])


def test_persistent_conflicts_become_batch_item_failures_then_converge(
    ddb: Any, make_handler: Callable[[ProjectionStore], Any]
) -> None:
    # Given a batch for two events, and DynamoDB refusing every transaction for a while
    mixer = [make_payment(EVENTS[0], 1000, "cash", n) for n in range(2)]
    cruise = [make_payment(EVENTS[1], 2000, "card", 10 + n) for n in range(2)]
    records = ledger_records(mixer + cruise, [])
    store = ProjectionStore(ddb, PROJECTION_TABLE_NAME, max_attempts=3, sleep=lambda _s: None)
    handler = make_handler(store)
    _inject(ddb, "TransactWriteItems", "TransactionConflict", times=3)
    # When the first event exhausts its retries
    response = handler(batch(records), CONTEXT)
    # Then only its records are reported (the second event's transaction went through)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {r["dynamodb"]["SequenceNumber"] for r in records[:2]}
    assert summaries(ddb)[EVENTS[1]].gross_cents == 4000
    # And when Lambda retries from the first failed record, the totals become exact
    retry_from = min(failed)
    handler(batch([r for r in records if r["dynamodb"]["SequenceNumber"] >= retry_from]), CONTEXT)
    assert_totals_equal_ledger(ddb, mixer + cruise, [])


def test_a_crash_mid_batch_then_retry_gives_exact_totals(
    ddb: Any, make_handler: Callable[[ProjectionStore], Any]
) -> None:
    # Given a batch over three events where the process dies on the third transaction
    payments = [make_payment(EVENTS[n % 3], 1234 + n, "check", n) for n in range(9)]
    records = ledger_records(payments, [])
    _inject(ddb, "TransactWriteItems", "ValidationException", times=0)  # counter only

    class Crash(BaseException):
        pass

    count = [0]

    def crash_on_third(**_: Any) -> None:
        count[0] += 1
        if count[0] == 3:
            raise Crash

    ddb.meta.events.register("before-call.dynamodb.TransactWriteItems", crash_on_third)
    handler = make_handler(ProjectionStore(ddb, PROJECTION_TABLE_NAME))
    with pytest.raises(Crash):
        handler(batch(records), CONTEXT)
    # When Lambda redelivers the whole batch (nothing was checkpointed)
    response = handler(batch(records), CONTEXT)
    # Then the two events applied before the crash are not counted twice
    assert response == {"batchItemFailures": []}
    assert_totals_equal_ledger(ddb, payments, [])


# --- the redelivery property ---------------------------------------------------------------

ledger_strategy = st.lists(
    st.tuples(
        st.sampled_from(EVENTS),
        st.integers(min_value=1, max_value=10_000_000),
        st.sampled_from(PAYMENT_METHODS),
        st.booleans(),  # voided?
    ),
    min_size=1,
    max_size=15,
)


@st.composite
def deliveries(draw: st.DrawFn, count: int) -> list[list[int]]:
    """Batches as Lambda might deliver them: every record at least once, some 2-3 times, in
    any order, and batches that are cut short (a crash) and then retried from any point."""
    order = draw(st.permutations(range(count)))
    stream: list[int] = []
    for index in order:
        stream.extend([index] * draw(st.integers(min_value=1, max_value=3)))
    batches: list[list[int]] = []
    position = 0
    while position < len(stream):
        size = draw(st.integers(min_value=1, max_value=8))
        chunk = stream[position : position + size]
        if draw(st.booleans()):
            # a retry of this batch from some point, after a partial failure
            cut = draw(st.integers(min_value=0, max_value=len(chunk) - 1))
            batches.append(chunk)
            batches.append(chunk[cut:])
        else:
            batches.append(chunk)
        position += size
    return batches


@pytest.fixture(scope="module")
def property_moto(translated_template: dict[str, Any]) -> Iterator[tuple[Any, dict[str, Any]]]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1"), translated_template


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), rows=ledger_strategy)
def test_any_redelivery_schedule_converges_to_the_ledger_sums(
    property_moto: tuple[Any, dict[str, Any]],
    rows: list[tuple[str, int, str, bool]],
    data: st.DataObject,
) -> None:
    # A fresh table per example (moto's transactions slow down as a table grows).
    client, translated = property_moto
    table = f"prop-{new_payment_id()}"
    create_table(client, translated, PROJECTION_LOGICAL_ID, table)
    try:
        payments = [make_payment(e, cents, m, n) for n, (e, cents, m, _v) in enumerate(rows)]
        voids = [make_void(p) for p, row in zip(payments, rows, strict=True) if row[3]]
        records = ledger_records(payments, voids)
        store = ProjectionStore(client, table)
        for delivered in data.draw(deliveries(len(records))):
            outcome = project_batch(store, [records[i] for i in delivered], NOW)
            assert outcome.failed == set()
        actual = SummaryTable(client, table).many(EVENTS)
        for event_id, want in expected(payments, voids).items():
            assert actual[event_id] == want
    finally:
        client.delete_table(TableName=table)


class _FailingLastPaymentUpdate:
    """A DynamoDB client whose first `last_payment_at` update fails, as a crash or a throttle
    right after the summary transaction would leave it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.failures_left = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **kwargs: Any) -> Any:
        if "last_payment_at" in kwargs.get("UpdateExpression", "") and self.failures_left:
            self.failures_left -= 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem"
            )
        return self._client.update_item(**kwargs)


def test_last_payment_time_is_healed_by_the_redelivery_after_a_failure_behind_the_totals(
    ddb: Any,
) -> None:
    # Given the summary transaction succeeds but the last-payment update after it fails
    client = _FailingLastPaymentUpdate(ddb)
    store = ProjectionStore(client, PROJECTION_TABLE_NAME, sleep=lambda _s: None)
    payments = [make_payment(EVENTS[0], 1000, "cash", 1), make_payment(EVENTS[0], 500, "card", 9)]
    records = ledger_records(payments, [])
    first = project_batch(store, records, NOW)
    assert first.failed == {sequence_number(r) for r in records}
    assert summaries(ddb)[EVENTS[0]].gross_cents == 1500
    # When Lambda redelivers the batch (every record is already applied by now)
    second = project_batch(store, records, NOW)
    # Then nothing is counted twice and the last payment time is the latest payment's
    assert second.failed == set()
    assert second.already_applied == 2
    summary = summaries(ddb)[EVENTS[0]]
    assert summary.gross_cents == 1500
    assert summary.last_payment_at == payments[1].received_at
