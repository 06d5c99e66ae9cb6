"""NotifierFunction on moto: real ledger writes, the table's real stream, SES v2 on moto, the
idempotency table as template.yaml declares it, and the environment the template gives the
function.

Records are read from the stream of a PaymentsTable created from the template and written
through LedgerTable, then delivered the way Lambda delivers them (see notifier_records.py).
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from devstack.template import create_table
from services.notifier.config import NotifierConfig, load_notifier_config
from services.notifier.mail import MailSender, SesV2Sender, SpoolingSender, sender_for
from shared.config import ConfigError
from shared.repository import LedgerTable
from tests.fakes import FakeSender
from tests.handlers import load_handler
from tests.integration.notifier_records import (
    REGION,
    REPO_ROOT,
    RecordingHandler,
    SesFaults,
    StreamReader,
    a_payment,
    a_void,
    hand_made_record,
    parts,
    redelivered,
    sequence_numbers,
    ses_sent_messages,
    ses_subject,
    smtp_server,
    stream_event,
)
from tests.integration.support import LambdaContext, declared_environment

IDEMPOTENCY_LOGICAL_ID = "IdempotencyTable"
IDEMPOTENCY_TABLE = "scc-it-IdempotencyTable-TEST"
NOTIFIER_LOGICAL_ID = "NotifierFunction"
ADMINS = "admin@scc.example,bookkeeper@scc.example"
CONTEXT: Any = LambdaContext(
    function_name="scc-it-NotifierFunction",
    memory_limit_in_mb=512,
    invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:scc-it-NotifierFunction",
    aws_request_id="00000000-0000-4000-8000-000000000001",
)


# --- the environment the template gives the function ------------------------------------------


def notifier_environment(
    translated: Mapping[str, Any],
    parameters: Mapping[str, str],
    physical_ids: Mapping[str, str],
) -> dict[str, str]:
    """NotifierFunction's variables with `Ref` and `Fn::Join` resolved as CloudFormation would
    (CommaDelimitedList parameters are lists)."""
    declared = translated["Parameters"]
    variables = declared_environment(
        translated,
        translated["Resources"][NOTIFIER_LOGICAL_ID]["Properties"]["Environment"]["Variables"],
        parameters,
    )

    def resolve(value: Any) -> Any:
        if isinstance(value, str | int):
            return str(value)
        if isinstance(value, dict) and set(value) == {"Ref"}:
            name = value["Ref"]
            if name in physical_ids:
                return physical_ids[name]
            raw = parameters.get(name, declared.get(name, {}).get("Default"))
            assert raw is not None, f"no value for {name}"
            if declared.get(name, {}).get("Type") == "CommaDelimitedList":
                return [part.strip() for part in str(raw).split(",")]
            return str(raw)
        if isinstance(value, dict) and set(value) == {"Fn::Join"}:
            separator, items = value["Fn::Join"]
            resolved = resolve(items)
            listed = resolved if isinstance(resolved, list) else [resolve(i) for i in items]
            return separator.join(str(item) for item in listed)
        raise AssertionError(f"cannot resolve {value!r}")

    return {name: resolve(value) for name, value in variables.items()}


@dataclass
class Stack:
    ddb: Any
    ledger: LedgerTable
    stream: StreamReader
    environment: dict[str, str]
    ses: Any
    session: boto3.Session

    def config(self, **overrides: str) -> NotifierConfig:
        return load_notifier_config({**self.environment, **overrides})

    def module(self, sender: MailSender | None = None, **overrides: str) -> Any:
        """services.notifier.handler imported with this environment, as Lambda does, sending
        through `sender` when given (else the adapter its configuration names)."""
        replaced = {} if sender is None else {"sender": sender}
        return load_handler(
            "services.notifier.handler",
            {**self.environment, **overrides},
            session=self.session,
            **replaced,
        )

    def handler(self, sender: MailSender | None = None, **overrides: str) -> Any:
        return self.module(sender, **overrides).lambda_handler

    def new_records(self) -> list[dict[str, Any]]:
        return self.stream.new_records()

    def idempotency_items(self) -> list[dict[str, Any]]:
        return list(self.ddb.scan(TableName=IDEMPOTENCY_TABLE, ConsistentRead=True)["Items"])


@pytest.fixture
def stack(
    ddb: Any,
    translated_template: dict[str, Any],
    stack_parameters: dict[str, str],
    _boto_session: boto3.Session,
) -> Stack:
    """The conftest's moto + PaymentsTable, plus the notifier's IdempotencyTable, a verified
    SES sender, and the function's environment from the template."""
    from tests.integration.support import TABLE_NAME

    create_table(ddb, translated_template, IDEMPOTENCY_LOGICAL_ID, IDEMPOTENCY_TABLE)
    environment = notifier_environment(
        translated_template,
        {**stack_parameters, "AdminNotifyEmails": ADMINS},
        {"PaymentsTable": TABLE_NAME, IDEMPOTENCY_LOGICAL_ID: IDEMPOTENCY_TABLE},
    )
    ses = _boto_session.client("sesv2", region_name=REGION)
    ses.create_email_identity(EmailIdentity=environment["SES_SENDER_EMAIL"])
    stream_arn = ddb.describe_table(TableName=TABLE_NAME)["Table"]["LatestStreamArn"]
    streams = _boto_session.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )
    return Stack(
        ddb=ddb,
        ledger=LedgerTable(ddb, TABLE_NAME),
        stream=StreamReader(streams, stream_arn),
        environment=environment,
        ses=ses,
        session=_boto_session,
    )


def two_payments_and_a_void(stack: Stack) -> list[dict[str, Any]]:
    """John Smith pays with a patron e-mail, Grace Hopper pays, John's payment is voided."""
    john = a_payment(patron_name="John Smith", amount_cents=15000, patron_email="john@example.org")
    grace = a_payment(patron_name="Grace Hopper", amount_cents=15010, payment_method="card")
    stack.ledger.put_payment(john)
    stack.ledger.put_payment(grace)
    stack.ledger.put_void(a_void(john, reason="Entered twice"))
    records = stack.new_records()
    assert [r["dynamodb"]["Keys"]["sk"]["S"].split("#")[0] for r in records] == [
        "PAYMENT",
        "PAYMENT",
        "VOID",
    ]
    return records


# --- the happy path and redelivery ------------------------------------------------------------


def test_two_payments_and_a_void_mail_the_admins_three_times_and_the_patron_once(
    stack: Stack,
) -> None:
    # Given two payments (one with a patron e-mail) and a void on the stream
    records = two_payments_and_a_void(stack)

    # When the notifier gets the batch
    response = stack.handler()(stream_event(records), CONTEXT)

    # Then every record succeeded, the admins got three mails and the patron one receipt
    assert response == {"batchItemFailures": []}
    sent = ses_sent_messages()
    admins = [m for m in sent if m.destinations["ToAddresses"] == ADMINS.split(",")]
    receipts = [m for m in sent if m.destinations["ToAddresses"] == ["john@example.org"]]
    assert len(sent) == 4
    assert sorted(m.subject.split(":")[0] for m in admins) == [
        "Payment logged",
        "Payment logged",
        "Payment voided",
    ]
    assert {m.subject for m in admins} >= {
        "Payment logged: $150.00 from John Smith — Corporate Mixer (2026-05-23-corporate-mixer)",
        "Payment logged: $150.10 from Grace Hopper — Corporate Mixer (2026-05-23-corporate-mixer)",
        "Payment voided: $150.00 from John Smith — Corporate Mixer (2026-05-23-corporate-mixer)",
    }
    assert [m.subject for m in receipts] == ["Payment received: $150.00 — Corporate Mixer"]
    assert all(m.source == stack.environment["SES_SENDER_EMAIL"] for m in sent)


def test_redelivering_the_same_batch_sends_nothing_new(stack: Stack) -> None:
    # Given a batch that was processed
    records = two_payments_and_a_void(stack)
    handler = stack.handler()
    handler(stream_event(records), CONTEXT)
    before = len(ses_sent_messages())

    # When Lambda delivers it again, as is, and once more under other eventIDs
    again = handler(redelivered(records), CONTEXT)
    other_ids = handler(redelivered(records, new_event_ids=True), CONTEXT)

    # Then nothing new is sent and nothing fails
    assert again == other_ids == {"batchItemFailures": []}
    assert len(ses_sent_messages()) == before == 4


def test_a_cold_started_function_also_finds_the_mail_already_sent(stack: Stack) -> None:
    # Given one execution environment processed the batch
    records = two_payments_and_a_void(stack)
    stack.handler()(stream_event(records), CONTEXT)

    # When a fresh one (new config, sender and persistence layer) gets it again
    response = stack.handler()(redelivered(records, new_event_ids=True), CONTEXT)

    # Then the idempotency records in the template's table stop every mail
    assert response == {"batchItemFailures": []}
    assert len(ses_sent_messages()) == 4


def test_each_mail_leaves_an_idempotency_record_that_outlives_the_stream(stack: Stack) -> None:
    records = two_payments_and_a_void(stack)
    started = time.time()

    stack.handler()(stream_event(records), CONTEXT)

    items = stack.idempotency_items()
    assert len(items) == 4  # 3 admin mails + 1 receipt, one record each
    assert {item["status"]["S"] for item in items} == {"COMPLETED"}
    # The stream keeps records 24 h: no redelivery can come after the record expires.
    assert all(int(item["expiration"]["N"]) >= started + 24 * 3600 for item in items)
    assert all(item["id"]["S"].startswith("scc-notifier#mail#") for item in items)


# --- what the notifier must ignore --------------------------------------------------------------


def test_records_that_are_not_ledger_inserts_are_ignored(stack: Stack) -> None:
    # Given records the filter should have kept away, and one foreign table's record
    pk = "EVENT#2026-05-23-corporate-mixer"
    payment_image = {"pk": pk, "sk": "PAYMENT#x", "patron_name": "Nobody"}
    records = [
        hand_made_record("INSERT", {"pk": pk, "sk": "SUMMARY"}, {"pk": pk, "sk": "SUMMARY"}),
        hand_made_record("INSERT", {"pk": pk, "sk": "APPLIED#PAYMENT#x"}, {"pk": pk}),
        hand_made_record("INSERT", {"pk": pk, "sk": "META"}, {"pk": pk, "sk": "META"}),
        hand_made_record("MODIFY", {"pk": pk, "sk": "PAYMENT#x"}, payment_image),
        hand_made_record("REMOVE", {"pk": pk, "sk": "VOID#x"}),
        hand_made_record("INSERT", {"pk": "LOGIN#abc", "sk": "PAYMENT#x"}, payment_image),
        hand_made_record("INSERT", {"Id": 101}, {"Id": 101, "Message": "New item!"}),
    ]

    # When the notifier gets them
    response = stack.handler()(stream_event(records), CONTEXT)

    # Then none fails and no mail goes out
    assert response == {"batchItemFailures": []}
    assert ses_sent_messages() == []
    assert stack.idempotency_items() == []


def test_a_malformed_ledger_record_is_logged_and_counted_and_the_others_are_mailed(
    stack: Stack, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a PAYMENT# insert whose image cannot be read, between two good records
    records = two_payments_and_a_void(stack)
    pk = "EVENT#2026-05-23-corporate-mixer"
    poison = hand_made_record(
        "INSERT", {"pk": pk, "sk": "PAYMENT#broken"}, {"pk": pk, "sk": "PAYMENT#broken"}
    )
    batch = [records[0], poison, records[1], records[2]]
    capsys.readouterr()

    # When the notifier gets the batch
    response = stack.handler()(stream_event(batch), CONTEXT)

    # Then nothing is retried (it could never be mailed, and a retry would hold back the mail
    # behind it), the others are mailed, and the poison record is logged and counted
    assert response == {"batchItemFailures": []}
    assert len(ses_sent_messages()) == 4
    errors = [r for r in caplog.records if r.getMessage() == "unreadable ledger record"]
    assert [r.levelname for r in errors] == ["ERROR"]
    [blob] = metric_blobs(capsys)
    assert blob["LedgerRecordsUnreadable"] == [1.0]


# --- failures -------------------------------------------------------------------------------


def test_ses_throttling_fails_only_its_record_and_the_retry_sends_only_that_mail(
    stack: Stack,
) -> None:
    # Given SES throttles every mail about the 2nd record (Grace Hopper's payment)
    records = two_payments_and_a_void(stack)
    client = stack.session.client("sesv2", region_name=REGION)
    faults = SesFaults(client)
    faults.fail(
        "TooManyRequestsException",
        429,
        times=10,
        when=lambda params: "Grace Hopper" in ses_subject(params),
    )
    handler = stack.handler(SesV2Sender(client))

    # When the batch is processed
    response = handler(stream_event(records), CONTEXT)

    # Then exactly that record is a batch item failure; the others' mails went out
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence_numbers(records)[1]}]}
    assert len(ses_sent_messages()) == 3
    assert not any("Grace Hopper" in m.subject for m in ses_sent_messages())

    # When SES recovers and Lambda retries from the failed record on (as streams do)
    faults.clear()
    retry = handler(stream_event(records[1:]), CONTEXT)

    # Then only the throttled mail is sent
    assert retry == {"batchItemFailures": []}
    sent = ses_sent_messages()
    assert len(sent) == 4
    assert "Grace Hopper" in sent[-1].subject


def test_a_failed_receipt_is_retried_without_mailing_the_admins_again(stack: Stack) -> None:
    # Given the relay takes the admins' mail but throttles the patron's receipt
    stack.ledger.put_payment(a_payment(patron_email="john@example.org"))
    records = stack.new_records()
    fake = FakeSender()
    fake.fail_next(1, "retryable", when=lambda message: message.to == ("john@example.org",))
    handler = stack.handler(fake)

    # When the record is processed and then retried
    first = handler(stream_event(records), CONTEXT)
    second = handler(redelivered(records), CONTEXT)

    # Then the record failed once, and in the end each audience got exactly one mail
    assert first == {"batchItemFailures": [{"itemIdentifier": sequence_numbers(records)[0]}]}
    assert second == {"batchItemFailures": []}
    assert [m.to for m in fake.sent] == [
        tuple(ADMINS.split(",")),
        ("john@example.org",),
    ]


def test_a_permanent_rejection_is_a_failure_and_is_logged(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the relay rejects the first mail for good
    records = two_payments_and_a_void(stack)
    fake = FakeSender()
    fake.fail_next(1, "permanent")

    # When the batch is processed
    response = stack.handler(fake)(stream_event(records), CONTEXT)

    # Then that record is reported (retried, then the on-failure queue), the rest went out,
    # and the log says which mail failed and why, without the recipients' addresses
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence_numbers(records)[0]}]}
    assert len(fake.sent) == 3
    [failure] = [r for r in caplog.records if r.getMessage() == "mail not sent"]
    assert failure.levelname == "ERROR"
    assert failure.__dict__["error"] == "PermanentMailError"
    assert failure.__dict__["audience"] == "admins"
    assert "admin@scc.example" not in str(failure.__dict__)


# --- receipts that cannot be sent ----------------------------------------------------------------


def metric_blobs(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF metric lines Powertools Metrics printed (CloudWatch reads them from the log)."""
    lines = capsys.readouterr().out.splitlines()
    return [json.loads(line) for line in lines if line.startswith('{"_aws"')]


def receipts_not_sent(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "receipt not sent"]


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("josé@example.com", "j***@example.com"),
        ("a@x..com", "a***@x..com"),
        ("a@-x.com", "a***@-x.com"),
        ("john@example.org.", "j***@example.org."),
    ],
)
def test_a_ledger_item_with_an_address_the_rule_refuses_is_logged_and_counted_not_skipped(
    stack: Stack,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    address: str,
    masked: str,
) -> None:
    # Given a payment in the ledger whose patron address the e-mail rule refuses (written
    # before the API used the rule)
    payment = a_payment(patron_email=address)
    stack.ledger.put_payment(payment)
    records = stack.new_records()
    capsys.readouterr()

    # When the notifier gets its record
    response = stack.handler()(stream_event(records), CONTEXT)

    # Then the admins are mailed and the record succeeds (a retry cannot fix the address)
    assert response == {"batchItemFailures": []}
    assert [m.destinations["ToAddresses"] for m in ses_sent_messages()] == [ADMINS.split(",")]
    # And the missing receipt is a warning with the payment id, the reason, the masked address
    [warning] = receipts_not_sent(caplog)
    assert warning.levelname == "WARNING"
    assert warning.__dict__["payment_id"] == payment.payment_id
    assert warning.__dict__["recipient"] == masked
    assert warning.__dict__["reason"].startswith("must ")
    assert address not in str(warning.__dict__)
    # And it is counted in the metric, in the template's namespace
    [blob] = metric_blobs(capsys)
    assert blob["ReceiptsNotSent"] == [1.0]
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == stack.environment["POWERTOOLS_METRICS_NAMESPACE"]
    assert {"Name": "ReceiptsNotSent", "Unit": "Count"} in directive["Metrics"]


def test_a_receipt_the_relay_refuses_for_good_is_logged_and_counted_and_not_retried(
    stack: Stack, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given the relay takes the admins' mail but refuses the patron's receipt for good
    payment = a_payment(patron_email="john@example.org")
    stack.ledger.put_payment(payment)
    records = stack.new_records()
    fake = FakeSender()
    fake.fail_next(1, "permanent", when=lambda message: message.to == ("john@example.org",))
    capsys.readouterr()

    # When the record is processed
    response = stack.handler(fake)(stream_event(records), CONTEXT)

    # Then the record is done (a retry cannot change a final refusal), the admins' mail went
    # out, and the receipt is logged (masked) and counted
    assert response == {"batchItemFailures": []}
    assert [m.to for m in fake.sent] == [tuple(ADMINS.split(","))]
    [warning] = receipts_not_sent(caplog)
    assert warning.__dict__["payment_id"] == payment.payment_id
    assert warning.__dict__["recipient"] == "j***@example.org"
    assert warning.__dict__["error"] == "PermanentMailError"
    assert warning.__dict__["reason"] == "fake: rejected"
    assert "john@example.org" not in str(warning.__dict__)
    [blob] = metric_blobs(capsys)
    assert blob["ReceiptsNotSent"] == [1.0]


def test_a_relay_refusal_quoting_the_recipient_is_logged_with_the_address_masked(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # Given SES refuses the receipt with a message that quotes the recipient (as its sandbox does)
    stack.ledger.put_payment(a_payment(patron_email="john@example.org"))
    records = stack.new_records()
    client = stack.session.client("sesv2", region_name=REGION)
    SesFaults(client).fail(
        "MessageRejected",
        400,
        when=lambda params: params["Destination"]["ToAddresses"] == ["john@example.org"],
        message=(
            "Email address is not verified. The following identities failed the check in "
            "region US-EAST-1: john@example.org"
        ),
    )

    # When the record is processed
    stack.handler(SesV2Sender(client))(stream_event(records), CONTEXT)

    # Then the warning carries SES's reason, but never the address in clear
    [warning] = receipts_not_sent(caplog)
    assert warning.__dict__["reason"] == (
        "SES MessageRejected: Email address is not verified. The following identities failed "
        "the check in region US-EAST-1: j***@example.org"
    )
    assert "john@example.org" not in str(warning.__dict__)


def test_a_batch_whose_receipts_all_went_out_counts_zero(
    stack: Stack, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    records = two_payments_and_a_void(stack)
    capsys.readouterr()

    stack.handler()(stream_event(records), CONTEXT)

    assert receipts_not_sent(caplog) == []
    [blob] = metric_blobs(capsys)
    assert blob["ReceiptsNotSent"] == [0.0]


# --- SMTP and the local stack's spool ---------------------------------------------------------


def test_smtp_transport_delivers_multipart_mail_with_escaped_html(stack: Stack) -> None:
    # Given the SMTP transport pointed at a local relay, and a payment with hostile text
    payment = a_payment(
        patron_name="<script>alert(1)</script>",
        notes='<img src=x onerror="alert(2)"> & more',
        amount_cents=15010,
    )
    stack.ledger.put_payment(payment)
    records = stack.new_records()

    with smtp_server(RecordingHandler()) as (controller, relay):
        handler = stack.handler(
            EMAIL_TRANSPORT="smtp",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(controller.port),
            SMTP_SECURITY="none",
            SMTP_TIMEOUT_SECONDS="5",
        )

        # When the notifier processes the record
        response = handler(stream_event(records), CONTEXT)

    # Then the relay received one multipart/alternative mail for the admins
    assert response == {"batchItemFailures": []}
    [received] = relay.received
    assert sorted(received.rcpt_tos) == sorted(ADMINS.split(","))
    assert received.mail_from == stack.environment["SES_SENDER_EMAIL"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    bodies = parts(message)
    assert set(bodies) == {"text/plain", "text/html"}
    assert "<script>alert(1)</script>" in bodies["text/plain"]
    assert "150.10" in bodies["text/plain"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in bodies["text/html"]
    assert "<script>" not in bodies["text/html"]
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt; &amp; more" in bodies["text/html"]
    assert message["Subject"].startswith("Payment logged: $150.10 from <script>alert(1)</script>")
    assert ses_sent_messages() == []


def test_with_mail_dir_set_every_sent_mail_is_also_kept_as_eml(
    stack: Stack, tmp_path: Path
) -> None:
    # Given the local stack's setting
    records = two_payments_and_a_void(stack)
    module = stack.module(MAIL_DIR=str(tmp_path / "mail"))
    assert isinstance(module.sender, SpoolingSender)

    # When the batch is processed
    module.lambda_handler(stream_event(records), CONTEXT)

    # Then SES got the four mails and the spool holds the same four, one file each
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == len(ses_sent_messages()) == 4
    assert not list((tmp_path / "mail").glob(".*"))  # no temporary files left behind
    import email
    from email.policy import default

    subjects = sorted(
        str(email.message_from_bytes(f.read_bytes(), policy=default)["Subject"]) for f in files
    )
    assert subjects == sorted(m.subject for m in ses_sent_messages())


# --- cold start ---------------------------------------------------------------------------------


@pytest.fixture
def cold_start(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Imports services.notifier.handler afresh with a given environment, as Lambda does."""
    module_name = "services.notifier.handler"

    def start(environment: Mapping[str, str | None]) -> Any:
        for name, value in environment.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        sys.modules.pop(module_name, None)
        return importlib.import_module(module_name)

    yield start
    sys.modules.pop(module_name, None)


def test_the_handler_module_cold_starts_with_the_template_environment(
    stack: Stack, cold_start: Any
) -> None:
    records = two_payments_and_a_void(stack)

    module = cold_start(stack.environment)

    assert module.lambda_handler(stream_event(records), CONTEXT) == {"batchItemFailures": []}
    assert len(ses_sent_messages()) == 4


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"SES_SENDER_EMAIL": None}, "SES_SENDER_EMAIL"),
        ({"ADMIN_NOTIFY_EMAILS": "not-an-address"}, "ADMIN_NOTIFY_EMAILS"),
        ({"ADMIN_NOTIFY_EMAILS": "admin@scc.example,not-an-address"}, "ADMIN_NOTIFY_EMAILS"),
        ({"IDEMPOTENCY_TABLE_NAME": None}, "IDEMPOTENCY_TABLE_NAME"),
        ({"EMAIL_TRANSPORT": "pigeon"}, "EMAIL_TRANSPORT"),
    ],
)
def test_a_bad_configuration_fails_at_cold_start_naming_the_variable(
    stack: Stack, cold_start: Any, changes: dict[str, str | None], variable: str
) -> None:
    with pytest.raises(ConfigError) as failure:
        cold_start({**stack.environment, **changes})

    message = str(failure.value)
    assert variable in message
    assert "not-an-address" not in message  # the value is never echoed


def test_the_template_defaults_pick_ses(stack: Stack) -> None:
    config = stack.config()

    assert config.transport == "ses"
    assert config.admin_recipients == tuple(ADMINS.split(","))
    assert isinstance(sender_for(config, session=stack.session), SesV2Sender)


# --- the sample event ---------------------------------------------------------------------------


def test_the_sample_event_for_sam_local_invoke_is_one_the_function_accepts(stack: Stack) -> None:
    # Given events_schema/samples/notifier-stream.json (`sam local invoke NotifierFunction -e`)
    sample = json.loads((REPO_ROOT / "events_schema/samples/notifier-stream.json").read_text())

    # When the function gets it
    response = stack.handler()(sample, CONTEXT)

    # Then it is read as a payment with a patron address and its void: three mails
    assert response == {"batchItemFailures": []}
    subjects = sorted(m.subject for m in ses_sent_messages())
    assert subjects == [
        "Payment logged: $150.00 from John Smith — Corporate Mixer (2026-05-23-corporate-mixer)",
        "Payment received: $150.00 — Corporate Mixer",
        "Payment voided: $150.00 from John Smith — Corporate Mixer (2026-05-23-corporate-mixer)",
    ]
