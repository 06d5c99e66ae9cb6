"""`make dev PARAMS="Key=Value ..."`: overrides read like `sam deploy --parameter-overrides` and
checked against template.yaml's declarations the way CloudFormation checks them; SMTP=1 and
the SMTP settings that decide whether the local stack starts its own SMTP server."""

from __future__ import annotations

from typing import Any

import pytest

from devstack import stack as devstack_stack
from devstack.params import ParameterError, parse_overrides, validate_overrides
from devstack.stack import Settings, StartupError, resolve_parameters
from devstack.template import load_template

TEMPLATE = load_template(devstack_stack.REPO_ROOT / "template.yaml")


def _validated(text: str) -> dict[str, str]:
    return validate_overrides(TEMPLATE, parse_overrides(text), template_name="template.yaml")


# --- reading PARAMS --------------------------------------------------------------------------


def test_space_separated_pairs_are_read_in_order() -> None:
    # When PARAMS lists three Key=Value pairs
    overrides = parse_overrides("EmailTransport=smtp SmtpHost=127.0.0.1 SmtpPort=1025")

    # Then each is an override, in the order given
    assert list(overrides.items()) == [
        ("EmailTransport", "smtp"),
        ("SmtpHost", "127.0.0.1"),
        ("SmtpPort", "1025"),
    ]


def test_sam_cli_long_form_and_quoted_values_are_accepted() -> None:
    overrides = parse_overrides(
        'ParameterKey=SmtpHost,ParameterValue=127.0.0.1 AdminNotifyEmails="a@x.example,b@x.example"'
        " SmtpUser="
    )

    assert overrides == {
        "SmtpHost": "127.0.0.1",
        "AdminNotifyEmails": "a@x.example,b@x.example",
        "SmtpUser": "",  # Key= is the empty string, as with sam deploy
    }


def test_blank_params_override_nothing() -> None:
    assert parse_overrides("   ") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("EmailTransport smtp", "is not Key=Value"),
        ("EmailTransport=smtp EmailTransport=ses", "given twice"),
        ("Smtp-Host=x", "is not a parameter name"),
        ('SmtpHost="127.0.0.1', "cannot be read"),
    ],
)
def test_malformed_params_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_overrides(text)


# --- checked against template.yaml, as CloudFormation checks -----------------------------------


def test_the_readme_smtp_walkthrough_params_are_valid() -> None:
    text = (
        "EmailTransport=smtp SmtpHost=127.0.0.1 SmtpPort=1025 SmtpSecurity=starttls "
        "SmtpUser=scc.dispatch@gmail.com AdminNotifyEmails=owner@scc.example"
    )

    assert _validated(text) == parse_overrides(text)


def test_an_unknown_parameter_is_refused_with_the_templates_parameter_names() -> None:
    # When PARAMS names a parameter template.yaml does not declare
    with pytest.raises(ParameterError) as refused:
        _validated("EmailTransport=smtp SmtpServer=127.0.0.1")

    # Then the message names it and lists every declared parameter
    message = str(refused.value)
    assert "SmtpServer" in message
    for declared in ("EmailTransport", "SmtpHost", "SmtpPort", "SmtpSecurity", "SmtpUser"):
        assert declared in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # AllowedValues
        ("EmailTransport=sendmail", "must be one of AllowedValues \\(ses, smtp\\)"),
        ("SmtpSecurity=ssl", "must be one of AllowedValues"),
        ("Stage=production", "must be one of AllowedValues"),
        # Number, MinValue, MaxValue
        ("TokenValidityMinutes=4", "not less than 5"),
        ("TokenValidityMinutes=61", "not greater than 60"),
        ("TokenValidityMinutes=fifteen", "must be a number"),
        ("MaxPaymentCents=0", "not less than 1"),
        # AllowedValues of a Number, compared as numbers
        ("LogRetentionDays=8", "must be one of AllowedValues"),
        # AllowedPattern (the whole value), with the declared ConstraintDescription
        ("AllowedOrigin=http://127.0.0.1:9999", "must be an https origin"),
        ("AllowedOrigin=https://pay.example.org/", "failed to satisfy constraint"),
    ],
)
def test_a_value_cloudformation_would_refuse_is_refused(text: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        _validated(text)


@pytest.mark.parametrize(
    "text",
    [
        "TokenValidityMinutes=5",
        "TokenValidityMinutes=60",
        "LogRetentionDays=30",
        "AllowedOrigin=http://localhost:5173",
        "AllowedOrigin=https://pay.example.org",
        "Stage=staging",
    ],
)
def test_a_value_within_the_declaration_is_accepted(text: str) -> None:
    assert _validated(text) == parse_overrides(text)


def test_admin_email_is_the_local_stacks_own_and_points_at_admin_email() -> None:
    with pytest.raises(ParameterError, match="ADMIN_EMAIL"):
        _validated("AdminEmail=boss@scc.example")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ParameterError) as refused:
        _validated("EmailTransport=pigeon TokenValidityMinutes=1")

    assert "EmailTransport" in str(refused.value)
    assert "TokenValidityMinutes" in str(refused.value)


# --- the settings and what they start --------------------------------------------------------


def test_params_reset_and_smtp_are_read_from_the_environment(tmp_path: Any) -> None:
    settings = Settings.from_env(
        {
            "DEV_DATA": str(tmp_path / "data"),
            "RESET": "1",
            "SMTP": "0",
            "PARAMS": "EmailTransport=smtp SmtpHost=127.0.0.1",
        }
    )

    assert settings.data_dir == tmp_path / "data"
    assert settings.reset is True
    assert settings.smtp == "off"
    assert dict(settings.parameter_overrides) == {"EmailTransport": "smtp", "SmtpHost": "127.0.0.1"}
    # Kept mail lives in the data directory unless MAIL_DIR says otherwise
    assert settings.mail_dir == tmp_path / "data" / "mail"
    assert settings.smtp_dir == tmp_path / "data" / "smtp"


def test_without_a_data_directory_nothing_is_kept() -> None:
    settings = Settings.from_env({})

    assert settings.data_dir is None
    assert settings.smtp == "auto"
    assert settings.mail_dir == devstack_stack.REPO_ROOT / ".local" / "mail"


@pytest.mark.parametrize(("name", "value"), [("SMTP", "maybe"), ("RESET", "please")])
def test_a_switch_that_is_neither_1_nor_0_is_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be 1"):
        Settings.from_env({name: value})


def _settings(**env: str) -> Settings:
    return Settings.from_env(env)


def test_smtp_1_points_the_notifier_at_a_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given nothing listens on the local SMTP port
    monkeypatch.setattr(devstack_stack, "is_listening", lambda host, port: False)

    # When SMTP=1 is given without any SMTP parameter
    overrides, plan = resolve_parameters(TEMPLATE, _settings(SMTP="1"))

    # Then the notifier sends over SMTP to the server the stack starts on 127.0.0.1:1025
    assert overrides == {"EmailTransport": "smtp", "SmtpHost": "127.0.0.1", "SmtpPort": "1025"}
    assert plan is not None
    assert (plan.host, plan.port, plan.security, plan.username) == (
        "127.0.0.1",
        1025,
        "starttls",
        None,
    )


def test_smtp_params_to_a_free_loopback_port_start_a_local_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(devstack_stack, "is_listening", lambda host, port: False)
    settings = _settings(
        PARAMS="EmailTransport=smtp SmtpHost=127.0.0.1 SmtpPort=2525 SmtpSecurity=none "
        "SmtpUser=dispatch@scc.example",
        SMTP_PASSWORD="local-only",
    )

    _, plan = resolve_parameters(TEMPLATE, settings)

    assert plan is not None
    assert (plan.port, plan.security, plan.username) == (2525, "none", "dispatch@scc.example")


def test_a_loopback_port_that_already_listens_is_used_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(devstack_stack, "is_listening", lambda host, port: True)

    overrides, plan = resolve_parameters(
        TEMPLATE, _settings(PARAMS="EmailTransport=smtp SmtpHost=127.0.0.1 SmtpPort=2525")
    )

    assert plan is None
    assert overrides["SmtpPort"] == "2525"


@pytest.mark.parametrize(
    "env",
    [
        {
            "PARAMS": "EmailTransport=smtp SmtpHost=smtp.gmail.com SmtpPort=587",
            "SMTP_PASSWORD": "x",
        },
        {"PARAMS": "EmailTransport=ses SmtpHost=127.0.0.1 SmtpPort=2525"},
        {"PARAMS": "EmailTransport=smtp SmtpHost=127.0.0.1 SmtpPort=2525", "SMTP": "0"},
    ],
)
def test_no_local_server_for_a_real_relay_ses_or_smtp_0(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    monkeypatch.setattr(devstack_stack, "is_listening", lambda host, port: False)

    _, plan = resolve_parameters(TEMPLATE, Settings.from_env(env))

    assert plan is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # SmtpUser means an SSM password: it has to come from somewhere
        (
            {"PARAMS": "EmailTransport=smtp SmtpHost=127.0.0.1 SmtpUser=u@x.example"},
            "SMTP_PASSWORD",
        ),
        ({"SMTP": "1", "PARAMS": "EmailTransport=ses"}, "must not set EmailTransport"),
        ({"SMTP": "1", "PARAMS": "SmtpHost=smtp.gmail.com"}, "is not loopback"),
        ({"PARAMS": "EmailTransport=smtp SmtpHost=127.0.0.1 SmtpPort=smtp"}, "port number"),
        ({"PARAMS": "Colour=blue"}, "declares no parameter Colour"),
    ],
)
def test_smtp_settings_that_cannot_work_stop_the_start(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    monkeypatch.setattr(devstack_stack, "is_listening", lambda host, port: False)

    with pytest.raises(StartupError, match=message):
        resolve_parameters(TEMPLATE, Settings.from_env(env))


def test_smtp_1_refuses_a_port_something_else_listens_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devstack_stack, "is_listening", lambda host, port: True)

    with pytest.raises(StartupError, match=r"already listens on 127\.0\.0\.1:1025"):
        resolve_parameters(TEMPLATE, _settings(SMTP="1"))
