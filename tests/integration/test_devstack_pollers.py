"""devstack.pollers against a real (in-process) moto server: a table with a stream, an SQS
on-failure queue, and a scripted fake function in place of the worker processes.

What Lambda's stream event source mapping would do is checked from the outside: which records
reach the function, in which batches, how often, and what lands in the failure queue.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from devstack.pollers import (
    PollerGroup,
    StreamPoller,
    StreamSettings,
    moto_iterator_janitor,
    start_pollers,
)
from devstack.runner import InvokeResult
from devstack.stack import quiet_moto, verify_mail_senders
from devstack.template import StackInfo, deploy, load_template

REGION = "us-east-1"
ACCOUNT = "123456789012"
TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
LEDGER_PATTERN = (
    '{"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": '
    '[{"prefix": "PAYMENT#"}, {"prefix": "VOID#"}]}}}}'
)
WAIT_SECONDS = 10.0

Batch = list[dict[str, Any]]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    quiet_moto()  # one werkzeug line per poll would drown a failure's captured log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture(scope="module")
def clients(moto_endpoint: str) -> dict[str, Any]:
    config = Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 1})
    return {
        name: session().client(name, endpoint_url=moto_endpoint, config=config)
        for name in ("dynamodb", "dynamodbstreams", "sqs")
    }


class Ledger:
    """A fresh table with a NEW_IMAGE stream and an SQS failure queue, for one test."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self.clients = clients
        self.table = f"ledger-{uuid.uuid4().hex[:8]}"
        created = clients["dynamodb"].create_table(
            TableName=self.table,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        self.stream_arn: str = created["TableDescription"]["LatestStreamArn"]
        queue_name = f"failures-{uuid.uuid4().hex[:8]}"
        self.queue_url: str = clients["sqs"].create_queue(QueueName=queue_name)["QueueUrl"]
        self.queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
        self.pollers: list[StreamPoller] = []

    def put(self, sk: str, **attributes: str) -> None:
        item = {"pk": {"S": "EVENT#e1"}, "sk": {"S": sk}}
        item.update({k: {"S": v} for k, v in attributes.items()})
        self.clients["dynamodb"].put_item(TableName=self.table, Item=item)

    def payments(self, *numbers: int) -> None:
        for n in numbers:
            self.put(f"PAYMENT#{n:04d}")

    def settings(self, **overrides: Any) -> StreamSettings:
        base = StreamSettings(
            function_logical_id="Consumer",
            function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:local-Consumer",
            stream_arn=self.stream_arn,
            batch_size=10,
            filter_patterns=(LEDGER_PATTERN,),
            on_failure_destination=self.queue_arn,
            report_batch_item_failures=True,
        )
        return replace(base, **overrides)

    def poll(self, function: FakeFunction, **overrides: Any) -> StreamPoller:
        poller = StreamPoller(
            self.settings(**overrides),
            function,
            self.clients["dynamodbstreams"],
            self.clients["sqs"],
            poll_interval=0.05,
            retry_base=0.0,
            forget_iterator=moto_iterator_janitor(ACCOUNT, REGION),
        )
        self.pollers.append(poller)
        poller.start()
        return poller

    def failure_messages(self) -> list[dict[str, Any]]:
        reply = self.clients["sqs"].receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        return [json.loads(m["Body"]) for m in reply.get("Messages", [])]

    def wait_for_failure_message(self) -> list[dict[str, Any]]:
        """The failure queue's messages, once there is at least one."""
        messages: list[dict[str, Any]] = []

        def arrived() -> bool:
            messages.extend(self.failure_messages())
            return bool(messages)

        eventually(arrived, "a message in the failure queue")
        return messages

    def stop(self) -> None:
        PollerGroup(self.pollers).stop(timeout=5)


@pytest.fixture
def ledger(clients: dict[str, Any]) -> Iterator[Ledger]:
    ledger = Ledger(clients)
    try:
        yield ledger
    finally:
        ledger.stop()


class FakeFunction:
    """Stands in for the function runner: records every batch, answers with `behaviour`."""

    def __init__(self, behaviour: Callable[[Batch], InvokeResult] | None = None) -> None:
        self.behaviour = behaviour or (lambda _batch: InvokeResult(ok=True))
        self.batches: list[Batch] = []
        self.functions: list[str] = []
        self._lock = threading.Lock()

    def invoke(self, logical_id: str, event: Any, *, request_id: str | None = None) -> InvokeResult:
        records = event["Records"]
        with self._lock:
            self.batches.append(records)
            self.functions.append(logical_id)
        return self.behaviour(records)

    def sort_keys(self) -> list[list[str]]:
        with self._lock:
            return [[r["dynamodb"]["Keys"]["sk"]["S"] for r in b] for b in self.batches]

    def delivered(self) -> list[str]:
        return [sk for batch in self.sort_keys() for sk in batch]


def sk_of(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["sk"]["S"])


def sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def eventually(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def report_failed(*sort_keys: str) -> Callable[[Batch], InvokeResult]:
    """Like Powertools' BatchProcessor: the named records fail, by sequence number."""

    def behaviour(batch: Batch) -> InvokeResult:
        failures = [{"itemIdentifier": sequence(r)} for r in batch if sk_of(r) in sort_keys]
        return InvokeResult(ok=True, payload={"batchItemFailures": failures})

    return behaviour


# --- filtering and the record shape -------------------------------------------------------------


def test_records_no_filter_matches_never_reach_the_function(ledger: Ledger) -> None:
    function = FakeFunction()
    poller = ledger.poll(function)

    ledger.put("SUMMARY", total="1")  # a projection write
    ledger.put("META", name="Mixer")  # an event
    ledger.payments(1)
    ledger.put("PAYMENT#0001", note="changed")  # a MODIFY of a ledger item
    ledger.put("VOID#0001")

    eventually(lambda: len(function.delivered()) == 2, "two ledger inserts")
    eventually(lambda: poller.records_filtered_out == 3, "three filtered records")
    assert function.delivered() == ["PAYMENT#0001", "VOID#0001"]
    assert all(r["eventName"] == "INSERT" for b in function.batches for r in b)


def test_delivered_records_have_lambdas_shape(ledger: Ledger) -> None:
    function = FakeFunction()
    ledger.poll(function)

    ledger.payments(1)

    eventually(lambda: bool(function.batches), "a batch")
    delivered = function.batches[0][0]
    assert delivered["eventSourceARN"] == ledger.stream_arn
    assert isinstance(delivered["dynamodb"]["ApproximateCreationDateTime"], int)
    assert abs(delivered["dynamodb"]["ApproximateCreationDateTime"] - time.time()) < 60
    assert delivered["dynamodb"]["NewImage"]["sk"] == {"S": "PAYMENT#0001"}
    assert {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion"} <= set(delivered)
    assert function.functions == ["Consumer"]


# --- batching ---------------------------------------------------------------------------------------


def test_batch_size_is_respected(ledger: Ledger) -> None:
    ledger.payments(*range(1, 8))  # written before the poller starts: all read in one go
    function = FakeFunction()

    ledger.poll(function, batch_size=3)

    eventually(lambda: len(function.delivered()) == 7, "seven records")
    assert [len(b) for b in function.batches] == [3, 3, 1]
    assert function.delivered() == [f"PAYMENT#{n:04d}" for n in range(1, 8)]


def test_the_batching_window_gathers_records_written_apart(ledger: Ledger) -> None:
    function = FakeFunction()
    ledger.poll(function, batch_size=100, batching_window_seconds=1.0)

    ledger.payments(1)
    time.sleep(0.3)
    ledger.payments(2, 3)

    eventually(lambda: len(function.delivered()) == 3, "three records")
    assert [len(b) for b in function.batches] == [3]


# --- failures ---------------------------------------------------------------------------------------


def test_a_reported_item_failure_is_redelivered_from_that_record_only(ledger: Ledger) -> None:
    ledger.payments(1, 2, 3, 4, 5)
    failed_once: list[bool] = []

    def fail_third_once(batch: Batch) -> InvokeResult:
        if not failed_once:
            failed_once.append(True)
            return report_failed("PAYMENT#0003")(batch)
        return InvokeResult(ok=True, payload={"batchItemFailures": []})

    function = FakeFunction(fail_third_once)
    ledger.poll(function)

    eventually(lambda: len(function.batches) == 2, "the redelivery")
    time.sleep(0.2)  # nothing else follows
    assert function.sort_keys() == [
        ["PAYMENT#0001", "PAYMENT#0002", "PAYMENT#0003", "PAYMENT#0004", "PAYMENT#0005"],
        ["PAYMENT#0003", "PAYMENT#0004", "PAYMENT#0005"],
    ]
    assert ledger.failure_messages() == []


def test_a_poison_record_ends_as_one_failure_message_and_the_poller_moves_on(
    ledger: Ledger,
) -> None:
    ledger.payments(1, 2, 3, 4)
    function = FakeFunction(report_failed("PAYMENT#0002"))
    poller = ledger.poll(function, bisect_batch_on_function_error=True, maximum_retry_attempts=2)

    messages = ledger.wait_for_failure_message()
    ledger.payments(5)
    eventually(lambda: "PAYMENT#0005" in function.delivered(), "the next record")

    assert len(messages) + len(ledger.failure_messages()) == 1
    message = messages[0]
    poison = next(r for b in function.batches for r in b if sk_of(r) == "PAYMENT#0002")
    info = message["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequence(poison)
    assert info["batchSize"] == 1
    assert info["streamArn"] == ledger.stream_arn
    assert info["shardId"].startswith("shardId-")
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["functionArn"] == ledger.settings().function_arn
    # Every invocation since the checkpoint reached it counts, the bisecting ones included.
    assert message["requestContext"]["approximateInvokeCount"] >= 3
    assert message["version"] == "1.0"
    # Alone, the poison record was sent once and retried MaximumRetryAttempts (2) times.
    assert function.sort_keys().count(["PAYMENT#0002"]) == 3
    # Every other record got through; none was given up on.
    delivered = function.delivered()
    assert {"PAYMENT#0001", "PAYMENT#0003", "PAYMENT#0004", "PAYMENT#0005"} <= set(delivered)
    assert poller.batches_discarded == 1


def test_an_invocation_error_with_bisect_splits_the_batch(ledger: Ledger) -> None:
    ledger.payments(1, 2, 3, 4, 5)

    def crash_on_big_batches(batch: Batch) -> InvokeResult:
        if len(batch) > 2:
            return InvokeResult(ok=False, error={"errorType": "MemoryError", "errorMessage": ""})
        return InvokeResult(ok=True)

    function = FakeFunction(crash_on_big_batches)
    ledger.poll(function, bisect_batch_on_function_error=True, maximum_retry_attempts=0)

    eventually(lambda: len(function.batches) == 5, "the bisected batches")
    time.sleep(0.2)
    assert [len(b) for b in function.batches] == [5, 3, 2, 1, 2]
    succeeded = [sk for b in function.sort_keys() if len(b) <= 2 for sk in b]
    assert succeeded == [f"PAYMENT#{n:04d}" for n in range(1, 6)]
    assert ledger.failure_messages() == []


def test_without_bisect_an_invocation_error_gives_up_on_the_whole_batch(ledger: Ledger) -> None:
    ledger.payments(1, 2, 3)
    function = FakeFunction(lambda _b: InvokeResult(ok=False, error={"errorType": "Boom"}))
    ledger.poll(function, maximum_retry_attempts=1)

    messages = ledger.wait_for_failure_message()

    assert [len(b) for b in function.batches] == [3, 3]
    assert messages[0]["DDBStreamBatchInfo"]["batchSize"] == 3
    assert messages[0]["responseContext"]["functionError"] == "Unhandled"


# --- several consumers, iterators, stopping --------------------------------------------------------


def test_two_consumers_read_one_shard_independently(ledger: Ledger) -> None:
    slow, fast = FakeFunction(report_failed("PAYMENT#0001")), FakeFunction()
    ledger.poll(slow, maximum_retry_attempts=0)
    ledger.poll(fast, batch_size=1)

    ledger.payments(1, 2)

    eventually(lambda: len(fast.delivered()) == 2, "the second consumer")
    eventually(lambda: bool(ledger.failure_messages()), "the first consumer's give-up")
    assert fast.sort_keys() == [["PAYMENT#0001"], ["PAYMENT#0002"]]


def test_used_shard_iterators_do_not_pile_up_in_moto(ledger: Ledger) -> None:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    iterators = dynamodbstreams_backends[ACCOUNT][REGION].shard_iterators
    ledger.poll(FakeFunction())
    time.sleep(0.2)
    before = len(iterators)

    time.sleep(0.5)  # ten more polls at 0.05 s

    assert len(iterators) <= before + 1


def test_pollers_stop_promptly(ledger: Ledger) -> None:
    poller = ledger.poll(FakeFunction())
    time.sleep(0.1)

    started = time.monotonic()
    PollerGroup([poller]).stop(timeout=5)

    assert time.monotonic() - started < 1.0
    assert poller.join(0)


# --- the template's own mappings --------------------------------------------------------------------


def stream_consumers_in_template() -> set[str]:
    resources = load_template(TEMPLATE_PATH)["Resources"]
    return {
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::Function"
        and any(
            event.get("Type") == "DynamoDB"
            for event in (resource.get("Properties", {}).get("Events") or {}).values()
        )
    }


@pytest.fixture(scope="module")
def deployed(moto_endpoint: str) -> StackInfo:
    """template.yaml deployed into this module's moto server, as `make dev` does."""
    parameters = {
        "AdminEmail": "admin@scc.example",
        "AllowedOrigin": "http://127.0.0.1:8123",
    }
    return deploy(session(), moto_endpoint, TEMPLATE_PATH, parameters, stack_name="pollers-it")


def test_every_stream_consumer_of_the_template_gets_a_poller_with_its_filter(
    deployed: StackInfo, clients: dict[str, Any]
) -> None:
    function = FakeFunction()
    group = start_pollers(
        deployed,
        function,
        streams=clients["dynamodbstreams"],
        sqs=clients["sqs"],
        poll_interval=0.05,
    )
    try:
        expected = stream_consumers_in_template()
        assert expected, "template.yaml declares no DynamoDB stream consumer"
        assert {p.name for p in group} == expected
        table = deployed.tables["PaymentsTable"]
        item = {"pk": {"S": "EVENT#e1"}, "sk": {"S": "SUMMARY"}}
        clients["dynamodb"].put_item(TableName=table, Item=item)
        clients["dynamodb"].put_item(TableName=table, Item={**item, "sk": {"S": "PAYMENT#1"}})

        eventually(lambda: set(function.functions) == expected, "every consumer")
        time.sleep(0.2)
        assert sorted(function.functions) == sorted(expected)  # one batch each
        assert all(sk_of(b[0]) == "PAYMENT#1" and len(b) == 1 for b in function.batches)
    finally:
        group.stop()


def test_the_configured_mail_sender_is_verified_in_motos_ses(
    deployed: StackInfo, moto_endpoint: str
) -> None:
    senders = {
        f.environment["SES_SENDER_EMAIL"]
        for f in deployed.functions.values()
        if f.environment.get("SES_SENDER_EMAIL")
    }

    verified = verify_mail_senders(deployed, moto_endpoint)

    assert set(verified) == senders
    sesv2 = session().client("sesv2", endpoint_url=moto_endpoint)
    identities = {i["IdentityName"] for i in sesv2.list_email_identities()["EmailIdentities"]}
    assert senders <= identities
