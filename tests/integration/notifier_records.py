"""Test support for the notifier: Lambda-shaped DynamoDB stream records, and places mail lands.

Ledger records are real: the tests write payments and voids through `LedgerTable` into a moto
table built from template.yaml and read the table's stream back, then give each record the
shape Lambda hands a function (epoch-seconds ApproximateCreationDateTime, eventSourceARN).
Records the notifier must ignore (SUMMARY, APPLIED#..., MODIFY, foreign tables) are built by
hand with the same shape.

Mail lands in moto's SES backend (read back in-process) or in an in-process aiosmtpd server.
"""

from __future__ import annotations

import copy
import email
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.awsrequest import AWSResponse

from shared.models import Payment, Void
from shared.validators import is_email_address
from tests import builders
from tests.builders import EVENT_ID

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
# Template parameters without defaults (values only need to satisfy the template's checks).
TEMPLATE_PARAMETERS = {
    "AdminEmail": "admin@scc.example",
}

_serializer = TypeSerializer()


# --- ledger entries --------------------------------------------------------------------------


def a_payment(event_id: str = EVENT_ID, **changes: Any) -> Payment:
    return builders.a_payment(event_id=event_id, **changes)


def a_void(payment: Payment, reason: str = "Entered twice") -> Void:
    return builders.a_void(payment, reason=reason)


# --- stream records --------------------------------------------------------------------------


def to_lambda_record(boto_record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A `dynamodbstreams.get_records` record as the Lambda service delivers it."""
    record = copy.deepcopy(dict(boto_record))
    body = record["dynamodb"]
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        body["ApproximateCreationDateTime"] = int(created.timestamp())
    record["eventSourceARN"] = stream_arn
    record["eventVersion"] = "1.1"  # moto says 1.0; Lambda delivers 1.1
    record.setdefault("eventSource", "aws:dynamodb")
    record.setdefault("awsRegion", REGION)
    return record


class StreamReader:
    """Reads a table's stream from TRIM_HORIZON; each call returns only records not seen yet."""

    def __init__(self, streams_client: Any, stream_arn: str) -> None:
        self._client = streams_client
        self.stream_arn = stream_arn
        self._iterators: dict[str, str] = {}

    def new_records(self) -> list[dict[str, Any]]:
        shards = self._client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"][
            "Shards"
        ]
        records: list[dict[str, Any]] = []
        for shard in shards:
            shard_id = shard["ShardId"]
            iterator = (
                self._iterators.get(shard_id)
                or self._client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            page = self._client.get_records(ShardIterator=iterator)
            records.extend(to_lambda_record(r, self.stream_arn) for r in page["Records"])
            self._iterators[shard_id] = page["NextShardIterator"]
        return records


_sequence = iter(range(900_000_000_000_000_000_000, 10**22))


def hand_made_record(
    event_name: str,
    item_keys: Mapping[str, Any],
    new_image: Mapping[str, Any] | None = None,
    *,
    stream_arn: str = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/other/stream/2026-05-23T00:00:00.000",
) -> dict[str, Any]:
    """A record shaped like Lambda's, for items the tests do not write through LedgerTable."""
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": int(datetime.now(UTC).timestamp()),
        "Keys": {name: _serializer.serialize(value) for name, value in item_keys.items()},
        "SequenceNumber": str(next(_sequence)),
        "SizeBytes": 128,
        "StreamViewType": "NEW_IMAGE",
    }
    if new_image is not None:
        body["NewImage"] = {k: _serializer.serialize(v) for k, v in new_image.items()}
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
        "dynamodb": body,
    }


def redelivered(records: list[dict[str, Any]], *, new_event_ids: bool = False) -> dict[str, Any]:
    """The same records again (as Lambda retries them), optionally under other eventIDs."""
    copies = copy.deepcopy(records)
    if new_event_ids:
        for record in copies:
            record["eventID"] = uuid.uuid4().hex
    return stream_event(copies)


def stream_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": copy.deepcopy(records)}


def sequence_numbers(records: list[dict[str, Any]]) -> list[str]:
    return [str(r["dynamodb"]["SequenceNumber"]) for r in records]


# --- SES on moto -----------------------------------------------------------------------------


def ses_sent_messages(region: str = REGION) -> list[Any]:
    """What moto's SES accepted (SES v2 shares the v1 backend): source, destinations, subject,
    body (HTML only, when a mail has both parts)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages)


class _EmptyBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b"{}"


@dataclass
class SesFaults:
    """Hooks on one `sesv2` client: records the SendEmail requests that succeeded, and answers
    chosen ones with an SES error instead of calling moto (the way botocore's Stubber answers),
    so the SDK raises exactly what it raises for a real SES error."""

    client: Any
    accepted: list[dict[str, Any]] = field(default_factory=list)
    _faults: list[tuple[str, int, Callable[[Mapping[str, Any]], bool], str]] = field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        events = self.client.meta.events
        events.register("provide-client-params.sesv2.SendEmail", self._remember)
        events.register("after-call.sesv2.SendEmail", self._after)
        events.register_first("before-call.sesv2.SendEmail", self._answer)

    def fail(
        self,
        code: str,
        status: int,
        *,
        times: int = 1,
        when: Callable[[Mapping[str, Any]], bool] = lambda _params: True,
        message: str | None = None,
    ) -> None:
        self._faults.extend([(code, status, when, message or f"injected {code}")] * times)

    def clear(self) -> None:
        self._faults.clear()

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["ses_faults_params"] = copy.deepcopy(params)

    def _answer(self, context: dict[str, Any], **_: Any) -> Any:
        params = context.get("ses_faults_params", {})
        for index, (code, status, when, message) in enumerate(self._faults):
            if when(params):
                del self._faults[index]
                headers: Any = {}
                http = AWSResponse("https://email.amazonaws.com/", status, headers, _EmptyBody())
                parsed = {
                    "Error": {"Code": code, "Message": message},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                }
                return http, parsed
        return None

    def _after(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code == 200:
            self.accepted.append(context["ses_faults_params"])


def ses_subject(params: Mapping[str, Any]) -> str:
    return str(params["Content"]["Simple"]["Subject"]["Data"])


# --- SMTP in-process ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class RecordingHandler:
    """aiosmtpd handler: keeps what arrives; can refuse senders/recipients and fail on demand."""

    allowed_senders: set[str] | None = None
    received: list[Received] = field(default_factory=list)
    fail_data_with: list[str] = field(default_factory=list)
    fail_rcpt_with: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.allowed_senders is not None and address not in self.allowed_senders:
            return "553 5.7.1 Sender address rejected: not owned by user"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self._lock:
            if self.fail_rcpt_with:
                return self.fail_rcpt_with.pop(0)
        if not is_email_address(address):
            return "550 5.1.1 Recipient address rejected: malformed"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.fail_data_with:
                return self.fail_data_with.pop(0)
            parsed = email.message_from_bytes(envelope.content, policy=default_policy)
            assert isinstance(parsed, EmailMessage)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 Message accepted"


@contextmanager
def smtp_server(
    handler: RecordingHandler | None = None, **controller_kwargs: Any
) -> Iterator[tuple[Any, RecordingHandler]]:
    """An aiosmtpd server on 127.0.0.1 and a free port, stopped on the way out."""
    from aiosmtpd.controller import Controller

    handler = handler or RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **controller_kwargs)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def parts(message: EmailMessage) -> dict[str, str]:
    """content type -> decoded text of every leaf part."""
    found: dict[str, str] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_content()
        found[part.get_content_type()] = str(payload)
    return found
