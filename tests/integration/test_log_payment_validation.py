"""Logging a payment refuses every malformed request with a field-level JSON error, writes
nothing, and accepts the boundary values the design allows.

Both routes of the command are covered: `POST /api/g/{event_id}/payment` exhaustively and
`POST /api/payment/log` (event id in the body) with a sample plus its own event_id cases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.support import DROP, Api, assert_error, new_uuid7, payment_body

PATH_ROUTE = "/api/g/{event_id}/payment"
BODY_ROUTE = "/api/payment/log"
UNKNOWN_EVENT = "2026-05-24-no-such-party"
OVER_64_KIB = 64 * 1024 + 1


@dataclass(frozen=True)
class Bad:
    """One bad request: a JSON body (or raw text), the status and the field the error names."""

    field: str
    body: dict[str, Any] | None = None
    raw: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 400
    event_id: str | None = None  # None: the seeded event


def _raw(**fields: str) -> str:
    """A JSON object written by hand, for values json.dumps cannot produce (NaN, 1e309, ...)."""
    return "{" + ",".join(f'"{name}":{value}' for name, value in fields.items()) + "}"


_NAME = '"Ada Lovelace"'
_CASH = '"cash"'
# {"amount": 1, "amount": 1000} has no single meaning.
_DUPLICATED_AMOUNT = (
    '{"patron_name":"Ada Lovelace","amount":"1.00","payment_method":"cash","amount":"1000.00"}'
)
_BIG_BODY = json.dumps(payment_body(notes="x" * OVER_64_KIB))


AMOUNT_CASES = [
    pytest.param(Bad("amount", payment_body(amount=0)), id="amount-zero"),
    pytest.param(Bad("amount", payment_body(amount="0.00")), id="amount-zero-string"),
    pytest.param(Bad("amount", payment_body(amount=-5)), id="amount-negative"),
    pytest.param(Bad("amount", payment_body(amount="-5.00")), id="amount-negative-string"),
    pytest.param(Bad("amount", payment_body(amount="abc")), id="amount-not-a-number"),
    pytest.param(Bad("amount", payment_body(amount="")), id="amount-empty-string"),
    pytest.param(Bad("amount", payment_body(amount="1e309")), id="amount-exponent-string"),
    pytest.param(
        Bad("amount", raw=_raw(patron_name=_NAME, amount="1e309", payment_method=_CASH)),
        id="amount-1e309-number",
    ),
    pytest.param(
        Bad("amount", raw=_raw(patron_name=_NAME, amount="NaN", payment_method=_CASH)),
        id="amount-NaN",
    ),
    pytest.param(
        Bad("amount", raw=_raw(patron_name=_NAME, amount="Infinity", payment_method=_CASH)),
        id="amount-Infinity",
    ),
    pytest.param(
        Bad("amount", raw=_raw(patron_name=_NAME, amount="-Infinity", payment_method=_CASH)),
        id="amount-minus-Infinity",
    ),
    pytest.param(
        Bad("amount", raw=_raw(patron_name=_NAME, amount="10.005", payment_method=_CASH)),
        id="amount-three-decimals-number",
    ),
    pytest.param(Bad("amount", payment_body(amount="10.005")), id="amount-three-decimals-string"),
    pytest.param(
        Bad("amount", raw=_raw(patron_name=_NAME, amount="100000.01", payment_method=_CASH)),
        id="amount-above-maximum-number",
    ),
    pytest.param(Bad("amount", payment_body(amount="100000.01")), id="amount-above-maximum-string"),
    pytest.param(Bad("amount", payment_body(amount=True)), id="amount-boolean"),
    pytest.param(Bad("amount", payment_body(amount=None)), id="amount-null"),
    pytest.param(Bad("amount", payment_body(amount={"value": 150})), id="amount-object"),
    pytest.param(Bad("amount", payment_body(amount=[150])), id="amount-array"),
    pytest.param(
        Bad(
            "amount",
            raw=_raw(
                patron_name=_NAME,
                amount="1234567890123456789012345678901.001",
                payment_method=_CASH,
            ),
        ),
        id="amount-beyond-decimal-precision",
    ),
]

FIELD_CASES = [
    pytest.param(Bad("patron_name", payment_body(patron_name=DROP)), id="missing-patron-name"),
    pytest.param(Bad("amount", payment_body(amount=DROP)), id="missing-amount"),
    pytest.param(
        Bad("payment_method", payment_body(payment_method="bitcoin")), id="unknown-method"
    ),
    pytest.param(Bad("payment_method", payment_body(payment_method="")), id="empty-method"),
    pytest.param(Bad("patron_name", payment_body(patron_name="")), id="empty-patron-name"),
    pytest.param(
        Bad("patron_name", payment_body(patron_name=" \t  ")), id="whitespace-patron-name"
    ),
    pytest.param(Bad("patron_name", payment_body(patron_name="x" * 121)), id="patron-name-121"),
    pytest.param(Bad("patron_name", payment_body(patron_name=42)), id="patron-name-number"),
    pytest.param(Bad("notes", payment_body(notes="n" * 1001)), id="notes-1001"),
    pytest.param(
        Bad("patron_name", payment_body(patron_name="Ada\u0000Lovelace")), id="patron-name-NUL"
    ),
    pytest.param(
        Bad("patron_name", payment_body(patron_name="Ada\u0007Lovelace")), id="patron-name-BEL"
    ),
    pytest.param(
        Bad("patron_name", payment_body(patron_name="Ada \u202eecalevoL")),
        id="patron-name-bidi-override",
    ),
    pytest.param(Bad("notes", payment_body(notes="paid\u0000in full")), id="notes-NUL"),
    pytest.param(Bad("reference", payment_body(reference="r" * 101)), id="reference-101"),
    pytest.param(
        Bad("patron_email", payment_body(patron_email="not-an-address")), id="bad-patron-email"
    ),
    *[
        pytest.param(Bad("patron_email", payment_body(patron_email=address)), id=name)
        for name, address in (
            ("patron-email-internationalised-local-part", "josé@example.com"),
            ("patron-email-double-dot", "a@x..com"),
            ("patron-email-leading-hyphen", "a@-x.com"),
            ("patron-email-trailing-dot", "a@example.com."),
            ("patron-email-inner-space", "a b@example.com"),
            ("patron-email-space-before-at", "a @example.com"),
            ("patron-email-display-name", "Ada <a@example.com>"),
            ("patron-email-empty", ""),
            ("patron-email-number", 42),
        )
    ],
    pytest.param(Bad("tip", payment_body(tip="5.00")), id="unknown-extra-field"),
    pytest.param(Bad("received_at", payment_body(received_at="yesterday")), id="received-at-text"),
    pytest.param(
        Bad("received_at", payment_body(received_at="2026-05-23T18:30:00")),
        id="received-at-without-offset",
    ),
    pytest.param(
        Bad("received_at", payment_body(received_at=1716489000)), id="received-at-epoch-number"
    ),
    pytest.param(
        Bad("received_at", payment_body(received_at="2026-02-30T18:30:00Z")),
        id="received-at-not-a-real-day",
    ),
    pytest.param(
        Bad("received_at", payment_body(received_at="2999-01-01T00:00:00Z")),
        id="received-at-far-future",
    ),
    pytest.param(Bad("payment_id", payment_body(payment_id="not-a-uuid")), id="payment-id-text"),
    pytest.param(
        Bad("payment_id", payment_body(payment_id="8c5b3b0e-4a4f-4f43-9c8e-2f0f4a3e2b1d")),
        id="payment-id-uuid4",
    ),
    pytest.param(
        Bad("payment_id", payment_body(payment_id=new_uuid7(1_700_000_000_000).upper())),
        id="payment-id-upper-case",
    ),
    pytest.param(
        Bad("payment_id", payment_body(payment_id="{" + new_uuid7(1_700_000_000_000) + "}")),
        id="payment-id-braces",
    ),
]

BODY_CASES = [
    pytest.param(Bad("body", raw="patron_name=Ada&amount=150"), id="body-not-json"),
    pytest.param(Bad("body", raw='{"patron_name": "Ada", '), id="body-truncated-json"),
    pytest.param(Bad("body", raw="[]"), id="body-empty-array"),
    pytest.param(
        Bad("body", raw=json.dumps([payment_body()])),
        id="body-array-of-payment",
    ),
    pytest.param(
        Bad("body", raw=json.dumps([payment_body(), payment_body(patron_name="Grace Hopper")])),
        id="body-array-of-two-payments",
    ),
    pytest.param(Bad("body", raw='"Ada Lovelace paid 150"'), id="body-string"),
    pytest.param(Bad("body", raw="150"), id="body-number"),
    pytest.param(Bad("body", raw="null"), id="body-null"),
    pytest.param(Bad("body", raw=""), id="body-empty"),
    pytest.param(Bad("body", raw="   \n"), id="body-whitespace"),
    pytest.param(Bad("body", raw=_BIG_BODY, status=413), id="body-over-64-KiB"),
    pytest.param(
        Bad("amount", raw=_DUPLICATED_AMOUNT),
        id="duplicated-key",
    ),
    pytest.param(
        Bad("body", payment_body(), headers={"content-type": "text/plain"}),
        id="content-type-text-plain",
    ),
    pytest.param(
        Bad("body", payment_body(), headers={"content-type": "application/x-www-form-urlencoded"}),
        id="content-type-form",
    ),
]

EVENT_CASES = [
    pytest.param(
        Bad("event_id", payment_body(), status=404, event_id=UNKNOWN_EVENT), id="unknown-event"
    ),
    pytest.param(Bad("event_id", payment_body(), event_id="../x"), id="event-id-dot-dot"),
    pytest.param(Bad("event_id", payment_body(), event_id="EVENT#1"), id="event-id-key-prefix"),
    pytest.param(
        Bad("event_id", payment_body(), event_id="2026-05-23-a\n"), id="event-id-trailing-newline"
    ),
    pytest.param(
        Bad("event_id", payment_body(), event_id="2026-05-23-Corporate-Mixer"),
        id="event-id-upper-case",
    ),
    pytest.param(
        Bad("event_id", payment_body(), event_id="2026-05-23-" + "a" * 80), id="event-id-too-long"
    ),
]


def _post(api: Api, route: str, case: Bad, event_id: str, token: str) -> Any:
    target = case.event_id or event_id
    content: dict[str, Any] = {}
    if case.body is not None:
        # The body route carries the event id inside the JSON object.
        content["body"] = case.body if route == PATH_ROUTE else {"event_id": target, **case.body}
    if case.raw is not None:
        raw = case.raw
        if route == BODY_ROUTE and raw.startswith("{") and len(raw) < OVER_64_KIB:
            raw = "{" + f'"event_id":{json.dumps(target)},' + raw[1:]
        content["raw_body"] = raw
    path_params = {"event_id": target} if route == PATH_ROUTE else None
    return api.call(
        "POST", route, path_params=path_params, headers=case.headers, token=token, **content
    )


@pytest.mark.parametrize("case", AMOUNT_CASES + FIELD_CASES + BODY_CASES + EVENT_CASES)
def test_a_bad_payment_is_refused_with_a_field_error_and_nothing_is_written(
    api: Api, seeded_event: str, admin_token: str, case: Bad
) -> None:
    # Given an event and a signed-in admin
    before = api.table_items()
    api.calls.reset()

    # When the admin posts a malformed payment
    reply = _post(api, PATH_ROUTE, case, seeded_event, admin_token)

    # Then a JSON error names the field, and the table is untouched
    assert_error(reply, case.status, case.field)
    assert api.calls.writes == []
    assert api.table_items() == before


BODY_ROUTE_SAMPLE = [
    pytest.param(Bad("amount", payment_body(amount=0)), id="amount-zero"),
    pytest.param(Bad("amount", payment_body(amount="abc")), id="amount-not-a-number"),
    pytest.param(
        Bad("amount", raw=_raw(patron_name=_NAME, amount="NaN", payment_method=_CASH)),
        id="amount-NaN",
    ),
    pytest.param(Bad("amount", payment_body(amount="10.005")), id="amount-three-decimals"),
    pytest.param(Bad("amount", payment_body(amount="100000.01")), id="amount-above-maximum"),
    pytest.param(Bad("patron_name", payment_body(patron_name=DROP)), id="missing-patron-name"),
    pytest.param(
        Bad("payment_method", payment_body(payment_method="bitcoin")), id="unknown-method"
    ),
    pytest.param(
        Bad("patron_name", payment_body(patron_name="Ada\u0000Lovelace")), id="patron-name-NUL"
    ),
    pytest.param(Bad("tip", payment_body(tip="5.00")), id="unknown-extra-field"),
    pytest.param(Bad("payment_id", payment_body(payment_id="not-a-uuid")), id="bad-payment-id"),
    pytest.param(Bad("body", raw="patron_name=Ada"), id="body-not-json"),
    pytest.param(Bad("body", raw="[]"), id="body-array"),
    pytest.param(
        Bad("body", raw=json.dumps([payment_body(event_id="2026-05-23-corporate-mixer")])),
        id="body-array-of-payment",
    ),
    pytest.param(Bad("body", raw=""), id="body-empty"),
    pytest.param(Bad("body", raw=_BIG_BODY, status=413), id="body-over-64-KiB"),
    pytest.param(
        Bad("amount", raw=_DUPLICATED_AMOUNT),
        id="duplicated-key",
    ),
    pytest.param(
        Bad("body", payment_body(), headers={"content-type": "text/plain"}),
        id="content-type-text-plain",
    ),
    *EVENT_CASES,
    pytest.param(Bad("event_id", payment_body(event_id=42)), id="event-id-number"),
]


@pytest.mark.parametrize("case", BODY_ROUTE_SAMPLE)
def test_the_body_route_refuses_the_same_bad_payments(
    api: Api, seeded_event: str, admin_token: str, case: Bad
) -> None:
    # Given an event and a signed-in admin
    before = api.table_items()
    api.calls.reset()

    # When the admin posts a malformed payment to POST /api/payment/log
    reply = _post(api, BODY_ROUTE, case, seeded_event, admin_token)

    # Then the same field error, and nothing written
    assert_error(reply, case.status, case.field)
    assert api.calls.writes == []
    assert api.table_items() == before


def test_the_body_route_requires_an_event_id(api: Api, seeded_event: str, admin_token: str) -> None:
    # Given an event and a signed-in admin
    before = api.table_items()

    # When a payment is posted to POST /api/payment/log without event_id
    reply = api.call("POST", BODY_ROUTE, body=payment_body(), token=admin_token)

    # Then event_id is named as required and nothing is written
    assert_error(reply, 400, "event_id")
    assert api.table_items() == before


@pytest.mark.parametrize(
    ("changes", "stored"),
    [
        pytest.param({"patron_name": "P" * 120}, {"patron_name": "P" * 120}, id="patron-name-120"),
        pytest.param({"notes": "n" * 1000}, {"notes": "n" * 1000}, id="notes-1000"),
        pytest.param(
            {"notes": "paid in cash\nchange given"},
            {"notes": "paid in cash\nchange given"},
            id="notes-with-newline",
        ),
        pytest.param(
            {"patron_name": "  Ada Lovelace  "}, {"patron_name": "Ada Lovelace"}, id="name-trimmed"
        ),
        pytest.param({"amount": "100000.00"}, {"amount_cents": 10_000_000}, id="amount-maximum"),
        pytest.param({"amount": 0.01}, {"amount_cents": 1}, id="amount-one-cent"),
        pytest.param({"amount": "150.000"}, {"amount_cents": 15000}, id="amount-trailing-zeros"),
        pytest.param({"payment_method": "Venmo"}, {"payment_method": "venmo"}, id="method-case"),
        pytest.param(
            {"reference": "r" * 100, "patron_email": " Ada@Example.org "},
            {"reference": "r" * 100, "patron_email": "Ada@example.org"},
            id="reference-100-and-email-domain-lower-cased",
        ),
        pytest.param(
            {"patron_email": "ada@bücher.example"},
            {"patron_email": "ada@xn--bcher-kva.example"},
            id="email-internationalised-domain-stored-as-ascii",
        ),
    ],
)
def test_boundary_values_are_accepted_and_stored(
    api: Api,
    seeded_event: str,
    admin_token: str,
    changes: dict[str, Any],
    stored: dict[str, Any],
) -> None:
    # Given an event and a signed-in admin
    # When a payment right at a limit is logged
    reply = api.log_payment(seeded_event, payment_body(**changes), admin_token)

    # Then it is created and stored as cleaned
    assert reply.status == 201, reply.raw
    [item] = api.payment_items()
    assert {name: item.get(name) for name in stored} == stored


def test_an_internationalised_patron_address_is_refused_with_the_reason(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given an event and a signed-in admin
    before = api.table_items()

    # When a payment names a patron address with a non-ASCII local part
    reply = api.log_payment(
        seeded_event, payment_body(patron_email="josé@example.com"), admin_token
    )

    # Then patron_email is refused with why (no receipt could ever be sent), nothing written
    error = assert_error(reply, 400, "patron_email")
    assert "ASCII" in error["fields"]["patron_email"]
    assert "internationalised" in error["fields"]["patron_email"]
    assert api.table_items() == before


def test_a_received_at_a_few_minutes_ahead_is_accepted_as_clock_drift(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given a phone whose clock runs two minutes fast
    ahead = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()

    # When it logs a payment received "now"
    reply = api.log_payment(seeded_event, payment_body(received_at=ahead), admin_token)

    # Then the payment is accepted
    assert reply.status == 201, reply.raw


class TestConfiguredMaximum:
    """The maximum payment comes from the MAX_PAYMENT_CENTS setting, not from the code."""

    @pytest.fixture
    def env_overrides(self) -> dict[str, dict[str, str]]:
        return {"IngestFunction": {"MAX_PAYMENT_CENTS": "50000"}}

    def test_an_amount_above_the_configured_maximum_is_refused(
        self, api: Api, seeded_event: str, admin_token: str
    ) -> None:
        # Given an ingest function configured with a 500.00 maximum
        before = api.table_items()

        # When 500.01 is logged
        reply = api.log_payment(seeded_event, payment_body(amount="500.01"), admin_token)

        # Then amount is refused with the configured limit in the message, nothing written
        error = assert_error(reply, 400, "amount")
        assert "500.00" in error["fields"]["amount"]
        assert api.table_items() == before

    def test_the_configured_maximum_itself_is_accepted(
        self, api: Api, seeded_event: str, admin_token: str
    ) -> None:
        reply = api.log_payment(seeded_event, payment_body(amount="500.00"), admin_token)
        assert reply.status == 201, reply.raw
