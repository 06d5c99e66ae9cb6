"""Sessions in headless Chromium against the real local stack: the silent refresh before the
token expires, a refused token refreshed once and the request retried, the way back to sign-in
when the session is over (keeping an open Log payment dialog, so nothing is lost and nothing is
logged twice), and signing out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Page, Request, Response, Route, expect

from tests.e2e.browser.support import (
    Person,
    create_event,
    fill_payment,
    fill_sign_in,
    ledger,
    sign_in,
    slug,
    stored_session,
    unique_name,
)
from tests.e2e.stack_process import StackProcess

SESSION_ENDED = "Your session has ended. Please sign in again."
ENDED_BY_API = {
    "status": "error",
    "error": {"code": "unauthorized", "message": "Your session has ended; sign in again"},
}
REFUSED_BY_AUTHORIZER = {"message": "Unauthorized"}


def _fulfil(route: Route, status: int, body: dict[str, Any]) -> None:
    route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


def _forge(page: Page, *keys: str) -> None:
    """Break the signature of the stored token(s): what API Gateway's authorizer refuses. The
    app reads the stored session when it starts: reload the page after this."""
    page.evaluate(
        """(keys) => {
            const s = JSON.parse(sessionStorage.getItem("scc.session"));
            for (const key of keys) s[key] = s[key].slice(0, -6) + "AAAAAA";
            sessionStorage.setItem("scc.session", JSON.stringify(s));
        }""",
        list(keys),
    )


def _recorder(page: Page, suffix: str) -> list[Response]:
    seen: list[Response] = []
    page.on("response", lambda r: seen.append(r) if r.url.split("?")[0].endswith(suffix) else None)
    return seen


def test_the_session_is_refreshed_a_minute_before_the_token_expires(
    page: Page, local_stack: StackProcess
) -> None:
    # The page's clock is Playwright's: the test moves it instead of waiting 15 minutes
    page.clock.install()
    page.goto("/")
    with page.expect_response("**/api/auth/login") as answer:
        fill_sign_in(page, local_stack.admin_email, local_stack.admin_password)
    login = answer.value.json()
    expect(page.locator("#events")).to_be_visible()
    expires_in = int(login["expires_in"])
    assert expires_in > 120, login
    refreshes = _recorder(page, "/api/auth/refresh")

    # Nothing happens until a minute before the token expires ...
    page.clock.fast_forward((expires_in - 75) * 1000)
    page.evaluate("1")  # a round trip: a refresh due now would have been sent
    assert refreshes == []

    # ... then the app refreshes by itself, with the refresh token from the sign-in
    with page.expect_request("**/api/auth/refresh") as sent:
        page.clock.fast_forward(20_000)
    assert sent.value.post_data_json == {"refresh_token": login["refresh_token"]}
    refreshed = sent.value.response()
    assert refreshed is not None
    assert refreshed.status == 200, refreshed.text()
    fresh = refreshed.json()
    assert fresh["status"] == "signed_in"
    page.wait_for_function(
        "(token) => JSON.parse(sessionStorage.getItem('scc.session')).token === token",
        arg=fresh["token"],
    )
    session = stored_session(page)
    assert session["refresh_token"] == login["refresh_token"]  # a refresh keeps the same one

    # The app keeps working, with the new token
    with page.expect_request("**/api/events") as listed:
        page.locator("#refresh").click()
    assert listed.value.headers["authorization"] == f"Bearer {fresh['token']}"
    expect(page.locator("#event-list li.event").first).to_be_visible()
    expect(page.locator("#sign-in")).to_be_hidden()

    # ... and the next refresh is scheduled from the new expiry
    with page.expect_request("**/api/auth/refresh"):
        page.clock.fast_forward(int(fresh["expires_in"]) * 1000)
    expect(page.locator("#events")).to_be_visible()


def test_a_token_the_authorizer_refuses_is_refreshed_once_and_the_request_retried(
    admin: Page,
) -> None:
    card = create_event(admin, unique_name("Retry After Refresh"))
    _forge(admin, "token")
    events = _recorder(admin, "/api/events")
    refreshes = _recorder(admin, "/api/auth/refresh")

    with admin.expect_response(lambda r: r.url.endswith("/api/events") and r.status == 200):
        admin.reload()

    # API Gateway refused the forged token; the app refreshed and asked again, and stays in
    expect(card).to_be_visible()
    expect(admin.locator("#events-error")).to_be_hidden()
    assert [r.status for r in events] == [401, 200]
    assert events[0].json() == REFUSED_BY_AUTHORIZER
    assert [r.status for r in refreshes] == [200]
    expect(admin.locator("#sign-in")).to_be_hidden()
    assert stored_session(admin)["token"] == refreshes[0].json()["token"]


def test_when_the_refresh_is_refused_too_the_app_asks_to_sign_in_again(
    admin: Page, local_stack: StackProcess
) -> None:
    _forge(admin, "token", "refresh_token")
    refreshes = _recorder(admin, "/api/auth/refresh")
    admin.reload()

    expect(admin.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(admin.locator("#sign-in-error")).to_have_text(SESSION_ENDED)
    expect(admin.locator("#sign-in-form").get_by_label("E-mail")).to_have_value(
        local_stack.admin_email
    )
    assert [r.status for r in refreshes] == [401]
    assert admin.evaluate("sessionStorage.getItem('scc.session')") is None


@pytest.mark.parametrize("how", ["the API says it ended", "the refresh is refused"])
def test_a_session_that_ends_keeps_the_open_log_payment_dialog(
    admin: Page, local_stack: StackProcess, how: str
) -> None:
    name = unique_name("Kept Dialog")
    card = create_event(admin, name)
    sent: list[dict[str, Any]] = []
    admin.on(
        "request",
        lambda r: (
            sent.append(json.loads(r.post_data or "{}"))
            if r.method == "POST" and r.url.endswith("/payment")
            else None
        ),
    )

    # The person is disabled or their role changed (the API answers 401 in its envelope), or
    # the token expired and the refresh token was revoked (the authorizer's 401, then a 401 for
    # the refresh): either way the session is over when "Log payment" is pressed.
    def refuse_once(route: Route) -> None:
        if how == "the API says it ended":
            _fulfil(route, 401, ENDED_BY_API)
        else:
            _fulfil(route, 401, REFUSED_BY_AUTHORIZER)

    def refuse_refresh(route: Route) -> None:
        _fulfil(
            route, 401, {"status": "error", "error": {"code": "unauthorized", "message": "revoked"}}
        )

    admin.route("**/api/g/*/payment", refuse_once, times=1)
    if how == "the refresh is refused":
        admin.route("**/api/auth/refresh", refuse_refresh, times=1)
    card.get_by_role("button", name="Log payment").click()
    fill_payment(
        admin,
        patron="Kim Kept",
        amount="64.20",
        method="venmo",
        reference="@kim",
        email="kim@example.com",
        notes="Paid for two",
    )
    admin.locator("#payment-submit").click()

    # Back at sign-in, told why, and that the entries are kept
    expect(admin.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(admin.locator("#sign-in-error")).to_contain_text(SESSION_ENDED)
    expect(admin.locator("#sign-in-error")).to_contain_text("is kept")
    expect(admin.locator("#payment-dialog")).to_be_hidden()
    assert len(sent) == 1

    # Signing in again reopens the dialog with everything typed, under the same payment_id
    fill_sign_in(admin, local_stack.admin_email, local_stack.admin_password)
    dialog = admin.locator("#payment-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Patron name")).to_have_value("Kim Kept")
    expect(dialog.get_by_label("Amount")).to_have_value("64.20")
    expect(dialog.get_by_label("Method")).to_have_value("venmo")
    expect(dialog.get_by_label("Reference")).to_have_value("@kim")
    expect(dialog.get_by_label("Patron e-mail")).to_have_value("kim@example.com")
    expect(dialog.get_by_label("Notes")).to_have_value("Paid for two")
    expect(admin.locator("#payment-notice")).to_contain_text("will not be logged twice")

    admin.locator("#payment-submit").click()
    expect(dialog).to_be_hidden()
    expect(admin.locator("#toasts")).to_contain_text("Payment logged for Kim Kept: $64.20")
    assert len(sent) == 2
    assert sent[0] == sent[1]
    payments = ledger(admin, slug(f"2026-06-14 {name}"))
    assert [(p["payment_id"], p["patron_name"], p["amount"]) for p in payments] == [
        (sent[0]["payment_id"], "Kim Kept", "64.20")
    ]


def test_a_draft_is_not_reopened_for_someone_else(
    admin: Page, local_stack: StackProcess, crew_account: Person
) -> None:
    card = create_event(admin, unique_name("Not Yours"))

    def end(route: Route) -> None:
        _fulfil(route, 401, ENDED_BY_API)

    admin.route("**/api/g/*/payment", end, times=1)
    card.get_by_role("button", name="Log payment").click()
    fill_payment(admin, patron="Someone Else", amount="5", method="cash")
    admin.locator("#payment-submit").click()
    expect(admin.locator("#sign-in-error")).to_contain_text(SESSION_ENDED)

    fill_sign_in(admin, crew_account.email, crew_account.password)
    expect(admin.locator("#session-role")).to_have_text("Crew")
    expect(admin.locator("#events-status")).to_have_text("")
    expect(admin.locator("#payment-dialog")).to_be_hidden()
    assert admin.evaluate("sessionStorage.getItem('scc.draft')") is None


def test_a_reload_keeps_the_session(admin: Page, local_stack: StackProcess) -> None:
    before = stored_session(admin)
    admin.reload()
    expect(admin.locator("#events")).to_be_visible()
    expect(admin.locator("#session-role")).to_have_text("Admin")
    assert stored_session(admin)["token"] == before["token"]


def test_sign_out_revokes_the_session_and_forgets_the_tokens(
    page: Page, api: APIRequestContext, new_person: Callable[..., Person]
) -> None:
    # A person of its own: signing out ends every session of the person who signs out
    person = new_person("Sam Signout", "crew")
    sign_in(page, person.email, person.password)
    expect(page.locator("#session-user")).to_have_text("Sam Signout")
    expect(page.locator("#session-role")).to_have_text("Crew")
    session = stored_session(page)

    with page.expect_response("**/api/auth/logout") as answer:
        page.get_by_role("button", name="Sign out").click()
    request: Request = answer.value.request
    assert request.post_data_json == {"refresh_token": session["refresh_token"]}
    assert answer.value.status == 200
    assert answer.value.json() == {"status": "signed_out"}

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#toasts")).to_contain_text("Signed out.")
    expect(page.locator("#sign-in-error")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('scc.session')") is None
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    # The server agrees: the refresh token is revoked and the ID token refused
    refreshed = api.post("/api/auth/refresh", data={"refresh_token": session["refresh_token"]})
    assert refreshed.status == 401, refreshed.text()
    listed = api.get("/api/events", headers={"Authorization": f"Bearer {session['token']}"})
    assert listed.status == 401, listed.text()
