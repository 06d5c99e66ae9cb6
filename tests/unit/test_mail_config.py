"""NotifierFunction configuration: transports, the Gmail-style SMTP fallbacks, failing fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.notifier.config import (
    DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    NotifierConfig,
    load_notifier_config,
)
from shared.config import ConfigError

BASE = {
    "IDEMPOTENCY_TABLE_NAME": "scc-IdempotencyTable-ABC",
}
SES = {
    **BASE,
    "EMAIL_TRANSPORT": "ses",
    "SES_SENDER_EMAIL": "payments@scc.example",
    "ADMIN_NOTIFY_EMAILS": "admin@scc.example, bookkeeper@scc.example",
}
SECRET = "gmail-app-password-do-not-echo"


def fails(environment: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as failure:
        load_notifier_config(environment)
    return str(failure.value)


# --- SES --------------------------------------------------------------------------------------


def test_ses_is_the_default_transport() -> None:
    environment = dict(SES)
    del environment["EMAIL_TRANSPORT"]

    config = load_notifier_config(environment)

    assert config == NotifierConfig(
        transport="ses",
        sender="payments@scc.example",
        admin_recipients=("admin@scc.example", "bookkeeper@scc.example"),
        idempotency_table_name="scc-IdempotencyTable-ABC",
    )
    assert config.idempotency_ttl_seconds == DEFAULT_IDEMPOTENCY_TTL_SECONDS >= 24 * 3600
    assert config.mail_dir is None


def test_recipients_are_trimmed_and_deduplicated_and_a_display_name_sender_is_kept() -> None:
    config = load_notifier_config(
        {
            **SES,
            "SES_SENDER_EMAIL": "SCC Payments <payments@scc.example>",
            "ADMIN_NOTIFY_EMAILS": " a@scc.example ,, A@scc.example, b@scc.example ",
        }
    )

    assert config.sender == "SCC Payments <payments@scc.example>"
    assert config.admin_recipients == ("a@scc.example", "b@scc.example")


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"SES_SENDER_EMAIL": ""}, "SES_SENDER_EMAIL"),
        ({"SES_SENDER_EMAIL": "payments"}, "SES_SENDER_EMAIL"),
        ({"ADMIN_NOTIFY_EMAILS": ""}, "ADMIN_NOTIFY_EMAILS"),
        ({"ADMIN_NOTIFY_EMAILS": "not-an-address"}, "ADMIN_NOTIFY_EMAILS"),
        ({"ADMIN_NOTIFY_EMAILS": "a@scc.example;b@scc.example"}, "ADMIN_NOTIFY_EMAILS"),
        ({"IDEMPOTENCY_TABLE_NAME": ""}, "IDEMPOTENCY_TABLE_NAME"),
        ({"IDEMPOTENCY_TTL_SECONDS": "3600"}, "IDEMPOTENCY_TTL_SECONDS"),
        ({"EMAIL_TRANSPORT": "pigeon"}, "EMAIL_TRANSPORT"),
        ({"SES_REGION": "mars"}, "SES_REGION"),
    ],
)
def test_a_bad_ses_setting_fails_naming_the_variable(
    changes: dict[str, str], variable: str
) -> None:
    message = fails({**SES, **changes})

    assert variable in message
    assert "not-an-address" not in message


def test_every_bad_variable_is_named_at_once() -> None:
    message = fails({**BASE, "IDEMPOTENCY_TABLE_NAME": "", "EMAIL_TRANSPORT": "ses"})

    for variable in ("SES_SENDER_EMAIL", "ADMIN_NOTIFY_EMAILS", "IDEMPOTENCY_TABLE_NAME"):
        assert variable in message


def test_mail_dir_turns_on_the_spool() -> None:
    config = load_notifier_config({**SES, "MAIL_DIR": "/tmp/scc-mail"})

    assert config.mail_dir == Path("/tmp/scc-mail")


# --- SMTP -------------------------------------------------------------------------------------


def test_explicit_smtp_settings() -> None:
    config = load_notifier_config(
        {
            **SES,
            "EMAIL_TRANSPORT": "SMTP",
            "SMTP_HOST": "smtp.example.org",
            "SMTP_PORT": "2525",
            "SMTP_USER": "relay",
            "SMTP_PASSWORD": SECRET,
            "SMTP_SECURITY": "tls",
            "SMTP_TIMEOUT_SECONDS": "4.5",
        }
    )

    assert config.transport == "smtp"
    assert config.smtp is not None
    assert (config.smtp.host, config.smtp.port, config.smtp.security) == (
        "smtp.example.org",
        2525,
        "tls",
    )
    assert config.smtp.username == "relay"
    assert config.smtp.password is not None
    assert config.smtp.password.get_secret_value() == SECRET
    assert config.smtp.timeout_seconds == 4.5
    assert SECRET not in repr(config)
    assert SECRET not in str(config.model_dump())


def test_the_seed_gmail_variables_work_alone() -> None:
    # Given only the three Gmail-style SMTP variables
    config = load_notifier_config(
        {
            **BASE,
            "EMAIL_TRANSPORT": "smtp",
            "SCC_GMAIL_USER": "scc.dispatch@gmail.com",
            "SCC_GMAIL_PASSWORD": SECRET,
            "SCC_GMAIL_TO": "owner@scc.example,captain@scc.example",
        }
    )

    # Then Gmail's relay over STARTTLS, signed in as that user, mailing those addresses
    assert config.smtp is not None
    assert (config.smtp.host, config.smtp.port, config.smtp.security) == (
        "smtp.gmail.com",
        587,
        "starttls",
    )
    assert config.smtp.username == "scc.dispatch@gmail.com"
    assert config.sender == "scc.dispatch@gmail.com"
    assert config.admin_recipients == ("owner@scc.example", "captain@scc.example")


def test_the_canonical_names_win_over_the_gmail_fallbacks() -> None:
    config = load_notifier_config(
        {
            **SES,
            "EMAIL_TRANSPORT": "smtp",
            "SMTP_USER": "relay@scc.example",
            "SMTP_PASSWORD": "primary",
            "SCC_GMAIL_USER": "fallback@gmail.com",
            "SCC_GMAIL_PASSWORD": SECRET,
            "SCC_GMAIL_TO": "other@scc.example",
        }
    )

    assert config.smtp is not None
    assert config.smtp.host == "smtp.gmail.com"  # SCC_GMAIL_USER implies Gmail's relay
    assert config.smtp.username == "relay@scc.example"
    assert config.smtp.password is not None
    assert config.smtp.password.get_secret_value() == "primary"
    assert config.admin_recipients == ("admin@scc.example", "bookkeeper@scc.example")
    assert config.sender == "payments@scc.example"


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({}, "SMTP_HOST"),
        ({"SMTP_HOST": "smtp.example.org", "SMTP_USER": "relay"}, "SMTP_PASSWORD"),
        ({"SMTP_HOST": "smtp.example.org", "SMTP_PASSWORD": SECRET}, "SMTP_USER"),
        ({"SMTP_HOST": "smtp.example.org", "SMTP_PORT": "0"}, "SMTP_PORT"),
        ({"SMTP_HOST": "smtp.example.org", "SMTP_PORT": "smtp"}, "SMTP_PORT"),
        ({"SMTP_HOST": "smtp.example.org", "SMTP_SECURITY": "ssl3"}, "SMTP_SECURITY"),
        ({"SMTP_HOST": "smtp.example.org", "SMTP_TIMEOUT_SECONDS": "600"}, "SMTP_TIMEOUT_SECONDS"),
        ({"SMTP_HOST": "bad host\r\nX: y"}, "SMTP_HOST"),
        (
            {
                "SMTP_HOST": "smtp.example.org",
                "SMTP_SECURITY": "none",
                "SMTP_USER": "relay",
                "SMTP_PASSWORD": SECRET,
            },
            "SMTP_SECURITY",
        ),
    ],
)
def test_a_bad_smtp_setting_fails_naming_the_variable_and_never_the_password(
    changes: dict[str, str], variable: str
) -> None:
    message = fails({**SES, "EMAIL_TRANSPORT": "smtp", **changes})

    assert variable in message
    assert SECRET not in message


def test_plain_smtp_with_a_password_is_allowed_to_a_loopback_relay() -> None:
    config = load_notifier_config(
        {
            **SES,
            "EMAIL_TRANSPORT": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_SECURITY": "none",
            "SMTP_USER": "dev",
            "SMTP_PASSWORD": "dev",
        }
    )

    assert config.smtp is not None
    assert config.smtp.port == 25


def test_smtp_needs_someone_to_send_as() -> None:
    environment = {
        **BASE,
        "EMAIL_TRANSPORT": "smtp",
        "SMTP_HOST": "smtp.example.org",
        "ADMIN_NOTIFY_EMAILS": "admin@scc.example",
    }

    assert "SMTP_FROM" in fails(environment)
    assert load_notifier_config({**environment, "SMTP_FROM": "x@scc.example"}).sender == (
        "x@scc.example"
    )
