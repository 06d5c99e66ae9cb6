from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.ids import is_event_id, is_uuid7, make_event_id, new_payment_id, slugify
from shared.models import CreateEventRequest, LogPaymentRequest

VALID: dict[str, Any] = {"patron_name": "John Smith", "amount": "150.00", "payment_method": "card"}


def fields_of(error: ValidationError) -> set[str]:
    return {str(e["loc"][0]) for e in error.errors()}


def test_a_valid_payment_request_holds_integer_cents_and_clean_text() -> None:
    request = LogPaymentRequest.model_validate(
        {**VALID, "patron_name": "  John Smith ", "payment_method": "Venmo", "notes": "a\r\nb"}
    )
    assert request.amount == 15000
    assert request.patron_name == "John Smith"
    assert request.payment_method == "venmo"
    assert request.notes == "a\nb"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patron_name": "   "}, "patron_name"),
        ({"patron_name": "x" * 121}, "patron_name"),
        ({"patron_name": "Bob\x00"}, "patron_name"),
        ({"patron_name": "evil\u202etxt"}, "patron_name"),
        ({"patron_name": 42}, "patron_name"),
        ({"notes": "n" * 1001}, "notes"),
        ({"notes": "bell\x07"}, "notes"),
        ({"payment_method": "bitcoin"}, "payment_method"),
        ({"amount": True}, "amount"),
        ({"received_at": "2026-05-23T18:30:00"}, "received_at"),  # no offset: ambiguous
        ({"payment_id": "not-a-uuid"}, "payment_id"),
        ({"payment_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}, "payment_id"),  # v1
        ({"patron_email": "nobody"}, "patron_email"),
        ({"patron_email": "josé@example.com"}, "patron_email"),  # no SMTPUTF8 relay
        ({"received_at": 1716489000}, "received_at"),  # a number is not ISO 8601
        ({"logged_by": "mallory@example.com"}, "logged_by"),
    ],
)
def test_bad_payment_fields_are_reported_by_name(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        LogPaymentRequest.model_validate({**VALID, **change})
    assert field in fields_of(caught.value)


def test_length_limits_are_inclusive() -> None:
    request = LogPaymentRequest.model_validate(
        {**VALID, "patron_name": "x" * 120, "notes": "n" * 1000}
    )
    assert len(request.patron_name) == 120
    assert request.notes is not None
    assert len(request.notes) == 1000


def test_received_at_is_normalised_to_utc() -> None:
    request = LogPaymentRequest.model_validate(
        {**VALID, "received_at": "2026-05-23T11:30:00-07:00"}
    )
    assert request.received_at == datetime(2026, 5, 23, 18, 30, tzinfo=UTC)


def test_the_fingerprint_ignores_formatting_but_not_content() -> None:
    a = LogPaymentRequest.model_validate({**VALID, "amount": "150"})
    b = LogPaymentRequest.model_validate(
        {**VALID, "amount": "150.00", "patron_name": " John Smith"}
    )
    c = LogPaymentRequest.model_validate({**VALID, "amount": "150.01"})
    assert a.fingerprint_fields("e") == b.fingerprint_fields("e")
    assert a.fingerprint_fields("e") != c.fingerprint_fields("e")


def test_create_event_accepts_iso_dates_and_supported_currencies_only() -> None:
    event = CreateEventRequest.model_validate(
        {"event_name": "Corporate Mixer", "date": "2026-05-23", "currency": "usd"}
    )
    assert event.currency == "USD"
    for bad in ({"date": "05/23/2026"}, {"date": "2026-02-30"}, {"currency": "JPY"}):
        with pytest.raises(ValidationError) as caught:
            CreateEventRequest.model_validate({"event_name": "X", "date": "2026-05-23", **bad})
        assert set(bad) <= fields_of(caught.value)


def test_event_ids_are_readable_and_strict() -> None:
    assert make_event_id(date(2026, 5, 23), "Corporate Mixer!") == ("2026-05-23-corporate-mixer")
    assert slugify("Café  Crème") == "cafe-creme"
    assert slugify("!!!") == "event"
    assert is_event_id("2026-05-23-corporate-mixer")
    for bad in ("2026-05-23-a\n", "../etc", "EVENT#1", "2026-05-23-", "2026-05-23-A"):
        assert not is_event_id(bad)


def test_payment_ids_are_uuid7_and_sort_by_time() -> None:
    earlier = new_payment_id(now_ms=1_700_000_000_000)
    later = new_payment_id(now_ms=1_700_000_000_001)
    assert is_uuid7(earlier)
    assert is_uuid7(later)
    assert earlier < later
    assert not is_uuid7(earlier.upper())
