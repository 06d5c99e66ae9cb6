"""Payments and events through the API: the ledger write, idempotent replay, money and time on
the wire, chronological pages, and events with and without their money.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.models import Payment
from shared.repository import LedgerTable
from tests.integration.support import (
    ADMIN_EMAIL,
    CREW_EMAIL,
    TABLE_NAME,
    Api,
    assert_error,
    new_uuid7,
    payment_body,
)

LOG_PAYMENT = "/api/g/{event_id}/payment"
LOG_PAYMENT_BY_BODY = "/api/payment/log"
ISO_Z_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
PAYMENT_FIELDS = {
    "payment_id",
    "event_id",
    "patron_name",
    "amount",
    "amount_cents",
    "currency",
    "payment_method",
    "notes",
    "reference",
    "received_at",
    "logged_by",
    "timestamp",
    "void",
}
EVENT_FIELDS = {"event_id", "event_name", "date", "location", "currency", "expected_total_cents"}
SUMMARY_FIELDS = {
    "payment_count",
    "void_count",
    "gross_cents",
    "voided_cents",
    "net_cents",
    "by_method_cents",
    "outstanding_cents",
    "last_payment_at",
}


def _parse_z(text: str) -> datetime:
    assert ISO_Z_MILLIS.fullmatch(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _stored_attribute(api: Api, event_id: str, payment_id: str, name: str) -> dict[str, Any]:
    """The raw DynamoDB attribute, type tag included."""
    item = api.ddb.get_item(
        TableName=TABLE_NAME,
        Key={"pk": {"S": f"EVENT#{event_id}"}, "sk": {"S": f"PAYMENT#{payment_id}"}},
    )["Item"]
    return dict(item[name])


def _create_event(api: Api, token: str, **fields: Any) -> Any:
    return api.call("POST", "/api/events", body=fields, token=token)


# --- logging a payment -----------------------------------------------------------------------


def test_logging_a_payment_returns_201_with_its_id_and_time(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given an event and a signed-in admin
    before = datetime.now(UTC)

    # When a payment is logged
    status, body, _ = api.log_payment(seeded_event, payment_body(), admin_token)

    # Then 201 with a time-ordered id and the server's UTC time
    assert status == 201, body
    assert set(body) == {"status", "payment_id", "timestamp"}
    assert body["status"] == "success"
    assert uuid.UUID(body["payment_id"]).version == 7
    assert before - timedelta(milliseconds=1) <= _parse_z(body["timestamp"]) <= datetime.now(UTC)
    [item] = api.payment_items()
    assert item["payment_id"] == body["payment_id"]
    assert item["logged_by"] == ADMIN_EMAIL
    assert item["currency"] == "USD"


def test_a_new_payment_costs_exactly_one_dynamodb_write(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given an event and a signed-in admin
    api.calls.reset()

    # When a payment is logged
    reply = api.log_payment(seeded_event, payment_body(), admin_token)

    # Then the handler made one write request, and it succeeded
    assert reply.status == 201, reply.raw
    assert api.calls.writes == ["PutItem"]
    assert api.calls.failed_conditions == []


def test_a_replay_returns_the_original_result_for_one_failed_conditional_write(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given a payment logged with a client payment_id
    body = payment_body(payment_id=new_uuid7())
    first = api.log_payment(seeded_event, body, admin_token)
    assert first.status == 201, first.raw
    api.calls.reset()

    # When the client retries the same request
    again = api.log_payment(seeded_event, body, admin_token)

    # Then 200 with the original id and time, costing one failed conditional write, <= 1 read
    # of the ledger (besides the caller's revocation check)
    assert again.status == 200, again.raw
    assert again.body == first.body
    assert api.calls.writes == ["PutItem"]
    assert api.calls.failed_conditions == ["PutItem"]
    assert len(api.calls.reads_on(api.table_name)) <= 1
    assert api.calls.reads_on(api.revocations_table_name) == ["GetItem"]
    assert len(api.payment_items()) == 1


def test_the_same_payment_id_with_another_body_is_a_409_and_the_original_stays(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given a logged payment
    payment_id = new_uuid7()
    first = api.log_payment(seeded_event, payment_body(payment_id=payment_id), admin_token)
    assert first.status == 201, first.raw
    stored = api.payment_items()

    # When the same payment_id arrives with a different amount
    reply = api.log_payment(
        seeded_event, payment_body(payment_id=payment_id, amount="999.00"), admin_token
    )

    # Then it is a conflict on payment_id and the stored payment is unchanged
    error = assert_error(reply, 409, "payment_id")
    assert error["code"] == "idempotency_conflict"
    assert api.payment_items() == stored


def test_without_a_payment_id_two_posts_are_two_payments(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    first = api.log_payment(seeded_event, payment_body(), admin_token)
    second = api.log_payment(seeded_event, payment_body(), admin_token)
    assert (first.status, second.status) == (201, 201)
    assert first.body["payment_id"] != second.body["payment_id"]
    assert len(api.payment_items()) == 2


def test_the_body_route_is_the_same_command_as_the_path_route(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given a payment logged through POST /api/payment/log
    body = payment_body(payment_id=new_uuid7(), notes="deposit")
    by_body = api.call(
        "POST", LOG_PAYMENT_BY_BODY, body={"event_id": seeded_event, **body}, token=admin_token
    )
    assert by_body.status == 201, by_body.raw

    # When the same payment is retried through POST /api/g/{event_id}/payment
    by_path = api.log_payment(seeded_event, body, admin_token)

    # Then it is recognised as the same payment: one item, the original result
    assert by_path.status == 200, by_path.raw
    assert by_path.body == by_body.body
    [item] = api.payment_items()
    assert item["event_id"] == seeded_event
    assert item["notes"] == "deposit"


def test_payment_ids_are_idempotency_keys_scoped_to_their_event(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given a payment logged for the corporate mixer with a client payment_id
    other = _create_event(api, admin_token, event_name="Sunset Cruise", date="2026-06-01")
    assert other.status == 201, other.raw
    payment_id = new_uuid7()
    first = api.call(
        "POST",
        LOG_PAYMENT_BY_BODY,
        body={"event_id": seeded_event, **payment_body(payment_id=payment_id)},
        token=admin_token,
    )
    assert first.status == 201, first.raw

    # When the same payment_id is sent with a body naming another event
    reply = api.call(
        "POST",
        LOG_PAYMENT_BY_BODY,
        body={"event_id": other.body["event_id"], **payment_body(payment_id=payment_id)},
        token=admin_token,
    )

    # Then it is a payment of that other event: the key is (event, payment_id), which keeps a
    # new payment at exactly one conditional write (a global key would need a second item)
    assert reply.status == 201, reply.raw
    assert {item["event_id"] for item in api.payment_items()} == {
        seeded_event,
        other.body["event_id"],
    }


def test_the_ledger_never_overwrites_a_stored_payment(
    api: Api, ledger: LedgerTable, seeded_event: str, admin_token: str
) -> None:
    # Given a stored payment
    reply = api.log_payment(seeded_event, payment_body(payment_id=new_uuid7()), admin_token)
    payment_id = reply.body["payment_id"]
    stored = api.payment_items()
    original = ledger.get_payment(seeded_event, payment_id)
    assert original is not None

    # When the repository is asked to put another payment under the same key
    forged = Payment.model_validate(
        {
            **original.model_dump(),
            "patron_name": "Mallory",
            "amount_cents": 1,
            "request_fingerprint": "0" * 64,
        }
    )
    returned = ledger.put_payment(forged)

    # Then it returns the original and the item is unchanged
    assert returned == original
    assert api.payment_items() == stored


# --- money and time on the wire -----------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(150.1, id="number-150.1"),
        pytest.param("150.10", id="string-150.10"),
        pytest.param("150.1", id="string-150.1"),
        pytest.param(" 150.10 ", id="string-with-spaces"),
    ],
)
def test_an_amount_is_stored_as_integer_cents_and_read_back_as_a_decimal_string(
    api: Api, seeded_event: str, admin_token: str, amount: Any
) -> None:
    # Given an event and a signed-in admin
    # When 150.10 is logged in one of its spellings
    reply = api.log_payment(seeded_event, payment_body(amount=amount), admin_token)
    assert reply.status == 201, reply.raw
    payment_id = reply.body["payment_id"]

    # Then DynamoDB holds the integer 15010 and the API reads back "150.10"
    assert _stored_attribute(api, seeded_event, payment_id, "amount_cents") == {"N": "15010"}
    [payment] = api.payments(seeded_event, admin_token).body["payments"]
    assert payment["amount"] == "150.10"
    assert payment["amount_cents"] == 15010


def test_received_at_defaults_to_the_server_time(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given a payment without received_at
    before = datetime.now(UTC)
    reply = api.log_payment(seeded_event, payment_body(), admin_token)
    after = datetime.now(UTC)

    # When it is read back
    [payment] = api.payments(seeded_event, admin_token).body["payments"]

    # Then the money changed hands "now": the server's logging time
    assert payment["received_at"] == payment["timestamp"] == reply.body["timestamp"]
    assert before - timedelta(milliseconds=1) <= _parse_z(payment["received_at"]) <= after


def test_received_at_with_an_offset_is_stored_in_utc_with_z(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given a check received at 18:30 New York summer time
    body = payment_body(received_at="2026-05-23T18:30:00-04:00", payment_method="check")

    # When it is logged
    reply = api.log_payment(seeded_event, body, admin_token)

    # Then it is stored and served as UTC with a Z
    assert reply.status == 201, reply.raw
    [item] = api.payment_items()
    assert item["received_at"] == "2026-05-23T22:30:00.000Z"
    [payment] = api.payments(seeded_event, admin_token).body["payments"]
    assert payment["received_at"] == "2026-05-23T22:30:00.000Z"


def test_received_at_in_the_future_is_refused(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given a received_at one day ahead of the server clock
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    before = api.table_items()

    # When it is logged
    reply = api.log_payment(seeded_event, payment_body(received_at=tomorrow), admin_token)

    # Then received_at is refused and nothing is written
    assert_error(reply, 400, "received_at")
    assert api.table_items() == before


def test_a_payment_takes_the_currency_of_its_event(api: Api, admin_token: str) -> None:
    created = _create_event(
        api, admin_token, event_name="Harbour Tour", date="2026-07-14", currency="eur"
    )
    assert created.status == 201, created.raw
    event_id = created.body["event_id"]
    assert api.log_payment(event_id, payment_body(), admin_token).status == 201
    [payment] = api.payments(event_id, admin_token).body["payments"]
    assert payment["currency"] == "EUR"


# --- listing -----------------------------------------------------------------------------------


def _log_many(api: Api, event_id: str, token: str, count: int) -> list[str]:
    ids = []
    for n in range(count):
        reply = api.log_payment(
            event_id, payment_body(patron_name=f"Patron {n}", amount=f"{n + 1}.00"), token
        )
        assert reply.status == 201, reply.raw
        ids.append(reply.body["payment_id"])
    return ids


def test_a_payment_page_has_the_contract_shape(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    api.log_payment(seeded_event, payment_body(notes="paid at the gangway"), admin_token)

    status, page, headers = api.payments(seeded_event, admin_token)

    assert status == 200, page
    assert set(page) >= {"event", "payments", "summary", "next_cursor"}
    assert set(page["event"]) >= EVENT_FIELDS
    assert set(page["summary"]) >= SUMMARY_FIELDS
    [payment] = page["payments"]
    assert set(payment) >= PAYMENT_FIELDS
    assert payment["void"] is None
    assert payment["notes"] == "paid at the gangway"
    assert page["next_cursor"] is None
    assert headers.get("cache-control") == "no-store"


def test_payments_are_listed_in_the_order_they_were_logged(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given five payments logged one after another
    logged = _log_many(api, seeded_event, admin_token, 5)

    # When the event's payments are listed
    payments = api.payments(seeded_event, admin_token).body["payments"]

    # Then they come back oldest first
    assert [p["payment_id"] for p in payments] == logged
    times = [_parse_z(p["timestamp"]) for p in payments]
    assert times == sorted(times)


def test_walking_every_page_returns_each_payment_once_in_order(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given seven payments
    logged = _log_many(api, seeded_event, admin_token, 7)

    # When the pages are walked three at a time, following next_cursor
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = {"limit": "3"} if cursor is None else {"limit": "3", "cursor": cursor}
        reply = api.payments(seeded_event, admin_token, **query)
        assert reply.status == 200, reply.raw
        pages.append([p["payment_id"] for p in reply.body["payments"]])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            break
        assert seeded_event not in cursor  # opaque: no keys in clear
        assert "PAYMENT" not in cursor
        assert len(pages) < 10, "pagination does not terminate"

    # Then 3 + 3 + 1, no duplicates, no gaps, oldest first
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [pid for page in pages for pid in page] == logged


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: c[:-4], id="truncated"),
        pytest.param(lambda c: "not-a-cursor!!", id="garbage"),
        pytest.param(lambda c: _b64({"sk": "META"}), id="points-at-event-meta"),
        pytest.param(lambda c: _b64({"sk": "SUMMARY"}), id="points-at-summary"),
        pytest.param(
            lambda c: _b64({"sk": "PAYMENT#x", "pk": "EVENT#2026-06-01-other"}),
            id="names-another-partition",
        ),
        pytest.param(lambda c: _b64({"sk": 5}), id="sort-key-not-a-string"),
        pytest.param(lambda c: _b64(["PAYMENT#x"]), id="json-array"),
        pytest.param(lambda c: "A" * 201, id="too-long"),
    ],
)
def test_a_tampered_cursor_is_a_400_on_cursor(
    api: Api, seeded_event: str, admin_token: str, tamper: Any
) -> None:
    # Given a real cursor from the first page
    _log_many(api, seeded_event, admin_token, 3)
    cursor = api.payments(seeded_event, admin_token, limit="2").body["next_cursor"]
    assert cursor

    # When a tampered cursor is sent
    reply = api.payments(seeded_event, admin_token, limit="2", cursor=tamper(cursor))

    # Then it is refused by name
    assert_error(reply, 400, "cursor")


@pytest.mark.parametrize("limit", ["0", "501", "x", "-1", "2.5", ""])
def test_an_out_of_range_limit_is_a_400_on_limit(
    api: Api, seeded_event: str, admin_token: str, limit: str
) -> None:
    assert_error(api.payments(seeded_event, admin_token, limit=limit), 400, "limit")


@pytest.mark.parametrize("limit", ["1", "500"])
def test_the_limit_bounds_are_accepted(
    api: Api, seeded_event: str, admin_token: str, limit: str
) -> None:
    assert api.payments(seeded_event, admin_token, limit=limit).status == 200


def test_payments_of_an_unknown_event_are_a_404(api: Api, admin_token: str) -> None:
    assert_error(api.payments("2026-05-24-no-such-party", admin_token), 404, "event_id")


def test_payments_of_a_malformed_event_id_are_a_400(api: Api, admin_token: str) -> None:
    assert_error(api.payments("EVENT#1", admin_token), 400, "event_id")


# --- events ------------------------------------------------------------------------------------


def test_creating_an_event_returns_201_with_a_readable_id(api: Api, admin_token: str) -> None:
    # Given a signed-in admin
    # When they create the corporate mixer
    status, body, _ = _create_event(
        api,
        admin_token,
        event_name="Corporate Mixer",
        date="2026-05-23",
        location="Pier 39",
        expected_total="5000.00",
    )

    # Then the event gets an id built from its date and name
    assert status == 201, body
    assert body["event_id"] == "2026-05-23-corporate-mixer"
    assert set(body) >= EVENT_FIELDS
    assert body["currency"] == "USD"
    assert body["expected_total_cents"] == 500_000
    [meta] = [i for i in api.table_items() if i["sk"] == "META"]
    assert meta["pk"] == "EVENT#2026-05-23-corporate-mixer"
    assert meta["created_by"] == ADMIN_EMAIL


def test_creating_the_same_event_twice_is_a_409(api: Api, admin_token: str) -> None:
    # Given the corporate mixer exists
    assert (
        _create_event(api, admin_token, event_name="Corporate Mixer", date="2026-05-23").status
        == 201
    )
    before = api.table_items()

    # When it is created again (same date, same name up to case and punctuation)
    reply = _create_event(api, admin_token, event_name="corporate mixer!", date="2026-05-23")

    # Then it is a conflict and the first event is untouched
    error = assert_error(reply, 409, "event_name")
    assert error["code"] == "event_exists"
    assert api.table_items() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"date": "2026-05-23"}, "event_name", id="missing-name"),
        pytest.param({"event_name": "Gala"}, "date", id="missing-date"),
        pytest.param({"event_name": "Gala", "date": "23/05/2026"}, "date", id="date-format"),
        pytest.param({"event_name": "Gala", "date": "2026-02-30"}, "date", id="date-impossible"),
        pytest.param(
            {"event_name": "Gala", "date": "2026-05-23", "currency": "JPY"},
            "currency",
            id="currency-unsupported",
        ),
        pytest.param(
            {"event_name": "Gala", "date": "2026-05-23", "expected_total": "1.005"},
            "expected_total",
            id="expected-total-three-decimals",
        ),
        pytest.param({"event_name": "Ga\u0000la", "date": "2026-05-23"}, "event_name", id="nul"),
    ],
)
def test_a_bad_event_is_a_400_naming_the_field(
    api: Api, admin_token: str, body: dict[str, Any], field: str
) -> None:
    before = api.table_items()
    assert_error(_create_event(api, admin_token, **body), 400, field)
    assert api.table_items() == before


def test_anonymous_callers_see_no_events_and_no_money(api: Api, seeded_event: str) -> None:
    # Given an event with a payment
    api.log_payment(seeded_event, payment_body(), api.login())

    # When someone asks for events without signing in
    listed = api.call("GET", "/api/events")
    one = api.call("GET", "/api/events/{event_id}", path_params={"event_id": seeded_event})

    # Then the JWT authorizer refuses both: nothing about the event or its money leaves
    assert (listed.status, listed.body) == (401, {"message": "Unauthorized"})
    assert (one.status, one.body) == (401, {"message": "Unauthorized"})


def test_admins_see_events_with_their_summary(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    status, body, _ = api.call("GET", "/api/events", token=admin_token)

    assert status == 200, body
    [event] = body["events"]
    assert event["event_id"] == seeded_event
    assert set(event["summary"]) >= SUMMARY_FIELDS


def test_events_are_listed_by_date(api: Api, admin_token: str) -> None:
    for name, day in [("Sunset Cruise", "2026-06-01"), ("Corporate Mixer", "2026-05-23")]:
        assert _create_event(api, admin_token, event_name=name, date=day).status == 201

    events = api.call("GET", "/api/events", token=admin_token).body["events"]

    assert [e["event_id"] for e in events] == [
        "2026-05-23-corporate-mixer",
        "2026-06-01-sunset-cruise",
    ]


def test_one_event_is_served_with_its_money_to_crew_and_admins(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    crew = api.login(CREW_EMAIL)
    for token in (admin_token, crew):
        reply = api.call(
            "GET", "/api/events/{event_id}", path_params={"event_id": seeded_event}, token=token
        )
        assert reply.status == 200, reply.raw
        assert reply.body["event_id"] == seeded_event
        assert set(reply.body["summary"]) >= SUMMARY_FIELDS


def test_an_unknown_event_is_a_404_on_event_id(api: Api, admin_token: str) -> None:
    reply = api.call(
        "GET",
        "/api/events/{event_id}",
        path_params={"event_id": "2026-05-24-no-such-party"},
        token=admin_token,
    )
    assert_error(reply, 404, "event_id")


def test_a_bad_token_on_the_event_list_is_refused_not_ignored(api: Api) -> None:
    reply = api.call("GET", "/api/events", token="not-a-jwt")
    assert (reply.status, reply.body) == (401, {"message": "Unauthorized"})


# --- the template and the code agree --------------------------------------------------------


def test_every_route_in_the_template_is_served_by_the_function_it_names(
    api: Api, template_routes: dict[tuple[str, str], str], seeded_event: str, admin_token: str
) -> None:
    # Given every HttpApi route that template.yaml declares
    values = {"event_id": seeded_event, "payment_id": new_uuid7()}
    for method, path in sorted(template_routes):
        params = {name: values.get(name, "x") for name in re.findall(r"\{(\w+)\}", path)}
        extra: dict[str, Any] = {"body": {}} if method == "POST" else {}

        # When it is called on the function the template attaches it to
        reply = api.call(method, path, path_params=params or None, token=admin_token, **extra)

        # Then that function has a handler for it: no "no such route" 404, no crash
        assert reply.status < 500, (method, path, reply.raw)
        if reply.status == 404:
            assert reply.body["error"]["fields"], (method, path, reply.raw)


def test_health_is_public(api: Api) -> None:
    status, body, _ = api.call("GET", "/api/health")
    assert (status, body) == (200, {"status": "ok"})


# --- the fifth method: other ----------------------------------------------------------------


def test_a_client_that_sends_no_method_records_other(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    # Given the first logging form, which posts only patron, amount and notes
    body = {"patron_name": "Zed Zelle", "amount": "75.00", "notes": "paid by Zelle"}

    # When it logs a payment
    reply = api.log_payment(seeded_event, body, admin_token)

    # Then it is recorded as `other` (not refused), and counted under `other`
    assert reply.status == 201, reply.raw
    [payment] = api.payments(seeded_event, admin_token).body["payments"]
    assert payment["payment_method"] == "other"
    assert api.payment_items()[0]["payment_method"] == "other"


def test_other_with_its_reference_is_a_method_like_the_rest(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    body = payment_body(payment_method="Other", reference="PayPal 8812")
    assert api.log_payment(seeded_event, body, admin_token).status == 201
    page = api.payments(seeded_event, admin_token, method="other").body
    assert [(p["payment_method"], p["reference"]) for p in page["payments"]] == [
        ("other", "PayPal 8812")
    ]
