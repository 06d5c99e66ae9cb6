"""People and sign-in in headless Chromium against the real local stack (Cognito in moto, its
mail spooled as .eml files in MAIL_DIR): an invited deckhand's first sign-in, their payment,
and their lock-out; "Forgot password?"; what crew do not see; the People screen's checks, role
changes and the last-admin rule; the sign-in screen's errors and its code step."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import (
    APIRequestContext,
    Browser,
    Page,
    Route,
    expect,
)

from tests.e2e.browser.support import (
    CONFIRM_TIMEOUT_MS,
    Person,
    api_sign_in,
    create_event,
    event_card,
    fill_sign_in,
    invite_person,
    log_payment,
    mails_now,
    reset_code,
    sign_in,
    slug,
    temporary_password,
    unique_name,
    wait_for_mail,
    watch_for_script_errors,
)
from tests.e2e.stack_process import StackProcess

SESSION_ENDED = "Your session has ended. Please sign in again."
INVITED = re.compile(r"invited — waiting for first sign-in", re.IGNORECASE)


def _open_people(page: Page) -> None:
    page.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    expect(page.locator("#people-status")).to_contain_text(re.compile(r"\d+ (person|people)"))


def _person_row(page: Page, email: str) -> Any:
    return page.locator(f'li.person[data-email="{email}"]')


def _invite(page: Page, email: str, name: str, role: str) -> None:
    details = page.locator("#invite")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    form = page.locator("#invite-form")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Name").fill(name)
    form.get_by_label("Role").select_option(role)
    form.get_by_role("button", name="Send invitation").click()


def _people(api: APIRequestContext, token: str) -> list[dict[str, Any]]:
    reply = api.get("/api/people", headers={"Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.text()
    return list(reply.json()["people"])


def test_an_invited_deckhand_signs_in_logs_a_payment_and_is_locked_out_when_disabled(
    admin: Page,
    browser: Browser,
    browser_context_args: dict[str, Any],
    local_stack: StackProcess,
    no_script_errors: list[str],
) -> None:
    event_name = unique_name("Deckhand Night")
    create_event(admin, event_name)

    # The admin invites the deckhand as crew
    _open_people(admin)
    address = f"deckhand-{time.time_ns() % 10**9}@scc.local"
    before = mails_now(local_stack.mail_dir, "invitation")
    _invite(admin, address, "Dana Deckhand", "crew")
    expect(admin.locator("#toasts")).to_contain_text(f"Invitation sent to {address}.")
    row = _person_row(admin, address)
    expect(row.locator(".person-name")).to_have_text("Dana Deckhand")
    expect(row.locator(".role-badge")).to_have_text("Crew")
    expect(row.locator(".person-status")).to_have_text(INVITED)
    expect(row.locator(".state-badge")).to_have_text("Enabled")

    # Cognito's invitation, as the local stack delivers it: an .eml file in MAIL_DIR
    temporary = temporary_password(
        wait_for_mail(local_stack.mail_dir, "invitation", address, not_in=before)
    )

    # The deckhand, on their own phone, signs in with it and must choose a password
    phone = browser.new_context(
        **{**browser_context_args, "viewport": {"width": 390, "height": 844}}
    )
    watch_for_script_errors(phone, no_script_errors)
    deck = phone.new_page()
    deck.set_default_timeout(10_000)
    deck.goto("/")
    fill_sign_in(deck, address, temporary)
    expect(deck.get_by_role("heading", name="Choose your password")).to_be_visible()
    sent: list[str] = []
    deck.on(
        "request", lambda r: sent.append(r.url) if r.url.endswith("/api/auth/challenge") else None
    )
    choose = deck.locator("#new-password-form")
    new_password_field = choose.get_by_label("New password", exact=True)
    confirm_field = choose.get_by_label("Confirm new password")
    new_password_field.fill("too-short")
    confirm_field.fill("too-short")
    deck.get_by_role("button", name="Set password and sign in").click()
    expect(deck.locator("#new-password-error")).to_have_text(
        "New password must be at least 12 characters"
    )
    new_password_field.fill("a-deckhand-password")
    confirm_field.fill("a-deckhand-passwort")
    deck.get_by_role("button", name="Set password and sign in").click()
    expect(deck.locator("#new-password-confirm-error")).to_contain_text("does not match")
    assert sent == []
    confirm_field.fill("a-deckhand-password")
    deck.get_by_role("button", name="Set password and sign in").click()

    # Signed in as themselves, as crew
    expect(deck.locator("#events")).to_be_visible()
    expect(deck.locator("#session-user")).to_have_text("Dana Deckhand")
    expect(deck.locator("#session-role")).to_have_text("Crew")
    expect(deck.get_by_role("link", name="People")).to_have_count(0)

    # The deckhand logs a payment; the list says who logged it
    card = event_card(deck, event_name)
    log_payment(deck, card, patron="Pat Patron", amount="30", method="cash")
    expect(deck.locator("#toasts")).to_contain_text("Payment logged for Pat Patron: $30.00")
    card.locator("summary", has_text="Payments").click()
    payment = card.locator("li.payment", has_text="Pat Patron")
    expect(payment).to_contain_text(f"logged by {address}")
    expect(payment.get_by_role("button", name=re.compile("^Void"))).to_have_count(0)
    overflow = deck.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0

    # (Once the deckhand's page has seen the projection count it, it makes no more requests
    # of its own: its next one is the deckhand's.)
    expect(card).to_have_attribute("data-sync", "confirmed", timeout=CONFIRM_TIMEOUT_MS)

    # The admin sees them active now, and disables them (after a confirmation)
    admin.locator("#people-refresh").click()
    expect(row.locator(".person-status")).to_have_text("Active")
    row.get_by_role("button", name="Disable Dana Deckhand").click()
    confirm = admin.locator("#confirm-dialog")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text(f"Disable Dana Deckhand ({address})?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(row.locator(".state-badge")).to_have_text("Enabled")
    row.get_by_role("button", name="Disable Dana Deckhand").click()
    confirm.get_by_role("button", name="Disable").click()
    expect(confirm).to_be_hidden()
    expect(row.locator(".state-badge")).to_have_text("Disabled")
    expect(row.locator(".person-status")).to_contain_text("cannot sign in")
    expect(admin.locator("#toasts")).to_contain_text("Dana Deckhand is disabled")

    # The deckhand's next action takes them back to sign-in, with the reason
    deck.locator("#refresh").click()
    expect(deck.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(deck.locator("#sign-in-error")).to_have_text(SESSION_ENDED)
    expect(deck.locator("#events")).to_be_hidden()
    # ... and cannot sign in while disabled
    fill_sign_in(deck, address, "a-deckhand-password")
    expect(deck.locator("#sign-in-error")).to_be_visible()
    expect(deck.locator("#sign-in-error")).not_to_have_text(SESSION_ENDED)
    expect(deck.locator("#events")).to_be_hidden()
    phone.close()

    # Enabled again, the row says so
    row.get_by_role("button", name="Enable Dana Deckhand").click()
    expect(row.locator(".state-badge")).to_have_text("Enabled")
    expect(row.locator(".person-status")).to_have_text("Active")


def test_forgot_password_follows_the_emailed_code_to_a_new_password(
    page: Page,
    api: APIRequestContext,
    local_stack: StackProcess,
    new_person: Callable[..., Person],
) -> None:
    person = new_person("Robin Reset", "crew")
    page.goto("/")
    page.locator("#sign-in-form").get_by_label("E-mail").fill(person.email)
    page.get_by_role("button", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    expect(page.get_by_label("Your e-mail")).to_have_value(person.email)

    before = mails_now(local_stack.mail_dir, "reset")
    page.get_by_role("button", name="E-mail me a code").click()
    expect(
        page.get_by_role("heading", name="Enter the code we e-mailed and a new password")
    ).to_be_visible()
    expect(page.locator("#reset-sent")).to_contain_text("valid for one hour")
    code = reset_code(wait_for_mail(local_stack.mail_dir, "reset", person.email, not_in=before))

    # Client checks first (nothing is sent), then a wrong code is the server's 400, next to it
    form = page.locator("#reset-form")
    form.get_by_label("Code from the e-mail").fill(code)
    form.get_by_label("New password", exact=True).fill("short")
    form.get_by_label("Confirm new password").fill("short")
    form.get_by_role("button", name="Change password").click()
    expect(page.locator("#reset-password-error")).to_have_text(
        "New password must be at least 12 characters"
    )
    new_password = f"robin-{time.time_ns()}"
    wrong = "000000" if code != "000000" else "111111"
    form.get_by_label("Code from the e-mail").fill(wrong)
    form.get_by_label("New password", exact=True).fill(new_password)
    form.get_by_label("Confirm new password").fill(new_password)
    with page.expect_response("**/api/auth/reset") as refused:
        form.get_by_role("button", name="Change password").click()
    assert refused.value.status == 400, refused.value.text()
    assert "code" in refused.value.json()["error"]["fields"]
    expect(page.locator("#reset-code-error")).to_be_visible()
    expect(form.get_by_label("Code from the e-mail")).to_have_attribute("aria-invalid", "true")

    # The right code: back to sign-in, told so, e-mail filled in
    form.get_by_label("Code from the e-mail").fill(code)
    form.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#auth-notice")).to_have_text(
        "Your password has been changed. Sign in with your new password."
    )
    expect(page.locator("#sign-in-form").get_by_label("E-mail")).to_have_value(person.email)

    # The old password no longer works; the new one does
    old = api.post("/api/auth/login", data={"email": person.email, "password": person.password})
    assert old.status == 401, old.text()
    page.locator("#sign-in-form").get_by_label("Password", exact=True).fill(new_password)
    page.locator("#sign-in-form").get_by_role("button", name="Sign in").click()
    expect(page.locator("#events")).to_be_visible()
    expect(page.locator("#session-user")).to_have_text("Robin Reset")


def test_crew_see_no_admin_buttons_and_the_api_refuses_them_anyway(
    crew: Page, api: APIRequestContext, admin_token: str, crew_account: Person
) -> None:
    # An event with a payment, made by the admin
    name = unique_name("Crew View")
    event_id = slug(f"2026-06-14 {name}")
    auth = {"Authorization": f"Bearer {admin_token}"}
    made = api.post("/api/events", data={"event_name": name, "date": "2026-06-14"}, headers=auth)
    assert made.status == 201, made.text()
    logged = api.post(
        f"/api/g/{event_id}/payment",
        data={"patron_name": "Admin Logged", "amount": "12.00", "payment_method": "card"},
        headers=auth,
    )
    assert logged.status == 201, logged.text()

    crew.locator("#refresh").click()
    card = event_card(crew, name)
    expect(card).to_be_visible()
    expect(crew.locator("#session-role")).to_have_text("Crew")
    expect(crew.get_by_text("New event", exact=True)).to_be_hidden()
    expect(crew.locator("#create-event")).to_be_hidden()
    expect(crew.get_by_role("link", name="People")).to_have_count(0)
    card.locator("summary", has_text="Payments").click()
    expect(card.locator("li.payment")).to_have_count(1)
    expect(card.get_by_role("button", name=re.compile("^Void"))).to_have_count(0)

    # Crew log payments, under their own name
    log_payment(crew, card, patron="Crew Logged", amount="8", method="cash")
    expect(card.locator("li.payment", has_text="Crew Logged")).to_contain_text(
        f"logged by {crew_account.email}"
    )

    # The People screen is not theirs: its address shows the events
    crew.goto("/#people")
    expect(crew.locator("#events")).to_be_visible()
    expect(crew.locator("#people")).to_be_hidden()

    # The API refuses the admin's routes to a crew token (403), whatever the page shows
    statuses = crew.evaluate(
        """async (eventId) => {
            const token = JSON.parse(sessionStorage.getItem("scc.session")).token;
            const call = (method, path, body) => fetch(path, {
                method,
                headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
                body: body === undefined ? undefined : JSON.stringify(body),
            }).then((r) => r.status);
            const list = await fetch(`/api/g/${eventId}/payments`, {
                headers: { Authorization: `Bearer ${token}` },
            }).then((r) => r.json());
            const paymentId = list.payments[0].payment_id;
            return [
                await call("POST", "/api/events", { event_name: "Not Mine", date: "2026-07-01" }),
                await call("POST", `/api/g/${eventId}/payments/${paymentId}/void`, { reason: "no" }),
                await call("GET", "/api/people"),
                await call("POST", "/api/people", { email: "x@scc.local", name: "X", role: "admin" }),
            ];
        }""",
        event_id,
    )
    assert statuses == [403, 403, 403, 403]


def test_the_people_screen_checks_invitations_changes_roles_and_keeps_an_admin(
    admin: Page, api: APIRequestContext, admin_token: str, local_stack: StackProcess
) -> None:
    _open_people(admin)
    me = _person_row(admin, local_stack.admin_email)
    expect(me.locator(".person-name")).to_contain_text("(you)")
    expect(me.locator(".role-badge")).to_have_text("Admin")

    # Client checks: nothing is sent
    posts: list[str] = []
    admin.on(
        "request",
        lambda r: (
            posts.append(r.url) if r.method == "POST" and r.url.endswith("/api/people") else None
        ),
    )
    details = admin.locator("#invite")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    admin.get_by_role("button", name="Send invitation").click()
    expect(admin.locator("#invite-email-error")).to_have_text("E-mail is required")
    expect(admin.locator("#invite-name-error")).to_have_text("Name is required")
    expect(admin.locator("#invite-form").get_by_label("E-mail")).to_be_focused()
    assert posts == []

    # The server's 400 lands next to its field
    tampered: list[str] = []

    def tamper(route: Route) -> None:
        if route.request.method != "POST" or tampered:
            route.continue_()
            return
        tampered.append(route.request.url)
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps({**body, "role": "captain"}))

    admin.route("**/api/people", tamper)
    _invite(admin, f"tampered-{time.time_ns() % 10**9}@scc.local", "Tam Pered", "crew")
    expect(admin.locator("#invite-role-error")).to_be_visible()
    expect(admin.locator("#invite-form").get_by_label("Role")).to_have_attribute(
        "aria-invalid", "true"
    )

    # Someone who already has an account: the 409 is shown
    _invite(admin, local_stack.admin_email, "Admin Again", "admin")
    expect(admin.locator("#invite-error")).to_be_visible()
    expect(admin.locator("#invite-error")).not_to_be_empty()

    # Role changes, with the keyboard alone
    address, _ = invite_person(
        api, admin_token, local_stack.mail_dir, name="Riley Role", role="crew"
    )
    admin.locator("#people-refresh").click()
    row = _person_row(admin, address)
    expect(row.locator(".role-badge")).to_have_text("Crew")
    select = row.get_by_label("Role", exact=True)
    button = row.get_by_role("button", name="Change role of Riley Role")
    expect(button).to_be_disabled()
    select.focus()
    admin.keyboard.press("ArrowDown")  # crew -> admin
    expect(select).to_have_value("admin")
    expect(button).to_be_enabled()
    admin.keyboard.press("Tab")
    expect(button).to_be_focused()
    admin.keyboard.press("Enter")
    expect(row.locator(".role-badge")).to_have_text("Admin")
    expect(admin.locator("#toasts")).to_contain_text("Riley Role is now admin")
    row.get_by_label("Role", exact=True).select_option("crew")
    row.get_by_role("button", name="Change role of Riley Role").click()
    expect(row.locator(".role-badge")).to_have_text("Crew")
    roles = {p["email"]: p["role"] for p in _people(api, admin_token)}
    assert roles[address] == "crew"

    # The last active admin can be neither disabled nor demoted: the 409 is shown in the row
    active_admins = [
        p["email"] for p in _people(api, admin_token) if p["role"] == "admin" and p["enabled"]
    ]
    assert active_admins == [local_stack.admin_email]
    me.get_by_role("button", name=re.compile("^Disable")).click()
    confirm = admin.locator("#confirm-dialog")
    expect(confirm).to_contain_text("This is you")
    confirm.get_by_role("button", name="Disable").click()
    expect(me.locator(".error")).to_contain_text("at least one active admin")
    expect(me.locator(".state-badge")).to_have_text("Enabled")
    me.get_by_label("Role", exact=True).select_option("crew")
    me.get_by_role("button", name=re.compile("^Change role")).click()
    expect(me.locator(".error")).to_contain_text("at least one active admin")
    expect(me.get_by_label("Role", exact=True)).to_have_value("admin")
    expect(admin.locator("#session-role")).to_have_text("Admin")
    admin.locator("#people-refresh").click()
    expect(me.locator(".role-badge")).to_have_text("Admin")


def test_the_people_screen_fits_a_phone(page: Page, local_stack: StackProcess) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, local_stack.admin_email, local_stack.admin_password)
    _open_people(page)
    details = page.locator("#invite")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    expect(page.locator("li.person").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_sign_in_errors_appear_next_to_their_fields_and_the_code_step_works(
    page: Page, api: APIRequestContext, local_stack: StackProcess
) -> None:
    page.goto("/")
    form = page.locator("#sign-in-form")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/api/auth/" in r.url else None)

    # Client checks
    form.get_by_role("button", name="Sign in").click()
    expect(page.locator("#email-error")).to_have_text("E-mail is required")
    expect(page.locator("#password-error")).to_have_text("Password is required")
    assert sent == []

    # Wrong password: the server's 401
    fill_sign_in(page, local_stack.admin_email, "not-the-password")
    expect(page.locator("#sign-in-error")).to_have_text("Wrong e-mail or password.")
    expect(page.locator("#events")).to_be_hidden()

    # A 400 from the server names its field
    def tamper(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps({**body, "password": ""}))

    page.route("**/api/auth/login", tamper, times=1)
    fill_sign_in(page, local_stack.admin_email, "anything-at-all")
    expect(page.locator("#password-error")).to_be_visible()
    expect(form.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")

    # An account with an authenticator app: the 6-digit code step (the local pool has no
    # TOTP devices, so Cognito's answers are played by the test)
    signed_in = api_sign_in(api, local_stack.admin_email, local_stack.admin_password)
    challenge = {
        "status": "challenge",
        "challenge": "SOFTWARE_TOKEN_MFA",
        "session": "cognito-session",
        "email": local_stack.admin_email,
    }
    answers: list[dict[str, Any]] = []

    def login(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(challenge))

    def answer(route: Route) -> None:
        answers.append(json.loads(route.request.post_data or "{}"))
        if len(answers) == 1:
            route.fulfill(
                status=400,
                content_type="application/json",
                body=json.dumps(
                    {
                        "status": "error",
                        "error": {
                            "code": "validation_error",
                            "message": "Invalid code",
                            "fields": {"code": "is not the current code"},
                        },
                    }
                ),
            )
        elif len(answers) == 2:
            route.fulfill(
                status=401,
                content_type="application/json",
                body=json.dumps(
                    {"status": "error", "error": {"code": "unauthorized", "message": "expired"}}
                ),
            )
        else:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(signed_in))

    page.route("**/api/auth/login", login)
    page.route("**/api/auth/challenge", answer)
    fill_sign_in(page, local_stack.admin_email, local_stack.admin_password)
    expect(page.get_by_role("heading", name="Enter your sign-in code")).to_be_visible()
    code = page.get_by_label("Code", exact=True)
    expect(code).to_be_focused()
    code.fill("12ab")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#mfa-code-error")).to_contain_text("6 digits")
    assert answers == []
    code.fill("123456")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#mfa-code-error")).to_have_text("Code is not the current code")
    assert answers[0] == {
        "email": local_stack.admin_email,
        "session": "cognito-session",
        "challenge": "SOFTWARE_TOKEN_MFA",
        "code": "123456",
    }

    # Cognito's session for the challenge ran out: start over
    code.fill("234567")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#sign-in-error")).to_contain_text("sign in again")

    fill_sign_in(page, local_stack.admin_email, local_stack.admin_password)
    code.fill("345678")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#events")).to_be_visible()
    expect(page.locator("#session-role")).to_have_text("Admin")
