"""The one rule per kind of value (shared.validators): what each accepts, in which normalised
form, and what it refuses with a message fit for the user."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared.errors import ValidationFailed
from shared.ids import new_payment_id
from shared.validators import (
    calendar_date,
    check,
    email_address,
    event_id,
    is_email_address,
    moment,
    payment_id,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

# --- e-mail addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        pytest.param("a@example.com", "a@example.com", id="plain"),
        pytest.param("john.smith+scc@example.co.uk", "john.smith+scc@example.co.uk", id="plus-tag"),
        pytest.param("Ada@Example.ORG", "Ada@example.org", id="domain-lower-cased-local-kept"),
        pytest.param("  a@example.com\t", "a@example.com", id="surrounding-whitespace"),
        pytest.param("a@bücher.example", "a@xn--bcher-kva.example", id="idn-domain-as-ascii"),
        pytest.param("a@xn--bcher-kva.example", "a@xn--bcher-kva.example", id="ascii-idn-domain"),
        pytest.param("o'brien@example.ie", "o'brien@example.ie", id="apostrophe"),
        pytest.param("admin@scc.local", "admin@scc.local", id="local-stack-domain"),
        pytest.param("x" * 64 + "@example.com", "x" * 64 + "@example.com", id="local-part-64"),
    ],
)
def test_an_ordinary_address_is_accepted_in_its_normalised_form(text: str, normalised: str) -> None:
    assert email_address(text) == normalised
    assert email_address(normalised) == normalised  # normalising twice changes nothing
    assert is_email_address(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a@x..com", id="double-dot-in-domain"),
        pytest.param("a@-x.com", id="domain-label-starts-with-hyphen"),
        pytest.param("a@x-.com", id="domain-label-ends-with-hyphen"),
        pytest.param("a@example.com.", id="trailing-dot"),
        pytest.param("a.@example.com", id="local-part-ends-with-dot"),
        pytest.param(".a@example.com", id="local-part-starts-with-dot"),
        pytest.param("a..b@example.com", id="double-dot-in-local-part"),
        pytest.param("a b@example.com", id="space-in-local-part"),
        pytest.param("a@exa mple.com", id="space-in-domain"),
        pytest.param("a @example.com", id="space-before-at"),
        pytest.param("not-an-address", id="no-at"),
        pytest.param("a@b", id="domain-without-period"),
        pytest.param("a@localhost", id="localhost"),
        pytest.param("a@example.invalid", id="reserved-invalid"),
        pytest.param("@example.com", id="empty-local-part"),
        pytest.param("a@", id="empty-domain"),
        pytest.param("a@b@example.com", id="two-ats"),
        pytest.param('"a b"@example.com', id="quoted-local-part"),
        pytest.param("a@[192.0.2.1]", id="ip-literal"),
        pytest.param("Ada <a@example.com>", id="display-name"),
        pytest.param("a@example.com\r\nBcc: b@example.com", id="header-injection"),
        pytest.param("a@ex_ample.com", id="underscore-in-domain"),
        pytest.param("x" * 65 + "@example.com", id="local-part-65"),
        pytest.param("a@" + "b" * 250 + ".com", id="longer-than-254"),
        pytest.param("", id="empty"),
    ],
)
def test_anything_but_an_ordinary_address_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"^must be an e-mail address like name@example\.com \("):
        email_address(text)
    assert not is_email_address(text)


@pytest.mark.parametrize("text", ["josé@example.com", "\uff4aohn@example.com", "用户@例子.广告"])
def test_an_internationalised_local_part_is_refused_because_it_cannot_be_mailed(
    text: str,
) -> None:
    with pytest.raises(ValueError, match="only ASCII characters before the @") as refused:
        email_address(text)
    assert "internationalised" in str(refused.value)


def test_the_email_library_is_imported_at_the_first_address_not_at_cold_start() -> None:
    # Given a fresh interpreter that imports the API models, as a handler's cold start does
    probe = (
        "import sys, shared.models, shared.validators as v; "
        "print('email_validator' in sys.modules); "
        "v.email_address('a@example.com'); "
        "print('email_validator' in sys.modules)"
    )
    # When it imports them, then checks one address
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # Then the library was loaded only for the address
    assert out == ["False", "True"]


# --- dates and moments -----------------------------------------------------------------------


def test_a_calendar_date_is_a_real_yyyy_mm_dd_day() -> None:
    assert calendar_date("2026-05-23") == date(2026, 5, 23)
    assert calendar_date(date(2026, 5, 23)) == date(2026, 5, 23)
    assert calendar_date("2028-02-29") == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("05/23/2026", "must be a date as YYYY-MM-DD"),
        ("2026-5-23", "must be a date as YYYY-MM-DD"),
        ("2026-05-23T00:00:00Z", "must be a date as YYYY-MM-DD"),
        (" 2026-05-23", "must be a date as YYYY-MM-DD"),
        ("\uff12\uff10\uff12\uff16-05-23", "must be a date as YYYY-MM-DD"),
        (20260523, "must be a date as YYYY-MM-DD"),
        (datetime(2026, 5, 23, tzinfo=UTC), "must be a date as YYYY-MM-DD"),
        ("2026-02-30", "must be a real calendar date"),
        ("2026-13-01", "must be a real calendar date"),
    ],
)
def test_anything_else_is_not_a_calendar_date(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calendar_date(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-23T18:30:00Z", datetime(2026, 5, 23, 18, 30, tzinfo=UTC)),
        ("2026-05-23T18:30:00.123Z", datetime(2026, 5, 23, 18, 30, 0, 123000, tzinfo=UTC)),
        ("2026-05-23T11:30:00-07:00", datetime(2026, 5, 23, 18, 30, tzinfo=UTC)),
        ("2026-05-23 18:30Z", datetime(2026, 5, 23, 18, 30, tzinfo=UTC)),
        ("2026-05-23t18:30:00z", datetime(2026, 5, 23, 18, 30, tzinfo=UTC)),
        (
            "2026-05-23T18:30:00.123456789+00:00",
            datetime(2026, 5, 23, 18, 30, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_a_moment_is_iso_8601_with_an_offset_and_comes_back_in_utc(
    text: str, expected: datetime
) -> None:
    parsed = moment(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_an_aware_datetime_is_a_moment_in_utc() -> None:
    local = datetime(2026, 5, 23, 11, 30, tzinfo=timezone(timedelta(hours=-7)))
    assert moment(local) == datetime(2026, 5, 23, 18, 30, tzinfo=UTC)
    assert moment(local).tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-05-23T18:30:00", "must include a UTC offset"),
        (datetime(2026, 5, 23, 18, 30), "must include a UTC offset"),  # noqa: DTZ001
        ("yesterday", "must be a date and time like 2026-05-23T18:30:00Z"),
        ("2026-05-23", "must be a date and time like"),
        ("1716489000", "must be a date and time like"),
        (1716489000, "must be a date and time like"),
        ("2026-05-23T18:30:00+0200", "must be a date and time like"),
        ("2026-02-30T18:30:00Z", "must be a real date and time"),
        ("2026-05-23T24:30:00Z", "must be a real date and time"),
    ],
)
def test_anything_else_is_not_a_moment(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        moment(value)


# --- identifiers -----------------------------------------------------------------------------


def test_an_event_id_is_a_date_and_a_lower_case_slug() -> None:
    assert event_id("2026-05-23-corporate-mixer") == "2026-05-23-corporate-mixer"
    for bad in ("2026-05-23-a\n", "../etc", "EVENT#1", "2026-05-23-", "2026-05-23-A", ""):
        with pytest.raises(ValueError, match="must look like 2026-05-23-corporate-mixer"):
            event_id(bad)


def test_a_payment_id_is_a_canonical_lower_case_uuid7() -> None:
    made = new_payment_id()
    assert payment_id(made) == made
    for bad in (
        made.upper(),
        "{" + made + "}",
        made.replace("-", ""),
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",  # version 1
        "8c5b3b0e-4a4f-4f43-9c8e-2f0f4a3e2b1d",  # version 4
        "not-a-uuid",
    ):
        with pytest.raises(ValueError, match="must be a lower-case UUIDv7"):
            payment_id(bad)


def test_check_names_the_field_a_rule_refuses() -> None:
    assert check("event_id", event_id, "2026-05-23-corporate-mixer") == "2026-05-23-corporate-mixer"
    with pytest.raises(ValidationFailed) as refused:
        check("from", calendar_date, "2026-02-30")
    assert refused.value.fields == {"from": "must be a real calendar date"}
    assert refused.value.status == 400


@pytest.mark.parametrize("text", ["0080-07-19", "1999-12-31", "2100-01-01"])
def test_a_day_outside_the_years_the_books_can_be_about_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="between 2000-01-01 and 2099-12-31"):
        calendar_date(text)


@pytest.mark.parametrize("text", ["0641-04-19T12:00:00Z", "1999-12-31T23:59:59Z"])
def test_a_moment_before_2000_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="between 2000-01-01 and 2099-12-31"):
        moment(text)


def test_the_first_and_last_days_of_the_range_are_accepted() -> None:
    assert calendar_date("2000-01-01").isoformat() == "2000-01-01"
    assert calendar_date("2099-12-31").isoformat() == "2099-12-31"
    assert moment("2000-01-01T00:00:00Z").year == 2000
