"""Filters on `GET /api/g/{event_id}/payments`: `method`, `from`/`to` (UTC calendar days of
`received_at`, inclusive), `q` (case-insensitive patron-name substring). Validated like any
input; a filtered page may be short, but following `next_cursor` returns every match once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.support import Api, assert_error, payment_body

LEDGER = [
    # (patron, amount, method, received_at)
    ("John Smith", "150.00", "card", "2026-05-20T23:59:59Z"),
    ("Ana Ruiz", "40.00", "venmo", "2026-05-21T00:00:00Z"),
    ("JOHNNY Cash", "25.00", "cash", "2026-05-22T12:00:00Z"),
    ("Bea Johnson", "60.00", "check", "2026-05-23T09:30:00Z"),
    ("Carl Cash", "10.00", "cash", "2026-05-23T23:59:59.999Z"),
]


@pytest.fixture
def ledger_ids(api: Api, seeded_event: str, admin_token: str) -> dict[str, str]:
    ids = {}
    for patron, amount, method, received in LEDGER:
        body = payment_body(
            patron_name=patron, amount=amount, payment_method=method, received_at=received
        )
        reply = api.log_payment(seeded_event, body, admin_token)
        assert reply.status == 201, reply.raw
        ids[patron] = reply.body["payment_id"]
    return ids


def _names(api: Api, event_id: str, token: str, **query: str) -> list[str]:
    reply = api.payments(event_id, token, **query)
    assert reply.status == 200, reply.raw
    return [p["patron_name"] for p in reply.body["payments"]]


def _walk(api: Api, event_id: str, token: str, **query: str) -> tuple[list[str], list[int]]:
    """Every page of a query, following next_cursor: the names in order and the page sizes."""
    names: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    for _ in range(20):
        reply = api.payments(event_id, token, **query, **({"cursor": cursor} if cursor else {}))
        assert reply.status == 200, reply.raw
        page = [p["patron_name"] for p in reply.body["payments"]]
        names.extend(page)
        sizes.append(len(page))
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return names, sizes
    raise AssertionError("pagination does not terminate")


def test_by_method(api: Api, seeded_event: str, admin_token: str, ledger_ids: Any) -> None:
    assert _names(api, seeded_event, admin_token, method="cash") == ["JOHNNY Cash", "Carl Cash"]
    assert _names(api, seeded_event, admin_token, method="Venmo") == ["Ana Ruiz"]


def test_by_date_range_is_inclusive_on_utc_days(
    api: Api, seeded_event: str, admin_token: str, ledger_ids: Any
) -> None:
    names = _names(api, seeded_event, admin_token, **{"from": "2026-05-21", "to": "2026-05-23"})
    assert names == ["Ana Ruiz", "JOHNNY Cash", "Bea Johnson", "Carl Cash"]
    assert _names(api, seeded_event, admin_token, to="2026-05-20") == ["John Smith"]
    assert _names(api, seeded_event, admin_token, **{"from": "2026-05-23"}) == [
        "Bea Johnson",
        "Carl Cash",
    ]
    same_day = {"from": "2026-05-22", "to": "2026-05-22"}
    assert _names(api, seeded_event, admin_token, **same_day) == ["JOHNNY Cash"]


def test_patron_search_is_a_case_insensitive_substring(
    api: Api, seeded_event: str, admin_token: str, ledger_ids: Any
) -> None:
    assert _names(api, seeded_event, admin_token, q="john") == [
        "John Smith",
        "JOHNNY Cash",
        "Bea Johnson",
    ]
    assert _names(api, seeded_event, admin_token, q="  RUIZ ") == ["Ana Ruiz"]
    assert _names(api, seeded_event, admin_token, q="nobody") == []


def test_filters_combine(api: Api, seeded_event: str, admin_token: str, ledger_ids: Any) -> None:
    query = {"method": "cash", "q": "john", "from": "2026-05-22", "to": "2026-05-22"}
    assert _names(api, seeded_event, admin_token, **query) == ["JOHNNY Cash"]


def test_empty_parameters_mean_no_filter(
    api: Api, seeded_event: str, admin_token: str, ledger_ids: Any
) -> None:
    names = _names(api, seeded_event, admin_token, method="", q="", **{"from": "", "to": ""})
    assert len(names) == len(LEDGER)


def test_filtered_pages_may_be_short_but_the_cursor_returns_every_match_once(
    api: Api, seeded_event: str, admin_token: str, ledger_ids: Any
) -> None:
    # Given more payments than one page holds, with matches spread between non-matches
    for n in range(6):
        body = payment_body(patron_name=f"Filler {n}", payment_method="card")
        assert api.log_payment(seeded_event, body, admin_token).status == 201

    # When cash payments are walked one page of 1 at a time
    names, sizes = _walk(api, seeded_event, admin_token, method="cash", limit="1")

    # Then each match comes back exactly once, in order, never more than the limit per page
    assert names == ["JOHNNY Cash", "Carl Cash"]
    assert max(sizes) <= 1

    # And a name search walks the same way
    names, sizes = _walk(api, seeded_event, admin_token, q="filler", limit="4")
    assert names == [f"Filler {n}" for n in range(6)]
    assert max(sizes) <= 4


def test_a_filtered_page_carries_void_state_and_the_event_totals(
    api: Api, seeded_event: str, admin_token: str, ledger_ids: dict[str, str]
) -> None:
    voided = api.call(
        "POST",
        "/api/g/{event_id}/payments/{payment_id}/void",
        path_params={"event_id": seeded_event, "payment_id": ledger_ids["Ana Ruiz"]},
        body={"reason": "logged twice"},
        token=admin_token,
    )
    assert voided.status == 201, voided.raw

    reply = api.payments(seeded_event, admin_token, method="venmo")

    [payment] = reply.body["payments"]
    assert payment["void"]["reason"] == "logged twice"
    assert set(reply.body) >= {"event", "payments", "summary", "next_cursor"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param({"method": "bitcoin"}, "method", id="unknown-method"),
        pytest.param({"method": "x" * 21}, "method", id="overlong-method"),
        pytest.param({"from": "2026-5-1"}, "from", id="from-not-iso"),
        pytest.param({"from": "2026-02-30"}, "from", id="from-not-a-day"),
        pytest.param({"to": "yesterday"}, "to", id="to-not-a-date"),
        pytest.param({"from": "2026-05-23", "to": "2026-05-22"}, "to", id="from-after-to"),
        pytest.param({"q": "x" * 121}, "q", id="q-too-long"),
        pytest.param({"q": "john\x00"}, "q", id="q-control-character"),
        pytest.param({"q": "a\u202eb"}, "q", id="q-bidi-override"),
    ],
)
def test_bad_filter_values_are_a_400_naming_the_parameter(
    api: Api, seeded_event: str, admin_token: str, query: dict[str, str], field: str
) -> None:
    assert_error(api.payments(seeded_event, admin_token, **query), 400, field)


def test_filters_need_a_signed_in_person(api: Api, seeded_event: str) -> None:
    reply = api.call(
        "GET",
        "/api/g/{event_id}/payments",
        path_params={"event_id": seeded_event},
        query={"q": "john"},
    )
    assert (reply.status, reply.body) == (401, {"message": "Unauthorized"})
