"""CSV downloads in headless Chromium against the real local stack: an admin downloads one
event's payments (the card's "Download CSV") or every payment received in a date range
("Export payments"). The file is captured as the browser saves it, parsed with Python's csv
module and compared row for row with what the API lists. An export too large for a Lambda
response comes back as a presigned link, which the browser follows (simulated here: the local
stack never makes one that large). Crew get neither."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    APIRequestContext,
    Dialog,
    Download,
    Page,
    Request,
    Route,
    expect,
)

from tests.e2e.browser import ledger_setup as setup
from tests.e2e.browser.support import Person, api_sign_in, event_card, unique_name
from tests.e2e.stack_process import StackProcess

HEADER = [
    "event_id",
    "event_name",
    "event_date",
    "payment_id",
    "received_at",
    "logged_at",
    "patron_name",
    "payment_method",
    "reference",
    "amount",
    "currency",
    "status",
    "void_reason",
    "voided_by",
    "logged_by",
    "notes",
]
HOSTILE = '=HYPERLINK("http://evil","x")'


def _read_csv(download: Download) -> tuple[list[str], list[dict[str, str]]]:
    path = download.path()
    assert path is not None
    text = Path(path).read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows, "the download is empty"
    header, body = rows[0], rows[1:]
    return header, [dict(zip(header, row, strict=True)) for row in body]


def _neutralised(text: str) -> str:
    return f"'{text}" if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def _expected_row(
    payment: dict[str, Any], event_id: str, name: str, date: str = "2026-06-14"
) -> dict[str, str]:
    void = payment.get("void") or {}
    return {
        "event_id": event_id,
        "event_name": name,
        "event_date": date,
        "payment_id": payment["payment_id"],
        "received_at": payment["received_at"],
        "logged_at": payment["timestamp"],
        "patron_name": _neutralised(payment["patron_name"]),
        "payment_method": payment["payment_method"],
        "reference": _neutralised(payment.get("reference") or ""),
        "amount": payment["amount"],
        "currency": payment["currency"],
        "status": "void" if void else "paid",
        "void_reason": _neutralised(void.get("reason", "")),
        "voided_by": void.get("voided_by", ""),
        "logged_by": payment["logged_by"],
        "notes": _neutralised(payment.get("notes") or ""),
    }


def _event_for_export(api: APIRequestContext, token: str, name: str) -> str:
    event_id = setup.create_event(api, token, name, location="Dock 3")
    setup.log_payment(api, token, event_id, patron=HOSTILE, amount="12.50", method="cash")
    setup.log_payment(
        api,
        token,
        event_id,
        patron="Ana Ruiz",
        amount="40",
        method="venmo",
        reference="@ana",
        notes='Tip, "thanks"\nsecond line',
    )
    voided = setup.log_payment(
        api, token, event_id, patron="John Smith", amount="150", method="card", reference="4242"
    )
    setup.void_payment(api, token, event_id, voided, "Charged twice")
    setup.log_payment(
        api,
        token,
        event_id,
        patron="Zed Zelle",
        amount="1234.56",
        method="other",
        reference="Zelle",
        notes="-5 discount applied",
    )
    return event_id


def _show_card(page: Page, name: str) -> Any:
    page.locator("#refresh").click()
    card = event_card(page, name)
    expect(card).to_be_visible()
    return card


def _csv_requests(page: Page) -> list[Request]:
    seen: list[Request] = []
    page.on("request", lambda r: seen.append(r) if "payments.csv" in r.url else None)
    return seen


def test_download_an_events_payments_and_compare_with_the_ledger(
    admin: Page, api: APIRequestContext, admin_token: str, local_stack: StackProcess
) -> None:
    name = unique_name("Export Night")
    event_id = _event_for_export(api, admin_token, name)
    card = _show_card(admin, name)
    requests = _csv_requests(admin)

    with admin.expect_download() as info:
        card.get_by_role("button", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename == f"{event_id}-payments.csv"
    expect(admin.locator("#toasts")).to_contain_text(f"Downloaded {event_id}-payments.csv")
    expect(card.get_by_role("button", name="Download CSV")).to_be_enabled()

    # Fetched with the bearer token (a plain link could not carry it)
    assert len(requests) == 1
    assert requests[0].headers.get("authorization", "").startswith("Bearer ")

    header, rows = _read_csv(download)
    assert header == HEADER
    ledger = setup.payments(api, admin_token, event_id)
    assert len(rows) == len(ledger) == 4
    for row, payment in zip(rows, ledger, strict=True):
        assert row == _expected_row(payment, event_id, name)

    by_id = {row["payment_id"]: row for row in rows}
    assert [row["amount"] for row in rows] == ["12.50", "40.00", "150.00", "1234.56"]
    hostile = next(row for row in rows if "HYPERLINK" in row["patron_name"])
    assert hostile["patron_name"] == "'" + HOSTILE  # a spreadsheet shows it as text
    voided = next(p for p in ledger if p.get("void"))
    assert by_id[voided["payment_id"]]["status"] == "void"
    assert by_id[voided["payment_id"]]["void_reason"] == "Charged twice"
    assert by_id[voided["payment_id"]]["voided_by"] == local_stack.admin_email
    assert sorted(row["status"] for row in rows) == ["paid", "paid", "paid", "void"]
    ana = next(row for row in rows if row["patron_name"] == "Ana Ruiz")
    assert ana["notes"] == 'Tip, "thanks"\nsecond line'
    assert ana["reference"] == "'@ana"  # "@" starts a formula too (OWASP's list)
    zed = next(row for row in rows if row["patron_name"] == "Zed Zelle")
    assert zed["notes"] == "'-5 discount applied"
    assert zed["payment_method"] == "other"


def test_export_a_date_range_of_every_event(
    admin: Page, api: APIRequestContext, admin_token: str
) -> None:
    first = unique_name("Range One")
    second = unique_name("Range Two")
    first_id = _event_for_export(api, admin_token, first)
    second_id = setup.create_event(api, admin_token, second, date="2026-07-04")
    setup.log_payment(
        api, admin_token, second_id, patron="Rita Range", amount="9.99", method="check"
    )
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=1)).isoformat(), today.isoformat()
    requests = _csv_requests(admin)

    panel = admin.locator("#export-payments")
    expect(panel).to_be_visible()
    panel.locator("summary").click()
    form = admin.locator("#export-form")

    # The browser checks the range first: nothing is sent for "to" before "from"
    form.get_by_label("From").fill(end)
    form.get_by_label("To").fill(start)
    form.get_by_role("button", name="Download CSV").click()
    expect(form.locator("#export-to-error")).to_have_text("To must be on or after “From”")
    assert requests == []

    form.get_by_label("From").fill(start)
    form.get_by_label("To").fill(end)
    with admin.expect_download() as info:
        form.get_by_role("button", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename == f"payments-{start}-to-{end}.csv"
    expect(form.locator("#export-status")).to_have_text(
        f"Downloaded payments-{start}-to-{end}.csv."
    )
    assert len(requests) == 1
    assert requests[0].url.endswith(f"/api/payments.csv?from={start}&to={end}")

    header, rows = _read_csv(download)
    assert header == HEADER
    for event_id, name, date in [
        (first_id, first, "2026-06-14"),
        (second_id, second, "2026-07-04"),
    ]:
        mine = [row for row in rows if row["event_id"] == event_id]
        ledger = setup.payments(api, admin_token, event_id)
        assert mine == [_expected_row(p, event_id, name, date) for p in ledger]
    assert {row["event_id"] for row in rows} >= {first_id, second_id}

    # A range with nothing in it: just the header
    form.get_by_label("From").fill("2001-01-01")
    form.get_by_label("To").fill("2001-01-02")
    with admin.expect_download() as info:
        form.get_by_role("button", name="Download CSV").click()
    header, rows = _read_csv(info.value)
    assert header == HEADER
    assert rows == []


def test_a_large_export_arrives_as_a_presigned_link_the_browser_follows(
    admin: Page, api: APIRequestContext, admin_token: str
) -> None:
    name = unique_name("Huge Export")
    event_id = setup.create_event(api, admin_token, name)
    card = _show_card(admin, name)
    link = "https://exports.example.test/exports/0190/payments.csv?X-Amz-Signature=abc"
    body = ",".join(HEADER) + "\r\n"
    followed: list[str] = []

    # What the API answers when the CSV is too big for a Lambda response
    def too_large(route: Route) -> None:
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps(
                {"status": "exported", "url": link, "expires_at": "2099-01-01T00:00:00Z", "rows": 2}
            ),
        )

    # The storage service behind the presigned link
    def bucket(route: Route) -> None:
        followed.append(route.request.url)
        assert "authorization" not in route.request.headers  # a plain GET, no token
        route.fulfill(
            status=200,
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="big-export.csv"',
            },
            body=body,
        )

    admin.route("**/api/g/*/payments.csv", too_large)
    admin.route("**/api/payments.csv?*", too_large)
    admin.route("https://exports.example.test/**", bucket)

    with admin.expect_download() as info:
        card.get_by_role("button", name="Download CSV").click()
    assert info.value.suggested_filename == "big-export.csv"
    header, rows = _read_csv(info.value)
    assert (header, rows) == (HEADER, [])
    assert followed == [link]
    expect(admin.locator("#toasts")).to_contain_text("Export of 2 payments is ready")
    # The app stayed where it was
    expect(card).to_be_visible()
    assert admin.url.startswith(admin.evaluate("location.origin"))

    admin.locator("#export-payments summary").click()
    with admin.expect_download() as info:
        admin.locator("#export-form").get_by_role("button", name="Download CSV").click()
    assert info.value.suggested_filename == "big-export.csv"
    expect(admin.locator("#export-status")).to_contain_text("Export of 2 payments is ready")
    assert followed == [link, link]
    assert event_id


def test_an_answer_that_is_not_an_export_link_is_not_followed(
    admin: Page, api: APIRequestContext, admin_token: str
) -> None:
    name = unique_name("Odd Answer")
    setup.create_event(api, admin_token, name)
    card = _show_card(admin, name)
    admin.route(
        "**/api/g/*/payments.csv",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"status": "exported", "url": "javascript:alert(1)", "rows": 1}),
        ),
    )
    dialogs: list[str] = []

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    admin.on("dialog", refuse)
    card.get_by_role("button", name="Download CSV").click()
    expect(admin.locator("#toasts")).to_contain_text("Could not download the payments")
    assert dialogs == []


def test_an_expired_token_is_refreshed_and_the_download_retried(
    admin: Page, api: APIRequestContext, admin_token: str
) -> None:
    name = unique_name("Stale Token")
    event_id = setup.create_event(api, admin_token, name)
    setup.log_payment(api, admin_token, event_id, patron="Fresh Token", amount="5", method="cash")
    card = _show_card(admin, name)
    refreshes = []
    admin.on("request", lambda r: refreshes.append(r) if r.url.endswith("/auth/refresh") else None)
    calls: list[str] = []

    # API Gateway's authorizer refuses the first request (the token just expired)
    def expire_once(route: Route) -> None:
        calls.append(route.request.headers.get("authorization", ""))
        if len(calls) == 1:
            route.fulfill(
                status=401, content_type="application/json", body='{"message":"Unauthorized"}'
            )
        else:
            route.continue_()

    admin.route("**/api/g/*/payments.csv", expire_once)
    with admin.expect_download() as info:
        card.get_by_role("button", name="Download CSV").click()
    _, rows = _read_csv(info.value)
    assert [row["patron_name"] for row in rows] == ["Fresh Token"]
    assert len(calls) == 2
    assert len(refreshes) == 1
    expect(admin.locator("#events")).to_be_visible()


def test_crew_get_no_downloads(
    crew: Page, api: APIRequestContext, admin_token: str, crew_account: Person
) -> None:
    name = unique_name("Crew Export")
    event_id = setup.create_event(api, admin_token, name)
    card = _show_card(crew, name)
    expect(card.get_by_role("button", name="Log payment")).to_be_visible()
    assert crew.get_by_role("button", name="Download CSV").count() == 0
    expect(crew.locator("#export-payments")).to_be_hidden()

    # The API refuses them anyway
    token = str(api_sign_in(api, crew_account.email, crew_account.password)["token"])
    for path in (
        f"/api/g/{event_id}/payments.csv",
        "/api/payments.csv?from=2026-01-01&to=2026-12-31",
    ):
        reply = api.get(path, headers=setup.bearer(token))
        assert reply.status == 403, f"{path}: {reply.status} {reply.text()}"
