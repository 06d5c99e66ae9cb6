"""The bookkeeper's CSV export, through the query function the template routes it to."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from services.query.export import COLUMNS
from tests.integration.support import Api, assert_error, payment_body

EVENT_CSV = "/api/g/{event_id}/payments.csv"
RANGE_CSV = "/api/payments.csv"
HOSTILE = {
    "patron_name": '=HYPERLINK("http://evil.example","x")',
    "notes": "+1 555 0100 (call back)",
    "reference": "@ana",
}


def _rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def _export(api: Api, event_id: str, token: str) -> Any:
    return api.call("GET", EVENT_CSV, path_params={"event_id": event_id}, token=token)


@pytest.fixture
def ledger_for_export(api: Api, seeded_event: str, admin_token: str) -> str:
    for body in (
        payment_body(amount="150.00", payment_method="card", notes='line one\nline two, "quoted"'),
        payment_body(amount="0.01", payment_method="cash", patron_name="José Ñúñez"),
        payment_body(amount="40", payment_method="other", reference="Zelle 77"),
        payment_body(amount="12.34", **HOSTILE),
    ):
        assert api.log_payment(seeded_event, body, admin_token).status == 201
    first = api.payments(seeded_event, admin_token).body["payments"][0]["payment_id"]
    voided = api.call(
        "POST",
        "/api/g/{event_id}/payments/{payment_id}/void",
        path_params={"event_id": seeded_event, "payment_id": first},
        body={"reason": "=cmd|' /C calc'!A0"},
        token=admin_token,
    )
    assert voided.status == 201, voided.raw
    return seeded_event


def test_the_event_csv_parsed_back_equals_the_ledger_row_for_row(
    api: Api, ledger_for_export: str, admin_token: str
) -> None:
    reply = _export(api, ledger_for_export, admin_token)

    assert reply.status == 200, reply.raw
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    assert "\r\n" in reply.raw  # RFC 4180 line ends
    rows = _rows(reply.raw)
    payments = api.payments(ledger_for_export, admin_token).body["payments"]
    assert [r["payment_id"] for r in rows] == [p["payment_id"] for p in payments]
    for row, payment in zip(rows, payments, strict=True):
        assert row["amount"] == payment["amount"]  # a plain decimal string: "150.00"
        assert row["currency"] == payment["currency"]
        assert row["payment_method"] == payment["payment_method"]
        assert row["received_at"] == payment["received_at"]
        assert row["logged_at"] == payment["timestamp"]
        assert row["logged_by"] == payment["logged_by"]
        assert row["event_id"] == ledger_for_export
        assert row["status"] == ("void" if payment["void"] else "paid")
        if payment["void"]:
            assert row["voided_by"] == payment["void"]["voided_by"]
    assert rows[0]["notes"] == 'line one\nline two, "quoted"'
    assert rows[1]["patron_name"] == "José Ñúñez"
    # Every amount sums exactly as a number
    assert sum(int(r["amount"].replace(".", "")) for r in rows) == 15000 + 1 + 4000 + 1234


def test_cells_a_spreadsheet_would_run_are_neutralised_and_amounts_stay_numbers(
    api: Api, ledger_for_export: str, admin_token: str
) -> None:
    rows = _rows(_export(api, ledger_for_export, admin_token).raw)
    hostile = rows[-1]
    for column, value in HOSTILE.items():
        assert hostile[column] == "'" + value
    assert rows[0]["void_reason"] == "'=cmd|' /C calc'!A0"
    assert hostile["amount"] == "12.34"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_the_range_export_takes_every_event_with_payments_received_in_the_range(
    api: Api, seeded_event: str, admin_token: str
) -> None:
    other = api.call(
        "POST",
        "/api/events",
        body={"event_name": "Sunset Cruise", "date": "2026-06-20"},
        token=admin_token,
    ).body["event_id"]
    inside = [
        (seeded_event, "2026-05-23T18:00:00Z"),
        (other, "2026-05-24T23:59:59Z"),
    ]
    outside = [(seeded_event, "2026-05-22T23:59:59Z"), (other, "2026-05-25T00:00:00Z")]
    ids = {}
    for event_id, received in inside + outside:
        reply = api.log_payment(event_id, payment_body(received_at=received), admin_token)
        assert reply.status == 201, reply.raw
        ids[reply.body["payment_id"]] = received

    reply = api.call(
        "GET", RANGE_CSV, query={"from": "2026-05-23", "to": "2026-05-24"}, token=admin_token
    )

    assert reply.status == 200, reply.raw
    rows = _rows(reply.raw)
    assert sorted(r["received_at"][:19] for r in rows) == [
        "2026-05-23T18:00:00",
        "2026-05-24T23:59:59",
    ]
    assert {r["event_id"] for r in rows} == {seeded_event, other}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": "2026-05-24"}, "from"),
        ({"from": "2026-05-23"}, "to"),
        ({"from": "2026-05-25", "to": "2026-05-24"}, "to"),
        ({"from": "2026-02-30", "to": "2026-05-24"}, "from"),
        ({"from": "yesterday", "to": "2026-05-24"}, "from"),
        ({"from": "2020-01-01", "to": "2026-05-24"}, "to"),
    ],
)
def test_a_bad_range_is_a_400_naming_the_parameter(
    api: Api, admin_token: str, query: dict[str, str], field: str
) -> None:
    assert_error(api.call("GET", RANGE_CSV, query=query, token=admin_token), 400, field)


def test_an_unknown_event_has_no_export(api: Api, admin_token: str) -> None:
    assert_error(_export(api, "2026-05-24-no-such-party", admin_token), 404, "event_id")
