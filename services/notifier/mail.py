"""Outgoing mail: one port (`MailSender`), two typed errors, and the adapters behind the port.

Adapters: `SesV2Sender` (SES v2 `SendEmail`, the AWS default), `SmtpSender` (any SMTP relay,
e.g. Gmail), `SpoolingSender` (wraps either and also keeps every sent mail as an `.eml` file,
for the local stack) and `FakeSender` (records mail, injects failures; for tests). One contract
suite (tests/integration/test_notifier_mail_contract.py) runs against each of them.

Every adapter maps what went wrong onto exactly two errors, because a stream consumer only
needs to know one thing: try again later (`RetryableMailError`: throttling, timeouts, a refused
or reset connection, SMTP 4xx, service 5xx) or give up on this mail (`PermanentMailError`:
rejected sender or recipient, bad credentials, SMTP 5xx). Error messages never carry secrets.
"""

from __future__ import annotations

import hashlib
import os
import re
import smtplib
import ssl
import tempfile
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from shared.observability import get_logger
from shared.timeutil import utc_now
from shared.validators import email_address

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_sesv2 import SESV2Client

    from services.notifier.config import NotifierConfig

logger = get_logger()


SmtpSecurity = Literal["starttls", "tls", "none"]
SMTP_SECURITY_MODES: tuple[SmtpSecurity, ...] = ("starttls", "tls", "none")
DEFAULT_SMTP_PORTS: dict[SmtpSecurity, int] = {"starttls": 587, "tls": 465, "none": 25}

_ERROR_TEXT_MAX = 200
_MASKED_DOMAIN_MAX = 64


class MailError(Exception):
    """A mail could not be sent. Never raised directly: see the two subclasses."""


class RetryableMailError(MailError):
    """The mail may go through later (throttling, timeout, connection trouble, 4xx/5xx-service)."""


class PermanentMailError(MailError):
    """Retrying will not help (rejected sender/recipient, bad credentials, SMTP 5xx)."""


# --- addresses and headers -----------------------------------------------------------------


def parse_mailbox(text: str) -> str:
    """``a@b.example`` or ``Display Name <a@b.example>`` -> the normalised mailbox (the address
    as shared.validators.email_address normalises it).

    Raises ValueError (without echoing the input) when it is not one ordinary mailbox.
    """
    if has_line_break(text):
        raise ValueError("must not contain line breaks or control characters")
    mailboxes = getaddresses([text.strip()])
    if len(mailboxes) != 1:
        raise ValueError("must be one e-mail address")
    name, address = mailboxes[0]
    try:
        address = email_address(address)
    except ValueError:
        raise ValueError("must be an e-mail address like name@example.com") from None
    name = header_safe(name)
    return formataddr((name, address)) if name else address


def masked_address(text: str) -> str:
    """``john@example.org`` -> ``j***@example.org``: enough to tell addresses apart in a log,
    not enough to write to anyone. Works on any text, address or not."""
    local, at, domain = header_safe(text).rpartition("@")
    if not at:
        return f"{domain[:1]}***"
    if len(domain) > _MASKED_DOMAIN_MAX:
        domain = domain[: _MASKED_DOMAIN_MAX - 1] + "…"
    return f"{local[:1]}***@{domain}"


def address_of(mailbox: str) -> str:
    """The bare address of a mailbox (``Name <a@b.example>`` -> ``a@b.example``)."""
    return parseaddr(mailbox)[1]


def has_line_break(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


def header_safe(text: str) -> str:
    """One line, fit for a header: CR, LF and every other control or line/paragraph separator
    becomes a space (no header injection), runs of whitespace collapse."""
    cleaned = "".join(
        " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char for char in text
    )
    return " ".join(cleaned.split())


# --- the message and the port --------------------------------------------------------------


@dataclass(frozen=True)
class MailMessage:
    """One mail to send. `key` names the logical mail (e.g. ledger item + audience): it makes
    the Message-ID stable, so a rare duplicate delivery is recognisable as the same mail, and
    names the spooled file."""

    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    reply_to: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        if not self.to:
            raise ValueError("a mail needs at least one recipient")
        headers = {"sender": self.sender, "subject": self.subject, "reply_to": self.reply_to or ""}
        headers.update({f"to[{i}]": address for i, address in enumerate(self.to)})
        for name, value in headers.items():
            if has_line_break(value):
                raise ValueError(f"{name} must not contain line breaks or control characters")


class MailSender(Protocol):
    def send(self, message: MailMessage) -> None:
        """Send one mail or raise RetryableMailError / PermanentMailError."""
        ...


def message_id(message: MailMessage) -> str:
    domain = address_of(message.sender).rpartition("@")[2] or "localhost"
    if message.key is None:
        return make_msgid(domain=domain)
    digest = hashlib.sha256(message.key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def to_email_message(message: MailMessage, *, date: datetime | None = None) -> EmailMessage:
    """RFC 5322 multipart/alternative (text, then HTML) with CRLF line endings."""
    mime = EmailMessage(policy=policy.SMTP)
    mime["From"] = message.sender
    mime["To"] = ", ".join(message.to)
    if message.reply_to:
        mime["Reply-To"] = message.reply_to
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(date or utc_now())
    mime["Message-ID"] = message_id(message)
    # RFC 3834: machine-generated, so auto-responders must not answer it.
    mime["Auto-Submitted"] = "auto-generated"
    mime.set_content(message.text, subtype="plain", charset="utf-8")
    mime.add_alternative(message.html, subtype="html", charset="utf-8")
    return mime


def _short(text: object) -> str:
    one_line = header_safe(str(text))
    return one_line if len(one_line) <= _ERROR_TEXT_MAX else one_line[:_ERROR_TEXT_MAX] + "..."


# --- SES v2 ----------------------------------------------------------------------------------

# Error codes SES (and the AWS SDK generally) uses for "slow down" or "our side failed".
_SES_RETRYABLE_CODES = frozenset(
    {
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
        "LimitExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServiceError",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_BOTO_CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


def ses_error(exc: ClientError | BotoCoreError) -> MailError:
    """The typed error for what botocore raised."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        text = f"SES {code}: {_short(error.get('Message', ''))}"
        if code in _SES_RETRYABLE_CODES or status >= 500:
            return RetryableMailError(text)
        return PermanentMailError(text)
    if isinstance(exc, _BOTO_CONNECTION_ERRORS):
        return RetryableMailError(f"SES unreachable: {exc.__class__.__name__}")
    # Missing credentials, invalid parameters, ...: a deployment problem, not a passing one.
    return PermanentMailError(f"SES call failed: {exc.__class__.__name__}")


def ses_mailbox(mailbox: str) -> str:
    """SES wants non-ASCII display names as RFC 2047 encoded words."""
    name, address = parseaddr(mailbox)
    return formataddr((name, address), charset="utf-8") if name else address


class SesV2Sender:
    """Sends through SES v2 `SendEmail` with Simple content (text + HTML, UTF-8)."""

    def __init__(self, client: SESV2Client, *, configuration_set: str | None = None) -> None:
        self._client = client
        self._configuration_set = configuration_set

    @classmethod
    def create(
        cls,
        *,
        region: str | None = None,
        configuration_set: str | None = None,
        session: boto3.session.Session | None = None,
    ) -> SesV2Sender:
        """A sender with a client tuned for Lambda: short timeouts, a few SDK retries (they
        absorb brief throttling; what is left becomes a retryable record failure)."""
        import boto3
        from botocore.config import Config

        client = (session or boto3.session.Session()).client(
            "sesv2",
            region_name=region,
            config=Config(
                connect_timeout=3,
                read_timeout=10,
                retries={"mode": "standard", "max_attempts": 3},
            ),
        )
        return cls(client, configuration_set=configuration_set)

    def send(self, message: MailMessage) -> None:
        request: dict[str, Any] = {
            "FromEmailAddress": ses_mailbox(message.sender),
            "Destination": {"ToAddresses": [ses_mailbox(m) for m in message.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": message.text, "Charset": "UTF-8"},
                        "Html": {"Data": message.html, "Charset": "UTF-8"},
                    },
                }
            },
        }
        if message.reply_to:
            request["ReplyToAddresses"] = [ses_mailbox(message.reply_to)]
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            self._client.send_email(**request)
        except (ClientError, BotoCoreError) as exc:
            raise ses_error(exc) from exc


# --- SMTP ------------------------------------------------------------------------------------


def _smtp_code_error(code: int, what: str, detail: object) -> MailError:
    text = f"SMTP {what} refused ({code}): {_short(_decode(detail))}"
    return RetryableMailError(text) if 400 <= code < 500 else PermanentMailError(text)


def _decode(detail: object) -> str:
    if isinstance(detail, bytes):
        return detail.decode("utf-8", "replace")
    return str(detail)


def smtp_error(exc: BaseException) -> MailError:
    """The typed error for what smtplib/socket/ssl raised (never the credentials)."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # 454 is "temporary authentication failure"; 535 and friends mean wrong credentials.
        if 400 <= exc.smtp_code < 500:
            return RetryableMailError(f"SMTP authentication failed temporarily ({exc.smtp_code})")
        return PermanentMailError(f"SMTP authentication failed ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            return RetryableMailError(f"SMTP recipients refused for now ({sorted(set(codes))})")
        return PermanentMailError(f"SMTP recipients refused ({sorted(set(codes))})")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _smtp_code_error(exc.smtp_code, "sender", exc.smtp_error)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _smtp_code_error(exc.smtp_code, "command", exc.smtp_error)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentMailError(f"SMTP server does not support what we need: {_short(exc)}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read timeout as a disconnection ("... closed: timed out").
        if isinstance(exc.__context__, TimeoutError) or "timed out" in str(exc):
            return RetryableMailError("SMTP server timed out")
        return RetryableMailError("SMTP server disconnected")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentMailError("SMTP server certificate not trusted")
    if isinstance(exc, TimeoutError):
        return RetryableMailError("SMTP server timed out")
    if isinstance(exc, OSError):
        # Refused/reset connections, DNS hiccups, TLS trouble in transit.
        return RetryableMailError(f"SMTP connection failed: {exc.__class__.__name__}")
    if isinstance(exc, smtplib.SMTPException):
        return PermanentMailError(f"SMTP error: {exc.__class__.__name__}")
    return PermanentMailError(f"SMTP send failed: {exc.__class__.__name__}")


class SmtpSender:
    """Sends through an SMTP relay: one connection per mail, TLS by default."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: SmtpSecurity = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in SMTP_SECURITY_MODES:
            raise ValueError(f"security must be one of {', '.join(SMTP_SECURITY_MODES)}")
        self.host = host
        self.port = port or DEFAULT_SMTP_PORTS[security]
        self.security: SmtpSecurity = security
        self.username = username
        self._password = password
        self.timeout_seconds = timeout_seconds
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname

    def __repr__(self) -> str:  # never the password
        return (
            f"SmtpSender(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r})"
        )

    def send(self, message: MailMessage) -> None:
        mime = to_email_message(message)
        recipients = [address_of(m) for m in message.to]
        try:
            with self._connect() as smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._context())
                if self.username:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(
                    mime, from_addr=address_of(message.sender), to_addrs=recipients
                )
        except (smtplib.SMTPException, OSError) as exc:
            raise smtp_error(exc) from exc
        if refused:
            # Some recipients took it: retrying would duplicate it for them, so this is logged
            # (a misconfigured address) rather than failed.
            logger.warning(
                "SMTP refused some recipients",
                extra={"refused": len(refused), "recipients": len(recipients)},
            )

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self._local_hostname,
                timeout=self.timeout_seconds,
                context=self._context(),
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout_seconds
        )


# --- spooling (local stack) ------------------------------------------------------------------

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def spool_file_name(message: MailMessage, moment: datetime) -> str:
    """``20260523T183000123456Z-<key>.eml``: unique, sortable by time, readable."""
    stamp = moment.strftime("%Y%m%dT%H%M%S%fZ")
    if message.key:
        readable = _UNSAFE_FILE_CHARS.sub("_", message.key).strip("._-")[:80]
        suffix = hashlib.sha256(message.key.encode("utf-8")).hexdigest()[:8]
        # The hash keeps two keys that sanitise alike apart; the time keeps resends apart.
        name = f"{readable}-{suffix}" if readable else suffix
    else:
        name = uuid.uuid4().hex
    return f"{stamp}-{name}.eml"


class SpoolingSender:
    """Sends through `inner`, then keeps the sent mail as an `.eml` file in `mail_dir`.

    The file is written only after the inner send succeeded (so it shows what really went out)
    and atomically (temporary file + rename: a reader never sees half a mail). A failed write
    is logged, not raised: the mail is already sent, and failing would send it again.
    """

    def __init__(
        self,
        inner: MailSender,
        mail_dir: Path,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._inner = inner
        self.mail_dir = mail_dir
        self._clock = clock

    def send(self, message: MailMessage) -> None:
        self._inner.send(message)
        try:
            path = self.write(message)
        except OSError as exc:
            logger.warning("sent mail not spooled", extra={"error": exc.__class__.__name__})
            return
        logger.info(
            "mail spooled",
            extra={"recipients": len(message.to), "subject": message.subject, "file": path.name},
        )

    def write(self, message: MailMessage) -> Path:
        moment = self._clock()
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        target = self.mail_dir / spool_file_name(message, moment)
        data = to_email_message(message, date=moment).as_bytes()
        # A dot-name in the same directory: invisible to `*.eml` globs, same filesystem.
        handle, temporary = tempfile.mkstemp(prefix=".spool-", suffix=".tmp", dir=self.mail_dir)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target


# --- the adapter the configuration names --------------------------------------------------


def sender_for(
    config: NotifierConfig, *, session: boto3.session.Session | None = None
) -> MailSender:
    """The adapter EMAIL_TRANSPORT names, spooling to MAIL_DIR when the local stack set it."""
    sender: MailSender
    if config.transport == "smtp":
        assert config.smtp is not None
        smtp = config.smtp
        sender = SmtpSender(
            smtp.host,
            smtp.port,
            security=smtp.security,
            username=smtp.username,
            password=None if smtp.password is None else smtp.password.get_secret_value(),
            timeout_seconds=smtp.timeout_seconds,
        )
    else:
        sender = SesV2Sender.create(
            region=config.ses_region,
            configuration_set=config.ses_configuration_set,
            session=session,
        )
    if config.mail_dir is not None:
        sender = SpoolingSender(sender, config.mail_dir)
    return sender
