"""NotifierFunction configuration: read once at cold start, validated, failing fast.

A missing or malformed variable stops the cold start with a ConfigError naming the variable and
never its value. EMAIL_TRANSPORT picks the adapter (`ses`, the default, or `smtp`); the
Gmail-style variables of the first SMTP setup (SCC_GMAIL_USER, SCC_GMAIL_PASSWORD, SCC_GMAIL_TO)
are accepted as fallbacks for SMTP_USER, SMTP_PASSWORD and the recipients, with Gmail's relay as
the default host. MAIL_DIR is set only by the local stack: every sent mail is then also kept as `.eml`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from services.notifier.mail import DEFAULT_SMTP_PORTS, SmtpSecurity, parse_mailbox
from shared.config import ConfigError, FunctionConfig, load_config
from shared.secrets import Fetch, ssm_fetch
from shared.validators import email_address, is_email_address

# The stream keeps records 24 h; an idempotency record must outlive any redelivery of them.
MIN_IDEMPOTENCY_TTL_SECONDS = 25 * 3600
DEFAULT_IDEMPOTENCY_TTL_SECONDS = 48 * 3600
# SES takes at most 50 recipients per mail; more admins than that is a mailing list's job.
MAX_RECIPIENTS = 50
GMAIL_HOST = "smtp.gmail.com"


class SmtpSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    security: SmtpSecurity
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = 10.0


class NotifierConfig(BaseModel):
    """What the notifier runs with (tests build it directly)."""

    model_config = ConfigDict(frozen=True)

    transport: Literal["ses", "smtp"]
    sender: str
    admin_recipients: tuple[str, ...]
    idempotency_table_name: str
    idempotency_ttl_seconds: int = DEFAULT_IDEMPOTENCY_TTL_SECONDS
    mail_dir: Path | None = None
    ses_region: str | None = None
    ses_configuration_set: str | None = None
    smtp: SmtpSettings | None = None


def _recipient_list(value: str) -> tuple[str, ...]:
    entries = [entry.strip() for entry in value.split(",")]
    recipients: list[str] = []
    for position, entry in enumerate(entries, start=1):
        if not entry:
            continue
        try:
            address = email_address(entry)
        except ValueError:
            # The position, not the value: the message must be safe to log anywhere.
            raise ValueError(
                f"entry {position} is not an e-mail address like name@example.com"
            ) from None
        if address.lower() not in (r.lower() for r in recipients):
            recipients.append(address)
    if not recipients:
        raise ValueError("must list at least one e-mail address (comma-separated)")
    if len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"must list at most {MAX_RECIPIENTS} addresses")
    return tuple(recipients)


def _mailbox(value: str) -> str:
    return parse_mailbox(value)


class NotifierEnvironment(FunctionConfig):
    """The raw variables, each checked on its own by the one loader (shared.config); the
    requirements across them come after (`NotifierConfig.from_environment`)."""

    # SMTP_PASSWORD may instead be SMTP_PASSWORD_PARAM, an SSM SecureString parameter's name.
    SECRET_VARIABLES: ClassVar[Mapping[str, bool]] = {"SMTP_PASSWORD": False}

    transport: Annotated[Literal["ses", "smtp"], Field(alias="EMAIL_TRANSPORT")] = "ses"
    ses_sender: Annotated[str | None, Field(alias="SES_SENDER_EMAIL")] = None
    admin_recipients: Annotated[str | None, Field(alias="ADMIN_NOTIFY_EMAILS")] = None
    idempotency_table_name: Annotated[
        str | None, Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3, max_length=255)
    ] = None
    idempotency_ttl_seconds: Annotated[
        int, Field(alias="IDEMPOTENCY_TTL_SECONDS", ge=MIN_IDEMPOTENCY_TTL_SECONDS)
    ] = DEFAULT_IDEMPOTENCY_TTL_SECONDS
    mail_dir: Annotated[Path | None, Field(alias="MAIL_DIR")] = None
    ses_region: Annotated[
        str | None, Field(alias="SES_REGION", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    ] = None
    ses_configuration_set: Annotated[
        str | None, Field(alias="SES_CONFIGURATION_SET", max_length=64)
    ] = None
    smtp_host: Annotated[
        str | None, Field(alias="SMTP_HOST", max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$")
    ] = None
    smtp_port: Annotated[int | None, Field(alias="SMTP_PORT", ge=1, le=65535)] = None
    smtp_user: Annotated[str | None, Field(alias="SMTP_USER", max_length=320)] = None
    smtp_password: Annotated[SecretStr | None, Field(alias="SMTP_PASSWORD")] = None
    smtp_security: Annotated[SmtpSecurity | None, Field(alias="SMTP_SECURITY")] = None
    smtp_timeout_seconds: Annotated[float, Field(alias="SMTP_TIMEOUT_SECONDS", gt=0, le=60)] = 10.0
    smtp_from: Annotated[str | None, Field(alias="SMTP_FROM")] = None
    gmail_user: Annotated[str | None, Field(alias="SCC_GMAIL_USER", max_length=320)] = None
    gmail_password: Annotated[SecretStr | None, Field(alias="SCC_GMAIL_PASSWORD")] = None
    gmail_to: Annotated[str | None, Field(alias="SCC_GMAIL_TO")] = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # Template parameters left empty arrive as "": that is "not set", not a value.
        if isinstance(value, str):
            stripped = value.strip()
            return stripped or None
        return value

    @field_validator("transport", "smtp_security", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("ses_sender", "smtp_from")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        return None if value is None else _mailbox(value)

    @field_validator("admin_recipients", "gmail_to")
    @classmethod
    def _recipients(cls, value: str | None) -> str | None:
        return None if value is None else ",".join(_recipient_list(value))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _required(problems: list[str], variable: str, why: str) -> None:
    problems.append(f"{variable}: required {why}")


def _build(env: NotifierEnvironment) -> NotifierConfig:
    problems: list[str] = []
    if env.idempotency_table_name is None:
        _required(problems, "IDEMPOTENCY_TABLE_NAME", "(the notifier's idempotency records)")

    smtp: SmtpSettings | None = None
    sender = env.ses_sender
    recipients = env.admin_recipients
    if env.transport == "ses":
        if sender is None:
            _required(problems, "SES_SENDER_EMAIL", "when EMAIL_TRANSPORT is ses")
        if recipients is None:
            _required(problems, "ADMIN_NOTIFY_EMAILS", "when EMAIL_TRANSPORT is ses")
    else:
        smtp = _smtp_settings(env, problems)
        recipients = recipients or env.gmail_to
        if recipients is None:
            _required(
                problems, "ADMIN_NOTIFY_EMAILS", "(or SCC_GMAIL_TO) when EMAIL_TRANSPORT is smtp"
            )
        sender = env.smtp_from or env.ses_sender
        if sender is None and smtp is not None and smtp.username:
            sender = email_address(smtp.username) if is_email_address(smtp.username) else None
        if sender is None:
            _required(
                problems,
                "SMTP_FROM",
                "(or SES_SENDER_EMAIL, or an SMTP_USER that is an e-mail address)",
            )

    if problems:
        raise ConfigError("NotifierConfig: invalid environment: " + "; ".join(sorted(problems)))
    assert sender is not None
    assert recipients is not None
    assert env.idempotency_table_name is not None
    return NotifierConfig(
        transport=env.transport,
        sender=sender,
        admin_recipients=tuple(recipients.split(",")),
        idempotency_table_name=env.idempotency_table_name,
        idempotency_ttl_seconds=env.idempotency_ttl_seconds,
        mail_dir=env.mail_dir,
        ses_region=env.ses_region,
        ses_configuration_set=env.ses_configuration_set,
        smtp=smtp,
    )


def _smtp_settings(env: NotifierEnvironment, problems: list[str]) -> SmtpSettings | None:
    user = env.smtp_user or env.gmail_user
    password = env.smtp_password or env.gmail_password
    host = env.smtp_host or (GMAIL_HOST if env.gmail_user else None)
    security: SmtpSecurity = env.smtp_security or "starttls"
    count = len(problems)
    if host is None:
        _required(problems, "SMTP_HOST", "when EMAIL_TRANSPORT is smtp (or set SCC_GMAIL_USER)")
    if user and password is None:
        _required(problems, "SMTP_PASSWORD", "(or SCC_GMAIL_PASSWORD) when SMTP_USER is set")
    if password is not None and not user:
        _required(problems, "SMTP_USER", "(or SCC_GMAIL_USER) when SMTP_PASSWORD is set")
    if password is not None and security == "none" and host and not _is_loopback(host):
        problems.append(
            "SMTP_SECURITY: 'none' would send SMTP_PASSWORD in clear text; "
            "use starttls or tls (plain SMTP is allowed only to a loopback SMTP_HOST)"
        )
    if len(problems) > count or host is None:
        return None
    return SmtpSettings(
        host=host,
        port=env.smtp_port or DEFAULT_SMTP_PORTS[security],
        security=security,
        username=user,
        password=password,
        timeout_seconds=env.smtp_timeout_seconds,
    )


def load_notifier_config(
    environ: Mapping[str, str] | None = None, *, fetch: Fetch = ssm_fetch
) -> NotifierConfig:
    """The configuration from the environment, or ConfigError naming every bad variable."""
    return _build(load_config(NotifierEnvironment, environ, fetch=fetch))
