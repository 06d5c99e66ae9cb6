"""Close-out in headless Chromium against the real local stack: an admin counts what is in hand
per method at the end of an event, sees the difference with what the ledger recorded (exact,
in integer cents), must explain any difference in a note, and saves; the card then carries
the close-out line, the history keeps every close-out, and a payment logged afterwards is
marked "after close-out". Crew see none of it.

Payments are set up through the API (ledger_setup.py); everything the close-out does is done
in the browser."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import APIRequestContext, Page, Request, Route, expect

from tests.e2e.browser import ledger_setup as setup
from tests.e2e.browser.support import event_card, sign_in, unique_name
from tests.e2e.stack_process import StackProcess

UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
METHODS = ("cash", "card", "check", "venmo", "other")
CLOSE_OUT = re.compile(r"^Close out$")


def _closeout_posts(page: Page) -> list[Request]:
    posts: list[Request] = []
    page.on(
        "request",
        lambda r: posts.append(r) if r.method == "POST" and r.url.endswith("/closeouts") else None,
    )
    return posts


def _show_card(page: Page, name: str) -> Any:
    """The event (made through the API after the page loaded) on screen: Refresh once."""
    page.locator("#refresh").click()
    card = event_card(page, name)
    expect(card).to_be_visible()
    return card


def _open_sheet(card: Any) -> Any:
    card.get_by_role("button", name=CLOSE_OUT).click()
    dialog = card.page.locator("#closeout-dialog")
    expect(dialog).to_be_visible()
    return dialog


def _fill_counts(dialog: Any, counts: dict[str, str]) -> None:
    for method, value in counts.items():
        dialog.locator(f"#closeout-{method}").fill(value)


def _row(dialog: Any, method: str) -> Any:
    return dialog.locator(f'#closeout-form .co-row[data-method="{method}"]')


def _event_with_payments(
    api: APIRequestContext, token: str, name: str
) -> tuple[str, dict[str, str]]:
    """An event with payments of all five methods and one void; its id and the recorded nets."""
    event_id = setup.create_event(api, token, name, location="Dock 3")
    for patron, amount, method, reference in [
        ("Cash One", "100.00", "cash", ""),
        ("Cash Two", "50.00", "cash", ""),
        ("Card Holder", "830.50", "card", "4242"),
        ("Check Writer", "25.00", "check", "#1042"),
        ("Ana Ruiz", "40.00", "venmo", "@ana"),
        ("Zed Zelle", "12.34", "other", "Zelle"),
    ]:
        setup.log_payment(
            api, token, event_id, patron=patron, amount=amount, method=method, reference=reference
        )
    wrong = setup.log_payment(
        api, token, event_id, patron="Wrong Event", amount="20", method="cash"
    )
    setup.void_payment(api, token, event_id, wrong, "Logged on the wrong event")
    setup.wait_for_counts(api, token, event_id, payments=7, voids=1)
    recorded = {
        "cash": "$150.00",
        "card": "$830.50",
        "check": "$25.00",
        "venmo": "$40.00",
        "other": "$12.34",
    }
    return event_id, recorded


def test_close_out_an_event_then_again_with_history_and_late_payments(
    admin: Page, api: APIRequestContext, admin_token: str, local_stack: StackProcess
) -> None:
    name = unique_name("Closing Night")
    event_id, recorded = _event_with_payments(api, admin_token, name)
    card = _show_card(admin, name)
    expect(card.locator(".closeout-line")).to_be_hidden()
    posts = _closeout_posts(admin)

    # The sheet shows what the ledger recorded per method, net of the void
    dialog = _open_sheet(card)
    expect(dialog.locator("#closeout-cash")).to_be_focused()
    for method, amount in recorded.items():
        expect(_row(dialog, method).locator(".co-recorded")).to_have_text(amount)
    expect(dialog.locator("#closeout-history")).to_be_empty()
    expect(dialog).to_contain_text("Not closed out yet.")

    # Counts with a difference: short on cash, over on Venmo; the differences are live and exact
    _fill_counts(
        dialog,
        {"cash": "140.50", "card": "830.50", "check": "25", "venmo": "45.00", "other": "12.34"},
    )
    expect(_row(dialog, "cash").locator(".co-diff")).to_have_text("short $9.50")
    expect(_row(dialog, "card").locator(".co-diff")).to_have_text("exact")
    expect(_row(dialog, "venmo").locator(".co-diff")).to_have_text("over $5.00")
    expect(_row(dialog, "cash").locator(".co-diff")).to_have_attribute("data-cents", "-950")
    expect(dialog.locator("#closeout-total")).to_have_text("Total: short $4.50")

    # No note: the browser refuses, nothing is sent
    dialog.get_by_role("button", name="Save close-out").click()
    expect(dialog.locator("#closeout-note-error")).to_contain_text("Note is required")
    expect(dialog.get_by_label("Note")).to_be_focused()
    expect(dialog.locator("#closeout-form")).to_be_visible()
    assert posts == []

    # With a note it is saved; the sheet shows the server's answer
    dialog.get_by_label("Note").fill("Two twenties short in the box; Venmo tip")
    dialog.get_by_role("button", name="Save close-out").click()
    result = dialog.locator("#closeout-result")
    expect(result).to_be_visible()
    expect(result.get_by_role("heading")).to_have_text("Saved: short $4.50")
    expect(result).to_contain_text(f"Closed out by {local_stack.admin_email}")
    expect(result).to_contain_text("7 payments, 1 voided")
    expect(result.locator('.co-row[data-method="cash"]')).to_contain_text("recorded $150.00")
    expect(result.locator('.co-row[data-method="cash"]')).to_contain_text("counted $140.50")
    expect(result.locator('.co-row[data-method="cash"] .co-diff')).to_have_text("short $9.50")
    expect(result).to_contain_text("Note: Two twenties short in the box; Venmo tip")
    expect(dialog.locator("#closeout-done")).to_be_focused()
    assert len(posts) == 1
    sent = json.loads(posts[0].post_data or "{}")
    assert sent["counted"] == {
        "cash": "140.50",
        "card": "830.50",
        "check": "25.00",
        "venmo": "45.00",
        "other": "12.34",
    }
    assert sent["note"] == "Two twenties short in the box; Venmo tip"
    assert UUID7.fullmatch(sent["closeout_id"])
    first_id = sent["closeout_id"]

    # The history lists it
    history = dialog.locator("#closeout-history li")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("short $4.50")
    expect(history.first).to_contain_text(f"by {local_stack.admin_email}")
    expect(history.first).to_contain_text("Two twenties short in the box; Venmo tip")
    expect(history.first).to_contain_text("Cash short $9.50 · Venmo over $5.00")

    # Done: the sheet closes and focus goes back to the card's button
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()
    expect(card.get_by_role("button", name=CLOSE_OUT)).to_be_focused()

    # The card shows the close-out line at once, and from the projection once it has it
    line = card.locator(".closeout-line")
    expect(line).to_contain_text(f"Closed out by {local_stack.admin_email} at ")
    expect(line).to_contain_text(", short $4.50")
    expect(card).to_have_attribute("data-closeout", "confirmed", timeout=30_000)
    setup.wait_for_closeout(api, admin_token, event_id, first_id)
    admin.reload()
    card = event_card(admin, name)
    line = card.locator(".closeout-line")
    expect(line).to_have_text(
        re.compile(
            rf"^Closed out by {re.escape(local_stack.admin_email)} at "
            r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2} [AP]M, short \$4\.50$"
        )
    )
    expect(card).to_have_attribute("data-closeout-id", first_id)

    # A payment logged afterwards (a late Venmo) is marked "after close-out"
    setup.log_payment(api, admin_token, event_id, patron="Late Venmo", amount="15", method="venmo")
    card.locator("summary", has_text="Payments").click()
    late = card.locator("li.payment", has_text="Late Venmo")
    expect(late.locator(".after-closeout")).to_have_text("after close-out")
    expect(card.locator("li.payment .after-closeout")).to_have_count(1)
    expect(card.locator("li.payment", has_text="Ana Ruiz")).not_to_contain_text("after close-out")

    # A second close-out: the sheet has the late Venmo, the counts match, no note needed
    setup.wait_for_counts(api, admin_token, event_id, payments=8, voids=1)
    dialog = _open_sheet(card)
    expect(_row(dialog, "venmo").locator(".co-recorded")).to_have_text("$55.00")
    history = dialog.locator("#closeout-history li")
    expect(history).to_have_count(1)
    _fill_counts(
        dialog,
        {"cash": "150", "card": "830.50", "check": "25", "venmo": "55", "other": "12.34"},
    )
    expect(dialog.locator("#closeout-total")).to_have_text("Total: exact")
    dialog.get_by_role("button", name="Save close-out").click()
    expect(dialog.locator("#closeout-result").get_by_role("heading")).to_have_text("Saved: exact")
    assert len(posts) == 2
    second_id = json.loads(posts[1].post_data or "{}")["closeout_id"]
    assert second_id != first_id
    assert "note" not in json.loads(posts[1].post_data or "{}")

    # It supersedes the first; the history keeps both, newest first
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("exact")
    expect(history.nth(0)).to_contain_text("current")
    expect(history.nth(1)).to_contain_text("short $4.50")
    expect(history.nth(1)).not_to_contain_text("current")
    dialog.get_by_role("button", name="Done").click()
    expect(card.locator(".closeout-line")).to_contain_text(", exact")
    setup.wait_for_closeout(api, admin_token, event_id, second_id)
    expect(card).to_have_attribute("data-closeout", "confirmed", timeout=30_000)
    expect(card).to_have_attribute("data-closeout-id", second_id)

    # The late Venmo is in the new close-out: no longer "after close-out"
    expect(card.locator("li.payment .after-closeout")).to_have_count(0)

    stored = setup.closeouts(api, admin_token, event_id)
    assert [c["closeout_id"] for c in stored] == [second_id, first_id]
    assert stored[1]["difference_cents"] == {
        "cash": -950,
        "card": 0,
        "check": 0,
        "venmo": 500,
        "other": 0,
    }
    assert stored[0]["over_short_cents"] == 0
    assert stored[0]["recorded_cents"]["venmo"] == 5500


def test_what_is_shown_after_saving_is_the_servers_recorded_amounts(
    admin: Page, api: APIRequestContext, admin_token: str
) -> None:
    name = unique_name("Busy Dock")
    event_id = setup.create_event(api, admin_token, name)
    setup.log_payment(api, admin_token, event_id, patron="Early Card", amount="100", method="card")
    setup.wait_for_counts(api, admin_token, event_id, payments=1)
    card = _show_card(admin, name)
    dialog = _open_sheet(card)
    expect(_row(dialog, "card").locator(".co-recorded")).to_have_text("$100.00")
    expect(dialog.locator("#closeout-as-of")).to_contain_text("Recorded amounts as of")

    # The terminal's batch shows a card payment another device logged after the sheet opened
    setup.log_payment(api, admin_token, event_id, patron="Late Card", amount="60", method="card")
    _fill_counts(dialog, {"cash": "0", "card": "160", "check": "0", "venmo": "0", "other": "0"})
    expect(_row(dialog, "card").locator(".co-diff")).to_have_text("over $60.00")
    dialog.get_by_label("Note").fill("Batch has one more card than the sheet")
    dialog.get_by_role("button", name="Save close-out").click()

    # The server compared with the ledger at that moment: exact
    result = dialog.locator("#closeout-result")
    expect(result.get_by_role("heading")).to_have_text("Saved: exact")
    expect(result.locator('.co-row[data-method="card"]')).to_contain_text("recorded $160.00")
    expect(result.locator('.co-row[data-method="card"] .co-diff')).to_have_text("exact")
    expect(result).to_contain_text("this sheet showed $100.00")
    expect(result).to_contain_text("2 payments, 0 voided")


def test_a_retry_after_a_dropped_response_saves_one_close_out(
    admin: Page, api: APIRequestContext, admin_token: str
) -> None:
    name = unique_name("Flaky Close")
    event_id = setup.create_event(api, admin_token, name)
    setup.log_payment(api, admin_token, event_id, patron="Cash Only", amount="75", method="cash")
    setup.wait_for_counts(api, admin_token, event_id, payments=1)
    card = _show_card(admin, name)
    bodies: list[dict[str, Any]] = []
    statuses: list[int] = []

    # The first request reaches the server (and is saved) but its response is lost
    def drop_first_response(route: Route) -> None:
        if route.request.method != "POST":  # the history is read from the same path
            route.continue_()
            return
        bodies.append(json.loads(route.request.post_data or "{}"))
        reply = route.fetch()
        statuses.append(reply.status)
        if len(bodies) == 1:
            route.abort("connectionreset")
        else:
            route.fulfill(response=reply)

    admin.route("**/api/g/*/closeouts", drop_first_response)
    dialog = _open_sheet(card)
    _fill_counts(dialog, {"cash": "75", "card": "0", "check": "0", "venmo": "0", "other": "0"})
    dialog.get_by_role("button", name="Save close-out").click()
    expect(dialog.locator("#closeout-error")).to_contain_text("will not be saved twice")
    expect(dialog.get_by_role("button", name="Save close-out")).to_be_enabled()

    dialog.get_by_role("button", name="Save close-out").click()
    expect(dialog.locator("#closeout-result").get_by_role("heading")).to_have_text("Saved: exact")
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert statuses == [201, 200]  # the retry is the server's replay
    assert len(setup.closeouts(api, admin_token, event_id)) == 1


def test_bad_counts_are_caught_in_the_browser_and_by_the_server(
    admin: Page, api: APIRequestContext, admin_token: str
) -> None:
    name = unique_name("Bad Counts")
    event_id = setup.create_event(api, admin_token, name)
    card = _show_card(admin, name)
    posts = _closeout_posts(admin)
    dialog = _open_sheet(card)

    # The browser: every method needs a count, money with at most two decimals, not negative
    _fill_counts(dialog, {"cash": "12.345", "card": "-1", "check": "abc", "venmo": ""})
    expect(dialog.locator("#closeout-total")).to_contain_text("enter a count for every method")
    dialog.get_by_role("button", name="Save close-out").click()
    expect(dialog.locator("#closeout-cash-error")).to_have_text(
        "Cash must have at most 2 decimal places"
    )
    expect(dialog.locator("#closeout-card-error")).to_have_text("Card must be 0 or more")
    expect(dialog.locator("#closeout-check-error")).to_contain_text("decimal amount")
    expect(dialog.locator("#closeout-venmo-error")).to_contain_text("is required")
    expect(dialog.locator("#closeout-other-error")).to_contain_text("is required")
    expect(dialog.locator("#closeout-cash")).to_be_focused()
    expect(dialog.locator("#closeout-cash")).to_have_attribute("aria-invalid", "true")
    assert posts == []

    # The server's own refusal (a client that disagrees with it) is shown, nothing is saved
    def tamper(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        body = json.loads(route.request.post_data or "{}")
        body["counted"]["cash"] = "-5"
        route.continue_(post_data=json.dumps(body))

    admin.route("**/api/g/*/closeouts", tamper)
    _fill_counts(dialog, {"cash": "0", "card": "0", "check": "0", "venmo": "0", "other": "0"})
    dialog.get_by_role("button", name="Save close-out").click()
    expect(dialog.locator("#closeout-error")).to_contain_text("Nothing was saved")
    expect(dialog.locator("#closeout-error")).to_contain_text("negative")
    expect(dialog.locator("#closeout-form")).to_be_visible()
    assert len(posts) == 1
    assert setup.closeouts(api, admin_token, event_id) == []


def test_keyboard_only_close_out(admin: Page, api: APIRequestContext, admin_token: str) -> None:
    name = unique_name("Keyboard Close")
    event_id = setup.create_event(api, admin_token, name)
    setup.log_payment(api, admin_token, event_id, patron="Kay Board", amount="10", method="cash")
    setup.wait_for_counts(api, admin_token, event_id, payments=1)
    card = _show_card(admin, name)
    button = card.get_by_role("button", name=CLOSE_OUT)
    button.focus()
    admin.keyboard.press("Enter")
    dialog = admin.locator("#closeout-dialog")
    expect(dialog.locator("#closeout-cash")).to_be_focused()

    # Escape closes the sheet and focus comes back
    admin.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()

    # Tab through the five counts and the note, then save with Enter on the button
    admin.keyboard.press("Enter")
    expect(dialog.locator("#closeout-cash")).to_be_focused()
    for value in ("10", "0", "0", "0", "0"):
        admin.keyboard.type(value)
        admin.keyboard.press("Tab")
    expect(dialog.get_by_label("Note")).to_be_focused()
    admin.keyboard.press("Tab")  # Cancel
    admin.keyboard.press("Tab")  # Save close-out
    expect(dialog.get_by_role("button", name="Save close-out")).to_be_focused()
    admin.keyboard.press("Enter")
    expect(dialog.locator("#closeout-done")).to_be_focused()
    expect(dialog.locator("#closeout-result").get_by_role("heading")).to_have_text("Saved: exact")
    admin.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()


def test_the_sheet_fits_a_phone_without_horizontal_scrolling(
    page: Page, api: APIRequestContext, admin_token: str, local_stack: StackProcess
) -> None:
    name = unique_name("Phone Close Out With A Rather Long Event Name")
    event_id = setup.create_event(
        api, admin_token, name, location="Marina Pier 3, Berth 14, Behind The Harbour Office"
    )
    setup.log_payment(
        api, admin_token, event_id, patron="Big Card", amount="99999.99", method="card"
    )
    setup.wait_for_counts(api, admin_token, event_id, payments=1)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, local_stack.admin_email, local_stack.admin_password)
    card = event_card(page, name)

    def overflow() -> int:
        return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))

    expect(card.get_by_role("button", name=CLOSE_OUT)).to_be_visible()
    assert overflow() <= 0
    dialog = _open_sheet(card)
    _fill_counts(
        dialog, {"cash": "0", "card": "123456789.99", "check": "0", "venmo": "0", "other": "0"}
    )
    expect(_row(dialog, "card").locator(".co-diff")).to_have_text("over $123,356,790.00")
    assert overflow() <= 0
    box = dialog.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    for method in METHODS:
        field = dialog.locator(f"#closeout-{method}").bounding_box()
        assert field is not None
        assert field["x"] + field["width"] <= box["x"] + box["width"]

    # The export panel fits too
    dialog.get_by_role("button", name="Cancel").click()
    page.locator("#export-payments summary").click()
    expect(page.locator("#export-form").get_by_label("To")).to_be_visible()
    assert overflow() <= 0


def test_crew_see_no_close_out_or_download_but_do_see_the_close_out_line(
    crew: Page, api: APIRequestContext, admin_token: str
) -> None:
    name = unique_name("Crew View")
    event_id = setup.create_event(api, admin_token, name)
    setup.log_payment(api, admin_token, event_id, patron="Crew Seen", amount="30", method="cash")
    reply = api.post(
        f"/api/g/{event_id}/closeouts",
        data={
            "counted": {"cash": "30", "card": "0", "check": "0", "venmo": "0", "other": "0"},
        },
        headers=setup.bearer(admin_token),
    )
    assert reply.status == 201, reply.text()
    setup.wait_for_closeout(api, admin_token, event_id, reply.json()["closeout_id"])
    card = _show_card(crew, name)
    expect(card.get_by_role("button", name="Log payment")).to_be_visible()
    expect(card.locator(".closeout-line")).to_contain_text(", exact")
    assert crew.get_by_role("button", name=CLOSE_OUT).count() == 0
    assert crew.get_by_role("button", name="Download CSV").count() == 0
    expect(crew.locator("#export-payments")).to_be_hidden()
    expect(card.locator(".card-tools")).to_be_hidden()
