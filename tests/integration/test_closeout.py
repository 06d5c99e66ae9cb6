"""The close-out sheet: the ledger's net per method against what was counted, kept immutably.

Through the handlers the template routes to (ingest writes, query lists) and the projector's
store (the event's current close-out in its summary)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.projector.store import ProjectionStore
from shared.models import PAYMENT_METHODS
from shared.repository import closeout_from_item
from shared.stream import LedgerEntry
from tests import builders
from tests.integration.support import Api, assert_error, new_uuid7, payment_body

CLOSEOUTS = "/api/g/{event_id}/closeouts"
EXACT = {"cash": "100.00", "card": "55.50", "check": "0", "venmo": "0", "other": "20"}


def _close(api: Api, event_id: str, token: str, **body: Any) -> Any:
    payload = {"counted": EXACT, **body}
    return api.call(
        "POST", CLOSEOUTS, path_params={"event_id": event_id}, body=payload, token=token
    )


def _log(api: Api, event_id: str, token: str, amount: str, method: str) -> str:
    reply = api.log_payment(event_id, payment_body(amount=amount, payment_method=method), token)
    assert reply.status == 201, reply.raw
    return str(reply.body["payment_id"])


@pytest.fixture
def takings(api: Api, seeded_event: str, admin_token: str) -> str:
    """Cash 100.00, card 55.50, other 20.00 — and a venmo 30.00 that was voided."""
    _log(api, seeded_event, admin_token, "100.00", "cash")
    _log(api, seeded_event, admin_token, "55.50", "card")
    _log(api, seeded_event, admin_token, "20.00", "other")
    voided = _log(api, seeded_event, admin_token, "30.00", "venmo")
    reply = api.call(
        "POST",
        "/api/g/{event_id}/payments/{payment_id}/void",
        path_params={"event_id": seeded_event, "payment_id": voided},
        body={"reason": "paid twice"},
        token=admin_token,
    )
    assert reply.status == 201, reply.raw
    return seeded_event


def test_counts_that_match_the_ledger_close_out_exactly_without_a_note(
    api: Api, takings: str, admin_token: str
) -> None:
    reply = _close(api, takings, admin_token)

    assert reply.status == 201, reply.raw
    sheet = reply.body
    assert sheet["recorded_cents"] == {
        "cash": 10000,
        "card": 5550,
        "check": 0,
        "venmo": 0,
        "other": 2000,
    }
    assert sheet["counted_cents"] == sheet["recorded_cents"]
    assert sheet["difference_cents"] == dict.fromkeys(PAYMENT_METHODS, 0)
    assert sheet["over_short_cents"] == 0
    assert (sheet["payment_count"], sheet["void_count"]) == (4, 1)
    assert sheet["closed_by"] == api.admin_email
    # An immutable ledger record, naming the admin and their Cognito sub
    [item] = [i for i in api.table_items() if str(i["sk"]).startswith("CLOSEOUT#")]
    stored = closeout_from_item(item)
    assert stored.closed_by_sub == api.person_id(api.admin_email)
    assert stored.closeout_id == sheet["closeout_id"]


def test_a_difference_needs_a_note_and_is_kept_per_method(
    api: Api, takings: str, admin_token: str
) -> None:
    short = {**EXACT, "cash": "95.00", "venmo": "5.00"}
    before = api.table_items()

    refused = _close(api, takings, admin_token, counted=short)
    assert_error(refused, 400, "note")
    assert api.table_items() == before

    reply = _close(api, takings, admin_token, counted=short, note="$5 of the cash came by Venmo")
    assert reply.status == 201, reply.raw
    assert reply.body["difference_cents"]["cash"] == -500
    assert reply.body["difference_cents"]["venmo"] == 500
    assert reply.body["over_short_cents"] == 0
    assert reply.body["note"] == "$5 of the cash came by Venmo"


@pytest.mark.parametrize(
    ("counted", "field"),
    [
        ({k: v for k, v in EXACT.items() if k != "check"}, "counted.check"),
        ({**EXACT, "cash": "-1.00"}, "counted.cash"),
        ({**EXACT, "card": "1.005"}, "counted.card"),
        ({**EXACT, "other": "lots"}, "counted.other"),
        ({**EXACT, "bitcoin": "1"}, "counted.bitcoin"),
        ({**EXACT, "venmo": True}, "counted.venmo"),
    ],
)
def test_bad_counts_are_a_400_naming_the_method_and_write_nothing(
    api: Api, takings: str, admin_token: str, counted: dict[str, Any], field: str
) -> None:
    before = api.table_items()
    reply = api.call(
        "POST",
        CLOSEOUTS,
        path_params={"event_id": takings},
        raw_body=json.dumps({"counted": counted, "note": "x"}),
        token=admin_token,
    )
    assert_error(reply, 400, field)
    assert api.table_items() == before


def test_a_retried_close_out_is_recorded_once_and_a_reused_id_is_a_409(
    api: Api, takings: str, admin_token: str
) -> None:
    closeout_id = new_uuid7()
    first = _close(api, takings, admin_token, closeout_id=closeout_id)
    again = _close(api, takings, admin_token, closeout_id=closeout_id)
    other = _close(
        api, takings, admin_token, closeout_id=closeout_id, counted={**EXACT, "cash": "1"}, note="x"
    )

    assert (first.status, again.status) == (201, 200)
    assert again.body == first.body
    assert_error(other, 409, "closeout_id")
    assert len([i for i in api.table_items() if str(i["sk"]).startswith("CLOSEOUT#")]) == 1


def test_an_unknown_event_cannot_be_closed_out(api: Api, admin_token: str) -> None:
    assert_error(_close(api, "2026-05-24-no-such-party", admin_token), 404, "event_id")


def test_history_lists_every_close_out_newest_first(
    api: Api, takings: str, admin_token: str
) -> None:
    first = _close(api, takings, admin_token).body
    _log(api, takings, admin_token, "12.00", "venmo")  # a late Venmo
    second = _close(api, takings, admin_token, counted={**EXACT, "venmo": "12.00"}).body

    reply = api.call("GET", CLOSEOUTS, path_params={"event_id": takings}, token=admin_token)

    assert reply.status == 200, reply.raw
    listed = reply.body["closeouts"]
    assert [c["closeout_id"] for c in listed] == [second["closeout_id"], first["closeout_id"]]
    assert listed[0]["recorded_cents"]["venmo"] == 1200  # the next close-out includes it
    assert listed[0]["payment_count"] == listed[1]["payment_count"] + 1


def test_payments_logged_after_the_current_close_out_are_marked(
    api: Api, takings: str, admin_token: str, ddb: Any
) -> None:
    # Given a close-out the projector has made current
    sheet = _close(api, takings, admin_token).body
    item = next(i for i in api.table_items() if str(i["sk"]).startswith("CLOSEOUT#"))
    _project(ddb, api.projection_table_name, takings, closeout_from_item(item))

    # When a late payment arrives
    late = _log(api, takings, admin_token, "9.00", "venmo")

    # Then only it is marked, and the event shows the close-out
    page = api.payments(takings, admin_token).body
    marked = {p["payment_id"]: p["after_closeout"] for p in page["payments"]}
    assert marked.pop(late) is True
    assert not any(marked.values())
    assert page["summary"]["closeout"] == {
        "closeout_id": sheet["closeout_id"],
        "closed_by": api.admin_email,
        "closed_at": sheet["closed_at"],
        "over_short_cents": 0,
    }


def _project(ddb: Any, table: str, event_id: str, *closeouts: Any) -> ProjectionStore:
    store = ProjectionStore(ddb, table, sleep=lambda _: None)
    entries = [
        LedgerEntry(
            str(n), "closeout", event_id, c.closeout_id, f"CLOSEOUT#{c.closeout_id}", closeout=c
        )
        for n, c in enumerate(closeouts)
    ]
    store.apply(event_id, entries, datetime.now(UTC))
    return store


def test_the_newest_close_out_stays_current_whatever_order_the_stream_delivers(
    api: Api, seeded_event: str, ddb: Any
) -> None:
    # Given two close-outs, the newer one projected first
    older = builders.a_closeout(event_id=seeded_event, counted_cents={"cash": 100})
    newer = builders.a_closeout(
        event_id=seeded_event, closed_at=older.closed_at + timedelta(hours=1), note="late"
    )
    store = _project(ddb, api.projection_table_name, seeded_event, newer)

    # When the older one arrives afterwards (and both are redelivered, together)
    _project(ddb, api.projection_table_name, seeded_event, older)
    _project(ddb, api.projection_table_name, seeded_event, older, newer)

    # Then the newer one is current and the money is untouched
    summary = store.projection(seeded_event).summary
    assert summary.closeout is not None
    assert summary.closeout.closeout_id == newer.closeout_id
    assert summary.payment_count == 0
    assert summary.gross_cents == 0


def test_a_close_out_in_the_same_batch_as_payments_changes_no_totals(
    api: Api, seeded_event: str, ddb: Any
) -> None:
    store = ProjectionStore(ddb, api.projection_table_name, sleep=lambda _: None)
    payment = builders.a_payment(event_id=seeded_event, amount_cents=4200)
    closeout = builders.a_closeout(event_id=seeded_event, closed_at=datetime.now(UTC))
    entries = [
        LedgerEntry(
            "1",
            "payment",
            seeded_event,
            payment.payment_id,
            f"PAYMENT#{payment.payment_id}",
            payment=payment,
        ),
        LedgerEntry(
            "2",
            "closeout",
            seeded_event,
            closeout.closeout_id,
            f"CLOSEOUT#{closeout.closeout_id}",
            closeout=closeout,
        ),
    ]
    store.apply(seeded_event, entries, datetime.now(UTC))
    store.apply(seeded_event, entries, datetime.now(UTC))  # redelivered

    summary = store.projection(seeded_event).summary
    assert (summary.payment_count, summary.gross_cents) == (1, 4200)
    assert summary.closeout is not None
    assert summary.closeout.closeout_id == closeout.closeout_id
