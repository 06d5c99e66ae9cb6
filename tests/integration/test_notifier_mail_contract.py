"""The MailSender contract, run against every adapter: SES v2 (on moto), SMTP (against an
in-process aiosmtpd server) and the fake the handler tests use.

Each backend comes with a harness that can read back what was delivered and inject the two
kinds of failure the way that backend really produces them (an SES error response; an SMTP
reply code). What one backend cannot observe is said so, never silently skipped: moto keeps
only the HTML body and no Reply-To of an SES mail, so for SES those two come from the request
the adapter made, captured on the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from services.notifier.mail import (
    MailMessage,
    MailSender,
    PermanentMailError,
    RetryableMailError,
    SesV2Sender,
    SmtpSender,
    address_of,
)
from tests.fakes import FakeSender
from tests.integration.notifier_records import (
    REGION,
    RecordingHandler,
    SesFaults,
    parts,
    ses_sent_messages,
    smtp_server,
)

VERIFIED = "payments@scc.example"
UNVERIFIED = "mallory@elsewhere.example"

FailureKind = Literal["retryable", "permanent"]


@dataclass(frozen=True)
class Delivered:
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str | None
    html: str | None
    reply_to: str | None


class Harness(Protocol):
    name: str

    @property
    def sender(self) -> MailSender: ...

    def delivered(self) -> list[Delivered]: ...

    def fail_next(self, kind: FailureKind) -> None: ...


# --- SES v2 on moto ----------------------------------------------------------------------------


@dataclass
class SesHarness:
    name: str = "ses"
    sender: MailSender = field(init=False)
    faults: SesFaults = field(init=False)

    def __post_init__(self) -> None:
        # One SDK attempt: the contract is about how a failure is classified, not SDK retries.
        client = boto3.client(
            "sesv2",
            region_name=REGION,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        client.create_email_identity(EmailIdentity=VERIFIED)
        self.faults = SesFaults(client)
        self.sender = SesV2Sender(client)

    def fail_next(self, kind: FailureKind) -> None:
        if kind == "retryable":
            self.faults.fail("TooManyRequestsException", 429)
        else:
            self.faults.fail("MessageRejected", 400)

    def delivered(self) -> list[Delivered]:
        stored = ses_sent_messages(REGION)
        requests = self.faults.accepted
        assert len(stored) == len(requests), "moto and the client disagree on what was sent"
        result = []
        for message, request in zip(stored, requests, strict=True):
            body = request["Content"]["Simple"]["Body"]
            reply_to = request.get("ReplyToAddresses") or [None]
            result.append(
                Delivered(
                    sender=message.source,
                    to=tuple(message.destinations.get("ToAddresses", [])),
                    subject=message.subject,
                    text=body["Text"]["Data"],  # from the request: moto keeps only the HTML
                    html=message.body,
                    reply_to=reply_to[0],
                )
            )
        return result


# --- SMTP against aiosmtpd ---------------------------------------------------------------------


@dataclass
class SmtpHarness:
    port: int
    handler: Any
    name: str = "smtp"
    sender: MailSender = field(init=False)

    def __post_init__(self) -> None:
        self.sender = SmtpSender("127.0.0.1", self.port, security="none", timeout_seconds=5)

    def fail_next(self, kind: FailureKind) -> None:
        reply = "451 4.3.0 Try again later" if kind == "retryable" else "554 5.7.1 Rejected"
        self.handler.fail_data_with.append(reply)

    def delivered(self) -> list[Delivered]:
        result = []
        for received in self.handler.received:
            message = received.message
            found = parts(message)
            assert message["To"] is not None
            result.append(
                Delivered(
                    sender=str(message["From"]),
                    to=tuple(a.strip() for a in received.rcpt_tos),
                    subject=str(message["Subject"]),
                    text=found.get("text/plain"),
                    html=found.get("text/html"),
                    reply_to=None if message["Reply-To"] is None else str(message["Reply-To"]),
                )
            )
        return result


# --- the fake ------------------------------------------------------------------------------------


@dataclass
class FakeHarness:
    name: str = "fake"
    fake: FakeSender = field(default_factory=lambda: FakeSender(verified_senders={VERIFIED}))

    @property
    def sender(self) -> MailSender:
        return self.fake

    def fail_next(self, kind: FailureKind) -> None:
        self.fake.fail_next(1, kind)

    def delivered(self) -> list[Delivered]:
        return [
            Delivered(m.sender, m.to, m.subject, m.text, m.html, m.reply_to) for m in self.fake.sent
        ]


@pytest.fixture(params=["ses", "smtp", "fake"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "ses":
        with mock_aws():
            yield SesHarness()
    elif request.param == "smtp":
        with smtp_server(RecordingHandler(allowed_senders={VERIFIED})) as (controller, handler):
            yield SmtpHarness(controller.port, handler)
    else:
        yield FakeHarness()


def a_mail(**changes: Any) -> MailMessage:
    fields: dict[str, Any] = {
        "sender": VERIFIED,
        "to": ("admin@scc.example",),
        "subject": "Payment logged: $150.00 from John Smith",
        "text": "A payment of $150.00 was logged.\n",
        "html": "<p>A payment of <b>$150.00</b> was logged.</p>",
        "reply_to": None,
        "key": "EVENT#2026-05-23-corporate-mixer/PAYMENT#1/admins",
    }
    fields.update(changes)
    return MailMessage(**fields)


# --- the contract ----------------------------------------------------------------------------


def test_a_sent_mail_arrives_with_sender_recipient_subject_and_both_bodies(
    harness: Harness,
) -> None:
    # Given a mail from the verified sender
    mail = a_mail()

    # When it is sent
    harness.sender.send(mail)

    # Then exactly that mail arrives
    [delivered] = harness.delivered()
    assert address_of(delivered.sender) == VERIFIED
    assert delivered.to == ("admin@scc.example",)
    assert delivered.subject == mail.subject
    assert "<b>$150.00</b>" in (delivered.html or "")
    assert (delivered.text or "").strip() == mail.text.strip()


def test_every_recipient_gets_the_mail(harness: Harness) -> None:
    recipients = ("a@scc.example", "b@scc.example", "c@scc.example")

    harness.sender.send(a_mail(to=recipients))

    [delivered] = harness.delivered()
    assert sorted(delivered.to) == sorted(recipients)


def test_non_ascii_subject_body_and_sender_name_survive(harness: Harness) -> None:
    # Given text beyond ASCII everywhere a patron's name can end up
    mail = a_mail(
        sender=f"Zoë Ñúñez Crew <{VERIFIED}>",
        subject="Payment logged: €150.00 from Zoë Ñúñez 🚢",
        text="Zoë Ñúñez paid €150.00 🚢\n",
        html="<p>Zoë Ñúñez paid €150.00 🚢</p>",
    )

    harness.sender.send(mail)

    [delivered] = harness.delivered()
    assert delivered.subject == mail.subject
    assert "Zoë Ñúñez paid €150.00 🚢" in (delivered.html or "")
    assert "Zoë Ñúñez paid €150.00 🚢" in (delivered.text or "")
    assert address_of(delivered.sender) == VERIFIED


def test_reply_to_is_carried(harness: Harness) -> None:
    harness.sender.send(a_mail(reply_to="patron@example.org"))

    [delivered] = harness.delivered()
    assert delivered.reply_to == "patron@example.org"


def test_an_unverified_sender_is_a_permanent_error_and_nothing_arrives(harness: Harness) -> None:
    with pytest.raises(PermanentMailError):
        harness.sender.send(a_mail(sender=UNVERIFIED))

    assert harness.delivered() == []


def test_a_malformed_recipient_is_a_permanent_error(harness: Harness) -> None:
    with pytest.raises(PermanentMailError):
        harness.sender.send(a_mail(to=("not-an-address",)))

    assert harness.delivered() == []


def test_a_transient_failure_is_retryable_and_the_next_attempt_goes_through(
    harness: Harness,
) -> None:
    # Given the backend is throttling / answering 4xx for one send
    harness.fail_next("retryable")

    # When the mail is sent, it fails retryably; when it is sent again, it arrives once
    with pytest.raises(RetryableMailError):
        harness.sender.send(a_mail())
    assert harness.delivered() == []
    harness.sender.send(a_mail())
    assert len(harness.delivered()) == 1


def test_a_rejection_is_permanent(harness: Harness) -> None:
    harness.fail_next("permanent")

    with pytest.raises(PermanentMailError):
        harness.sender.send(a_mail())

    assert harness.delivered() == []


def test_errors_are_typed_once_for_every_backend(harness: Harness) -> None:
    # Both error kinds are MailErrors and nothing else escapes: a stream consumer can rely on
    # catching exactly RetryableMailError / PermanentMailError.
    outcomes: list[type[Exception]] = []
    for kind in ("retryable", "permanent"):
        harness.fail_next(kind)
        try:
            harness.sender.send(a_mail())
        except (RetryableMailError, PermanentMailError) as exc:
            outcomes.append(type(exc))
    assert outcomes == [RetryableMailError, PermanentMailError]
