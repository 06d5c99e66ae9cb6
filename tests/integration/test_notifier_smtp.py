"""SmtpSender against real sockets: what only an SMTP relay can do to us (TLS, sign-in,
timeouts, refused connections, partial refusals). The contract suite covers the rest."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.notifier.mail import MailMessage, PermanentMailError, RetryableMailError, SmtpSender
from tests.integration.notifier_records import RecordingHandler, free_port, smtp_server

SENDER = "payments@scc.example"
USER = "relay-user@scc.example"
PASSWORD = "s3cret-app-password-never-logged"


def a_mail(**changes: Any) -> MailMessage:
    fields: dict[str, Any] = {
        "sender": SENDER,
        "to": ("admin@scc.example",),
        "subject": "Payment logged: $150.00 from John Smith",
        "text": "A payment was logged.\n",
        "html": "<p>A payment was logged.</p>",
    }
    fields.update(changes)
    return MailMessage(**fields)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def authenticator(logins: list[str]) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == USER
            and data.password.decode() == PASSWORD
        )
        if ok:
            logins.append(mechanism)
        return AuthResult(success=ok, handled=False)

    return check


# --- security modes ---------------------------------------------------------------------------


def test_starttls_upgrades_the_connection_before_signing_in(
    certificate: tuple[Path, Path],
) -> None:
    # Given a relay that offers STARTTLS and refuses to sign anyone in before it
    logins: list[str] = []
    with smtp_server(
        RecordingHandler(),
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticator(logins),
        auth_required=True,
    ) as (controller, relay):
        sender = SmtpSender(
            "127.0.0.1",
            controller.port,
            security="starttls",
            username=USER,
            password=PASSWORD,
            ssl_context=client_context(certificate),
            timeout_seconds=5,
        )

        # When a mail is sent
        sender.send(a_mail())

    # Then it was signed in over TLS and delivered
    assert logins
    assert len(relay.received) == 1


def test_implicit_tls_delivers(certificate: tuple[Path, Path]) -> None:
    with smtp_server(RecordingHandler(), ssl_context=server_context(certificate)) as (
        controller,
        relay,
    ):
        SmtpSender(
            "127.0.0.1",
            controller.port,
            security="tls",
            ssl_context=client_context(certificate),
            timeout_seconds=5,
        ).send(a_mail())

    assert len(relay.received) == 1


def test_an_untrusted_certificate_is_a_permanent_error(certificate: tuple[Path, Path]) -> None:
    # Given a relay whose certificate our default trust store does not know
    with smtp_server(RecordingHandler(), tls_context=server_context(certificate)) as (
        controller,
        relay,
    ):
        sender = SmtpSender("127.0.0.1", controller.port, security="starttls", timeout_seconds=5)

        # Then sending fails for good (retrying will not make the certificate trusted)
        with pytest.raises(PermanentMailError, match="certificate"):
            sender.send(a_mail())

    assert relay.received == []


def test_starttls_required_but_not_offered_is_a_permanent_error() -> None:
    with smtp_server(RecordingHandler()) as (controller, relay):
        sender = SmtpSender("127.0.0.1", controller.port, security="starttls", timeout_seconds=5)

        with pytest.raises(PermanentMailError):
            sender.send(a_mail())

    assert relay.received == []


# --- sign-in --------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_wrong_password_is_permanent_and_the_error_never_shows_it() -> None:
    logins: list[str] = []
    with smtp_server(
        RecordingHandler(),
        authenticator=authenticator(logins),
        auth_required=True,
        auth_require_tls=False,
    ) as (controller, relay):
        sender = SmtpSender(
            "127.0.0.1",
            controller.port,
            security="none",
            username=USER,
            password="wrong-" + PASSWORD,
            timeout_seconds=5,
        )

        with pytest.raises(PermanentMailError) as failure:
            sender.send(a_mail())

    assert "535" in str(failure.value)
    assert PASSWORD not in str(failure.value)
    assert PASSWORD not in repr(sender)
    assert relay.received == []


# --- transport trouble ------------------------------------------------------------------------


def test_a_refused_connection_is_retryable() -> None:
    sender = SmtpSender("127.0.0.1", free_port(), security="none", timeout_seconds=2)

    with pytest.raises(RetryableMailError):
        sender.send(a_mail())


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word (no SMTP greeting)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def test_a_relay_that_does_not_answer_times_out_retryably(silent_server: int) -> None:
    sender = SmtpSender("127.0.0.1", silent_server, security="none", timeout_seconds=0.3)

    started = time.monotonic()
    with pytest.raises(RetryableMailError, match="timed out"):
        sender.send(a_mail())

    assert time.monotonic() - started < 2


def test_a_temporarily_refused_recipient_is_retryable() -> None:
    with smtp_server(RecordingHandler(fail_rcpt_with=["451 4.7.1 Greylisted, retry later"])) as (
        controller,
        relay,
    ):
        sender = SmtpSender("127.0.0.1", controller.port, security="none", timeout_seconds=5)

        with pytest.raises(RetryableMailError):
            sender.send(a_mail())

    assert relay.received == []


def test_when_some_recipients_are_refused_the_others_still_get_it_without_an_error() -> None:
    # Given one of two admin addresses is refused by the relay
    with smtp_server(RecordingHandler(fail_rcpt_with=["550 5.1.1 No such user"])) as (
        controller,
        relay,
    ):
        sender = SmtpSender("127.0.0.1", controller.port, security="none", timeout_seconds=5)

        # When the mail is sent
        sender.send(a_mail(to=("gone@scc.example", "admin@scc.example")))

    # Then the other admin got it, and no error asks for a resend (it would duplicate it)
    [received] = relay.received
    assert received.rcpt_tos == ["admin@scc.example"]
