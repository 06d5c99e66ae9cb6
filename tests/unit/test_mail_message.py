"""services.notifier.mail without a network: the message, its MIME form, the spool, the fake, and how each
backend's failures map onto the two typed errors."""

from __future__ import annotations

import email
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from services.notifier.mail import (
    MailMessage,
    PermanentMailError,
    RetryableMailError,
    SmtpSender,
    SpoolingSender,
    header_safe,
    masked_address,
    message_id,
    parse_mailbox,
    ses_error,
    smtp_error,
    spool_file_name,
    to_email_message,
)
from tests.fakes import FakeSender

MOMENT = datetime(2026, 5, 23, 18, 30, 0, 123456, tzinfo=UTC)


def a_mail(**changes: Any) -> MailMessage:
    fields: dict[str, Any] = {
        "sender": "SCC Payments <payments@scc.example>",
        "to": ("admin@scc.example", "bookkeeper@scc.example"),
        "subject": "Payment logged: €150.00 from Zoë",
        "text": "Zoë paid €150.00\n",
        "html": "<p>Zoë paid €150.00</p>",
        "reply_to": "zoe@example.org",
        "key": "EVENT#2026-05-23-corporate-mixer/PAYMENT#0190b3a0/admins",
    }
    fields.update(changes)
    return MailMessage(**fields)


# --- the message -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "hi\r\nBcc: x@example.org"},
        {"sender": "a@scc.example\nBcc: x@example.org"},
        {"to": ("a@scc.example\r\n",)},
        {"reply_to": "a@scc.example\rX: y"},
        {"to": ()},
    ],
)
def test_a_message_refuses_line_breaks_in_headers_and_an_empty_recipient_list(
    changes: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message says which field
        a_mail(**changes)


def test_the_mime_form_is_multipart_alternative_text_then_html() -> None:
    mime = to_email_message(a_mail(), date=MOMENT)
    parsed = email.message_from_bytes(mime.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)

    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["Subject"] == "Payment logged: €150.00 from Zoë"
    assert parsed["To"] == "admin@scc.example, bookkeeper@scc.example"
    assert parsed["Reply-To"] == "zoe@example.org"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Date"] == "Sat, 23 May 2026 18:30:00 +0000"
    text, html = (p.get_content() for p in parsed.iter_parts())
    assert text.replace("\r\n", "\n") == "Zoë paid €150.00\n"  # CRLF on the wire
    assert "<p>Zoë paid €150.00</p>" in html
    assert b"\r\n" in mime.as_bytes()


def test_the_message_id_is_stable_per_key_so_duplicates_are_recognisable() -> None:
    first, again = message_id(a_mail()), message_id(a_mail(subject="other"))
    other = message_id(a_mail(key="EVENT#x/PAYMENT#y/patron"))

    assert first == again
    assert first != other
    assert first.endswith("@scc.example>")
    assert message_id(a_mail(key=None)) != message_id(a_mail(key=None))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("payments@scc.example", "payments@scc.example"),
        ("  payments@scc.example ", "payments@scc.example"),
        ("SCC Payments <payments@scc.example>", "SCC Payments <payments@scc.example>"),
    ],
)
def test_a_mailbox_is_normalised(text: str, expected: str) -> None:
    assert parse_mailbox(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "not-an-address",
        "a@b",
        "a@scc.example, b@scc.example",
        "a@scc.example\r\nBcc: x@example.org",
        "",
        "<>",
    ],
)
def test_anything_but_one_ordinary_mailbox_is_refused_without_echoing_it(text: str) -> None:
    with pytest.raises(ValueError) as failure:  # noqa: PT011
        parse_mailbox(text)

    assert text.strip() == "" or text not in str(failure.value)


def test_header_text_is_flattened_to_one_line() -> None:
    assert header_safe(" a\r\n\tb\u2028c  ") == "a b c"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("john@example.org", "j***@example.org"),
        ("josé@example.com", "j***@example.com"),
        ("@example.com", "***@example.com"),
        ("no-at-sign", "n***"),
        ("", "***"),
        ("x@y.example\r\nBcc: z@example.org", "x***@example.org"),
        ("a@" + "d" * 100, "a***@" + "d" * 63 + "…"),
    ],
)
def test_a_masked_address_keeps_the_first_character_and_the_domain(text: str, masked: str) -> None:
    assert masked_address(text) == masked


# --- the spool -------------------------------------------------------------------------------


def test_spooling_keeps_a_sent_mail_as_one_eml_file(tmp_path: Path) -> None:
    # Given a spooling sender around a relay
    inner = FakeSender()
    spool = SpoolingSender(inner, tmp_path / "mail", clock=lambda: MOMENT)

    # When a mail is sent
    spool.send(a_mail())

    # Then the relay sent it and the spool holds exactly it, named by time and key
    assert len(inner.sent) == 1
    [file] = list((tmp_path / "mail").iterdir())
    assert file.name.startswith("20260523T183000123456Z-EVENT_2026-05-23-corporate-mixer_PAYMENT")
    assert file.suffix == ".eml"
    parsed = email.message_from_bytes(file.read_bytes(), policy=default_policy)
    assert parsed["Subject"] == "Payment logged: €150.00 from Zoë"
    assert parsed["Message-ID"] == message_id(a_mail())


def test_a_failed_send_is_not_spooled(tmp_path: Path) -> None:
    inner = FakeSender()
    inner.fail_next(1, "retryable")
    spool = SpoolingSender(inner, tmp_path)

    with pytest.raises(RetryableMailError):
        spool.send(a_mail())

    assert list(tmp_path.iterdir()) == []


def test_spool_names_sort_by_time_and_never_collide(tmp_path: Path) -> None:
    names = [
        spool_file_name(a_mail(key="EVENT#a/PAYMENT#1/admins"), MOMENT),
        spool_file_name(a_mail(key="EVENT#a/PAYMENT#1/admins"), MOMENT.replace(microsecond=0)),
        spool_file_name(a_mail(key="EVENT#a/PAYMENT#1:admins"), MOMENT),
        spool_file_name(a_mail(key=None), MOMENT),
        spool_file_name(a_mail(key="../../etc/passwd"), MOMENT),
    ]

    assert len(set(names)) == len(names)
    assert sorted(names[:2]) == [names[1], names[0]]
    assert all("/" not in name and not name.startswith(".") for name in names)


def test_a_spool_that_cannot_be_written_does_not_fail_the_sent_mail(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the mail directory should be")
    inner = FakeSender()

    SpoolingSender(inner, blocker).send(a_mail())

    assert len(inner.sent) == 1


# --- the fake --------------------------------------------------------------------------------


def test_the_fake_fails_on_request_then_records() -> None:
    fake = FakeSender(verified_senders={"payments@scc.example"})
    fake.fail_next(1, "retryable")
    fake.fail_next(1, "permanent")

    with pytest.raises(RetryableMailError):
        fake.send(a_mail())
    with pytest.raises(PermanentMailError):
        fake.send(a_mail())
    with pytest.raises(PermanentMailError):
        fake.send(a_mail(sender="someone@else.example"))
    fake.send(a_mail())

    assert fake.attempts == 4
    assert len(fake.sent) == 1


# --- SES errors ------------------------------------------------------------------------------


def client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} happened"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "SendEmail")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("TooManyRequestsException", 429), RetryableMailError),
        (client_error("Throttling", 400), RetryableMailError),
        (client_error("ThrottlingException", 400), RetryableMailError),
        (client_error("LimitExceededException", 400), RetryableMailError),
        (client_error("InternalFailure", 500), RetryableMailError),
        (client_error("SomethingNew", 503), RetryableMailError),
        (client_error("MessageRejected", 400), PermanentMailError),
        (client_error("MailFromDomainNotVerifiedException", 400), PermanentMailError),
        (client_error("AccountSuspendedException", 400), PermanentMailError),
        (client_error("BadRequestException", 400), PermanentMailError),
        (client_error("AccessDeniedException", 403), PermanentMailError),
        (EndpointConnectionError(endpoint_url="https://email.us-east-1"), RetryableMailError),
        (ReadTimeoutError(endpoint_url="https://email.us-east-1"), RetryableMailError),
        (NoCredentialsError(), PermanentMailError),
        (ParamValidationError(report="bad"), PermanentMailError),
    ],
)
def test_ses_failures_map_onto_the_two_errors(error: Exception, kind: type[Exception]) -> None:
    assert isinstance(ses_error(error), kind)  # type: ignore[arg-type]


# --- SMTP errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TimeoutError("timed out"), RetryableMailError),
        (ConnectionRefusedError(111, "refused"), RetryableMailError),
        (ConnectionResetError(104, "reset"), RetryableMailError),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), RetryableMailError),
        (smtplib.SMTPConnectError(421, b"too busy"), RetryableMailError),
        (smtplib.SMTPDataError(451, b"try later"), RetryableMailError),
        (smtplib.SMTPDataError(554, b"spam"), PermanentMailError),
        (smtplib.SMTPSenderRefused(553, b"not yours", "a@b.example"), PermanentMailError),
        (smtplib.SMTPSenderRefused(450, b"busy", "a@b.example"), RetryableMailError),
        (smtplib.SMTPRecipientsRefused({"a@b.example": (550, b"no")}), PermanentMailError),
        (smtplib.SMTPRecipientsRefused({"a@b.example": (451, b"grey")}), RetryableMailError),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), PermanentMailError),
        (smtplib.SMTPAuthenticationError(454, b"temporary"), RetryableMailError),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported"), PermanentMailError),
        (ssl.SSLCertVerificationError("certificate verify failed"), PermanentMailError),
    ],
)
def test_smtp_failures_map_onto_the_two_errors(error: Exception, kind: type[Exception]) -> None:
    assert isinstance(smtp_error(error), kind)


def test_the_smtp_sender_never_shows_its_password() -> None:
    sender = SmtpSender("smtp.gmail.com", username="me@gmail.com", password="app-password-123")

    assert "app-password-123" not in repr(sender)
    assert sender.port == 587
