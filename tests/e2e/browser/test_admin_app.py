"""The app in headless Chromium against the real local stack, signed in as the admin: what an
admin on the dock does, and what must never happen (a name run as code, a payment logged
twice). Sign-in, sessions and people are in test_sessions.py and test_people.py."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Page, Request, Route, expect

from tests.e2e.browser.support import (
    CONFIRM_TIMEOUT_MS,
    create_event,
    fill_payment,
    ledger,
    log_payment,
    sign_in,
    slug,
    unique_name,
)
from tests.e2e.stack_process import StackProcess

_ledger = ledger


def _stat(card: Any, key: str) -> Any:
    return card.locator(f'[data-stat="{key}"] dd')


def _expect_confirmed(card: Any) -> None:
    expect(card).to_have_attribute("data-sync", "confirmed", timeout=CONFIRM_TIMEOUT_MS)


def test_sign_in_create_log_void_and_see_the_totals(page: Page, local_stack: StackProcess) -> None:
    # Sign in
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, local_stack.admin_email, local_stack.admin_password)
    # The header says who is signed in (their name, or their e-mail) and their role
    expect(page.locator("#session-user")).to_have_attribute("title", local_stack.admin_email)
    expect(page.locator("#session-user")).not_to_be_empty()
    expect(page.locator("#session-role")).to_have_text("Admin")

    # Create an event with an expected total
    name = unique_name("Harbor Lights Cruise")
    card = create_event(page, name, location="Dock 3", expected="2400.00")
    expect(card).to_contain_text("Dock 3")
    expect(card.locator(".net")).to_have_text("$0.00 collected")
    expect(_stat(card, "outstanding")).to_have_text("$2,400.00")

    # Log a payment: toast, and the card updates at once (optimistic)
    log_payment(page, card, patron="John Smith", amount="150", method="card", reference="4242")
    expect(page.locator("#toasts")).to_contain_text("Payment logged for John Smith: $150.00")
    expect(card.locator(".net")).to_have_text("$150.00 collected")
    expect(_stat(card, "payment-count")).to_have_text("1")
    expect(_stat(card, "card")).to_have_text("$150.00")
    expect(_stat(card, "outstanding")).to_have_text("$2,250.00")

    # The payments section lists it with everything the admin entered
    card.locator("summary", has_text="Payments").click()
    row = card.locator("li.payment", has_text="John Smith")
    expect(row).to_contain_text("$150.00")
    expect(row).to_contain_text("Card")
    expect(row).to_contain_text("ref 4242")
    expect(row).to_contain_text(f"logged by {local_stack.admin_email}")

    # Void it: a reason, then an explicit confirmation
    row.get_by_role("button", name="Void").click()
    dialog = page.locator("#void-dialog")
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog.locator("#void-reason-error")).to_contain_text("Reason is required")
    dialog.get_by_label("Reason").fill("Logged on the wrong event")
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog.locator("#void-confirm-text")).to_contain_text("Void $150.00 from John Smith?")
    dialog.get_by_role("button", name="Void payment").click()
    expect(dialog).to_be_hidden()

    # The totals drop and the row shows who voided it and why
    expect(card.locator(".net")).to_have_text("$0.00 collected")
    expect(_stat(card, "voided")).to_have_text("$150.00 (1)")
    expect(_stat(card, "outstanding")).to_have_text("$2,400.00")
    expect(card.locator("li.payment.voided")).to_contain_text("Logged on the wrong event")
    expect(card.locator("li.payment.voided").get_by_role("button")).to_have_count(0)

    # ... confirmed by the projection once the stream pollers have caught up
    _expect_confirmed(card)
    expect(card.locator(".net")).to_have_text("$0.00 collected")
    expect(_stat(card, "payment-count")).to_have_text("1")


def test_a_patron_name_that_looks_like_html_is_shown_as_text(admin: Page) -> None:
    dialogs: list[str] = []
    admin.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    hostile = "<img src=x onerror=alert(1)>"
    card = create_event(admin, unique_name("XSS Check"), location="<b>Pier</b>")

    log_payment(
        admin, card, patron=hostile, amount="12.50", method="cash", notes="<script>x</script>"
    )
    card.locator("summary", has_text="Payments").click()
    row = card.locator("li.payment").first
    expect(row.locator(".patron")).to_have_text(hostile)
    expect(row.locator(".notes")).to_have_text("<script>x</script>")
    expect(admin.locator("#toasts")).to_contain_text(f"Payment logged for {hostile}: $12.50")
    expect(card).to_contain_text("<b>Pier</b>")

    admin.wait_for_timeout(300)  # give any injected handler time to fire
    assert dialogs == []
    assert admin.locator("main img, #toasts img, main b, main script").count() == 0


def test_double_click_logs_exactly_one_payment(admin: Page) -> None:
    name = unique_name("Double Click")
    card = create_event(admin, name)
    posts: list[Request] = []
    admin.on(
        "request",
        lambda r: posts.append(r) if r.method == "POST" and r.url.endswith("/payment") else None,
    )

    # A slow network widens the window in which a second click could sneak in
    def slow(route: Route) -> None:
        admin.wait_for_timeout(400)
        route.continue_()

    admin.route("**/api/g/*/payment", slow)
    card.get_by_role("button", name="Log payment").click()
    fill_payment(admin, patron="Dee Double", amount="20", method="cash")
    admin.locator("#payment-submit").dblclick()
    admin.evaluate("document.getElementById('payment-submit').click()")
    expect(admin.locator("#payment-dialog")).to_be_hidden()

    assert len(_ledger(admin, slug(f"2026-06-14 {name}"))) == 1
    assert len({json.loads(r.post_data or "{}")["payment_id"] for r in posts}) == 1


def test_a_retry_after_a_dropped_response_logs_exactly_one_payment(admin: Page) -> None:
    name = unique_name("Flaky Dock")
    card = create_event(admin, name)
    bodies: list[dict[str, Any]] = []

    # The first request reaches the server (and is logged) but its response is lost
    def drop_first_response(route: Route) -> None:
        bodies.append(json.loads(route.request.post_data or "{}"))
        if len(bodies) == 1:
            route.fetch()
            route.abort("connectionreset")
        else:
            route.continue_()

    admin.route("**/api/g/*/payment", drop_first_response)
    card.get_by_role("button", name="Log payment").click()
    fill_payment(admin, patron="Rita Retry", amount="75.25", method="venmo", reference="@rita")
    admin.locator("#payment-submit").click()

    # No answer: the payment is kept on this device (the outbox) and sent again by itself, with
    # the same idempotency key and body: the server answers that replay from the ledger (200)
    expect(admin.locator("#payment-dialog")).to_be_hidden()
    expect(admin.locator("#toasts")).to_contain_text("Saved on this device — will sync when online")
    expect(admin.locator("html")).to_have_attribute("data-outbox", "0", timeout=CONFIRM_TIMEOUT_MS)

    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        bodies[0]["payment_id"],
    )
    ledger = _ledger(admin, slug(f"2026-06-14 {name}"))
    assert [(p["patron_name"], p["amount"]) for p in ledger] == [("Rita Retry", "75.25")]


def test_each_opening_of_the_modal_gets_a_new_idempotency_key(admin: Page) -> None:
    card = create_event(admin, unique_name("Two Payments"))
    ids: list[str] = []
    admin.on(
        "request",
        lambda r: (
            ids.append(json.loads(r.post_data or "{}")["payment_id"])
            if r.method == "POST" and r.url.endswith("/payment")
            else None
        ),
    )
    log_payment(admin, card, patron="Same Patron", amount="10", method="cash")
    log_payment(admin, card, patron="Same Patron", amount="10", method="cash")
    assert len(ids) == 2
    assert ids[0] != ids[1]
    expect(card.locator(".net")).to_have_text("$20.00 collected")


def test_client_checks_catch_bad_input_before_anything_is_sent(admin: Page) -> None:
    card = create_event(admin, unique_name("Client Checks"))
    sent: list[str] = []
    admin.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    card.get_by_role("button", name="Log payment").click()
    fill_payment(admin, patron="  ", amount="150.001", method="cash", email="not-an-email")
    admin.locator("#payment-submit").click()

    expect(admin.locator("#patron-name-error")).to_have_text("Patron name is required")
    expect(admin.locator("#amount-error")).to_have_text("Amount must have at most 2 decimal places")
    expect(admin.locator("#patron-email-error")).to_contain_text("must be an e-mail address")
    expect(admin.get_by_label("Patron name")).to_be_focused()
    for amount, message in [
        ("0", "greater than 0"),
        ("-5", "greater than 0"),
        ("100000.01", "at most 100000.00"),
        ("1e3", "decimal amount"),
    ]:
        admin.get_by_label("Amount").fill(amount)
        admin.locator("#payment-submit").click()
        expect(admin.locator("#amount-error")).to_contain_text(message)
    assert sent == []


def test_server_validation_errors_appear_next_to_their_fields_and_nothing_is_logged(
    admin: Page,
) -> None:
    name = unique_name("Server Checks")
    card = create_event(admin, name)

    # The browser's checks pass; what reaches the server is refused there (a client that
    # disagrees with the server, or rules that changed): the server's messages must show.
    def tamper(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        body.update(amount="-5", patron_email="no-at-sign", reference="x\u0007y")
        route.continue_(post_data=json.dumps(body))

    admin.route("**/api/g/*/payment", tamper)
    card.get_by_role("button", name="Log payment").click()
    fill_payment(admin, patron="Val Idation", amount="5", method="check")
    admin.locator("#payment-submit").click()

    expect(admin.locator("#amount-error")).to_have_text("Amount must be greater than 0")
    expect(admin.locator("#patron-email-error")).to_be_visible()
    expect(admin.locator("#reference-error")).to_contain_text("control characters")
    expect(admin.locator("#patron-name-error")).to_be_hidden()
    expect(admin.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    expect(admin.locator("#payment-dialog")).to_be_visible()
    assert _ledger(admin, slug(f"2026-06-14 {name}")) == []
    expect(card.locator(".net")).to_have_text("$0.00 collected")


def test_keyboard_only_open_fill_submit_and_focus_returns(admin: Page) -> None:
    name = unique_name("Keyboard Only")
    card = create_event(admin, name)
    button = card.get_by_role("button", name="Log payment")

    # Tab until the card's Log payment button has focus
    admin.locator("body").focus()
    for _ in range(200):
        admin.keyboard.press("Tab")
        if button.evaluate("b => b === document.activeElement"):
            break
    else:
        raise AssertionError("Log payment is not reachable with Tab")

    # Escape closes the dialog and focus comes back
    admin.keyboard.press("Enter")
    expect(admin.locator("#payment-dialog")).to_be_visible()
    expect(admin.get_by_label("Patron name")).to_be_focused()
    admin.keyboard.press("Escape")
    expect(admin.locator("#payment-dialog")).to_be_hidden()
    expect(button).to_be_focused()

    # Open, fill and submit with the keyboard alone
    admin.keyboard.press("Enter")
    expect(admin.get_by_label("Patron name")).to_be_focused()
    admin.keyboard.type("Kay Board")
    admin.keyboard.press("Tab")
    expect(admin.get_by_label("Amount")).to_be_focused()
    admin.keyboard.type("42.10")
    admin.keyboard.press("Tab")
    expect(admin.locator("#method")).to_be_focused()
    admin.keyboard.press("ArrowDown")  # cash -> card
    admin.keyboard.press("Shift+Tab")
    admin.keyboard.press("Enter")  # Enter in a text field submits the form
    expect(admin.locator("#payment-dialog")).to_be_hidden()
    expect(admin.locator("#toasts")).to_contain_text("Payment logged for Kay Board: $42.10")
    expect(button).to_be_focused()
    payments = _ledger(admin, slug(f"2026-06-14 {name}"))
    assert [(p["patron_name"], p["payment_method"]) for p in payments] == [("Kay Board", "card")]


def test_filters_ask_the_query_api(admin: Page) -> None:
    card = create_event(admin, unique_name("Filter Night"))
    log_payment(admin, card, patron="John Smith", amount="150", method="card")
    log_payment(admin, card, patron="Ana Ruiz", amount="40", method="venmo")
    log_payment(admin, card, patron="Johnny Cash", amount="25", method="cash")
    card.locator("summary", has_text="Payments").click()
    rows = card.locator("li.payment .patron")
    expect(rows).to_have_count(3)

    card.get_by_label("Patron", exact=True).fill("JOHN")
    card.get_by_role("button", name="Filter").click()
    expect(rows).to_have_text(["John Smith", "Johnny Cash"])

    card.get_by_label("Method", exact=True).select_option("cash")
    card.get_by_role("button", name="Filter").click()
    expect(rows).to_have_text(["Johnny Cash"])

    card.get_by_label("From", exact=True).fill("2020-01-01")
    card.get_by_label("To", exact=True).fill("2020-01-02")
    card.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(0)
    expect(card).to_contain_text("No payments match.")

    card.get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(3)


def test_a_phone_width_renders_without_horizontal_scrolling(
    page: Page, local_stack: StackProcess
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, local_stack.admin_email, local_stack.admin_password)
    card = create_event(
        page,
        unique_name("A Very Long Event Name For A Small Phone Screen On The Dock"),
        location="Marina Pier 3, Berth 14, Behind The Old Harbour Master's Office",
        expected="100000.00",
    )
    log_payment(
        page,
        card,
        patron="Bartholomew Maximilian Featherstonehaugh-Worthington",
        amount="99999.99",
        method="check",
        notes="x" * 200,
    )
    card.locator("summary", has_text="Payments").click()
    expect(card.locator("li.payment")).to_have_count(1)

    def overflow() -> int:
        return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))

    assert overflow() <= 0
    card.get_by_role("button", name="Log payment").click()
    expect(page.locator("#payment-dialog")).to_be_visible()
    assert overflow() <= 0
    box = page.locator("#payment-dialog").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390


def test_the_page_runs_under_a_strict_content_security_policy(
    page: Page, local_stack: StackProcess
) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    response = page.goto("/")
    assert response is not None
    meta = page.locator('meta[http-equiv="Content-Security-Policy"]').get_attribute("content") or ""
    assert "script-src 'self'" in meta
    assert "'unsafe-inline'" not in meta
    assert page.locator("script:not([src])").count() == 0
    handlers = page.evaluate(
        "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
        ".filter(n => n.startsWith('on'))"
    )
    assert handlers == []
    sign_in(page, local_stack.admin_email, local_stack.admin_password)
    assert violations == []
